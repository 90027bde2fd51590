"""Real engines for the speech tests, loaded once per session (the Vosk model takes seconds)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence

import numpy as np
import pytest

from voicebot.asr import get_engine
from voicebot.asr.engine import AsrEngine, Band, recognize_pcm
from voicebot.asr.events import PhraseMatch
from voicebot.asr.nbest import Evidence
from voicebot.asr.pocketsphinx_engine import PocketsphinxEngine
from voicebot.asr.shipped import shipped
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


@pytest.fixture(scope="session")
def heard_on_bands() -> Callable[..., dict[Band | None, tuple[PhraseMatch, Evidence]]]:
    """``heard_on_bands(engine, grammar, audio_by_band, groups=None)``: for each band (None:
    not known) a recogniser opened for that band hears its audio. Checked for every band: it
    takes that band's shipped policy, a flow's confirm threshold on the line is that policy's
    accept (for a read-back's yes, its confirm_accept), and the confidence it reports is that
    policy's on its evidence (a no-match's: how sure it is of none). Returns what each heard,
    with the evidence it was scored on."""

    def _heard(
        engine: AsrEngine,
        grammar: Sequence[str],
        audio_by_band: Mapping[Band | None, np.ndarray],
        groups: Mapping[str, str] | None = None,
    ) -> dict[Band | None, tuple[PhraseMatch, Evidence]]:
        heard: dict[Band | None, tuple[PhraseMatch, Evidence]] = {}
        for band, audio in audio_by_band.items():
            r = engine.recognizer(list(grammar), groups=groups, band=band)
            try:
                policy = shipped(engine.name, band)
                assert r.policy == policy  # type: ignore[attr-defined]
                assert engine.accept_on(band) == policy.accept  # a flow's confirm threshold on the line
                assert engine.confirm_on(band) == policy.confirm_accept  # and a read-back's yes's
                match = recognize_pcm(r, audio).match
                evidence = r.evidence  # type: ignore[attr-defined]
            finally:
                r.close()
            assert match is not None and evidence is not None
            sure = policy.calibration.confidence(evidence)
            assert match.confidence == pytest.approx(sure if match.phrase is not None else 1.0 - sure, abs=1e-4)
            heard[band] = (match, evidence)
        return heard

    return _heard
