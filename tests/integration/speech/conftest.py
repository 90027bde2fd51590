"""Real engines for the speech tests, loaded once per session (the Vosk model takes seconds)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np
import pytest

from voicebot.asr import get_engine
from voicebot.asr.pocketsphinx_engine import PocketsphinxEngine
from voicebot.asr.vosk_engine import VoskEngine
from voicebot.tts import EspeakEngine


@pytest.fixture(scope="session")
def vosk_engine() -> VoskEngine:
    engine = get_engine("vosk")
    assert isinstance(engine, VoskEngine)
    return engine


@pytest.fixture(scope="session")
def sphinx_engine() -> PocketsphinxEngine:
    engine = get_engine("pocketsphinx")
    assert isinstance(engine, PocketsphinxEngine)
    return engine


@pytest.fixture(scope="session")
def tts() -> Iterator[EspeakEngine]:
    """The real TTS engine as a call uses it (pyttsx3 driving libespeak-ng)."""
    engine = EspeakEngine()
    yield engine
    engine.close()


@pytest.fixture(scope="session")
def tts_cli() -> Iterator[EspeakEngine]:
    """The same voices through the espeak-ng command: every phrase renders identically
    (pyttsx3 keeps one espeak instance whose state carries from phrase to phrase), so the
    recognition tests hear the same audio on every run."""
    engine = EspeakEngine(backend="espeak-ng")
    yield engine
    engine.close()


def _silence(seconds: float) -> np.ndarray:
    return np.zeros(round(16000 * seconds), dtype=np.int16)


Speak = Callable[..., np.ndarray]


@pytest.fixture(scope="session")
def speak(tts_cli: EspeakEngine) -> Speak:
    """``speak(text, voice, rate=175, pad=0.5)``: espeak-ng speech with ``pad`` seconds of
    silence either side, like a caller's turn."""

    def _speak(text: str, voice: str, rate: int = 175, pad: float = 0.5) -> np.ndarray:
        return np.concatenate([_silence(pad), tts_cli.synthesize(text, voice=voice, rate=rate), _silence(pad)])

    return _speak
