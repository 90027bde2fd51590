"""Opus (RFC 6716) as RTP payload ``opus/48000/2`` (RFC 7587), through libopus via opuslib.

We send mono, 20 ms frames unless another packet time is asked for (10, 40 or 60 ms: the Opus
frame sizes from 10 ms up, RFC 6716 §2.1.4; one frame per packet), with the VoIP application
profile and in-band FEC on; we decode packets of any length up to 120 ms. The RTP clock is
always 48 kHz (RFC 7587 §4.1), but libopus takes and returns PCM at 8, 12, 16, 24 or 48 kHz
and converts internally. Our PCM rate defaults to 16 kHz, voicebot's internal
rate, and we never code more than wideband (an 8 kHz audio band), so a call with Opus needs
no resampler in either direction. Bandwidth and bitrate can change at run time so the media
layer can move between narrowband and wideband as the network gets worse or better.

The encoder's complexity is a parameter (``complexity``, default 10 as libopus's own).
``benchmarks/codecs.py`` codes espeak-ng speech at each complexity and scores it with PESQ
(ITU-T P.862.2, wideband): at 24 kbit/s wideband, 6 scored best (4.00, against 3.52 for 8 and
10) for about 40 % of the CPU of 10. But the recogniser disagreed: a persona's "five" over
Opus loopback was heard 5 of 5 times at complexity 10 and 2 of 5 at 6 (pocketsphinx), so the
default stays 10 until the speech benchmark scores the complexities too.
"""

from __future__ import annotations

import ctypes.util
import functools
from typing import Any

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
)
from voicebot_codecs.errors import CodecError, CodecUnavailable

OPUS_RATE = 48000  # the RTP clock
PCM_RATES = (8000, 12000, 16000, 24000, 48000)
MAX_PACKET = 1275  # RFC 6716 §3.2.1: the largest single Opus frame
PTIMES = (10, 20, 40, 60)  # ms: Opus frame sizes from 10 ms (2.5 and 5 ms are not worth a packet)
MAX_PACKET_MS = 120  # RFC 6716 §3.2.5: a packet holds at most 120 ms of audio

# libopus CTL values (opus_defines.h)
BANDWIDTHS = {
    "narrowband": 1101,  # 4 kHz audio bandwidth
    "mediumband": 1102,
    "wideband": 1103,  # 8 kHz
    "superwideband": 1104,
    "fullband": 1105,
}
_APPLICATION_VOIP = 2048
COMPLEXITY = 10  # encoder complexity (0-10): see the module docstring

_INSTALL_HINT = (
    "the Opus codec needs the libopus shared library, which was not found; install the "
    "package that provides it (Debian/Ubuntu: `apt-get install libopus0`, Fedora: "
    "`dnf install opus`, macOS: `brew install opus`)"
)


@functools.cache
def _opuslib() -> Any:
    """Import opuslib, turning its bare Exception about a missing libopus into a clear error.

    Looked up once per process: ``ctypes.util.find_library`` runs ``ldconfig -p`` in a
    subprocess, and this is reached for every received packet (:meth:`payload_duration`).
    (A failed lookup raises and so is not cached: installing libopus needs no restart.)"""
    if ctypes.util.find_library("opus") is None:
        raise CodecUnavailable(_INSTALL_HINT)
    try:
        import opuslib
    except Exception as exc:  # opuslib raises a bare Exception when the library is absent
        raise CodecUnavailable(f"{_INSTALL_HINT} ({exc})") from exc
    return opuslib


def _check_rate(pcm_rate: int) -> int:
    if pcm_rate not in PCM_RATES:
        raise CodecError(f"Opus PCM rate must be one of {PCM_RATES}, got {pcm_rate}")
    return pcm_rate


class OpusEncoder(Encoder):
    def __init__(
        self,
        bitrate: int = 24000,
        bandwidth: str = "wideband",
        *,
        pcm_rate: int = 16000,
        ptime_ms: int = FRAME_MS,
        complexity: int = COMPLEXITY,
    ) -> None:
        if not 0 <= complexity <= 10:
            raise CodecError(f"Opus complexity must be 0..10, got {complexity}")
        lib = _opuslib()
        self._enc = lib.Encoder(_check_rate(pcm_rate), 1, _APPLICATION_VOIP)
        self._ctl = lib.api.ctl
        self._encoder_ctl = lib.api.encoder.encoder_ctl
        # opuslib 3.0.1's ``inband_fec`` property setter drops its value; call the CTLs directly
        self._set(self._ctl.set_inband_fec, 1)
        self._set(self._ctl.set_packet_loss_perc, 5)
        self._set(self._ctl.set_complexity, complexity)
        if ptime_ms not in PTIMES:
            raise CodecError(f"opus cannot send {ptime_ms} ms packets (it can: {', '.join(map(str, PTIMES))} ms)")
        self._frame = pcm_rate * ptime_ms // 1000
        self.set_bitrate(bitrate)
        self.set_bandwidth(bandwidth)

    def _set(self, request: Any, value: int) -> None:
        self._encoder_ctl(self._enc.encoder_state, request, value)

    def _get(self, request: Any) -> int:
        return int(self._encoder_ctl(self._enc.encoder_state, request))

    @property
    def inband_fec(self) -> bool:
        return bool(self._get(self._ctl.get_inband_fec))

    @property
    def complexity(self) -> int:
        return self._get(self._ctl.get_complexity)

    @property
    def bandwidth(self) -> str:
        return self._bandwidth

    @property
    def bitrate(self) -> int:
        return self._bitrate

    def set_bandwidth(self, bandwidth: str) -> None:
        """Limit the coded audio band: "narrowband" (8 kHz-like), "wideband" (16 kHz-like), ..."""
        if bandwidth not in BANDWIDTHS:
            raise CodecError(f"unknown Opus bandwidth {bandwidth!r}; choose one of {sorted(BANDWIDTHS)}")
        if getattr(self, "_bandwidth", None) == bandwidth:
            return
        self._set(self._ctl.set_max_bandwidth, BANDWIDTHS[bandwidth])
        self._set(self._ctl.set_bandwidth, BANDWIDTHS[bandwidth])
        # Measured with libopus 1.3: a running SILK encoder keeps its internal rate after
        # OPUS_SET_BANDWIDTH (packets stay wideband for seconds). Resetting the coding state
        # (the CTL settings survive) makes the next packet use the new band at once.
        self._enc.reset_state()
        self._bandwidth = bandwidth

    def set_bitrate(self, bitrate: int) -> None:
        if not 6000 <= bitrate <= 510000:
            raise CodecError(f"Opus bitrate must be 6000..510000 bit/s, got {bitrate}")
        self._set(self._ctl.set_bitrate, bitrate)
        self._bitrate = bitrate

    def set_expected_loss(self, percent: int) -> None:
        """Tell the encoder how much loss to protect against with in-band FEC (0..100)."""
        self._set(self._ctl.set_packet_loss_perc, max(0, min(100, int(percent))))

    def encode(self, pcm: PCM) -> bytes:
        frame = check_frame(pcm, self._frame)
        return bytes(self._enc.encode(frame.tobytes(), self._frame))


class OpusDecoder(Decoder):
    def __init__(self, *, pcm_rate: int = 16000) -> None:
        lib = _opuslib()
        self._lib = lib
        self._dec = lib.Decoder(_check_rate(pcm_rate), 1)
        self._frame = pcm_rate // 50
        self._most = pcm_rate * MAX_PACKET_MS // 1000  # room for the longest packet

    def _run(self, payload: bytes, fec: bool, room: int) -> PCM:
        try:
            out = self._dec.decode(payload, room, fec)
        except self._lib.exceptions.OpusError as exc:
            raise CodecError(f"corrupt Opus payload ({len(payload)} bytes): {exc}") from exc
        return np.frombuffer(out, dtype=np.int16).copy()

    def decode(self, payload: bytes) -> PCM:
        data = check_payload(payload)
        if len(data) > MAX_PACKET * 3:
            raise CodecError(f"Opus payload of {len(data)} bytes is larger than any valid packet")
        return self._run(data, False, self._most)

    def decode_fec(self, next_payload: bytes) -> PCM:
        """Recover the frame lost just before ``next_payload`` from that packet's in-band FEC.

        When the next packet carries no FEC data, libopus falls back to concealment, so the
        result is always one frame.
        """
        return self._run(check_payload(next_payload), True, self._frame)

    def conceal(self) -> PCM:
        return self._run(b"", False, self._frame)


class Opus(Codec):
    """``opus/48000/2``: RTP clock 48 kHz; ``sample_rate`` (the PCM rate) 16 kHz unless asked."""

    def __init__(self, payload_type: int = 111, *, pcm_rate: int = 16000) -> None:
        super().__init__(
            CodecInfo(
                name="opus/48000/2",
                encoding="opus",
                payload_type=payload_type,
                sample_rate=_check_rate(pcm_rate),
                clock_rate=OPUS_RATE,
                channels=2,
            )
        )

    @property
    def ptimes(self) -> tuple[int, ...]:
        return PTIMES

    def encoder(self, ptime_ms: int = FRAME_MS) -> OpusEncoder:
        return OpusEncoder(pcm_rate=self.sample_rate, ptime_ms=ptime_ms)

    def payload_duration(self, payload: bytes) -> int:
        """From the packet's table-of-contents byte (RFC 6716 §3.1), read by libopus."""
        if not payload:
            return 0
        lib = _opuslib()
        n = int(lib.api.libopus.opus_packet_get_nb_samples(payload, len(payload), OPUS_RATE))
        return n if n > 0 else 0

    def decoder(self) -> OpusDecoder:
        return OpusDecoder(pcm_rate=self.sample_rate)
