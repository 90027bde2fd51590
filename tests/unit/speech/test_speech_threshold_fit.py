"""The speech benchmark's accept threshold (``thresholds``): the lowest on the grid at which
the pool a policy is fitted on *and* each line it is used on keep wrong and false accepts
within 2 %."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "benchmarks"))

from _speech_eval import Row, thresholds

from voicebot.asr.nbest import Calibration, Evidence

# confidence = sigmoid(bias + mass * share): a row's mass sets its confidence exactly
IDENTITY = Calibration(bias=0.0, margin=0.0, gap=0.0, mass=1.0)


def row(state: str, intent: str | None, chosen: str, logit: float) -> Row:
    evidence = Evidence(phrase=chosen, meaning=chosen, margin=0.0, gap=0.0, mass=logit, heard=chosen)
    return Row(
        key=f"{state}-{intent}-{logit}",
        state=state,
        kind="phrase" if intent else "sentence",
        split="calib",
        intent=intent,
        evidence=evidence,
        chosen=chosen,
        raw=None,
        audio=1.0,
        cpu=0.0,
        raw_cpu=0.0,
    )


def line(out_of_grammar_logits: list[float], state: str = "ask") -> list[Row]:
    """100 out-of-grammar turns (the given ones heard as "yes" at those logits, the rest as
    nothing sure: logit -9) and one right answer."""
    rest = [-9.0] * (100 - len(out_of_grammar_logits))
    return [row(state, "yes", "yes", 9.0)] + [row(state, None, "yes", z) for z in [*out_of_grammar_logits, *rest]]


def test_a_line_over_two_percent_raises_the_threshold_even_when_the_pool_is_within_it() -> None:
    # logit 1.0 -> 0.73, 1.8 -> 0.86, 2.1 -> 0.89: three of 100 on the hard line at 0.7 and up
    clean, hard = line([]), line([1.0, 1.8, 2.1])
    pool = clean + hard
    assert thresholds([pool], IDENTITY)[0] == 0.05  # 3 of 200 is within 2 %: the lowest the grid has
    assert thresholds([pool, clean, hard], IDENTITY)[0] == 0.75  # two of 100 left on the hard line
    assert thresholds([pool, clean], IDENTITY)[0] == 0.05  # a line the policy is not used on does not count


def test_per_state_thresholds_hold_each_line_too() -> None:
    answer = row("s2", "no", "no", 9.0)
    a, b = [*line([1.0, 1.8, 2.1], state="s1"), answer], [*line([], state="s1"), answer]
    _, per_state = thresholds([a + b, a, b], IDENTITY)
    assert per_state == {"s1": 0.75, "s2": 0.75}  # the line's out-of-grammar turns count for every state
