"""The codec protocol shared by every payload format, and input checks used by all of them.

A :class:`Codec` describes one RTP payload format (RFC 3551 names: ``PCMU/8000``) and makes
per-stream :class:`Encoder` / :class:`Decoder` objects, which hold the state a stream needs
(Opus prediction, concealment history). Every encoder takes exactly one packet's worth of
mono ``int16`` PCM at ``codec.sample_rate`` (one 20 ms frame unless made with another packet
time); every decoder takes a packet of any duration and returns ``int16`` PCM at that rate.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from voicebot_codecs.errors import CodecError

PCM = npt.NDArray[np.int16]

FRAME_MS = 20
# Packet times (ms) a sample-based format (G.711, L16: RFC 3551 §4.5, any whole number of
# samples) is sent with here: 10 ms steps, up to 60 ms (480 bytes of G.711, well under the MTU).
SAMPLE_PTIMES = (10, 20, 30, 40, 50, 60)


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
        return self.packet_samples(FRAME_MS)

    @property
    def frame_timestamp_step(self) -> int:
        """RTP timestamp increment per 20 ms frame."""
        return self.packet_timestamp_step(FRAME_MS)

    def packet_samples(self, ptime_ms: int) -> int:
        """Samples of PCM in a packet of ``ptime_ms``."""
        return self.sample_rate * ptime_ms // 1000

    def packet_timestamp_step(self, ptime_ms: int) -> int:
        """RTP timestamp increment per packet of ``ptime_ms``."""
        return self.clock_rate * ptime_ms // 1000


class Encoder(ABC):
    """Per-stream encoder state."""

    @abstractmethod
    def encode(self, pcm: PCM) -> bytes:
        """Encode one packet (the encoder's packet time) of mono int16 PCM."""


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

    @property
    def ptimes(self) -> tuple[int, ...]:
        """The packet times (ms) this format can be sent with."""
        return SAMPLE_PTIMES

    def fit_ptime(self, asked: int) -> int:
        """The packet time to send when the receiver asked for ``asked`` ms: the longest we can
        send that is not longer, or our shortest when it asked for less (a receiver's a=ptime
        is a preference, RFC 3264 §6.1)."""
        fitting = [p for p in self.ptimes if p <= asked]
        return fitting[-1] if fitting else self.ptimes[0]

    @abstractmethod
    def encoder(self, ptime_ms: int = FRAME_MS) -> Encoder:
        """An encoder of packets of ``ptime_ms`` each (:class:`CodecError` when the format
        cannot carry that packet time)."""

    @abstractmethod
    def decoder(self) -> Decoder: ...

    @abstractmethod
    def payload_duration(self, payload: bytes) -> int:
        """The RTP timestamp units ``payload`` covers (0 when it cannot be told), so a jitter
        buffer knows where the next packet starts whatever packet time the sender chose."""

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
        raise CodecError(f"PCM frame must be {frame_samples} samples (one packet), got {pcm.shape[0]}")
    return np.ascontiguousarray(pcm)


def check_ptime(codec: Codec, ptime_ms: int) -> int:
    """``ptime_ms`` if ``codec`` can be sent in packets that long, else a :class:`CodecError`."""
    if ptime_ms not in codec.ptimes:
        allowed = ", ".join(map(str, codec.ptimes))
        raise CodecError(f"{codec.info.encoding} cannot send {ptime_ms} ms packets (it can: {allowed} ms)")
    return ptime_ms


def check_payload(payload: object) -> bytes:
    if not isinstance(payload, (bytes, bytearray, memoryview)):
        raise CodecError(f"payload must be bytes, got {type(payload).__name__}")
    data = bytes(payload)
    if not data:
        raise CodecError("payload is empty; use conceal() for a lost packet")
    return data
