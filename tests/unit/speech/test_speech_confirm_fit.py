"""The speech benchmark's fit of the threshold for a read-back's yes (``confirm_threshold``)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "benchmarks"))

from _speech_eval import Reply, confirm_threshold


def yes(at: float | None) -> Reply:
    return Reply(said="yes", yes_confidence=at)


def no(heard_as_yes_at: float | None) -> Reply:
    return Reply(said="no", yes_confidence=heard_as_yes_at)


def test_the_lowest_threshold_that_lets_no_no_through() -> None:
    replies = [yes(0.83), yes(0.62), no(0.61), no(None), yes(None)]
    assert confirm_threshold(replies, 0.5, 0.9) == 0.65  # 0.6 would take the 0.61 "no" as a yes
    assert confirm_threshold([yes(0.83), no(None)], 0.5, 0.9) == 0.5  # no "no" heard as yes: the floor


def test_never_above_accept() -> None:
    assert confirm_threshold([no(0.93)], 0.5, 0.9) == 0.9  # nothing under accept keeps it out: accept
    assert confirm_threshold([no(0.68)], 0.5, 0.7) == 0.7


def test_a_yes_is_heard_at_or_above_the_threshold() -> None:
    assert yes(0.8).heard_yes(0.8) and not yes(0.79).heard_yes(0.8) and not yes(None).heard_yes(0.0)


def other(heard_as_yes_at: float | None) -> Reply:
    return Reply(said="other", yes_confidence=heard_as_yes_at)


def test_sounds_that_are_neither_yes_nor_no_may_pass_as_often_as_false_accepts_may() -> None:
    quiet = [other(None)] * 98
    # 2 of 100 heard as yes at 0.6 and above is within the 2 % a false accept is allowed
    assert confirm_threshold([yes(0.83), *quiet, other(0.62), other(0.71)], 0.5, 0.9) == 0.5
    # a third needs the threshold above the third highest of them (0.58 -> 0.6)
    assert confirm_threshold([yes(0.83), *quiet[:97], other(0.58), other(0.62), other(0.71)], 0.5, 0.9) == 0.6
    # a "no" heard as yes still allows none
    assert confirm_threshold([no(0.66), *quiet, other(0.62)], 0.5, 0.9) == 0.7
