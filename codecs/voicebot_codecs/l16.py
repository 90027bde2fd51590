"""L16: linear 16-bit PCM in network byte order (RFC 3551 §4.5.11), mono, any clock rate.

RFC 3551 gives L16 static payload types only at 44.1 kHz; at 8 or 16 kHz it is a dynamic
payload type, offered here as 96 by default.
"""

from __future__ import annotations

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


class _L16Encoder(Encoder):
    def __init__(self, frame_samples: int) -> None:
        self._frame = frame_samples

    def encode(self, pcm: PCM) -> bytes:
        return check_frame(pcm, self._frame).astype(">i2").tobytes()


class _L16Decoder(Decoder):
    def __init__(self, rate: int, frame_samples: int) -> None:
        self._plc = WaveformSubstitution(rate, frame_samples)

    def decode(self, payload: bytes) -> PCM:
        data = check_payload(payload)
        if len(data) % 2:
            raise CodecError(f"L16 payload must hold whole 16-bit samples, got {len(data)} bytes")
        pcm = np.frombuffer(data, dtype=">i2").astype(np.int16)
        self._plc.good(pcm)
        return pcm

    def conceal(self) -> PCM:
        return self._plc.conceal()


class L16(Codec):
    def __init__(self, sample_rate: int, payload_type: int = 96) -> None:
        if sample_rate % 50:
            raise CodecError(f"L16 clock rate must allow 20 ms frames, got {sample_rate}")
        super().__init__(
            CodecInfo(
                name=f"L16/{sample_rate}",
                encoding="L16",
                payload_type=payload_type,
                sample_rate=sample_rate,
                clock_rate=sample_rate,
            )
        )

    def encoder(self, ptime_ms: int = FRAME_MS) -> Encoder:
        check_ptime(self, ptime_ms)
        return _L16Encoder(self.info.packet_samples(ptime_ms))

    def payload_duration(self, payload: bytes) -> int:
        return len(payload) // 2

    def decoder(self) -> Decoder:
        return _L16Decoder(self.sample_rate, self.frame_samples)
