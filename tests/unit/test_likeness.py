"""The media tests' yardstick (tests/likeness.py): what it forgives and what it does not."""

from __future__ import annotations

import numpy as np

from tests.likeness import sliding_correlation, windowed_correlation
from voicebot_codecs import resample

RATE = 16000
FRAME = 320  # 20 ms at 16 kHz


def speechlike(seed: int, seconds: float = 4.0) -> np.ndarray:
    """Narrowband noise under a syllable-rate envelope: a stand-in for a phrase with shape."""
    rng = np.random.default_rng(seed)
    n = int(RATE * seconds)
    noise = rng.normal(0.0, 6000.0, n)
    band = resample(resample(noise.astype(np.int16), RATE, 8000), 8000, RATE).astype(np.float64)
    envelope = 0.6 + 0.4 * np.sin(2 * np.pi * 4.0 * np.arange(n) / RATE)
    return band[:n] * envelope


def delayed(x: np.ndarray, samples: int) -> np.ndarray:
    return np.concatenate([np.zeros(samples), x, np.zeros(2000)])


def test_a_delay_off_any_grid_scores_as_the_same_audio() -> None:
    ref = speechlike(1)
    for lag in (0, 147, 3, 1601):  # the first window must be found exactly too (lag + 0 - slack < 0)
        assert windowed_correlation(ref, delayed(ref, lag)) > 0.999, lag


def test_one_frame_inserted_or_removed_costs_about_one_window() -> None:
    ref = speechlike(2)
    cut = 2 * RATE + 123  # inside a window, between two of the windows' edges
    inserted = np.concatenate([ref[:cut], np.zeros(FRAME), ref[cut:]])
    removed = np.concatenate([ref[:cut], ref[cut + FRAME :]])
    intact = windowed_correlation(ref, delayed(ref, 147))
    for rec in (inserted, removed):
        score = windowed_correlation(ref, delayed(rec, 147))
        assert 0.97 < score < intact - 1e-4, score  # forgiven, yet seen


def test_other_audio_missing_audio_and_silence_score_low() -> None:
    ref = speechlike(3)
    assert windowed_correlation(ref, delayed(speechlike(4), 147)) < 0.5
    assert windowed_correlation(ref, delayed(ref[: len(ref) // 2], 147)) < 0.55  # the recording stops halfway
    assert windowed_correlation(ref, np.zeros(len(ref))) == 0.0


def test_sliding_correlation_is_pearson_at_every_offset() -> None:
    rng = np.random.default_rng(5)
    seg = rng.normal(0.0, 1000.0, 900)
    ref = seg[300:500] * 3.0 + 50.0  # scale and offset do not change a correlation
    scores = sliding_correlation(ref, seg)
    assert len(scores) == len(seg) - len(ref) + 1
    assert int(np.argmax(scores)) == 300 and abs(scores[300] - 1.0) < 1e-9
    expected = np.corrcoef(ref, seg[17:217])[0, 1]
    assert abs(scores[17] - expected) < 1e-9
    assert not sliding_correlation(ref, np.zeros(900)).any()  # a constant slice has no correlation
