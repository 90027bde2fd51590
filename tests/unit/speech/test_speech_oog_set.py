"""The speech benchmark's out-of-grammar set and how its false accepts are bounded."""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "benchmarks"))

from _speech_eval import wilson_upper
from _speech_oog import KINDS, NUMBERS, SENTENCES, out_of_grammar, over

from tests.sim.channel import speech_rms

RATE = 16000


def tone(text: str, variant: int) -> np.ndarray:
    """A stand-in for espeak-ng: a tone whose pitch and length follow the text and variant."""
    t = np.arange(int(RATE * (0.3 + 0.02 * len(text)))) / RATE
    return (5000 * np.sin(2 * np.pi * (150 + 10 * (variant % 20)) * t)).astype(np.int16)


@pytest.mark.parametrize(
    ("hits", "turns", "upper"),
    [(0, 206, 0.0183), (1, 206, 0.0270), (4, 200, 0.0504), (0, 40, 0.0876), (1, 40, 0.1289), (20, 20, 1.0)],
)
def test_wilson_upper_bound(hits: int, turns: int, upper: float) -> None:
    assert wilson_upper(hits, turns) == pytest.approx(upper, abs=5e-4)


def test_wilson_upper_bound_of_nothing_rules_nothing_out() -> None:
    assert wilson_upper(0, 0) == 1.0
    assert wilson_upper(0, 1000) < wilson_upper(0, 100) < wilson_upper(0, 10)


def test_no_sentence_or_number_is_a_phrase_of_the_grammar() -> None:
    for lang in ("en", "ko"):
        said = set(SENTENCES[lang]) | set(NUMBERS[lang])
        assert len(said) == len(SENTENCES[lang]) + len(NUMBERS[lang])  # no repeats
    assert "no idea" in SENTENCES["en"] and "yes i would rather talk to someone" in SENTENCES["en"]


@pytest.mark.parametrize("lang", ["en", "ko"])
def test_set_has_every_kind_and_200_test_turns(lang: str) -> None:
    phrases = {"a": ["yes", "no"], "b": ["agent"]}
    turns = out_of_grammar(lang, tone, ["a", "b"], phrases)
    kinds = Counter(t.kind for t in turns)
    assert set(kinds) == set(KINDS)
    # every third turn of a kind is calibration; the rest is what false accepts are counted on
    test = sum(n - (n + 2) // 3 for n in kinds.values())
    assert test >= 200
    assert all(t.pcm.dtype == np.int16 and len(t.pcm) > 0 for t in turns)
    assert all((t.state is not None) == (t.kind == "background") for t in turns)
    assert {t.state for t in turns if t.kind == "background"} == {"a", "b"}
    silent = [t for t in turns if t.kind == "silence"]
    assert all(np.sqrt(np.mean(t.pcm.astype(float) ** 2)) < 60 for t in silent)  # -55 dBFS at most


def test_set_is_the_same_on_every_run() -> None:
    phrases = {"a": ["yes"]}
    first = out_of_grammar("en", tone, ["a"], phrases)
    again = out_of_grammar("en", tone, ["a"], phrases)
    assert all(np.array_equal(x.pcm, y.pcm) for x, y in zip(first, again, strict=True))


def test_background_voice_is_quieter_by_the_asked_margin() -> None:
    front = tone("a long sentence said by the caller", 1)
    back = (0.5 * tone("yes", 7)).astype(np.int16)
    mixed = over(front, back, np.random.default_rng(3), 12.0)
    assert len(mixed) >= len(front)
    added = mixed[: len(front)].astype(float) - front
    tail = mixed[len(front) :].astype(float)
    level = speech_rms(np.concatenate([added, tail]).astype(np.int16))
    assert 20 * np.log10(speech_rms(front) / level) == pytest.approx(12.0, abs=1.0)
