"""The encrypted container: round trips, and every kind of damage refused (real AES-GCM)."""

from __future__ import annotations

import io
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from voicebot.privacy.container import (
    MAGIC,
    KeyUnavailableError,
    NotSealedError,
    SealedFileError,
    SealedReader,
    SealedWriter,
    TamperedError,
    TruncatedError,
    open_bytes,
    read_header,
    seal_bytes,
)
from voicebot.privacy.keys import Keyring, MasterKey

RING = Keyring.new()


def _seal(chunks: list[bytes], *, chunk_size: int = 64, finish: bool = True) -> tuple[bytes, int]:
    """Written the way the recorder writes: a flush after each piece."""
    buf = io.BytesIO()
    w = SealedWriter(buf, RING.current, content_type="application/octet-stream", chunk_size=chunk_size)
    for c in chunks:
        w.write(c)
        w.flush()
    if finish:
        w.finish()
    return buf.getvalue(), len(w.header)


def _split(blob: bytes, header_len: int) -> tuple[bytes, list[bytes]]:
    """The header and each framed chunk (length prefix included)."""
    pos, out = header_len, []
    while pos < len(blob):
        (n,) = struct.unpack(">I", blob[pos : pos + 4])
        out.append(blob[pos : pos + 4 + n])
        pos += 4 + n
    return blob[:header_len], out


def _read(blob: bytes, **kw: bool) -> bytes:
    return SealedReader(io.BytesIO(blob), RING).read_all(**kw)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.binary(max_size=300), max_size=8), st.integers(min_value=1, max_value=200))
def test_round_trip_any_sizes(pieces: list[bytes], chunk_size: int) -> None:
    blob, _ = _seal(pieces, chunk_size=chunk_size)
    assert _read(blob) == b"".join(pieces)


def test_no_plaintext_and_no_riff_on_disk() -> None:
    pcm = bytes(range(256)) * 40
    blob, _hlen = _seal([b"RIFF....WAVEfmt " + pcm])
    assert b"RIFF" not in blob and b"WAVE" not in blob
    assert pcm[:16] not in blob
    assert blob.startswith(MAGIC)


def test_every_single_byte_change_is_refused() -> None:
    blob, _ = _seal([b"first second", b"third"], chunk_size=8)
    for i in range(len(blob)):
        bad = bytearray(blob)
        bad[i] ^= 0x01
        with pytest.raises(SealedFileError):
            _read(bytes(bad))


def test_reordered_dropped_duplicated_and_appended_chunks_are_refused() -> None:
    blob, hlen = _seal([b"aaaa", b"bbbb", b"cccc"], chunk_size=4)
    header, chunks = _split(blob, hlen)
    assert len(chunks) == 4  # three data chunks and the (empty) final one
    swapped = header + chunks[1] + chunks[0] + b"".join(chunks[2:])
    dropped = header + chunks[0] + b"".join(chunks[2:])
    doubled = header + chunks[0] + chunks[0] + b"".join(chunks[1:])
    appended = blob + chunks[1]
    for bad in (swapped, dropped, doubled):
        with pytest.raises(TamperedError, match="fails authentication"):
            _read(bad)
    with pytest.raises(TamperedError, match="follows the final chunk"):
        _read(appended)
    with pytest.raises(TamperedError, match="follows the final chunk"):
        _read(blob + b"\x00\x00")


def test_a_crash_loses_at_most_the_chunk_being_written() -> None:
    blob, hlen = _seal([b"one ", b"two ", b"three"], chunk_size=16, finish=False)
    _header, chunks = _split(blob, hlen)
    # cut anywhere: every whole chunk before the cut is still readable, and the cut is reported
    for cut in range(hlen, len(blob) + 1):
        data = blob[:cut]
        with pytest.raises(TruncatedError):
            _read(data)
        reader = SealedReader(io.BytesIO(data), RING)
        got = reader.read_all(allow_truncated=True)
        whole = sum(1 for i in range(len(chunks)) if hlen + sum(map(len, chunks[: i + 1])) <= cut)
        assert got == b"".join([b"one ", b"two ", b"three"][:whole])
        assert reader.truncated


def test_truncating_a_finished_file_is_detected() -> None:
    blob, hlen = _seal([b"one ", b"two "], chunk_size=16)
    _, chunks = _split(blob, hlen)
    with pytest.raises(TruncatedError):
        _read(blob[: len(blob) - len(chunks[-1])])  # the final chunk removed cleanly


def test_wrong_key_is_named_and_a_swapped_key_id_fails() -> None:
    blob, _ = _seal([b"secret"])
    other = Keyring.new()
    with pytest.raises(KeyUnavailableError, match=RING.current_id):
        SealedReader(io.BytesIO(blob), other)
    # a ring holding both keys, with the header claiming the other key: the wrap fails
    both = Keyring.new()
    both.add(RING.current, current=False)
    forged = blob.replace(RING.current_id.encode(), both.current_id.encode())
    with pytest.raises(TamperedError, match="header"):
        SealedReader(io.BytesIO(forged), both)


def test_header_is_readable_without_a_key_and_other_files_are_refused() -> None:
    blob = seal_bytes(b"x", RING.current, content_type="text/plain")
    header = read_header(io.BytesIO(blob))
    assert header.key_id == RING.current_id and header.content_type == "text/plain"
    with pytest.raises(NotSealedError):
        read_header(io.BytesIO(b"RIFF\x00\x00\x00\x00WAVEfmt "))
    with pytest.raises(NotSealedError, match="version 2"):
        read_header(io.BytesIO(MAGIC + b"\x02" + blob[9:]))
    assert open_bytes(blob, RING)[1] == b"x"


def test_each_file_has_its_own_data_key() -> None:
    a = seal_bytes(b"same words", RING.current, content_type="text/plain")
    b = seal_bytes(b"same words", RING.current, content_type="text/plain")
    assert a[-30:] != b[-30:]
    key = MasterKey(b"\x01" * 32)
    assert key.id == MasterKey(b"\x01" * 32).id and key.id != RING.current_id
