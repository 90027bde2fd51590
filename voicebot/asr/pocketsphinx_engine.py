"""CMU pocketsphinx recognition: the PyPI wheel's US English model, zero downloads.

Grammar mode compiles the expected phrases into a phrase-level JSGF grammar (JSGF 1.0:
``public <utterance> = ( w1 w2 ) | ( w3 ) ;``), so a result is always one whole phrase or a
prefix of one; free mode uses the wheel's trigram language model. Words missing from the
pronunciation dictionary cannot be in a JSGF grammar: they are dropped with a warning.

A quiet white noise bed (``noise_floor``, see ``voicebot.asr.engine.NoiseFloor``) goes under
the audio: on zero-padded espeak-ng phrases without it the grammar search stopped early
("talk to an" for "talk to an agent"), and two of five G.711 phrases came back empty.

A pocketsphinx ``Decoder`` loads its acoustic model itself (about half a second), so the
engine keeps idle decoders in a pool and hands them to new recognisers.
"""

from __future__ import annotations

import itertools
import logging
import threading
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from voicebot.asr.engine import SAMPLE_RATE, Grammar, NoiseFloor, Pcm, check_pcm, report_grammar
from voicebot.asr.events import (
    Alternative,
    AsrEvent,
    FinalResult,
    PartialResult,
    WordTiming,
)
from voicebot.asr.matching import PhraseMatcher
from voicebot.errors import ConfigError, DependencyError

log = logging.getLogger(__name__)

_FRAME_SECONDS = 0.01  # pocketsphinx frame rate: 100 frames per second
_TAIL_SAMPLES = 4800  # 300 ms of trailing quiet fed at the end of every utterance
_FILLERS = {"<s>", "</s>", "<sil>", "[NOISE]", "<unk>"}


def _clean_word(word: str) -> str:
    return "".join(ch for ch in word.lower() if ch.isalnum() or ch == "'")


class PocketsphinxEngine:
    """pocketsphinx with the wheel's ``en-us`` model (or ``hmm``/``dictionary`` given)."""

    name = "pocketsphinx"
    sample_rate = SAMPLE_RATE

    def __init__(
        self,
        *,
        hmm: str | None = None,
        dictionary: str | None = None,
        match_threshold: float = 0.6,
        partial_every: int = 5,
        noise_floor: float = 4.0,
    ) -> None:
        self.noise_floor = NoiseFloor(noise_floor) if noise_floor > 0 else None
        try:
            import pocketsphinx
        except ImportError as exc:  # pragma: no cover - declared dependency
            raise DependencyError("the pocketsphinx package is missing: pip install pocketsphinx") from exc
        self._ps = pocketsphinx
        self._options: dict[str, Any] = {"loglevel": "FATAL"}
        if hmm is not None:
            self._options["hmm"] = hmm
        if dictionary is not None:
            self._options["dict"] = dictionary
        self.match_threshold = match_threshold
        self.partial_every = partial_every
        self._pool: list[Any] = []
        self._lock = threading.Lock()
        self._names = itertools.count()
        self._probe: Any = None
        self._initial_cmn: str | None = None

    def _decoder(self) -> Any:
        with self._lock:
            if self._pool:
                return self._pool.pop()
        try:
            decoder = self._ps.Decoder(**self._options)
        except (RuntimeError, ValueError) as exc:
            raise DependencyError(f"pocketsphinx could not load its model: {exc}") from exc
        with self._lock:
            if self._initial_cmn is None:
                self._initial_cmn = decoder.get_cmn(False)
        return decoder

    def _release(self, decoder: Any) -> None:
        # Decoders are pooled (a new one costs about 0.6 s), but the cepstral mean a decoder
        # learnt on one call's line must not carry over to the next caller: measured, a
        # decoder reused after an Opus call returned nothing for clean speech. Reset it.
        if self._initial_cmn is not None:
            decoder.set_cmn(self._initial_cmn)
        with self._lock:
            self._pool.append(decoder)

    def _knows(self, word: str) -> bool:
        with self._lock:
            if self._probe is None:
                self._probe = self._ps.Decoder(**self._options)
            return self._probe.lookup_word(word) is not None

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
            else:
                warnings.append(f"phrase '{phrase}' has no word the dictionary knows: it can never match")
        return Grammar(
            phrases=tuple(phrases),
            decoder_phrases=tuple(decoder),
            warnings=tuple(warnings),
            unknown=tuple(unknown),
            dropped=tuple(unknown),
        )

    def recognizer(
        self, grammar: Sequence[str] | None = None, *, groups: Mapping[str, str] | None = None
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
        return PocketsphinxRecognizer(self, prepared, groups)


def jsgf(decoder_phrases: Sequence[str]) -> str:
    """A JSGF 1.0 grammar accepting exactly one of the phrases."""
    body = " | ".join(f"( {p} )" for p in decoder_phrases)
    return f"#JSGF V1.0;\ngrammar voicebot;\npublic <utterance> = {body} ;\n"


class PocketsphinxRecognizer:
    """One call's pocketsphinx decoder (see ``voicebot.asr.engine.Recognizer``)."""

    def __init__(
        self, engine: PocketsphinxEngine, grammar: Grammar | None, groups: Mapping[str, str] | None = None
    ) -> None:
        self.engine = engine
        self.grammar = grammar
        self._decoder: Any = engine._decoder()
        if grammar is not None:
            name = f"voicebot{next(engine._names)}"
            try:
                self._decoder.add_jsgf_string(name, jsgf(grammar.decoder_phrases))
            except ValueError as exc:
                engine._release(self._decoder)
                raise ConfigError(f"pocketsphinx rejected the grammar: {exc}") from exc
            self._decoder.activate_search(name)
            self._search = name
            self.matcher: PhraseMatcher | None = PhraseMatcher(
                grammar.phrases, threshold=engine.match_threshold, groups=groups
            )
        else:
            self._decoder.activate_search("_default")
            self._search = "_default"
            self.matcher = None
        self._in_utt = False
        self._samples = 0
        self._frames = 0
        self._last_partial = ""
        self._noise = engine.noise_floor.cursor() if engine.noise_floor is not None else None

    def accept(self, pcm: Pcm) -> AsrEvent | None:
        check_pcm(pcm)
        if not self._in_utt:
            self._decoder.start_utt()
            self._in_utt = True
        audio = self._noise.apply(pcm) if self._noise is not None else pcm
        self._decoder.process_raw(audio.tobytes(), False, False)
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
        if not self._in_utt:
            self._decoder.start_utt()
        # The JSGF search only reaches the grammar's final state after some silence: without
        # it a phrase ending right at the end of the audio comes back cut ("talk to an").
        tail = np.zeros(_TAIL_SAMPLES, dtype=np.int16)
        tail = self._noise.apply(tail) if self._noise is not None else tail
        self._decoder.process_raw(tail.tobytes(), False, False)
        self._decoder.end_utt()
        self._in_utt = False
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
        match = self.matcher.match(alternatives) if self.matcher is not None else None
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

    def reset(self) -> None:
        if self._in_utt:
            self._decoder.end_utt()
            self._in_utt = False
        self._samples = 0
        self._frames = 0
        self._last_partial = ""

    def close(self) -> None:
        if self._decoder is None:
            return
        self.reset()
        if self._search != "_default":
            self._decoder.activate_search("_default")
            self._decoder.remove_search(self._search)
        self.engine._release(self._decoder)
        self._decoder = None


__all__ = ["PocketsphinxEngine", "PocketsphinxRecognizer", "jsgf"]
