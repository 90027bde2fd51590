"""The encrypted container for recordings and transcripts: AES-256-GCM in authenticated chunks.

A file is written while the call runs and read back whole. Layout (integers big-endian)::

    header
      8   magic            89 56 42 45 4E 43 0D 0A  ("\\x89VBENC\\r\\n", PNG-style: a high-bit
                           byte and CR LF catch 7-bit and line-ending mangling)
      1   version          1
      1   flags            bit 0: re-sealed from a file that had lost its end (see below)
      4   chunk size       the most plaintext bytes one chunk holds
      1+k key id           length, then ASCII: which master key wrapped the data key
      2+c content type     length, then UTF-8, e.g. "audio/pcm;rate=16000;channels=2;format=s16le"
      12  wrap nonce       random
      48  wrapped data key AES-256-GCM(master key, wrap nonce, data key,
                           associated data = every header byte before the wrap nonce)
    chunks, each
      4   length n         of the sealed chunk, 16 <= n <= chunk size + 16
      n   sealed chunk     AES-256-GCM(data key, nonce = 0x00000000 || u64 index,
                           plaintext, associated data = header || u64 index || u8 final)

Every file has its own random 256-bit data key, so a nonce built from the chunk index is never
used twice under one key. The index and the final flag sit in each chunk's associated data and
the whole header in every chunk's, so a reordered, dropped, duplicated or altered chunk fails
its tag, and so does a header with a changed key id or content type. The writer seals what it
has on every :meth:`SealedWriter.flush` (the recorder flushes once a second); the last chunk is
sealed with the final flag on :meth:`SealedWriter.finish`. A file that ends without a final
chunk was cut short (a crash, a full disk, or someone truncating it): :class:`SealedReader`
refuses it unless asked for what is there, which is then every chunk that authenticates — a
crash loses at most the chunk being written. Data after the final chunk is refused too.

Erasing one file without touching others: overwrite its header (and so its wrapped data key)
and remove it (:func:`shred`); whatever blocks of it stay on the disk cannot be decrypted.
"""

from __future__ import annotations

import io
import os
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from voicebot.errors import VoicebotError
from voicebot.privacy.keys import Keyring, MasterKey

MAGIC = b"\x89VBENC\r\n"
VERSION = 1
FLAG_RESEALED_TRUNCATED = 0x01
KEY_BYTES = 32
NONCE_BYTES = 12
TAG_BYTES = 16
WRAPPED_BYTES = KEY_BYTES + TAG_BYTES
DEFAULT_CHUNK = 64 * 1024  # one second of 16 kHz stereo recording is 64,000 bytes
MAX_CHUNK = 16 * 1024 * 1024
_LEN = struct.Struct(">I")


class SealedFileError(VoicebotError):
    """An encrypted file cannot be read; subclasses say why."""


class NotSealedError(SealedFileError):
    """The file is not a voicebot encrypted file (or of a newer version)."""


class KeyUnavailableError(SealedFileError):
    """The key the file was encrypted with is not among the keys given (a wrong key)."""


class TamperedError(SealedFileError):
    """Authentication failed: the file was altered, reordered or damaged."""


class TruncatedError(SealedFileError):
    """The file ends without its final chunk: it was cut short (crash, full disk, truncation)."""


@dataclass(frozen=True, slots=True)
class Header:
    version: int
    flags: int
    chunk_size: int
    key_id: str
    content_type: str
    wrap_nonce: bytes
    wrapped_key: bytes
    raw: bytes  # the header exactly as stored: every chunk's associated data starts with it

    @property
    def resealed_truncated(self) -> bool:
        return bool(self.flags & FLAG_RESEALED_TRUNCATED)


def _header_prefix(key_id: str, content_type: str, chunk_size: int, flags: int) -> bytes:
    kid = key_id.encode("ascii")
    ctype = content_type.encode("utf-8")
    if not 0 < len(kid) < 256 or len(ctype) > 0xFFFF:
        raise ValueError("key id must be 1..255 ASCII bytes and the content type under 64 KiB")
    if not 0 < chunk_size <= MAX_CHUNK:
        raise ValueError(f"chunk size must be 1..{MAX_CHUNK} bytes")
    return b"".join(
        (MAGIC, bytes((VERSION, flags)), _LEN.pack(chunk_size), bytes((len(kid),)), kid,
         struct.pack(">H", len(ctype)), ctype)
    )  # fmt: skip


def _nonce(index: int) -> bytes:
    return b"\x00\x00\x00\x00" + index.to_bytes(8, "big")


def _aad(header: bytes, index: int, final: bool) -> bytes:
    return header + index.to_bytes(8, "big") + (b"\x01" if final else b"\x00")


class SealedWriter:
    """Encrypts a byte stream into ``file`` chunk by chunk (see the module docstring).

    ``write`` buffers and seals full chunks; ``flush`` seals what is buffered and flushes the
    file (``durable=True`` also fsyncs, so a power cut loses at most what came after);
    ``finish`` seals the final chunk; ``close`` finishes and closes the file.
    """

    def __init__(
        self,
        file: BinaryIO,
        key: MasterKey,
        *,
        content_type: str,
        chunk_size: int = DEFAULT_CHUNK,
        durable: bool = False,
        flags: int = 0,
    ) -> None:
        data_key = AESGCM.generate_key(bit_length=256)
        prefix = _header_prefix(key.id, content_type, chunk_size, flags)
        wrap_nonce = os.urandom(NONCE_BYTES)
        wrapped = AESGCM(key.material).encrypt(wrap_nonce, data_key, prefix)
        self.header = prefix + wrap_nonce + wrapped
        self._file = file
        self._aead = AESGCM(data_key)
        self._chunk = chunk_size
        self._durable = durable
        self._buf = bytearray()
        self._index = 0
        self._finished = False
        file.write(self.header)

    @property
    def chunks_written(self) -> int:
        return self._index

    def write(self, data: bytes) -> None:
        if self._finished:
            raise ValueError("write() after finish()")
        self._buf += data
        while len(self._buf) > self._chunk:
            self._seal(bytes(self._buf[: self._chunk]), final=False)
            del self._buf[: self._chunk]

    def flush(self) -> None:
        if self._finished:
            return
        if self._buf:
            self._seal(bytes(self._buf), final=False)
            self._buf.clear()
        self._sync()

    def finish(self) -> None:
        if self._finished:
            return
        self._seal(bytes(self._buf), final=True)  # may be empty: the final flag is what counts
        self._buf.clear()
        self._finished = True
        self._sync()

    def close(self) -> None:
        try:
            self.finish()
        finally:
            self._file.close()

    def _seal(self, plaintext: bytes, *, final: bool) -> None:
        sealed = self._aead.encrypt(_nonce(self._index), plaintext, _aad(self.header, self._index, final))
        self._file.write(_LEN.pack(len(sealed)) + sealed)
        self._index += 1

    def _sync(self) -> None:
        self._file.flush()
        if self._durable:
            os.fsync(self._file.fileno())


def read_header(file: BinaryIO, *, name: str = "the file") -> Header:
    """Parse the header (no key needed). Raises :class:`NotSealedError` for anything else."""
    fixed = file.read(len(MAGIC) + 7)
    if len(fixed) < len(MAGIC) + 7 or not fixed.startswith(MAGIC):
        raise NotSealedError(f"{name} is not a voicebot encrypted file (no {MAGIC!r} header)")
    version, flags = fixed[8], fixed[9]
    if version != VERSION:
        raise NotSealedError(f"{name} is a version {version} encrypted file; this voicebot reads version {VERSION}")
    (chunk_size,) = _LEN.unpack(fixed[10:14])
    kid = file.read(fixed[14])
    clen = file.read(2)
    ctype = file.read(struct.unpack(">H", clen)[0]) if len(clen) == 2 else b""
    wrap = file.read(NONCE_BYTES + WRAPPED_BYTES)
    if len(kid) != fixed[14] or len(clen) != 2 or len(wrap) != NONCE_BYTES + WRAPPED_BYTES:
        raise TruncatedError(f"{name} ends inside its header")
    try:
        key_id, content_type = kid.decode("ascii"), ctype.decode("utf-8")
    except UnicodeDecodeError:
        raise TamperedError(f"{name}: the header is damaged (key id or content type not text)") from None
    if not 0 < chunk_size <= MAX_CHUNK:
        raise TamperedError(f"{name}: the header is damaged (chunk size {chunk_size})")
    raw = fixed + kid + clen + ctype + wrap
    return Header(VERSION, flags, chunk_size, key_id, content_type, wrap[:NONCE_BYTES], wrap[NONCE_BYTES:], raw)


class SealedReader:
    """Decrypts a file written by :class:`SealedWriter`, checking every chunk.

    ``SealedReader(file, keyring)`` reads the header and unwraps the data key (raising
    :class:`KeyUnavailableError` or :class:`TamperedError`); :meth:`chunks` then yields the
    plaintext chunk by chunk. With ``allow_truncated=True`` a file without its final chunk
    yields every chunk that authenticates and sets :attr:`truncated`; otherwise it raises
    :class:`TruncatedError` once the missing end is reached (callers that write output must
    therefore write it somewhere temporary first).
    """

    def __init__(self, file: BinaryIO, keyring: Keyring, *, name: str = "the file") -> None:
        self._file = file
        self.name = name
        self.header = read_header(file, name=name)
        key = keyring.get(self.header.key_id)
        if key is None:
            raise KeyUnavailableError(
                f"{name} was encrypted with key {self.header.key_id}, which is not among the keys given "
                f"({keyring.describe()}): wrong key"
            )
        prefix = self.header.raw[: -(NONCE_BYTES + WRAPPED_BYTES)]
        try:
            data_key = AESGCM(key.material).decrypt(self.header.wrap_nonce, self.header.wrapped_key, prefix)
        except InvalidTag:
            raise TamperedError(f"{name}: the header fails authentication (altered or damaged)") from None
        self._aead = AESGCM(data_key)
        self.truncated = False
        self.chunks_read = 0
        self._partial_tail = False  # the file ends inside a chunk

    def _next_sealed(self) -> bytes | None:
        """The next sealed chunk, or None at the end (a partly written chunk counts as the end)."""
        head = self._file.read(4)
        if len(head) < 4:
            self._partial_tail = bool(head)
            return None
        (n,) = _LEN.unpack(head)
        if not TAG_BYTES <= n <= self.header.chunk_size + TAG_BYTES:
            raise TamperedError(f"{self.name}: chunk {self.chunks_read} has an impossible length {n}")
        body = self._file.read(n)
        if len(body) < n:
            self._partial_tail = True
            return None
        return body

    def _open(self, index: int, sealed: bytes, final: bool) -> bytes | None:
        try:
            return self._aead.decrypt(_nonce(index), sealed, _aad(self.header.raw, index, final))
        except InvalidTag:
            return None

    def chunks(self, *, allow_truncated: bool = False) -> Iterator[bytes]:
        index = 0
        current = self._next_sealed()
        while current is not None:
            following = self._next_sealed()
            last = following is None
            plain = self._open(index, current, final=False)
            if plain is not None:
                if last:  # authentic, but not marked final: the end is missing
                    self.truncated = True
                self.chunks_read += 1
                yield plain
            elif (plain := self._open(index, current, final=True)) is not None:
                if not last or self._partial_tail:
                    raise TamperedError(f"{self.name}: data follows the final chunk (appended or spliced)")
                self.chunks_read += 1
                yield plain
                return
            else:
                raise TamperedError(f"{self.name}: chunk {index} fails authentication (altered, reordered or damaged)")
            current = following
            index += 1
        self.truncated = True
        if not allow_truncated:
            raise TruncatedError(
                f"{self.name} ends after {self.chunks_read} chunk(s) without its final chunk: it was cut short "
                "(a crash or a truncated copy)"
            )

    def read_all(self, *, allow_truncated: bool = False) -> bytes:
        return b"".join(self.chunks(allow_truncated=allow_truncated))


def seal_bytes(data: bytes, key: MasterKey, *, content_type: str) -> bytes:
    """One whole blob (a transcript, a store field) as a container in memory."""
    buf = io.BytesIO()
    writer = SealedWriter(buf, key, content_type=content_type, chunk_size=max(1, min(len(data), MAX_CHUNK)))
    writer.write(data)
    writer.finish()
    return buf.getvalue()


def open_bytes(blob: bytes, keyring: Keyring, *, name: str = "the data") -> tuple[Header, bytes]:
    """Decrypt a blob made by :func:`seal_bytes` (or a whole file's bytes)."""
    reader = SealedReader(io.BytesIO(blob), keyring, name=name)
    return reader.header, reader.read_all()


def shred(path: Path) -> None:
    """Make one encrypted file unreadable, then remove it: its header — and with it the wrapped
    data key — is overwritten with random bytes and synced before the unlink, so blocks the
    file system keeps cannot be decrypted even with the master key."""
    with path.open("r+b") as f:
        try:
            size = len(read_header(f, name=str(path)).raw)
        except SealedFileError:
            size = min(path.stat().st_size, 4096)
        f.seek(0)
        f.write(os.urandom(size))
        f.flush()
        os.fsync(f.fileno())
    path.unlink()


__all__ = [
    "DEFAULT_CHUNK",
    "MAGIC",
    "Header",
    "KeyUnavailableError",
    "NotSealedError",
    "SealedFileError",
    "SealedReader",
    "SealedWriter",
    "TamperedError",
    "TruncatedError",
    "open_bytes",
    "read_header",
    "seal_bytes",
    "shred",
]
