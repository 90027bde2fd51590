"""Choosing a phrase from an n-best list, and the logistic calibration of how sure to be."""

from __future__ import annotations

import math

import numpy as np
import pytest

from voicebot.asr.nbest import CAP, Calibration, Evidence, Hypothesis, PhraseChooser

SPELLINGS = {"네 맞습니다": "네 맞 습니다", "아니요": "아니요", "취소해 주세요": "취소 해 주세요", "응": "응"}
GROUPS = {"네 맞습니다": "yes", "응": "yes", "아니요": "no", "취소해 주세요": "cancel"}


def test_best_scored_phrase_deeper_in_the_list_wins_over_word_salad() -> None:
    chooser = PhraseChooser(SPELLINGS, groups=GROUPS)
    ev = chooser.evidence(
        [
            Hypothesis(text="아니요 맞 해", score=90.0),  # the top path spells no phrase
            Hypothesis(text="취소 해 주세요", score=88.5),
            Hypothesis(text="아니요", score=85.0),
            Hypothesis(text="취소 해", score=84.0),
        ]
    )
    assert ev.phrase == "취소해 주세요" and ev.meaning == "cancel"
    # behind the word salad by 1.5; the runner-up meaning is "no"
    assert ev.gap == pytest.approx(1.5) and ev.margin == pytest.approx(-1.5) and ev.runner_up == "아니요"
    weights = [math.exp(s - 90.0) for s in (90.0, 88.5, 85.0, 84.0)]
    assert ev.mass == pytest.approx(weights[1] / sum(weights))
    assert ev.heard == "아니요 맞 해"


def test_phrases_of_one_meaning_pool_their_votes() -> None:
    hyps = [
        Hypothesis(text="응", score=10.0),
        Hypothesis(text="네 맞 습니다", score=9.0),
        Hypothesis(text="아니요", score=9.5),
    ]
    ev = PhraseChooser(SPELLINGS, groups=GROUPS).evidence(hyps)
    assert ev.meaning == "yes" and ev.phrase == "응" and ev.margin == pytest.approx(0.5)
    e = [math.exp(0.0), math.exp(-1.0), math.exp(-0.5)]
    assert ev.mass == pytest.approx((e[0] + e[1]) / sum(e))


def test_no_phrase_and_empty_lists_are_no_match() -> None:
    chooser = PhraseChooser(SPELLINGS)
    for hyps in ([], [Hypothesis(text="가 나 다", score=1.0)]):
        ev = chooser.evidence(hyps)
        assert ev.phrase is None and ev.gap == CAP and ev.mass == 0.0
        assert Calibration(bias=5, margin=1, gap=1, mass=1).confidence(ev) == 0.0


def test_near_matches_count_only_when_asked() -> None:
    strict, near = PhraseChooser(SPELLINGS), PhraseChooser(SPELLINGS, near=0.8)
    assert strict.phrase_of("취소 해 주 세요") == "취소해 주세요"  # spacing never matters
    assert strict.phrase_of("취소 해 조세요") is None
    assert near.phrase_of("취소 해 조세요") == "취소해 주세요"
    assert near.phrase_of("가나다라") is None


def test_calibration_fit_recovers_a_known_logistic_model() -> None:
    rng = np.random.default_rng(3)
    truth = Calibration(bias=-1.0, margin=0.5, gap=-0.8, mass=3.0)
    evidence, right = [], []
    for _ in range(3000):
        e = Evidence(
            phrase="x", meaning="x", margin=rng.uniform(0, 10), gap=rng.uniform(0, 6), mass=rng.uniform(0, 1), heard="x"
        )
        evidence.append(e)
        right.append(bool(rng.random() < truth.confidence(e)))
    fitted = Calibration.fit(evidence, right)
    for name in ("bias", "margin", "gap", "mass"):
        assert getattr(fitted, name) == pytest.approx(getattr(truth, name), abs=0.35), name
    # calibrated: among choices given ~0.8, about 80 % are right
    band = [r for e, r in zip(evidence, right, strict=True) if 0.7 <= fitted.confidence(e) < 0.9]
    assert 0.7 <= sum(band) / len(band) <= 0.9
    with pytest.raises(ValueError):
        Calibration.fit(evidence[:5], [True] * 5)


def test_speech_left_to_silence_lowers_confidence() -> None:
    cal = Calibration(bias=1.0, margin=0.0, gap=0.0, mass=2.0, unexplained=-6.0)
    whole = Evidence(phrase="응", meaning="yes", margin=0.0, gap=0.0, mass=0.5, heard="응")
    half = Evidence(phrase="응", meaning="yes", margin=0.0, gap=0.0, mass=0.5, heard="응", unexplained=0.5)
    assert cal.confidence(whole) == pytest.approx(1 / (1 + math.exp(-2.0)))
    assert cal.confidence(half) == pytest.approx(1 / (1 + math.exp(1.0)))


def test_calibration_round_trips_through_json() -> None:
    cal = Calibration(bias=-0.5, margin=0.25, gap=-1.5, mass=7.0, unexplained=-3.0)
    assert Calibration.from_json(cal.to_json()) == cal
    # an older file without the newer feature weighs it 0
    assert Calibration.from_json({"bias": 1, "margin": 0, "gap": 0, "mass": 2}).unexplained == 0.0
    with pytest.raises(ValueError, match="finite numbers"):
        Calibration.from_json({"bias": float("nan"), "margin": 0, "gap": 0, "mass": 0})
    with pytest.raises(ValueError, match="finite numbers"):
        Calibration.from_json({"bias": "1", "margin": 0, "gap": 0, "mass": 0})
