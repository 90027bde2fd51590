"""The codec protocol shared by every payload format, and input checks used by all of them.

A :class:`Codec` describes one RTP payload format (RFC 3551 names: ``PCMU/8000``) and makes
per-stream :class:`Encoder` / :class:`Decoder` objects, which hold the state a stream needs
(Opus prediction, concealment history). Every encoder takes exactly one 20 ms frame of mono
``int16`` PCM at ``codec.sample_rate``; every decoder returns ``int16`` PCM at that rate.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from voicebot_codecs.errors import CodecError

PCM = npt.NDArray[np.int16]

FRAME_MS = 20


@dataclass(frozen=True, slots=True, kw_only=True)
class CodecInfo:
    """Static facts about a payload format."""

    name: str  # canonical "encoding/clock[/channels]", e.g. "PCMU/8000", "opus/48000/2"
    encoding: str  # "PCMU", "PCMA", "L16", "opus"
    payload_type: int  # static RFC 3551 number, or the usual dynamic number for SDP offers
    sample_rate: int  # rate of the PCM the encoder takes and the decoder returns
    clock_rate: int  # RTP timestamp clock
    channels: int = 1  # channel count as written in SDP (opus is always "/2" there)

    @property
    def frame_samples(self) -> int:
        """Samples of PCM in one 20 ms frame."""
        return self.sample_rate * FRAME_MS // 1000

    @property
    def frame_timestamp_step(self) -> int:
        """RTP timestamp increment per 20 ms frame."""
        return self.clock_rate * FRAME_MS // 1000


class Encoder(ABC):
    """Per-stream encoder state."""

    @abstractmethod
    def encode(self, pcm: PCM) -> bytes:
        """Encode one 20 ms frame of mono int16 PCM."""


class Decoder(ABC):
    """Per-stream decoder state."""

    @abstractmethod
    def decode(self, payload: bytes) -> PCM:
        """Decode one payload into int16 PCM."""

    @abstractmethod
    def conceal(self) -> PCM:
        """Produce one 20 ms frame that stands in for a lost packet (packet loss concealment)."""


class Codec(ABC):
    """A payload format: facts plus factories for per-stream state."""

    def __init__(self, info: CodecInfo) -> None:
        self.info = info

    @property
    def name(self) -> str:
        return self.info.name

    @property
    def payload_type(self) -> int:
        return self.info.payload_type

    @property
    def sample_rate(self) -> int:
        return self.info.sample_rate

    @property
    def clock_rate(self) -> int:
        return self.info.clock_rate

    @property
    def frame_samples(self) -> int:
        return self.info.frame_samples

    @abstractmethod
    def encoder(self) -> Encoder: ...

    @abstractmethod
    def decoder(self) -> Decoder: ...

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.info.name} pt={self.info.payload_type}>"


def check_frame(pcm: object, frame_samples: int) -> PCM:
    """Return ``pcm`` as a contiguous int16 frame, or raise :class:`CodecError` saying why not."""
    if not isinstance(pcm, np.ndarray):
        raise CodecError(f"PCM must be a numpy int16 array, got {type(pcm).__name__}")
    if pcm.dtype != np.int16:
        raise CodecError(f"PCM must have dtype int16, got {pcm.dtype}")
    if pcm.ndim != 1:
        raise CodecError(f"PCM must be mono (1-D), got shape {pcm.shape}")
    if pcm.shape[0] != frame_samples:
        raise CodecError(
            f"PCM frame must be {frame_samples} samples (20 ms), got {pcm.shape[0]}"
        )
    return np.ascontiguousarray(pcm)


def check_payload(payload: object) -> bytes:
    if not isinstance(payload, (bytes, bytearray, memoryview)):
        raise CodecError(f"payload must be bytes, got {type(payload).__name__}")
    data = bytes(payload)
    if not data:
        raise CodecError("payload is empty; use conceal() for a lost packet")
    return data
