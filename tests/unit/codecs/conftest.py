"""Signals shared by the codec tests."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest


def speech_like(rate: int, seconds: float = 1.0, seed: int = 1, level: float = 0.25) -> npt.NDArray[np.int16]:
    """A voiced, speech-like test signal: a gliding 110-220 Hz pitch with decaying harmonics,
    shaped by a syllable-rate envelope and a little noise, peaking at ``level`` of full scale."""
    rng = np.random.default_rng(seed)
    n = int(rate * seconds)
    t = np.arange(n) / rate
    f0 = 150 + 50 * np.sin(2 * np.pi * 0.7 * t)
    phase = 2 * np.pi * np.cumsum(f0) / rate
    sig = np.zeros(n)
    for k in range(1, 16):
        if k * 220 < rate / 2 * 0.9:
            sig += np.sin(k * phase) / k
    env = 0.55 + 0.45 * np.sin(2 * np.pi * 4 * t)
    sig = sig * env + 0.01 * rng.standard_normal(n)
    sig = sig / np.max(np.abs(sig)) * level * 32767
    return sig.astype(np.int16)


def snr_db(ref: npt.NDArray[np.int16], out: npt.NDArray[np.int16]) -> float:
    r = ref.astype(np.float64)
    e = r - out.astype(np.float64)
    return float(10 * np.log10(np.sum(r * r) / max(np.sum(e * e), 1e-9)))


def aligned_correlation(ref: npt.NDArray[np.int16], out: npt.NDArray[np.int16], max_lag: int) -> tuple[float, int]:
    """Best Pearson correlation of ``out`` against ``ref`` over delays 0..max_lag samples."""
    r = ref.astype(np.float64)
    o = out.astype(np.float64)
    best, best_lag = -1.0, 0
    for lag in range(0, max_lag + 1):
        a = r[: len(r) - lag] if lag else r
        b = o[lag : lag + len(a)]
        a = a[: len(b)]
        c = float(np.corrcoef(a, b)[0, 1])
        if c > best:
            best, best_lag = c, lag
    return best, best_lag


@pytest.fixture
def speech8k() -> npt.NDArray[np.int16]:
    return speech_like(8000)


def voice_band(rate: int, seconds: float = 2.0, level: float = 0.3) -> npt.NDArray[np.int16]:
    """A vowel-like voice-band (300-3400 Hz) signal: harmonics of a 120-160 Hz pitch weighted
    by three formant peaks (700, 1200, 2500 Hz)."""
    n = int(rate * seconds)
    t = np.arange(n) / rate
    f0 = 140 + 20 * np.sin(2 * np.pi * 0.5 * t)
    phase = 2 * np.pi * np.cumsum(f0) / rate
    sig = np.zeros(n)
    for k in range(1, 30):
        fk = k * 140
        if 300 <= fk <= 3400:
            w = (
                np.exp(-(((fk - 700) / 400) ** 2))
                + 0.6 * np.exp(-(((fk - 1200) / 500) ** 2))
                + 0.3 * np.exp(-(((fk - 2500) / 600) ** 2))
            )
            sig += w * np.sin(k * phase)
    return (sig / np.abs(sig).max() * level * 32767).astype(np.int16)
