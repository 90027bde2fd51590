"""Decoding the evaluation set and scoring it (imported by speech.py).

Every turn is decoded once per condition by the recogniser as a call uses it (a new one
per turn, as ``voicebot.voice`` opens one per listening turn; grammar = the state's
phrases, ``groups`` = their intents, 20 ms frames, ``finish()``), and by the
raw engine beside it: the same phrases as the engine's own grammar, its default decoder
settings, nothing added to the audio, the top text taken as is (an exact phrase or
nothing). What the recogniser's choice rested on (``Evidence``) is kept per turn, so the
confidence weights and the per-state thresholds can be fitted on the calibration split and
then applied, unchanged, to the test split.

Scores, per condition (test split): ``correct`` (accepted, right intent), ``wrong``
(accepted, another intent), ``rejected`` (no-match: a reprompt) as shares of the
in-grammar turns; ``false_accepts`` as a share of the out-of-grammar turns.

The confirm policy (``confirm_policy``) adds a band: an answer whose confidence is at least
``FLOOR`` but below the accept threshold is read back ("Did you say ...?"). The simulated
caller answers yes when the bot's candidate is their meaning and no otherwise (to an
out-of-grammar turn too), in the turn's voice, through the same line; that reply goes
through the recogniser with the yes/no phrases as its grammar and counts as yes only when
heard as the yes intent at the band's own threshold for it (``confirm_accept``, fitted by
``confirm_threshold`` on the calibration split: the lowest at which no reply the caller said
"no" to was heard as a yes, the read-backs' and a "no" after every turn, ``misheard_noes``,
and at most ``TARGET`` of the out-of-grammar turns offered as the reply (a cough, line noise,
another sentence: ``stray_yeses``) were; never above the accept threshold). ``confirmed``: the right
meaning, confirmed; a wrong candidate (or an out-of-grammar turn) confirmed by a misheard
"no" counts as a wrong (false) accept; everything else in the band is a reprompt.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from _speech_set import Condition, ReadBack, Turn, through

from tests.sim.channel import frames_of
from voicebot.asr.engine import Band
from voicebot.asr.matching import normalize
from voicebot.asr.nbest import Calibration, Evidence

TARGET = 0.02  # wrong accepts (in grammar) and false accepts (out of grammar) allowed
FLOOR = 0.5  # confirm band: a candidate more likely right than wrong is read back, not dropped
GRID = (*(round(0.05 * i, 2) for i in range(20)), 0.97, 0.99)


@dataclass(frozen=True, slots=True, kw_only=True)
class Row:
    """One turn under one condition: what the recogniser and the raw engine made of it."""

    key: str
    state: str
    kind: str
    split: str
    intent: str | None
    evidence: Evidence | None
    chosen: str | None  # intent of the evidence's phrase (before any threshold)
    raw: str | None  # intent of the raw engine's top text, if it is exactly a phrase
    audio: float
    cpu: float
    raw_cpu: float


class RawVosk:
    """Vosk as it comes: the phrases as its grammar, default settings, top text."""

    def __init__(self, engine: Any, grammars: dict[str, list[str]]) -> None:
        from voicebot.asr.vosk_model import shared_model

        self._model = shared_model(engine.model_dir, {})  # the model's own conf/
        self._grammars = {s: json.dumps(g, ensure_ascii=False) for s, g in grammars.items()}

    def text(self, state: str, pcm: np.ndarray) -> str:
        rec = self._model.kaldi_recognizer(self._grammars[state])  # a new one per turn, like a call's
        for f in frames_of(pcm):
            rec.AcceptWaveform(f.tobytes())
        return str(json.loads(rec.FinalResult()).get("text", ""))


class RawSphinx:
    """pocketsphinx as it comes: the phrases as a JSGF grammar, no noise bed, no phone loop."""

    def __init__(self, grammars: dict[str, list[str]]) -> None:
        from voicebot.asr.pocketsphinx_engine import PocketsphinxEngine

        self._engine = PocketsphinxEngine(noise_floor=0.0, phone_loop=False)
        self._grammars = grammars

    def text(self, state: str, pcm: np.ndarray) -> str:
        rec = self._engine.recognizer(self._grammars[state])  # a new one per turn, like a call's
        try:
            for f in frames_of(pcm):
                rec.accept(f)
            return rec.finish().text
        finally:
            rec.close()


def hear(
    engine: Any, phrases: Sequence[str], groups: Mapping[str, str], pcm: np.ndarray, band: Band | None
) -> tuple[Evidence | None, float]:
    """One listening turn as a call has it (``voicebot.voice`` opens a recogniser per turn,
    told the line's band, and closes it after): open, every 20 ms frame, ``finish()``,
    close. What the recogniser chose from, and its CPU time (thread clock). A recogniser
    reused from turn to turn decoded each turn on what the turns before left in it
    (pocketsphinx's cepstral mean, the noise bed's position): not what a server's turn hears."""
    rec = engine.recognizer(list(phrases), groups=groups, band=band)
    try:
        t0 = time.thread_time()
        for frame in frames_of(pcm):
            rec.accept(frame)
        rec.finish()
        cpu = time.thread_time() - t0
        evidence: Evidence | None = rec.evidence
    finally:
        rec.close()
    return evidence, cpu


def decode(
    engine: Any,
    raw: RawVosk | RawSphinx | None,
    turns: Sequence[Turn],
    condition: Condition,
    groups: dict[str, dict[str, str]],
    talkers: list[np.ndarray],
) -> list[Row]:
    """Every turn through ``condition``, then the recogniser (a new one per turn, ``hear``)
    and the raw engine; CPU time per turn from the thread clock."""
    exact = {s: {normalize(p): p for p in g} for s, g in groups.items()}
    rows = []
    for turn in turns:
        pcm = through(condition, turn, talkers)
        grammar = groups[turn.state]
        evidence, cpu = hear(engine, list(grammar), grammar, pcm, condition.band)
        chosen = grammar[evidence.phrase] if evidence is not None and evidence.phrase else None
        raw_intent, raw_cpu = None, 0.0
        if raw is not None:
            t0 = time.thread_time()
            phrase = exact[turn.state].get(normalize(raw.text(turn.state, pcm)))
            raw_cpu = time.thread_time() - t0
            raw_intent = grammar[phrase] if phrase else None
        rows.append(
            Row(
                key=turn.key,
                state=turn.state,
                kind=turn.kind,
                split=turn.split,
                intent=turn.intent,
                evidence=evidence,
                chosen=chosen,
                raw=raw_intent,
                audio=len(pcm) / 16000,
                cpu=cpu,
                raw_cpu=raw_cpu,
            )
        )
    return rows


def fit(rows: Sequence[Row]) -> Calibration:
    usable = [r for r in rows if r.evidence is not None and r.evidence.phrase is not None]
    return Calibration.fit([r.evidence for r in usable if r.evidence], [r.chosen == r.intent for r in usable])


def accepted(row: Row, calibration: Calibration, threshold: float) -> str | None:
    if row.evidence is None or row.chosen is None:
        return None
    return row.chosen if calibration.confidence(row.evidence) >= threshold else None


def rates(rows: Sequence[Row], decide: Callable[[Row], str | None]) -> dict[str, Any]:
    inside = [r for r in rows if r.intent is not None]
    outside = [r for r in rows if r.intent is None]
    got = [(r, decide(r)) for r in inside]
    n = max(1, len(inside))
    fa = sum(1 for r in outside if decide(r) is not None)
    return {
        "in_grammar": len(inside),
        "correct": round(sum(1 for r, g in got if g == r.intent) / n, 4),
        "wrong": round(sum(1 for r, g in got if g is not None and g != r.intent) / n, 4),
        "rejected": round(sum(1 for _, g in got if g is None) / n, 4),
        **false_accepts(fa, len(outside)),
    }


def thresholds(held: Sequence[Sequence[Row]], calibration: Calibration) -> tuple[float, dict[str, float]]:
    """The lowest confidence threshold keeping wrong and false accepts within ``TARGET`` on
    *each* set of rows in ``held`` (the pool a policy is fitted on, and each line it will be
    used on: a pool of easy lines would hide one that lets 3 % through), then the same per
    state (in each set, the state's own in-grammar turns and all its out-of-grammar ones):
    the per-state thresholds a flow would set."""

    def lowest(subsets: Sequence[Sequence[Row]]) -> float:
        for t in GRID:
            got = (rates(s, lambda row, t=t: accepted(row, calibration, t)) for s in subsets)
            if all(r["wrong"] <= TARGET and r["false_accepts"] <= TARGET for r in got):
                return t
        return GRID[-1]

    states = sorted({r.state for rows in held for r in rows})
    per_state = {
        state: lowest([[r for r in rows if r.intent is None or r.state == state] for rows in held]) for state in states
    }
    return lowest(held), per_state


def rtf(rows: Sequence[Row]) -> tuple[float, float]:
    audio = sum(r.audio for r in rows) or 1.0
    return round(sum(r.cpu for r in rows) / audio, 4), round(sum(r.raw_cpu for r in rows) / audio, 4)


def wilson_upper(hits: int, turns: int, z: float = 1.96) -> float:
    """The upper end of the Wilson score interval for ``hits`` in ``turns`` (95 % by
    default): the largest rate the count does not rule out. 0 of 206 gives 1.8 %, so a
    false accept rate can be shown to be at most 2 % only with a set that large."""
    if turns <= 0:
        return 1.0
    p = hits / turns
    z2 = z * z
    centre = p + z2 / (2 * turns)
    spread = z * math.sqrt(p * (1 - p) / turns + z2 / (4 * turns * turns))
    return min(1.0, (centre + spread) / (1 + z2 / turns))


def false_accepts(hits: int, turns: int) -> dict[str, Any]:
    """A false accept count as a share of ``turns``, with its 95 % Wilson upper bound."""
    return {
        "false_accepts": round(hits / max(1, turns), 4),
        "false_accepts_n": hits,
        "out_of_grammar": turns,
        "false_accepts_upper95": round(wilson_upper(hits, turns), 4),
    }


def by_kind(rows: Sequence[Row], decide: Callable[[Row], str | None]) -> dict[str, dict[str, Any]]:
    """False accepts per out-of-grammar kind (sentence, number, cough, ...)."""
    seen: dict[str, list[int]] = {}
    for r in rows:
        if r.intent is None:
            count = seen.setdefault(r.kind, [0, 0])
            count[0] += decide(r) is not None
            count[1] += 1
    return {k: false_accepts(a, b) for k, (a, b) in sorted(seen.items())}


@dataclass(frozen=True, slots=True, kw_only=True)
class Reply:
    """What the simulated caller said to "Did you say ...?" and how sure the bot was that it
    heard yes (None: it heard no, or nothing of the grammar)."""

    said: str  # yes, no, or other (an out-of-grammar sound or sentence in reply)
    yes_confidence: float | None

    def heard_yes(self, at: float) -> bool:
        """Whether the reply confirms when a yes is taken at confidence ``at``."""
        return self.yes_confidence is not None and self.yes_confidence >= at


def confirm_replies(
    engine: Any,
    rows: Sequence[Row],
    turns: dict[str, Turn],
    condition: Condition,
    read_backs: Mapping[str, ReadBack],
    calibration: Calibration,
    threshold: float,
    spoken: Callable[[str, int], np.ndarray],
    talkers: list[np.ndarray],
) -> dict[str, Reply]:
    """The reply to every row in the confirm band (confidence in [FLOOR, threshold)): yes
    when its candidate is the turn's meaning, else no, heard as the state's read-back hears
    it (``read_backs``) and scored with ``calibration`` (what threshold the yes must clear is
    the policy's)."""
    out: dict[str, Reply] = {}
    for row in rows:
        if row.evidence is None or row.chosen is None:
            continue
        sure = calibration.confidence(row.evidence)
        if not FLOOR <= sure < threshold:
            continue
        turn = turns[row.key]
        said = "yes" if row.chosen == row.intent else "no"
        reply = replace(turn, pcm=spoken(said, turn.seed), kind="phrase")
        (ev,) = heard_as_yes(engine, [reply], condition, read_backs, talkers)
        out[row.key] = Reply(said=said, yes_confidence=None if ev is None else calibration.confidence(ev))
    return out


def misheard_noes(
    engine: Any,
    turns: Sequence[Turn],
    condition: Condition,
    read_backs: Mapping[str, ReadBack],
    spoken: Callable[[str, int], np.ndarray],
    talkers: list[np.ndarray],
) -> list[Evidence]:
    """The caller's "no" after every one of ``turns`` (in that turn's voice, through the same
    line), heard as the turn's state hears a read-back's reply: the evidence of each heard
    as a yes. A no
    sounds the same whatever it answers, and a split's read-backs are few (English μ-law under
    babble: no read-back's "no" in the calibration split was heard as yes, where 18 of its 231
    turns' noes were, up to 0.73)."""
    noes = [replace(turn, pcm=spoken("no", turn.seed), kind="phrase") for turn in turns]
    return [ev for ev in heard_as_yes(engine, noes, condition, read_backs, talkers) if ev is not None]


def stray_yeses(
    engine: Any,
    turns: Sequence[Turn],
    condition: Condition,
    read_backs: Mapping[str, ReadBack],
    talkers: list[np.ndarray],
) -> list[Evidence | None]:
    """Every out-of-grammar one of ``turns`` offered as the reply to a read-back: a caller
    may cough, or say something else, where a yes or no was asked for (heard with the
    yes/no phrases alone, 10 of 310 Korean μ-law ones came back as 네 at 0.5 or more)."""
    return heard_as_yes(engine, [t for t in turns if t.intent is None], condition, read_backs, talkers)


def heard_as_yes(
    engine: Any,
    replies: Sequence[Turn],
    condition: Condition,
    read_backs: Mapping[str, ReadBack],
    talkers: list[np.ndarray],
) -> list[Evidence | None]:
    """Each of ``replies`` through the line, heard as its state hears a read-back's reply:
    its evidence when the phrase it came back as confirms, else None."""
    out: list[Evidence | None] = []
    for reply in replies:
        back = read_backs[reply.state]
        ev, _ = hear(engine, back.phrases, back.groups, through(condition, reply, talkers), condition.band)
        out.append(ev if ev is not None and ev.phrase in back.yes else None)
    return out


def confirm_threshold(replies: Sequence[Reply], floor: float, accept: float) -> float:
    """The lowest threshold on ``GRID`` in [floor, accept] at which no reply the caller said
    "no" to is heard as a yes and at most ``TARGET`` of the other replies (out-of-grammar
    sounds) are, as the accept threshold allows ``TARGET`` false accepts (the confirmed right
    answers are then as many as that can give); ``accept`` when even the grid's values under
    it let more through. Below the floor a recogniser reports no match at all, so nothing
    under it is tried."""
    others = [r for r in replies if r.said == "other"]
    for t in (*(g for g in GRID if floor <= g < accept), accept):
        strays = sum(r.heard_yes(t) for r in others)
        if not any(r.said == "no" and r.heard_yes(t) for r in replies) and strays <= TARGET * len(others):
            return t
    return accept


def confirm_policy(
    rows: Sequence[Row], calibration: Calibration, threshold: float, replies: dict[str, Reply], yes_at: float
) -> dict[str, Any]:
    """Accept at ``threshold``, confirm in [FLOOR, threshold) with a reply heard as yes at
    ``yes_at`` or above, reprompt below (see module doc)."""
    inside = [r for r in rows if r.intent is not None]
    outside = [r for r in rows if r.intent is None]
    n, m = max(1, len(inside)), max(1, len(outside))

    def outcome(row: Row) -> str:
        if accepted(row, calibration, threshold) is not None:
            return "correct" if row.chosen == row.intent else "wrong"
        reply = replies.get(row.key)
        if reply is None:
            return "rejected"
        if reply.heard_yes(yes_at):
            return "confirmed" if reply.said == "yes" else "wrong"
        return "asked"  # read back, then a reprompt

    got = [outcome(r) for r in inside]
    oog = [outcome(r) for r in outside]
    return {
        "correct": round(got.count("correct") / n, 4),
        "confirmed": round(got.count("confirmed") / n, 4),
        "wrong": round(got.count("wrong") / n, 4),
        "rejected": round((got.count("rejected") + got.count("asked")) / n, 4),
        "asked_then_reprompted": round(got.count("asked") / n, 4),
        **false_accepts(oog.count("wrong"), len(outside)),
        "false_accepts_by_kind": by_kind(outside, lambda r: "yes" if outcome(r) == "wrong" else None),
        "out_of_grammar_read_back": round((oog.count("asked") + oog.count("wrong")) / m, 4),
    }
