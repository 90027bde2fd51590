"""Choosing the expected phrase from a recogniser's n-best list, and how sure to be of it.

A grammar decoder's best path is often not a phrase at all: Vosk's runtime grammar is a
bigram over the phrases' words (fragments of two phrases string together) plus, here, a
garbage loop of syllables or short words that soaks up anything else. Deeper in its n-best
list, though, the phrase that was said is usually spelled out whole. ``PhraseChooser`` reads
the list: every hypothesis that spells an expected phrase (exactly, or within
``near`` phonetic similarity, see ``voicebot.asr.matching``) votes for that phrase's meaning
(its intent, when the caller groups phrases) with its score, and the best-scored phrase wins.
What it found is summed up as ``Evidence``:

* ``margin``: how far the winner's best score leads the best hypothesis that does not vote
  for it (another phrase's, or garbage; negative when it is behind);
* ``gap``: how far the winner's best path is behind the decoder's top path (garbage or a
  word salad beat it by that much);
* ``mass``: the share of the n-best posterior (softmax of the scores) that votes for it;
* ``unexplained``: the share of the caller's speech that the winner's path leaves to
  silence or filler models (an engine that can tell sets it; pocketsphinx does: the words
  "yes that works" against a grammar holding only "yes" come back as "yes" and a long
  silence over "that works").

``Calibration`` turns evidence into the probability that the meaning is right: a logistic
model whose weights the speech benchmark fits on a held-apart part of its utterances
(``benchmarks/speech.py`` prints them). Pure code: no I/O, no clock.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from voicebot.asr.matching import normalize, phonetic_units, similarity

CAP = 10.0  # score differences beyond this (engine log units) say nothing more


@dataclass(frozen=True, slots=True, kw_only=True)
class Hypothesis:
    """One n-best entry: its text, its score (log domain, higher is better) and how many
    seconds its words span (0.0 when the engine gives no word times)."""

    text: str
    score: float
    span: float = 0.0


@dataclass(frozen=True, slots=True, kw_only=True)
class Evidence:
    """What an n-best list says about its best expected phrase (``phrase`` None: none found)."""

    phrase: str | None
    meaning: str | None
    margin: float
    gap: float
    mass: float
    heard: str
    runner_up: str | None = None
    unexplained: float = 0.0

    def features(self) -> tuple[float, float, float, float]:
        return (max(-CAP, min(self.margin, CAP)), min(self.gap, CAP), self.mass, self.unexplained)


class PhraseChooser:
    """Reads n-best lists for one grammar.

    ``spellings`` maps each expected phrase to how the decoder spells it (words the model
    lacks are split into known pieces, see ``voicebot.asr.vocabulary``); ``groups`` maps
    phrases to meanings (a flow state's intents); ``near`` is the phonetic similarity at
    which a hypothesis counts as spelling a phrase (1.0: only exact spellings);
    ``temperature`` scales scores into posteriors.
    """

    def __init__(
        self,
        spellings: Mapping[str, str],
        *,
        groups: Mapping[str, str] | None = None,
        near: float = 1.0,
        temperature: float = 1.0,
    ) -> None:
        self._exact: dict[str, str] = {}
        for phrase, spelled in spellings.items():
            for form in (spelled, phrase):
                key = normalize(form)
                if key:
                    self._exact.setdefault(key, phrase)
        group = {normalize(p): g for p, g in (groups or {}).items()}
        self._meaning = {p: group.get(normalize(p), p) for p in spellings}
        self._units = [(p, phonetic_units(s)) for p, s in spellings.items()]
        self.near = near
        self.temperature = temperature

    def phrase_of(self, text: str) -> str | None:
        """The expected phrase ``text`` spells, exactly or within ``near``; else None."""
        key = normalize(text)
        if not key:
            return None
        exact = self._exact.get(key)
        if exact is not None or self.near >= 1.0:
            return exact
        units = phonetic_units(text)
        best, score = None, self.near
        for phrase, spelled in self._units:
            s = similarity(units, spelled)
            if s >= score:
                best, score = phrase, s
        return best

    def evidence(self, hypotheses: Sequence[Hypothesis]) -> Evidence:
        heard = hypotheses[0].text if hypotheses else ""
        if not hypotheses:
            return Evidence(phrase=None, meaning=None, margin=0.0, gap=CAP, mass=0.0, heard=heard)
        top = max(h.score for h in hypotheses)
        weights = [math.exp(max(-50.0, (h.score - top) / self.temperature)) for h in hypotheses]
        total = sum(weights)
        best: dict[str, tuple[float, str]] = {}  # meaning -> (best score, phrase)
        mass: dict[str, float] = {}
        votes: list[tuple[float, str | None]] = []
        for hyp, weight in zip(hypotheses, weights, strict=True):
            phrase = self.phrase_of(hyp.text)
            votes.append((hyp.score, self._meaning[phrase] if phrase is not None else None))
            if phrase is None:
                continue
            meaning = self._meaning[phrase]
            mass[meaning] = mass.get(meaning, 0.0) + weight / total
            if meaning not in best or hyp.score > best[meaning][0]:
                best[meaning] = (hyp.score, phrase)
        if not best:
            return Evidence(phrase=None, meaning=None, margin=0.0, gap=CAP, mass=0.0, heard=heard)
        ranked = sorted(best.items(), key=lambda kv: -kv[1][0])
        meaning, (score, phrase) = ranked[0]
        runner = ranked[1][1][1] if len(ranked) > 1 else None
        rival = max((s for s, m in votes if m != meaning), default=score - CAP)
        return Evidence(
            phrase=phrase,
            meaning=meaning,
            margin=score - rival,
            gap=top - score,
            mass=mass[meaning],
            heard=heard,
            runner_up=runner,
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Calibration:
    """``P(right) = sigmoid(bias + margin*m + gap*g + mass*s + unexplained*u)`` over
    ``Evidence.features()``."""

    bias: float
    margin: float
    gap: float
    mass: float
    unexplained: float = 0.0

    def confidence(self, evidence: Evidence) -> float:
        if evidence.phrase is None:
            return 0.0
        m, g, s, u = evidence.features()
        z = self.bias + self.margin * m + self.gap * g + self.mass * s + self.unexplained * u
        return 1.0 / (1.0 + math.exp(-max(-60.0, min(60.0, z))))

    def to_json(self) -> dict[str, float]:
        return {name: round(getattr(self, name), 6) for name in WEIGHTS}

    @staticmethod
    def from_json(data: Mapping[str, object]) -> Calibration:
        """The weights from ``to_json`` (a missing feature weight is 0)."""
        values = {name: data.get(name, 0.0) for name in WEIGHTS}
        if not all(isinstance(v, int | float) and math.isfinite(v) for v in values.values()):
            raise ValueError(f"calibration weights must be finite numbers: {values}")
        return Calibration(**{k: float(v) for k, v in values.items()})  # type: ignore[arg-type]

    @staticmethod
    def fit(evidence: Iterable[Evidence], right: Iterable[bool], *, l2: float = 1e-2, rounds: int = 50) -> Calibration:
        """Logistic regression (Newton's method, a little L2) of ``right`` on the features."""
        rows = [(e.features(), r) for e, r in zip(evidence, right, strict=True) if e.phrase is not None]
        if not rows or all(r for _, r in rows) or not any(r for _, r in rows):
            raise ValueError("calibration needs evidence of both right and wrong choices")
        x = np.array([[1.0, *f] for f, _ in rows])
        y = np.array([1.0 if r else 0.0 for _, r in rows])
        w = np.zeros(x.shape[1])
        penalty = l2 * np.eye(x.shape[1])
        penalty[0, 0] = 0.0
        for _ in range(rounds):
            p = 1.0 / (1.0 + np.exp(-np.clip(x @ w, -60, 60)))
            grad = x.T @ (p - y) + penalty @ w
            hess = (x * (p * (1 - p))[:, None]).T @ x + penalty
            step = np.linalg.solve(hess + 1e-9 * np.eye(len(w)), grad)
            w -= step
            if float(np.abs(step).max()) < 1e-8:
                break
        return Calibration(**{name: float(v) for name, v in zip(WEIGHTS, w, strict=True)})


WEIGHTS = ("bias", "margin", "gap", "mass", "unexplained")


__all__ = ["CAP", "WEIGHTS", "Calibration", "Evidence", "Hypothesis", "PhraseChooser"]
