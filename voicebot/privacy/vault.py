"""Where encrypted recordings and transcripts live, and how they are found, exported, erased
and re-encrypted.

Layout under the data directory (``--data-dir``, ``$VOICEBOT_DATA``, default ``voicebot-data``)::

    recordings/<d[0:2]>/<d[2:4]>/<d>/<id>.vbrec        a call's audio
    recordings/<d[0:2]>/<d[2:4]>/<d>/<id>.txt.vbrec    its transcript (when one is kept)
    recordings/<d[0:2]>/<d[2:4]>/<d>/voiceprint.vbrec  the person's voiceprint (when enrolled)

``d`` is the keyed hash of the person's subject (:meth:`Keyring.subject_digest`): a campaign
contact (``contact:<id>``), a telephone number (``phone:+15551234567``) or a SIP party
(``sip:alice@example.com``). All of one person's files therefore sit in one folder that only a
key holder can name; no path carries a number or a name. ``id`` is 80 random bits in hex.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import re
import secrets
import wave
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from voicebot.errors import ConfigError
from voicebot.media.frames import RATE
from voicebot.media.recorder import CHANNELS, SAMPLE_WIDTH
from voicebot.privacy.container import (
    FLAG_RESEALED_TRUNCATED,
    Header,
    SealedFileError,
    SealedReader,
    SealedWriter,
    read_header,
    shred,
)
from voicebot.privacy.keys import Keyring, MasterKey
from voicebot.sip.uri import SipUri, TelUri, parse_uri

ENV_DATA = "VOICEBOT_DATA"
DEFAULT_DATA_DIR = Path("voicebot-data")
SUFFIX = ".vbrec"
TRANSCRIPT_SUFFIX = ".txt" + SUFFIX
VOICEPRINT_FILE = "voiceprint" + SUFFIX  # a person's enrolled voiceprint (voicebot.privacy.voiceprints)
PCM_CONTENT = f"audio/pcm;rate={RATE};channels={CHANNELS};format=s16le"
TRANSCRIPT_CONTENT = "application/x-ndjson;charset=utf-8"
_ID_RE = re.compile(r"[0-9a-f]{20}")
_PHONE_SEPARATORS = re.compile(r"[\s.\-()/]")


# ---------------------------------------------------------------------------------- subjects


def normalise_phone(number: str) -> str:
    """A telephone number as dialled, without visual separators: ``+1 (555) 123-4567`` ->
    ``+15551234567``. Raises :class:`ConfigError` for anything that is not a number."""
    text = _PHONE_SEPARATORS.sub("", number.strip())
    if re.fullmatch(r"\+?[0-9]{3,20}", text) is None:
        raise ConfigError(f"not a telephone number: {number!r}")
    return text


def phone_subject(number: str) -> str:
    return "phone:" + normalise_phone(number)


def contact_subject(contact_id: str | int) -> str:
    text = str(contact_id).strip()
    if not text:
        raise ConfigError("a contact id must not be empty")
    return "contact:" + text


def party_subject(uri: str) -> str:
    """The subject of the far end of a call that has no campaign contact: its number when the
    URI carries one (``tel:``, or a SIP user part that is a number), else ``sip:user@host``."""
    try:
        parsed = parse_uri(uri.strip().strip("<>"))
    except Exception:
        return "party:" + uri.strip()
    if isinstance(parsed, TelUri):
        with contextlib.suppress(ConfigError):
            return phone_subject(parsed.number)
    if isinstance(parsed, SipUri):
        user = parsed.user or ""
        if user and (parsed.params.get("user") == "phone" or re.fullmatch(r"\+?[0-9().\-]{3,}", user)):
            with contextlib.suppress(ConfigError):
                return phone_subject(user.split(";")[0])
        return f"sip:{user}@{parsed.host.lower()}" if user else f"sip:{parsed.host.lower()}"
    return "party:" + str(parsed)


def data_dir(arg: Path | None, env: Mapping[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    if arg is not None:
        return arg
    return Path(env[ENV_DATA]) if env.get(ENV_DATA) else DEFAULT_DATA_DIR


# ---------------------------------------------------------------------------------- files


@dataclass(frozen=True, slots=True)
class RecordingInfo:
    id: str
    path: Path
    size: int
    modified: str
    key_id: str
    content_type: str

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "size": self.size, "modified": self.modified, "key_id": self.key_id,
                "content_type": self.content_type}  # fmt: skip


class RecordingSink:
    """An encrypted recording being written: what :class:`~voicebot.media.recorder.Recorder`
    writes its interleaved 16-bit frames into (``write``/``flush``/``close``)."""

    def __init__(self, recording_id: str, path: Path, key: MasterKey, *, durable: bool = False) -> None:
        self.id = recording_id
        self.path = path
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        self._writer = SealedWriter(os.fdopen(fd, "wb"), key, content_type=PCM_CONTENT, durable=durable)

    def write(self, data: bytes) -> None:
        self._writer.write(data)

    def flush(self) -> None:
        self._writer.flush()

    def close(self) -> None:
        self._writer.close()


class Vault:
    """Encrypted recordings under ``root``; ``keyring`` may be None for listing and erasing."""

    def __init__(self, root: Path, keyring: Keyring | None) -> None:
        self.root = root
        self.keyring = keyring

    @property
    def recordings(self) -> Path:
        return self.root / "recordings"

    def _ring(self) -> Keyring:
        if self.keyring is None:
            raise ConfigError("no recording key given")
        return self.keyring

    def folder(self, subject: str) -> Path:
        d = self._ring().subject_digest(subject)
        return self.recordings / d[:2] / d[2:4] / d

    # ------------------------------------------------------------------ writing
    def new_recording(self, subject: str, *, durable: bool = False) -> RecordingSink:
        """Start an encrypted recording of ``subject``'s call; the sink's ``id`` names it."""
        ring = self._ring()
        folder = self.folder(subject)
        try:
            folder.mkdir(parents=True, exist_ok=True, mode=0o700)
            recording_id = secrets.token_hex(10)
            return RecordingSink(recording_id, folder / f"{recording_id}{SUFFIX}", ring.current, durable=durable)
        except OSError as exc:
            raise ConfigError(f"cannot record under {self.root}: {exc.strerror or exc}") from None

    def save_transcript(self, recording_id: str, turns: Iterable[Mapping[str, Any]]) -> Path:
        """Keep a call's transcript (one JSON object per turn) encrypted beside its recording."""
        audio = self.locate(recording_id)
        path = audio.with_name(recording_id + TRANSCRIPT_SUFFIX)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        writer = SealedWriter(os.fdopen(fd, "wb"), self._ring().current, content_type=TRANSCRIPT_CONTENT)
        for turn in turns:
            writer.write(json.dumps(dict(turn), ensure_ascii=False).encode("utf-8") + b"\n")
        writer.close()
        return path

    # ------------------------------------------------------------------ finding
    def locate(self, recording_id: str) -> Path:
        if _ID_RE.fullmatch(recording_id) is None:
            raise ConfigError(f"{recording_id!r} is not a recording id (20 hex digits, as `recording list` shows)")
        found = list(self.recordings.glob(f"*/*/*/{recording_id}{SUFFIX}"))
        if not found:
            raise ConfigError(f"no recording {recording_id} under {self.root}")
        return found[0]

    def _files(self, folder: Path | None = None) -> Iterator[Path]:
        pattern = f"*{SUFFIX}" if folder is not None else f"*/*/*/*{SUFFIX}"
        yield from sorted((folder or self.recordings).glob(pattern))

    def recordings_of(self, subject: str | None = None) -> list[RecordingInfo]:
        """Recordings (not transcripts) of one subject, or all of them; headers only, no key needed
        for ``subject=None``."""
        folder = self.folder(subject) if subject is not None else None
        out = []
        for path in self._files(folder):
            if not _is_recording(path):
                continue
            try:
                with path.open("rb") as f:
                    header = read_header(f, name=path.name)
            except SealedFileError:
                header = None
            st = path.stat()
            out.append(RecordingInfo(
                id=path.name[: -len(SUFFIX)], path=path, size=st.st_size,
                modified=dt.datetime.fromtimestamp(st.st_mtime, dt.UTC).replace(microsecond=0).isoformat(),
                key_id=header.key_id if header else "?", content_type=header.content_type if header else "?",
            ))  # fmt: skip
        return out

    # ------------------------------------------------------------------ reading
    def export_wav(self, recording_id: str, out: Path, *, partial: bool = False) -> tuple[Header, bool]:
        """Decrypt a recording to a WAV file. Nothing is left at ``out`` unless every byte
        authenticated (or, with ``partial``, every byte up to a missing end). Returns the header
        and whether the recording was cut short."""
        path = self.locate(recording_id)
        tmp = out.with_name(f".{out.name}.{os.getpid()}.part")
        try:
            with path.open("rb") as f:
                reader = SealedReader(f, self._ring(), name=f"recording {recording_id}")
                rate, channels = _pcm_format(reader.header, recording_id)
                with wave.open(str(tmp), "wb") as w:
                    w.setnchannels(channels)
                    w.setsampwidth(SAMPLE_WIDTH)
                    w.setframerate(rate)
                    for chunk in reader.chunks(allow_truncated=partial):
                        w.writeframes(chunk)
            os.replace(tmp, out)
        except OSError as exc:
            raise ConfigError(f"cannot write {out}: {exc.strerror or exc}") from None
        finally:
            tmp.unlink(missing_ok=True)
        return reader.header, reader.truncated or reader.header.resealed_truncated

    def transcript(self, recording_id: str) -> list[dict[str, Any]]:
        path = self.locate(recording_id).with_name(recording_id + TRANSCRIPT_SUFFIX)
        if not path.exists():
            return []
        with path.open("rb") as f:
            text = SealedReader(f, self._ring(), name=f"transcript {recording_id}").read_all()
        return [json.loads(line) for line in text.decode("utf-8").splitlines() if line]

    # ------------------------------------------------------------------ erasing
    def erase(self, subject: str) -> list[str]:
        """Shred every file of ``subject`` (header and wrapped data key overwritten, then
        removed) and its folder; returns the ids of the recordings removed."""
        folder = self.folder(subject)
        removed: list[str] = []
        for path in self._files(folder):
            shred(path)
            if _is_recording(path):
                removed.append(path.name[: -len(SUFFIX)])
        for directory in (folder, folder.parent, folder.parent.parent):
            with contextlib.suppress(OSError):
                directory.rmdir()  # only when empty
        return removed

    # ------------------------------------------------------------------ rotation
    def reencrypt(self, path: Path) -> bool:
        """Re-encrypt one file under the current key (a new data key too); False when it already
        is. A file that had lost its end keeps a flag saying so. Atomic: a crash leaves the old
        file or the new one."""
        ring = self._ring()
        with path.open("rb") as f:
            check = SealedReader(f, ring, name=path.name)
            if check.header.key_id == ring.current_id:
                return False
            for _ in check.chunks(allow_truncated=True):  # authenticate it all before writing anything
                pass
        flags = check.header.flags | (FLAG_RESEALED_TRUNCATED if check.truncated else 0)
        tmp = path.with_name(f".{path.name}.rotate")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with path.open("rb") as f, os.fdopen(fd, "wb") as out:
                reader = SealedReader(f, ring, name=path.name)
                writer = SealedWriter(out, ring.current, content_type=reader.header.content_type,
                                      chunk_size=reader.header.chunk_size, durable=True, flags=flags)  # fmt: skip
                for chunk in reader.chunks(allow_truncated=True):
                    writer.write(chunk)
                writer.finish()  # durable: synced before it replaces the old file
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
        return True

    def all_files(self) -> list[Path]:
        return list(self._files())


def _is_recording(path: Path) -> bool:
    """A recording's file (not a transcript, a voiceprint or anything else in the folder)."""
    return _ID_RE.fullmatch(path.name[: -len(SUFFIX)]) is not None


def _pcm_format(header: Header, name: str) -> tuple[int, int]:
    parts = dict(p.split("=", 1) for p in header.content_type.split(";")[1:] if "=" in p)
    if not header.content_type.startswith("audio/pcm") or parts.get("format") != "s16le":
        raise ConfigError(f"{name} holds {header.content_type!r}, not a recording")
    return int(parts["rate"]), int(parts["channels"])


__all__ = [
    "DEFAULT_DATA_DIR",
    "ENV_DATA",
    "PCM_CONTENT",
    "SUFFIX",
    "VOICEPRINT_FILE",
    "RecordingInfo",
    "RecordingSink",
    "Vault",
    "contact_subject",
    "data_dir",
    "normalise_phone",
    "party_subject",
    "phone_subject",
]
