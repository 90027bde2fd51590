"""Results a speech recogniser produces (DESIGN.md rule 4: frozen keyword-only dataclasses).

Times are seconds from the start of the utterance (the first frame fed after the last
``reset``/``finish``). Confidences are in ``[0, 1]``.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True, kw_only=True)
class WordTiming:
    """One recognised word with its time span and confidence."""

    word: str
    start: float
    end: float
    confidence: float


@dataclass(frozen=True, slots=True, kw_only=True)
class PhraseMatch:
    """The expected phrase the recogniser heard, or ``phrase=None`` for no-match.

    ``confidence`` is calibrated: the probability that ``phrase`` (its meaning, when the
    phrases were grouped) is what the caller said, fitted on the speech benchmark's
    calibration split (``voicebot.asr.nbest.Calibration``, shipped with the engine in
    ``voicebot.asr.shipped``). The engine names a phrase from its ``min_confidence`` on; below
    its ``accept_confidence`` the answer is worth confirming (a flow's ``confirm_below``)
    rather than acting on it. For a no-match,
    ``confidence`` is how sure the no-match is (1 - the best candidate's probability) and
    ``runner_up`` is that candidate; a no-match is meant as a reprompt, never as a guess.
    ``similarity``: how close the decoder's top text is to ``phrase`` (1.0 = the same).
    """

    phrase: str | None
    confidence: float
    similarity: float
    heard: str
    runner_up: str | None = None

    @property
    def matched(self) -> bool:
        return self.phrase is not None


@dataclass(frozen=True, slots=True, kw_only=True)
class Alternative:
    """One hypothesis of the recogniser's n-best list, with its posterior weight."""

    text: str
    weight: float


@dataclass(frozen=True, slots=True, kw_only=True)
class PartialResult:
    """The recogniser's current guess for the utterance in progress (may still change).

    ``match`` is set (similarity 1.0) when, in grammar mode, the guess already holds a
    complete expected phrase (``PhraseMatcher.complete_phrase``): the endpointer may end
    the turn after a short silence.
    """

    text: str
    match: PhraseMatch | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class FinalResult:
    """The recogniser's result for a finished utterance.

    ``match`` is set when the recogniser was given a grammar (the expected phrases).
    """

    text: str
    confidence: float
    words: tuple[WordTiming, ...] = ()
    alternatives: tuple[Alternative, ...] = ()
    match: PhraseMatch | None = None
    duration: float = 0.0
    engine: str = ""


AsrEvent = PartialResult | FinalResult

__all__ = ["Alternative", "AsrEvent", "FinalResult", "PartialResult", "PhraseMatch", "WordTiming"]
