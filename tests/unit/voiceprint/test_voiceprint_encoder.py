"""The encoder's parts against plain restatements of what they compute: the folded-gate LSTM
against a textbook LSTM on random weights, the window plan against resemblyzer's rule, the VAD
smoothing against a loop over windows, the mel filters' shape and normalisation."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from voicebot.voiceprint import features
from voicebot.voiceprint.encoder import FRAME_STEP, PARTIAL_FRAMES, SpeakerEncoder, padded_length, partial_starts
from voicebot.voiceprint.model import EncoderWeights


def random_weights(seed: int) -> EncoderWeights:
    rng = np.random.default_rng(seed)

    def w(*shape: int) -> np.ndarray[Any, np.dtype[np.float32]]:
        return (rng.standard_normal(shape) * 0.2).astype(np.float32)

    return EncoderWeights(
        weight_ih=(w(1024, 40), w(1024, 256), w(1024, 256)),
        weight_hh=(w(1024, 256), w(1024, 256), w(1024, 256)),
        bias=(w(1024), w(1024), w(1024)),
        linear_weight=w(256, 256),
        linear_bias=w(256),
        similarity_weight=10.0,
        similarity_bias=-5.0,
        source="random",
    )


def textbook(weights: EncoderWeights, x: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """torch.nn.LSTM's equations, gate by gate, in float64."""

    def sigmoid(v: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
        return 1 / (1 + np.exp(-v))

    seq = x.astype(np.float64)
    for w_ih, w_hh, b in zip(weights.weight_ih, weights.weight_hh, weights.bias, strict=True):
        h = np.zeros((x.shape[0], 256))
        c = np.zeros((x.shape[0], 256))
        outs = []
        for t in range(seq.shape[1]):
            z = seq[:, t] @ w_ih.T + h @ w_hh.T + b
            i, f, g, o = sigmoid(z[:, :256]), sigmoid(z[:, 256:512]), np.tanh(z[:, 512:768]), sigmoid(z[:, 768:])
            c = f * c + i * g
            h = o * np.tanh(c)
            outs.append(h)
        seq = np.stack(outs, axis=1)
    raw = np.maximum(h @ weights.linear_weight.T + weights.linear_bias, 0)
    return raw / np.linalg.norm(raw, axis=1, keepdims=True)


def test_the_folded_gates_compute_a_textbook_lstm() -> None:
    weights = random_weights(3)
    x = np.random.default_rng(4).random((3, 25, 40), dtype=np.float32)
    np.testing.assert_allclose(SpeakerEncoder(weights).embed_windows(x), textbook(weights, x), atol=2e-5)


def test_a_different_input_gives_a_different_embedding() -> None:
    enc = SpeakerEncoder(random_weights(5))
    x = np.random.default_rng(6).random((2, 20, 40), dtype=np.float32)
    out = enc.embed_windows(x)
    assert np.allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-6)
    assert float(out[0] @ out[1]) < 0.999


def resemblyzer_starts(n_samples: int) -> list[int]:
    """compute_partial_slices of resemblyzer 0.1.4, restated."""
    n_frames = int(np.ceil((n_samples + 1) / 160))
    step = int(np.round((16000 / 1.3) / 160))
    starts = list(range(0, max(1, n_frames - 160 + step + 1), step))
    coverage = (n_samples - starts[-1] * 160) / (160 * 160)
    return starts[:-1] if coverage < 0.75 and len(starts) > 1 else starts


@given(st.integers(0, 16000 * 30))
def test_windows_are_planned_as_resemblyzer_plans_them(n: int) -> None:
    starts = partial_starts(n)
    assert starts == resemblyzer_starts(n)
    assert FRAME_STEP == 77 and padded_length(n) >= (starts[-1] + PARTIAL_FRAMES) * 160


def test_a_short_utterance_is_one_zero_padded_window() -> None:
    assert partial_starts(8000) == [0] and padded_length(8000) == PARTIAL_FRAMES * 160


def smooth_by_loop(flags: list[bool]) -> list[bool]:
    n = len(flags)
    avg = [round(sum(flags[j] for j in range(i - 3, i + 5) if 0 <= j < n) / 8) == 1 for i in range(n)]
    return [any(avg[j] for j in range(i - 3, i + 4) if 0 <= j < n) for i in range(n)]


@settings(max_examples=200)
@given(st.lists(st.booleans(), max_size=80))
def test_vad_smoothing_keeps_what_a_window_by_window_rule_keeps(flags: list[bool]) -> None:
    out = features.smooth_flags(np.array(flags, dtype=bool))
    assert out.tolist() == smooth_by_loop(flags)


def test_silence_trims_to_nothing_and_speech_keeps_its_pauses_short(signals: Any) -> None:
    assert features.preprocess(np.zeros(16000 * 3, np.float32)).size == 0
    wav = features.from_pcm16(signals.case("mid_voice_long_pause"))  # 5.6 s with a 1 s pause
    kept = features.preprocess(wav)
    assert 4.0 * 16000 < len(kept) < len(wav) - 0.5 * 16000


def test_volume_is_raised_to_minus_30_dbfs_never_lowered() -> None:
    quiet = np.full(1600, 0.001, np.float32)
    loud = np.full(1600, 0.5, np.float32)
    rms = float(np.sqrt(np.mean(np.square(features.normalise_volume(quiet) * 32767))))
    assert 20 * np.log10(rms / 32767) == pytest.approx(-30, abs=0.01)
    assert features.normalise_volume(loud) is loud


def test_mel_filters_are_slaney_triangles() -> None:
    fb = features.mel_filters()
    assert fb.shape == (40, 201) and np.all(fb >= 0)
    peaks = fb.argmax(axis=1)
    assert np.all(np.diff(peaks) >= 0) and peaks[0] <= 2 and peaks[-1] >= 180
    areas = fb.sum(axis=1) * 40.0  # unit area in Hz (bins are 40 Hz apart), up to the grid
    assert np.all(np.abs(areas[5:] - 1) < 0.06)
