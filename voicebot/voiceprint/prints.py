"""A person's voiceprint: the embeddings of the utterances they were enrolled with.

Each utterance has an embedding of its audio as heard over a G.711 telephone channel and, when
it was recorded with more bandwidth, one of the full band (:mod:`.verify` says why). The print
compared against is the L2-normalised mean of those embeddings (as resemblyzer's
``embed_speaker`` makes it), so enrolling more speech later — another file, or the audio of a
call — adds to the print instead of replacing it. On disk (inside an encrypted container:
:mod:`voicebot.privacy.voiceprints`) it is JSON::

    {"format": "voicebot-voiceprint", "version": 1, "id": "c-1001", "model": "resemblyzer-0.1.4",
     "created": "2026-01-05T10:00:00+00:00", "updated": "...",
     "utterances": [{"seconds": 4.2, "narrow": "<256 little-endian float32, base64>",
                     "wide": "<the same, full band; absent for telephone audio>", "added": "..."}]}

Where prints are kept is a :class:`PrintStore`; :class:`MemoryPrintStore` keeps them in memory
(tests, libraries that bring their own storage).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import threading
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

import numpy as np

from voicebot.errors import ConfigError, VoicebotError
from voicebot.voiceprint.encoder import Vector, l2_normalise
from voicebot.voiceprint.model import EMBEDDING, WHEEL_VERSION

FORMAT = "voicebot-voiceprint"
MODEL = f"resemblyzer-{WHEEL_VERSION}"
CONTENT_TYPE = "application/vnd.voicebot.voiceprint+json"
MAX_UTTERANCES = 20  # the newest are kept; older speech says less about the voice today
MAX_ID = 200


class VoiceprintFileError(VoicebotError):
    """A stored voiceprint cannot be read (damaged, or made by another model)."""


def check_id(person: str) -> str:
    """A voiceprint id as given (``--id``, a flow's ``id:``): trimmed, not empty, printable."""
    text = str(person).strip()
    if not text or len(text) > MAX_ID or not text.isprintable():
        raise ConfigError(
            f"bad voiceprint id {person!r}: use the person's contact id (1..{MAX_ID} printable characters)"
        )
    return text


def now() -> str:
    return dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()


@dataclass(frozen=True, slots=True)
class Utterance:
    """One enrolled utterance: its embedding in the telephone band (always) and in the full band
    (when it was recorded with one)."""

    narrow: Vector = field(repr=False)
    wide: Vector | None = field(repr=False)
    seconds: float
    added: str = ""


@dataclass(frozen=True, slots=True)
class Voiceprint:
    id: str
    utterances: tuple[Utterance, ...]
    created: str = ""
    updated: str = ""
    model: str = MODEL

    @property
    def wideband(self) -> bool:
        """Every utterance has a full-band embedding."""
        return all(u.wide is not None for u in self.utterances)

    def embedding(self, *, wide: bool) -> Vector:
        """What speech is compared with: the normalised mean of the utterance embeddings."""
        vectors = [u.wide if wide else u.narrow for u in self.utterances]
        present = [v for v in vectors if v is not None]
        if len(present) != len(vectors):
            raise ValueError("this print has no full-band embedding for every utterance")
        return l2_normalise(np.mean(present, axis=0))

    @property
    def seconds(self) -> float:
        return float(sum(u.seconds for u in self.utterances))

    def adding(self, utterances: list[Utterance], *, when: str | None = None) -> Voiceprint:
        """This print with more speech (the newest :data:`MAX_UTTERANCES` kept)."""
        return replace(self, utterances=(*self.utterances, *utterances)[-MAX_UTTERANCES:], updated=when or now())

    @classmethod
    def new(cls, person: str, utterances: list[Utterance], *, when: str | None = None) -> Voiceprint:
        stamp = when or now()
        return cls(check_id(person), tuple(utterances[-MAX_UTTERANCES:]), stamp, stamp)

    # ------------------------------------------------------------------ bytes
    def to_bytes(self) -> bytes:
        doc = {
            "format": FORMAT,
            "version": 1,
            "id": self.id,
            "model": self.model,
            "created": self.created,
            "updated": self.updated,
            "utterances": [
                {
                    "seconds": round(u.seconds, 3),
                    "narrow": _encode(u.narrow),
                    **({"wide": _encode(u.wide)} if u.wide is not None else {}),
                    "added": u.added,
                }
                for u in self.utterances
            ],
        }
        return json.dumps(doc, ensure_ascii=False).encode("utf-8")

    @classmethod
    def from_bytes(cls, data: bytes, *, name: str = "voiceprint") -> Voiceprint:
        try:
            doc = json.loads(data.decode("utf-8"))
            if not isinstance(doc, dict) or doc.get("format") != FORMAT or doc.get("version") != 1:
                raise ValueError("not a voicebot voiceprint (version 1)")
            if doc.get("model") != MODEL:
                raise ValueError(f"made by model {doc.get('model')!r}, this voicebot uses {MODEL}: enrol again")
            utterances = []
            for u in doc["utterances"]:
                wide = _decode(u["wide"]) if "wide" in u else None
                utterances.append(Utterance(_decode(u["narrow"]), wide, float(u["seconds"]), str(u.get("added", ""))))
            if not utterances:
                raise ValueError("it holds no speech")
            return cls(str(doc["id"]), tuple(utterances), str(doc["created"]), str(doc["updated"]))
        except (ValueError, KeyError, TypeError, UnicodeDecodeError, binascii.Error) as exc:
            raise VoiceprintFileError(f"{name}: {exc}") from None


def _encode(vector: Vector) -> str:
    return base64.b64encode(np.asarray(vector, "<f4").tobytes()).decode("ascii")


def _decode(text: str) -> Vector:
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, TypeError, ValueError):
        raw = b""
    if len(raw) != 4 * EMBEDDING:
        raise ValueError("an embedding is malformed")
    vector = np.frombuffer(raw, "<f4").astype(np.float32)
    if not np.all(np.isfinite(vector)):
        raise ValueError("an embedding is malformed")
    return vector


class PrintStore(Protocol):
    """Where voiceprints are kept, by id."""

    def find(self, person: str) -> Voiceprint | None:
        """The voiceprint enrolled as ``person``, or None."""
        ...

    def save(self, voiceprint: Voiceprint) -> None:
        """Keep ``voiceprint`` (replacing any with its id)."""
        ...


class MemoryPrintStore:
    """Voiceprints in a dict (thread-safe); nothing survives the process."""

    def __init__(self) -> None:
        self._prints: dict[str, Voiceprint] = {}
        self._lock = threading.Lock()

    def find(self, person: str) -> Voiceprint | None:
        with self._lock:
            return self._prints.get(check_id(person))

    def save(self, voiceprint: Voiceprint) -> None:
        with self._lock:
            self._prints[voiceprint.id] = voiceprint


def as_dict(voiceprint: Voiceprint) -> dict[str, Any]:
    """What a person may see of their print (no embedding values): for listings and exports."""
    return {
        "id": voiceprint.id,
        "model": voiceprint.model,
        "utterances": len(voiceprint.utterances),
        "wideband": voiceprint.wideband,
        "seconds": round(voiceprint.seconds, 2),
        "created": voiceprint.created,
        "updated": voiceprint.updated,
    }


__all__ = [
    "CONTENT_TYPE",
    "MODEL",
    "MemoryPrintStore",
    "PrintStore",
    "Utterance",
    "Voiceprint",
    "VoiceprintFileError",
    "as_dict",
    "check_id",
]
