"""The speech-synthesis protocol every TTS engine implements.

An engine turns one piece of plain text (no markup: SSML is resolved above it by
``voicebot.tts.ssml``) into 16 kHz mono int16 PCM, for a voice and a speaking rate in words
per minute. ``synthesize`` blocks; callers in async code go through
``voicebot.tts.Synthesizer``, which runs it in a worker thread and caches the result.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np

from voicebot.media.frames import PCM as Pcm
from voicebot.media.frames import RATE as SAMPLE_RATE

DEFAULT_RATE = 175  # words per minute (espeak-ng's default)
MIN_RATE = 80
MAX_RATE = 450


@runtime_checkable
class TtsEngine(Protocol):
    name: str
    sample_rate: int

    def synthesize(self, text: str, *, voice: str, rate: int) -> Pcm:
        """``text`` spoken by ``voice`` at ``rate`` words per minute, as 16 kHz int16."""
        ...

    def check_voice(self, voice: str) -> str:
        """``voice`` if the engine has it, else ``ConfigError`` naming the choices."""
        ...

    def language(self, voice: str) -> str:
        """The ISO 639 language code of ``voice`` ("ko", "en", ...)."""
        ...


def silence(ms: float) -> Pcm:
    return np.zeros(round(SAMPLE_RATE * ms / 1000), dtype=np.int16)


__all__ = ["DEFAULT_RATE", "MAX_RATE", "MIN_RATE", "SAMPLE_RATE", "Pcm", "TtsEngine", "silence"]
