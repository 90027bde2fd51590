"""CMU pocketsphinx recognition: the PyPI wheel's US English model, zero downloads.

Grammar mode compiles the expected phrases into a phrase-level JSGF grammar (JSGF 1.0:
``public <utterance> = ( w1 w2 ) | ( w3 ) ;``), so a result is always one whole phrase or a
prefix of one; free mode uses the wheel's trigram language model. Words missing from the
pronunciation dictionary cannot be in a JSGF grammar: they are dropped with a warning.

A JSGF search always returns *some* phrase. How sure to be of it comes from a second
decoder that runs the model's phone loop over the same audio (``phone_loop``): the phrase's
path score falls far behind the phone loop's per second of speech when the caller said
something else (``Evidence.gap``). The phone loop also says where the caller was speaking:
speech the phrase's path leaves to silence ("yes that works" against a grammar that holds
"yes" alone comes back as "yes" and a long silence) is ``Evidence.unexplained``. The shipped
``Calibration`` (``voicebot.asr.shipped``, fitted by the speech benchmark on a held-apart
split) turns these and the lattice posterior into the probability the phrase is right.
Below the policy's floor the answer is no-match; below its accept threshold it is worth
confirming. The policy is the line band's (``Band``, told at open): a telephone line's
scores spread differently from a 16 kHz one's, and one policy fitted on both let μ-law
under babble through as wrong accepts, so each band's is fitted on its own lines.

A quiet white noise bed (``noise_floor``, see ``voicebot.asr.conditioning.NoiseFloor``) goes under
the audio: on zero-padded espeak-ng phrases without it the grammar search stopped early
("talk to an" for "talk to an agent"), and two of five G.711 phrases came back empty. It
starts again at each utterance's onset, so the same words get the same answer whenever, in
the turn, they came (``benchmarks/speech.py --bed``).

Decoders come from ``voicebot.asr.sphinx_decoders``: lean ones (acoustic model only, taught
the grammar's words) for grammars and the phone loop, full ones for free mode, both pooled.

pocketsphinx normalises its features by a running cepstral mean that it updates only as an
utterance goes by; a decoder starts from the model's initial mean (40, 3, -1, 0, ...), which
is far from a G.711 line's. A listening turn is short and opens a fresh recogniser, so on a
narrowband line most of it was decoded against the wrong mean (English μ-law: 2.4 % accepted
right where 16 kHz gave 23.5 %). A recogniser opened with the line's ``Band`` starts its
decoders from that band's stored mean instead (``cmn_prior``, shipped in ``calibration.json``,
learnt by ``benchmarks/speech.py --write-calibration`` on its calibration split); the pool
takes decoders back with the model's own mean again. Only the narrowband mean is shipped: a
wideband one learnt the same way (espeak-ng at 16 kHz, each variant refitted) moved the right
first choice from 76.5 to 72.9 % and the accepted right from 31.8 to 36.5 %, but false accepts
from 0 to 2 of 206; and what it learns is the synthetic voice's spectrum, where a narrowband
line's mean is mostly the line's own band limits, which every G.711 call shares.
"""

from __future__ import annotations

import itertools
import logging
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from voicebot.asr.conditioning import ONSET_RMS, NoiseFloor
from voicebot.asr.engine import SAMPLE_RATE, Band, Grammar, Pcm, check_pcm, report_grammar
from voicebot.asr.events import (
    Alternative,
    AsrEvent,
    FinalResult,
    PartialResult,
    PhraseMatch,
    WordTiming,
)
from voicebot.asr.matching import PhraseMatcher
from voicebot.asr.nbest import Calibration, Evidence, Hypothesis, PhraseChooser
from voicebot.asr.shipped import Policy, cepstral_means, policies
from voicebot.asr.sphinx_decoders import PHONE_SEARCH, SphinxDecoders
from voicebot.errors import ConfigError, DependencyError

log = logging.getLogger(__name__)

_FRAME_SECONDS = 0.01  # pocketsphinx frame rate: 100 frames per second
_TAIL_SAMPLES = 4800  # 300 ms of trailing quiet fed at the end of every utterance
_FILLERS = {"<s>", "</s>", "<sil>", "[NOISE]", "<unk>"}
_MIN_SPEECH_FRAMES = 10  # the gap of a shorter utterance is taken over 100 ms

# pocketsphinx hands out path scores shrunk far below natural-log units: per frame, the
# phone loop leads an in-grammar phrase by ~0.0003 and anything else by ~0.001. Scaled so
# that the calibration's weights are of ordinary size.
GAP_SCALE = 1000.0


def cmn_text(mean: Sequence[float]) -> str:
    """A cepstral mean as ``Decoder.set_cmn`` takes it (comma-separated numbers)."""
    return ",".join(f"{x:.4f}" for x in mean)


def parse_cmn(text: str) -> tuple[float, ...]:
    """``Decoder.get_cmn``'s comma-separated mean as numbers."""
    return tuple(float(x) for x in text.split(","))


def _clean_word(word: str) -> str:
    return "".join(ch for ch in word.lower() if ch.isalnum() or ch == "'")


def _phone_lm(pocketsphinx: Any, hmm: str | None) -> str | None:
    """The phone language model of the acoustic model (the wheel's en-us has one)."""
    base = Path(hmm).parent if hmm is not None else Path(pocketsphinx.get_model_path()) / "en-us"
    found = sorted(base.glob("*-phone.lm.bin"))
    return str(found[0]) if found else None


Segment = tuple[str, int, int]  # (label, first frame, last frame) of a decoder's segmentation


def _speech_mask(segments: Sequence[Segment], length: int) -> npt.NDArray[np.bool_]:
    """Frames of ``segments`` that are speech (neither silence nor a filler or noise model)."""
    mask = np.zeros(length, dtype=bool)
    for label, start, end in segments:
        if label not in _FILLERS and label != "SIL" and not label.startswith("+"):
            mask[start : end + 1] = True
    return mask


def speech_evidence(words: Sequence[Segment], phones: Sequence[Segment]) -> tuple[int | None, float]:
    """Where the caller began to speak, and the share of the speech the phrase leaves unexplained.

    Began: the first frame the phone loop hears as a phone or the grammar's path spends in a
    word (None: neither heard speech). Unexplained: the share of the frames the phone loop
    hears as speech that the grammar's path spends in silence or a filler: speech the phrase
    does not account for."""
    length = max((end + 1 for _, _, end in (*words, *phones)), default=0)
    heard, said = _speech_mask(phones, length), _speech_mask(words, length)
    total = int(heard.sum())
    unexplained = float((heard & ~said).sum()) / total if total else 0.0
    spoken = np.flatnonzero(heard | said)
    return (int(spoken[0]) if len(spoken) else None), unexplained


def _log_score(hyp: Any) -> float | None:
    """A hypothesis' path score in natural-log units (pocketsphinx hands out exp of it)."""
    if hyp is None or hyp.best_score <= 0.0:
        return None
    return math.log(hyp.best_score)


class PocketsphinxEngine:
    """pocketsphinx with the wheel's ``en-us`` model (or ``hmm``/``dictionary`` given)."""

    name = "pocketsphinx"
    sample_rate = SAMPLE_RATE
    holds_gil = True  # its Cython bindings call the decoder without releasing the GIL
    hosts = 0  # decodes in this process

    def __init__(
        self,
        *,
        hmm: str | None = None,
        dictionary: str | None = None,
        match_threshold: float = 0.6,
        partial_every: int = 5,
        noise_floor: float = 4.0,
        phone_loop: bool = True,
        calibration: Calibration | None = None,
        min_confidence: float | None = None,
        accept_confidence: float | None = None,
        cmn_prior: Mapping[Band, Sequence[float]] | None = None,
    ) -> None:
        """``cmn_prior``: per band, the cepstral mean a recogniser opened for a line of that
        band starts from (None: the shipped ones; ``{}``: always the model's own)."""
        self.noise_floor = NoiseFloor(noise_floor, onset_rms=ONSET_RMS) if noise_floor > 0 else None
        # Per line band, the shipped policy; what a caller passes (e.g. the benchmark's
        # ablation) replaces that part of every band's.
        self.policies: dict[Band, Policy] = policies(
            self.name, calibration=calibration, accept=accept_confidence, floor=min_confidence
        )
        # a line of unknown band: the wideband policy's (``accept_on`` for a known one)
        self.accept_confidence = self.policies[Band.WIDE].accept
        prior = cmn_prior if cmn_prior is not None else cepstral_means("pocketsphinx")
        self.cmn_prior: dict[Band, str] = {Band(band): cmn_text(mean) for band, mean in prior.items()}
        try:
            import pocketsphinx
        except ImportError as exc:  # pragma: no cover - declared dependency
            raise DependencyError("the pocketsphinx package is missing: pip install pocketsphinx") from exc
        self._ps = pocketsphinx
        # allphone_ci: the phone loop over context-independent phones (pocketsphinx 5's
        # default, kept explicit because the other choice is unusable): with triphones a
        # recogniser (grammar + phone loop) took 11.6 CPU seconds per audio second on G.711
        # speech here, with these 0.13. The loop only scores, it never spells.
        self._options: dict[str, Any] = {"loglevel": "FATAL", "allphone_ci": True}
        if hmm is not None:
            self._options["hmm"] = hmm
        if dictionary is not None:
            self._options["dict"] = dictionary
        self.match_threshold = match_threshold
        self.partial_every = partial_every
        self._names = itertools.count()
        model_phone_lm = _phone_lm(pocketsphinx, hmm)
        self.phone_lm = model_phone_lm if phone_loop else None
        self.decoders = SphinxDecoders(pocketsphinx, self._options, self.phone_lm, model_phone_lm=model_phone_lm)

    def accept_on(self, band: Band | None) -> float:
        return self.policies[band or Band.WIDE].accept

    def confirm_on(self, band: Band | None) -> float:
        return self.policies[band or Band.WIDE].confirm_accept

    def search_name(self) -> str:
        """A fresh name for a recogniser's grammar search."""
        return f"voicebot{next(self._names)}"

    def acquire_decoder(self, words: Sequence[str] = (), *, free: bool = False) -> Any:
        """An idle decoder from the pool (a new one when the pool is empty): a lean one that
        knows ``words``, or with ``free`` one with the language model and whole dictionary."""
        return self.decoders.full() if free else self.decoders.lean(words)

    def release_decoder(self, decoder: Any, *, free: bool = False) -> None:
        """Give a decoder back to the pool, its cepstral mean reset."""
        self.decoders.release(decoder, full=free)

    def reserve(self, listeners: int) -> None:
        """Build, ahead of calls, the decoders ``listeners`` grammar recognisers at once need."""
        self.decoders.reserve(listeners * (2 if self.phone_lm is not None else 1))

    def _knows(self, word: str) -> bool:
        return bool(self.decoders.pronunciations(word))

    def vocabulary_check(self, phrases: Sequence[str]) -> list[str]:
        missing: list[str] = []
        for phrase in phrases:
            for raw in phrase.split():
                word = _clean_word(raw)
                if word and word not in missing and not self._knows(word):
                    missing.append(word)
        return missing

    def prepare_grammar(self, phrases: Sequence[str]) -> Grammar:
        decoder: list[str] = []
        spellings: list[tuple[str, str]] = []
        warnings: list[str] = []
        unknown: dict[str, None] = {}
        for phrase in phrases:
            words = []
            for raw in phrase.split():
                word = _clean_word(raw)
                if not word:
                    continue
                if self._knows(word):
                    words.append(word)
                else:
                    unknown[word] = None
                    warnings.append(f"'{word}' (in '{phrase}') is not in the dictionary: dropped")
            if words:
                decoder.append(" ".join(words))
                spellings.append((phrase, " ".join(words)))
            else:
                warnings.append(f"phrase '{phrase}' has no word the dictionary knows: it can never match")
        return Grammar(
            phrases=tuple(phrases),
            decoder_phrases=tuple(dict.fromkeys(decoder)),
            warnings=tuple(warnings),
            unknown=tuple(unknown),
            dropped=tuple(unknown),
            spellings=tuple(spellings),
        )

    def recognizer(
        self,
        grammar: Sequence[str] | None = None,
        *,
        groups: Mapping[str, str] | None = None,
        band: Band | None = None,
    ) -> PocketsphinxRecognizer:
        prepared = None
        if grammar is not None:
            phrases = [p for p in grammar if p.strip()]
            if not phrases:
                raise ConfigError("a grammar needs at least one non-empty phrase")
            prepared = self.prepare_grammar(phrases)
            report_grammar(log, f"pocketsphinx {self._options.get('hmm', 'en-us')}", prepared)
            if not prepared.decoder_phrases:
                raise ConfigError("no phrase of the grammar can be spelled with the dictionary's words")
        return PocketsphinxRecognizer(self, prepared, groups, band=band)


def jsgf(decoder_phrases: Sequence[str]) -> str:
    """A JSGF 1.0 grammar accepting exactly one of the phrases."""
    body = " | ".join(f"( {p} )" for p in decoder_phrases)
    return f"#JSGF V1.0;\ngrammar voicebot;\npublic <utterance> = {body} ;\n"


class PocketsphinxRecognizer:
    """One call's pocketsphinx decoders (see ``voicebot.asr.engine.Recognizer``).

    In grammar mode a second decoder runs the phone loop (every phone may follow every
    other, weighted by the model's phone bigram) over the same audio: the best that any
    speech sound sequence can score. How far the grammar's phrase falls behind it per second
    (``Evidence.gap``) tells in-grammar speech (close) from anything else (far behind).
    """

    def __init__(
        self,
        engine: PocketsphinxEngine,
        grammar: Grammar | None,
        groups: Mapping[str, str] | None = None,
        *,
        band: Band | None = None,
    ) -> None:
        self.engine = engine
        # the confidence policy of the line's band (not known: the wideband one)
        self.policy = engine.policies[band or Band.WIDE]
        self.grammar = grammar
        self.evidence: Evidence | None = None  # what the last final result was chosen from
        self._phones: Any = None
        self.matcher: PhraseMatcher | None = None
        self.chooser: PhraseChooser | None = None
        if grammar is not None:
            words = dict.fromkeys(w for phrase in grammar.decoder_phrases for w in phrase.split())
            self._decoder: Any = engine.acquire_decoder(list(words))
            name = engine.search_name()
            try:
                self._decoder.add_jsgf_string(name, jsgf(grammar.decoder_phrases))
            except ValueError as exc:
                engine.release_decoder(self._decoder)
                raise ConfigError(f"pocketsphinx rejected the grammar: {exc}") from exc
            self._decoder.activate_search(name)
            self._search = name
            self.matcher = PhraseMatcher(grammar.phrases, threshold=engine.match_threshold, groups=groups)
            self.chooser = PhraseChooser(dict(grammar.spellings), groups=groups)
            if engine.phone_lm is not None:
                self._phones = engine.acquire_decoder()
        else:
            self._decoder = engine.acquire_decoder(free=True)
            self._decoder.activate_search("_default")
            self._search = "_default"
        prior = engine.cmn_prior.get(band) if band is not None else None
        if prior is not None:  # the pool lends decoders with the model's own mean
            for decoder in self._decoders():
                decoder.set_cmn(prior)
        self._in_utt = False
        self._samples = 0
        self._frames = 0
        self._last_partial = ""
        self._noise = engine.noise_floor.cursor() if engine.noise_floor is not None else None

    def _decoders(self) -> list[Any]:
        return [d for d in (self._decoder, self._phones) if d is not None]

    def cepstral_mean(self) -> tuple[float, ...]:
        """The cepstral mean the decoder has reached (updated at each utterance's end)."""
        return parse_cmn(str(self._decoder.get_cmn(False)))

    def _feed(self, audio: Pcm) -> None:
        if not self._in_utt:
            for decoder in self._decoders():
                decoder.start_utt()
            self._in_utt = True
        for decoder in self._decoders():
            decoder.process_raw(audio.tobytes(), False, False)

    def accept(self, pcm: Pcm) -> AsrEvent | None:
        check_pcm(pcm)
        self._feed(self._noise.apply(pcm) if self._noise is not None else pcm)
        self._samples += len(pcm)
        self._frames += 1
        if self._frames % self.engine.partial_every:
            return None
        hyp = self._decoder.hyp()
        text = str(hyp.hypstr) if hyp is not None else ""
        if text == self._last_partial:
            return None
        self._last_partial = text
        match = self.matcher.partial_match(text) if self.matcher is not None else None
        return PartialResult(text=text, match=match)

    def finish(self) -> FinalResult:
        # The JSGF search only reaches the grammar's final state after some silence: without
        # it a phrase ending right at the end of the audio comes back cut ("talk to an").
        tail = np.zeros(_TAIL_SAMPLES, dtype=np.int16)
        self._feed(self._noise.apply(tail) if self._noise is not None else tail)
        for decoder in self._decoders():
            decoder.end_utt()
        self._in_utt = False
        if self._noise is not None:
            self._noise.next_utterance()
        hyp = self._decoder.hyp()
        text = str(hyp.hypstr) if hyp is not None else ""
        words = tuple(
            WordTiming(
                word=seg.word,
                start=round(seg.start_frame * _FRAME_SECONDS, 3),
                end=round((seg.end_frame + 1) * _FRAME_SECONDS, 3),
                confidence=round(min(1.0, float(seg.prob)), 4),
            )
            for seg in (self._decoder.seg() or ())
            if seg.word not in _FILLERS and not seg.word.startswith("++")
        )
        alternatives: tuple[Alternative, ...] = (Alternative(text=text, weight=1.0),) if text else ()
        match = self._match(hyp, text) if self.chooser is not None else None
        if match is not None and match.matched:
            confidence = match.confidence
        elif words:
            confidence = sum(w.confidence for w in words) / len(words)
        else:
            confidence = 0.0
        duration = self._samples / SAMPLE_RATE
        self._samples = 0
        self._frames = 0
        self._last_partial = ""
        return FinalResult(
            text=text,
            confidence=round(confidence, 4),
            words=words,
            alternatives=alternatives,
            match=match,
            duration=duration,
            engine="pocketsphinx",
        )

    def _match(self, hyp: Any, text: str) -> PhraseMatch:
        assert self.chooser is not None
        found = self.chooser.evidence([Hypothesis(text=text, score=0.0)] if text else [])
        grammar_score = _log_score(hyp)
        phone_score = _log_score(self._phones.hyp()) if self._phones is not None else None
        words = [(seg.word, seg.start_frame, seg.end_frame) for seg in (self._decoder.seg() or ())]
        loop = (self._phones.seg() or ()) if self._phones is not None else ()
        phones = [(seg.word, seg.start_frame, seg.end_frame) for seg in loop]
        began, unexplained = speech_evidence(words, phones)
        behind = 0.0 if grammar_score is None or phone_score is None else max(0.0, phone_score - grammar_score)
        # per frame from the caller's first sound on, not from the start of the utterance: the
        # quiet line before the words scores alike on both paths, and its length (how long the
        # caller took to answer) would otherwise dilute the gap
        frames = self._decoder.n_frames() - (began or 0)
        gap = GAP_SCALE * behind / max(frames, _MIN_SPEECH_FRAMES)
        evidence = Evidence(
            phrase=found.phrase,
            meaning=found.meaning,
            margin=0.0,
            gap=gap,
            mass=float(hyp.prob) if hyp is not None else 0.0,
            heard=text,
            unexplained=unexplained,
        )
        self.evidence = evidence
        sure = self.policy.calibration.confidence(evidence)
        if evidence.phrase is not None and sure >= self.policy.floor:
            return PhraseMatch(phrase=evidence.phrase, confidence=round(sure, 4), similarity=1.0, heard=text)
        return PhraseMatch(
            phrase=None, confidence=round(1.0 - sure, 4), similarity=0.0, heard=text, runner_up=evidence.phrase
        )

    def reset(self) -> None:
        if self._in_utt:
            for decoder in self._decoders():
                decoder.end_utt()
            self._in_utt = False
        if self._noise is not None:
            self._noise.next_utterance()
        self._samples = 0
        self._frames = 0
        self._last_partial = ""

    def close(self) -> None:
        if self._decoder is None:
            return
        self.reset()
        if self._phones is not None:  # first, so that the grammar decoder is handed out next
            self.engine.release_decoder(self._phones)
        free = self._search == "_default"
        if not free:
            self._decoder.activate_search(PHONE_SEARCH)
            self._decoder.remove_search(self._search)
        self.engine.release_decoder(self._decoder, free=free)
        self._decoder = None
        self._phones = None


__all__ = [
    "PHONE_SEARCH",
    "PocketsphinxEngine",
    "PocketsphinxRecognizer",
    "cmn_text",
    "jsgf",
    "parse_cmn",
    "speech_evidence",
]
