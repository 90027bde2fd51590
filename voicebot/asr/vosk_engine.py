"""Vosk (Kaldi) streaming recognition: grammar mode and free mode.

One model per process (``voicebot.asr.vosk_model``: where it comes from, the decoder
settings, sharing and release at exit); each call gets its own ``KaldiRecognizer``.

Grammar mode: the expected phrases are spelled with the model's vocabulary (unknown words
split into known pieces, see ``voicebot.asr.vocabulary``) and sent as JSON with
``ensure_ascii=False`` (escaped Hangul is "missing from vocabulary"), each repeated
``phrase_weight`` times, followed by a garbage loop: the model's open Hangul syllables
(``open_syllables``), which spell any other speech. The decoder returns a deep n-best list
(``max_alternatives``); ``voicebot.asr.nbest.PhraseChooser`` picks the best-scored phrase in
it and ``Calibration`` (shipped in ``voicebot.asr.shipped``) says how likely its meaning is
right. Below the policy's floor the answer is no-match: a reprompt, not a guess; below its
accept threshold it is worth confirming first. The policy is the line band's (``Band``, told
at open), each fitted on its own band's lines: one policy for every line, fitted on 16 kHz and
G.711 turns together, let 2.4-2.9 % of the out-of-grammar turns through as phrases on μ-law
lines (1.5 % pooled), where a telephone line's confidences are spread otherwise.

Audio goes through ``voicebot.asr.conditioning`` first: a quiet noise floor in 4-8 kHz, and
while the line is narrowband (G.711) a folded copy of the speech in that band.

Free mode: the model's own language model; bracketed tokens (``[2]``) read as words.
Every setting here was measured with ``benchmarks/speech.py --ablation`` (see the README).
"""

from __future__ import annotations

import json
import logging
import math
import os
import threading
from collections.abc import Mapping, Sequence
from typing import Any

from voicebot.asr.conditioning import ONSET_RMS, Conditioner, NoiseFloor
from voicebot.asr.engine import SAMPLE_RATE, Band, Grammar, Pcm, check_pcm, report_grammar
from voicebot.asr.events import Alternative, AsrEvent, FinalResult, PartialResult, PhraseMatch, WordTiming
from voicebot.asr.matching import PhraseMatcher, phonetic_units, similarity
from voicebot.asr.nbest import Calibration, Evidence, Hypothesis, PhraseChooser
from voicebot.asr.shipped import Policy, policies
from voicebot.asr.vocabulary import open_syllables, segment
from voicebot.asr.vosk_model import (
    DECODER_SETTINGS,
    ENV_MODEL,
    Settings,
    SharedModel,
    find_model_dir,
    shared_model,
    track,
)
from voicebot.errors import ConfigError

log = logging.getLogger(__name__)

_GRAMMAR_CACHE = 256  # prepared grammars kept per engine (a flow has a few listening states)


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

    ``max_alternatives``: n-best depth in grammar mode. ``phrase_weight``: how many times
    each phrase is listed against the garbage loop (0 = no garbage loop). ``band_fill``:
    gain of the folded copy on narrowband lines (0 = off); ``hf_noise_floor``: RMS of the
    4-8 kHz noise bed (0 = off). ``calibration`` / ``min_confidence`` / ``accept_confidence``:
    replace that part of every band's shipped policy (None: the shipped one's; see module doc).
    ``near``: phonetic similarity at which a hypothesis counts as a phrase (1.0 = exact).
    """

    name = "vosk"
    sample_rate = SAMPLE_RATE
    holds_gil = False  # cffi releases the GIL around each call into libvosk
    hosts = 0  # decodes in this process

    def __init__(
        self,
        model_dir: str | os.PathLike[str] | None = None,
        *,
        decoder_settings: Settings = DECODER_SETTINGS,
        max_alternatives: int = 50,
        phrase_weight: int = 0,
        band_fill: float = 0.0,
        hf_noise_floor: float = 20.0,
        calibration: Calibration | None = None,
        min_confidence: float | None = None,
        accept_confidence: float | None = None,
        near: float = 1.0,
        match_threshold: float = 0.6,
        partial_every: int = 5,
    ) -> None:
        self.model_dir = find_model_dir(model_dir)
        # dither: the model's own feature dither is off (see vosk_model.DECODER_SETTINGS)
        # started again at each utterance's onset: the same words hear the same bed (--bed)
        self.noise_floor = NoiseFloor(hf_noise_floor, low_hz=4000.0, dither=1.0, onset_rms=ONSET_RMS)
        self.band_fill = band_fill
        self._shared = shared_model(self.model_dir, decoder_settings)
        self._shared.preload()
        self._grammars: dict[tuple[str, ...], tuple[Grammar, str]] = {}
        self._grammars_lock = threading.Lock()
        self._garbage: list[str] | None = None
        self.max_alternatives = max_alternatives
        self.phrase_weight = phrase_weight
        # per line band, the shipped policy (``calibration.json``, fitted by the speech benchmark)
        self.policies: dict[Band, Policy] = policies(
            self.name, calibration=calibration, accept=accept_confidence, floor=min_confidence
        )
        # a line of unknown band: the wideband policy's (``accept_on`` for a known one)
        self.accept_confidence = self.policies[Band.WIDE].accept
        self.near = near
        self.match_threshold = match_threshold
        self.partial_every = partial_every

    @property
    def shared(self) -> SharedModel:
        """The process-wide loaded model this engine uses."""
        return self._shared

    def vocabulary(self) -> frozenset[str] | None:
        """The model's words (read once from the model files), None if not readable."""
        return self._shared.vocabulary()

    def kaldi_recognizer(self, grammar_json: str | None = None) -> Any:
        """A bare ``vosk.KaldiRecognizer`` on the shared model (16 kHz; a JSON phrase list or free)."""
        return self._shared.kaldi_recognizer(grammar_json)

    def garbage(self) -> list[str]:
        """The garbage loop's words (empty when the model has no open Hangul syllables)."""
        if self._garbage is None:
            vocabulary = self.vocabulary()
            self._garbage = open_syllables(vocabulary) if vocabulary is not None and self.phrase_weight else []
        return self._garbage

    def _spell(self, word: str, vocabulary: frozenset[str]) -> list[str] | None:
        for form in (word, word.lower(), word.upper()):
            if form in vocabulary:
                return [form]
        return segment(word, vocabulary) or segment(word.lower(), vocabulary)

    def accept_on(self, band: Band | None) -> float:
        return self.policies[band or Band.WIDE].accept

    def confirm_on(self, band: Band | None) -> float:
        return self.policies[band or Band.WIDE].confirm_accept

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
        spellings: list[tuple[str, str]] = []
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
                spellings.append((phrase, " ".join(words)))
        return Grammar(
            phrases=tuple(phrases),
            decoder_phrases=tuple(dict.fromkeys(s for _, s in spellings)),
            warnings=tuple(warnings),
            unknown=tuple(unknown),
            dropped=tuple(dropped),
            spellings=tuple(spellings),
        )

    def grammar_json(self, grammar: Grammar) -> str:
        """What the decoder is given: the phrases (weighted) and the garbage loop."""
        weight = max(1, self.phrase_weight)
        return json.dumps([*grammar.decoder_phrases * weight, *self.garbage()], ensure_ascii=False)

    def _prepared(self, grammar: Sequence[str]) -> tuple[Grammar, str]:
        phrases = [p for p in grammar if p.strip()]
        if not phrases:
            raise ConfigError("a grammar needs at least one non-empty phrase")
        key = tuple(phrases)
        with self._grammars_lock:
            cached = self._grammars.get(key)
        if cached is None:
            prepared = self.prepare_grammar(phrases)
            cached = (prepared, self.grammar_json(prepared))
            with self._grammars_lock:
                if len(self._grammars) >= _GRAMMAR_CACHE:
                    self._grammars.pop(next(iter(self._grammars)))
                self._grammars[key] = cached
        report_grammar(log, str(self.model_dir), cached[0])
        if not cached[0].decoder_phrases:
            raise ConfigError("no phrase of the grammar can be spelled with the model's words")
        return cached

    def recognizer(
        self,
        grammar: Sequence[str] | None = None,
        *,
        groups: Mapping[str, str] | None = None,
        band: Band | None = None,
    ) -> VoskRecognizer:
        if grammar is None:
            return VoskRecognizer(self, None, None, groups, band=band)
        prepared, grammar_json = self._prepared(grammar)
        return VoskRecognizer(self, prepared, grammar_json, groups, band=band)


POSTERIOR_TEMPERATURE = 1.0  # Vosk's n-best scores are natural-log path scores


def _posteriors(scores: Sequence[float]) -> list[float]:
    if not scores:
        return []
    top = max(scores)
    raw = [math.exp(max(-50.0, (s - top) / POSTERIOR_TEMPERATURE)) for s in scores]
    total = sum(raw)
    return [r / total for r in raw]


class VoskRecognizer:
    """One call's Vosk decoder (see ``voicebot.asr.engine.Recognizer``)."""

    def __init__(
        self,
        engine: VoskEngine,
        grammar: Grammar | None,
        grammar_json: str | None,
        groups: Mapping[str, str] | None = None,
        *,
        band: Band | None = None,
    ) -> None:
        """``band``: the line's. A narrowband codec cannot carry more than 4 kHz, so the band
        fill starts at once; a wideband one may still carry telephone audio (a G.711 leg
        transcoded upstream, a narrowband Opus encoder), which the detector finds. The
        answers are scored with the band's policy (not known: the wideband one's)."""
        self.engine = engine
        self.policy = engine.policies[band or Band.WIDE]
        self.grammar = grammar
        self._rec: Any = engine.kaldi_recognizer(grammar_json)
        self.matcher: PhraseMatcher | None = None
        self.chooser: PhraseChooser | None = None
        self.evidence: Evidence | None = None  # what the last final result was chosen from
        if grammar is not None:
            self._rec.SetMaxAlternatives(engine.max_alternatives)
            self.matcher = PhraseMatcher(grammar.phrases, threshold=engine.match_threshold, groups=groups)
            self.chooser = PhraseChooser(
                dict(grammar.spellings), groups=groups, near=engine.near, temperature=POSTERIOR_TEMPERATURE
            )
        else:
            self._rec.SetMaxAlternatives(0)
        self._rec.SetWords(True)
        self._fed = 0  # samples since the stream started (Vosk times are stream-relative)
        self._utt_start = 0
        self._frames = 0
        self._segments: list[dict[str, Any]] = []
        self._last_partial = ""
        narrowband = True if band is Band.NARROW else None
        self._conditioner = Conditioner(engine.noise_floor, engine.band_fill, narrowband=narrowband)
        track(self)

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
        pcm = self._conditioner.apply(pcm)
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

    @property
    def narrowband(self) -> bool | None:
        """Whether the line was found to be telephone band (None: not enough speech yet)."""
        return self._conditioner.narrowband

    # -- results -----------------------------------------------------------------------
    def _start_next(self) -> None:
        self._conditioner.next_utterance()
        self._segments = []
        self._last_partial = ""
        self._utt_start = self._fed
        self._frames = 0

    def _build_result(self) -> FinalResult:
        offset = self._utt_start / SAMPLE_RATE
        duration = (self._fed - self._utt_start) / SAMPLE_RATE
        prefix_text: list[str] = []
        words: list[WordTiming] = []
        hypotheses: list[Hypothesis] = []
        confidences: list[float] = []
        for index, seg in enumerate(self._segments):
            last = index == len(self._segments) - 1
            if "alternatives" in seg:
                alts = list(seg["alternatives"])
                if not alts:
                    continue
                weights = _posteriors([float(a.get("confidence", 0.0)) for a in alts])
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
                    hypotheses = [
                        Hypothesis(
                            text=f"{head} {a.get('text', '')}".strip(),
                            score=float(a.get("confidence", 0.0)),
                            span=_span(a.get("result", [])),
                        )
                        for a in alts
                    ]
                if best.get("text"):
                    prefix_text.append(str(best["text"]))
            else:
                for w in seg.get("result", []):
                    conf = float(w.get("conf", 1.0))
                    words.append(_timing(w, offset, conf))
                    confidences.append(conf)
                if seg.get("text"):
                    prefix_text.append(str(seg["text"]))
        text = " ".join(t for t in prefix_text if t)
        if not hypotheses and text:
            hypotheses = [Hypothesis(text=text, score=0.0)]
        weights = _posteriors([h.score for h in hypotheses])
        alternatives = tuple(
            Alternative(text=h.text, weight=round(w, 4)) for h, w in zip(hypotheses, weights, strict=True) if h.text
        )
        match = self._match(hypotheses) if self.chooser is not None else None
        if match is not None and match.matched:
            confidence = match.confidence
        else:
            confidence = sum(confidences) / len(confidences) if confidences else 0.0
        return FinalResult(
            text=text,
            confidence=round(confidence, 4),
            words=tuple(words),
            alternatives=alternatives,
            match=match,
            duration=duration,
            engine="vosk",
        )

    def _match(self, hypotheses: Sequence[Hypothesis]) -> PhraseMatch:
        assert self.chooser is not None
        evidence = self.chooser.evidence(hypotheses)
        self._last_h = hypotheses
        self.evidence = evidence
        sure = self.policy.calibration.confidence(evidence)
        close = similarity(phonetic_units(evidence.heard), phonetic_units(evidence.phrase or ""))
        if evidence.phrase is not None and sure >= self.policy.floor:
            return PhraseMatch(
                phrase=evidence.phrase,
                confidence=round(sure, 4),
                similarity=round(close, 4),
                heard=evidence.heard,
                runner_up=evidence.runner_up,
            )
        return PhraseMatch(
            phrase=None,
            confidence=round(1.0 - sure, 4),
            similarity=round(close, 4),
            heard=evidence.heard,
            runner_up=evidence.phrase,
        )


def _span(words: Sequence[dict[str, Any]]) -> float:
    return float(words[-1]["end"]) - float(words[0]["start"]) if words else 0.0


def _timing(w: dict[str, Any], offset: float, conf: float) -> WordTiming:
    return WordTiming(
        word=str(w["word"]),
        start=round(max(0.0, float(w["start"]) - offset), 3),
        end=round(max(0.0, float(w["end"]) - offset), 3),
        confidence=round(min(1.0, conf), 4),
    )


__all__ = [
    "ENV_MODEL",
    "VoskEngine",
    "VoskRecognizer",
    "find_model_dir",
    "spoken_word",
]
