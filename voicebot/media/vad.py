"""Voice activity detection on 16 kHz int16 frames (WebRTC VAD, via ``webrtcvad-wheels``).

``Vad.is_speech(frame)`` classifies one 10, 20 or 30 ms frame. It has no clock and no
I/O; the endpointing logic that turns these decisions into utterances lives in
``voicebot.media.endpoint``. ``is_quiet(frame)`` says a frame is too quiet to be speech
whatever the VAD says: WebRTC VAD keeps calling about 100 ms of digital silence after a word
speech (its hangover), which the endpointer would otherwise wait out before its silence
window even starts.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from voicebot.errors import ConfigError, DependencyError
from voicebot.media.frames import RATE as SAMPLE_RATE
from voicebot.media.frames import SILENCE_RMS

_FRAME_MS = (10, 20, 30)
RATES = (8000, 16000, 32000, 48000)  # what WebRTC VAD takes (it decides at 8 kHz inside)


class Vad:
    """WebRTC VAD. ``aggressiveness`` 0 (lets most through) .. 3 (strictest about speech)."""

    def __init__(self, aggressiveness: int = 2, sample_rate: int = SAMPLE_RATE) -> None:
        if aggressiveness not in (0, 1, 2, 3):
            raise ConfigError(f"VAD aggressiveness must be 0..3, got {aggressiveness}")
        if sample_rate not in RATES:
            raise ConfigError(f"VAD sample rate must be 8, 16, 32 or 48 kHz, got {sample_rate}")
        try:
            import webrtcvad
        except ImportError as exc:  # pragma: no cover - declared dependency
            raise DependencyError("webrtcvad is missing: pip install webrtcvad-wheels") from exc
        self._vad = webrtcvad.Vad(aggressiveness)
        self.sample_rate = sample_rate
        self._sizes = {sample_rate * ms // 1000 for ms in _FRAME_MS}

    def is_speech(self, frame: npt.NDArray[np.int16]) -> bool:
        if not isinstance(frame, np.ndarray) or frame.dtype != np.int16 or frame.ndim != 1:
            raise ConfigError("VAD input must be a 1-D numpy int16 array")
        if len(frame) not in self._sizes:
            raise ConfigError(f"VAD frames must be 10, 20 or 30 ms ({sorted(self._sizes)} samples), got {len(frame)}")
        return bool(self._vad.is_speech(frame.tobytes(), self.sample_rate))

    def is_speech_not_quiet(self, frame: npt.NDArray[np.int16]) -> bool:
        """``is_speech`` without the hangover: a quiet frame is never speech (what endpointing
        counts its silence on, so the silence window starts when the words stop)."""
        speech = self.is_speech(frame)  # always asked: the VAD's noise estimate follows every frame
        return speech and not is_quiet(frame)


def is_quiet(frame: npt.NDArray[np.int16]) -> bool:
    """The frame's RMS is under ``SILENCE_RMS`` (about -50 dBFS): no speech in it."""
    if len(frame) == 0:
        return True
    x = frame.astype(np.float64)  # int16 squares sum exactly in float64: the same RMS, one pass fewer
    return float(np.sqrt(x.dot(x) / len(x))) < SILENCE_RMS


__all__ = ["RATES", "Vad", "is_quiet"]
