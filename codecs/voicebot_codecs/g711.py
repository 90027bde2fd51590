"""G.711 μ-law (PCMU, payload type 0) and A-law (PCMA, payload type 8), ITU-T G.711 / RFC 3551 §4.5.14.

Coding goes through ``audioop`` (stdlib up to Python 3.12, the ``audioop-lts`` package on
3.13+), which is C and far faster than a numpy table walk for 160-sample frames.
"""

from __future__ import annotations

import sys
import warnings

import numpy as np

from voicebot_codecs.base import (
    FRAME_MS,
    PCM,
    Codec,
    CodecInfo,
    Decoder,
    Encoder,
    check_frame,
    check_payload,
    check_ptime,
)
from voicebot_codecs.errors import CodecError
from voicebot_codecs.plc import WaveformSubstitution

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import audioop

_LITTLE = sys.byteorder == "little"


def _to_bytes(pcm: PCM) -> bytes:
    return pcm.tobytes() if _LITTLE else pcm.astype("<i2").tobytes()


def _from_bytes(data: bytes) -> PCM:
    return np.frombuffer(data, dtype="<i2").astype(np.int16)


class _G711Encoder(Encoder):
    def __init__(self, frame_samples: int, law: str) -> None:
        self._frame = frame_samples
        self._fn = audioop.lin2ulaw if law == "u" else audioop.lin2alaw

    def encode(self, pcm: PCM) -> bytes:
        return bytes(self._fn(_to_bytes(check_frame(pcm, self._frame)), 2))


class _G711Decoder(Decoder):
    def __init__(self, sample_rate: int, frame_samples: int, law: str) -> None:
        self._fn = audioop.ulaw2lin if law == "u" else audioop.alaw2lin
        self._plc = WaveformSubstitution(sample_rate, frame_samples)

    def decode(self, payload: bytes) -> PCM:
        pcm = _from_bytes(self._fn(check_payload(payload), 2))
        self._plc.good(pcm)
        return pcm

    def conceal(self) -> PCM:
        return self._plc.conceal()


class G711(Codec):
    def __init__(self, law: str) -> None:
        if law not in ("u", "a"):
            raise CodecError(f"G.711 law must be 'u' or 'a', not {law!r}")
        enc = "PCMU" if law == "u" else "PCMA"
        super().__init__(
            CodecInfo(
                name=f"{enc}/8000",
                encoding=enc,
                payload_type=0 if law == "u" else 8,
                sample_rate=8000,
                clock_rate=8000,
            )
        )
        self.law = law

    def encoder(self, ptime_ms: int = FRAME_MS) -> Encoder:
        check_ptime(self, ptime_ms)
        return _G711Encoder(self.info.packet_samples(ptime_ms), self.law)

    def payload_duration(self, payload: bytes) -> int:
        return len(payload)  # one byte per sample at the 8 kHz clock

    def decoder(self) -> Decoder:
        return _G711Decoder(self.sample_rate, self.frame_samples, self.law)

    def rms(self, payload: bytes) -> float:
        """Root-mean-square level of a payload's samples (16-bit scale), without decoder state."""
        if not payload:
            return 0.0
        return float(audioop.rms((audioop.ulaw2lin if self.law == "u" else audioop.alaw2lin)(payload, 2), 2))

