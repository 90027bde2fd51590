"""How closely a recording matches the audio that was sent: the one place the media tests
measure it.

A call's audio comes back delayed, band-limited by its codec and, on a loaded machine, with
whole 20 ms frames inserted or removed by an adaptive jitter buffer (ours or the peer's) as it
follows the packets' timing. :func:`windowed_correlation` is built to tolerate exactly that and
nothing more: every 100 ms window of the source is matched at the sample offset, within 100 ms
of the whole recording's delay, where it correlates best, so one frame inserted or removed
costs about one window, while lost, garbled or unrelated audio still scores low (another
utterance scores about 0.3).
"""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np

WINDOW = 0.1  # seconds of source audio matched at one offset
SLACK = 0.1  # seconds either side of the global delay a window may move
SILENT = 1e-6  # a window with less mean power than this (of full scale squared) has no shape


def read_channels(path: Path) -> np.ndarray:
    """The samples of a WAV file as floats, one column per channel."""
    with wave.open(str(path), "rb") as w:
        data = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
        return data.reshape(-1, w.getnchannels()).astype(np.float64)


def best_lag(ref: np.ndarray, rec: np.ndarray) -> int:
    """Lag (samples) of ``ref`` inside ``rec`` by FFT cross-correlation."""
    n = len(ref) + len(rec)
    size = 1 << (n - 1).bit_length()
    xc = np.fft.irfft(np.fft.rfft(rec, size) * np.conj(np.fft.rfft(ref, size)), size)
    return int(np.argmax(xc[: len(rec)]))


def aligned_correlation(ref: np.ndarray, rec: np.ndarray) -> float:
    """Pearson correlation after the best single delay alignment."""
    ref = np.asarray(ref, dtype=np.float64)
    rec = np.asarray(rec, dtype=np.float64)
    lag = best_lag(ref, rec)
    seg = rec[lag : lag + len(ref)]
    if len(seg) < len(ref) // 2 or np.std(seg) == 0:
        return 0.0
    return float(np.corrcoef(ref[: len(seg)], seg)[0, 1])


def sliding_correlation(ref: np.ndarray, seg: np.ndarray) -> np.ndarray:
    """Pearson correlation of ``ref`` with each ``len(ref)``-sample slice of ``seg``, one per
    sample offset (0 where the slice is constant)."""
    w = len(ref)
    if w == 0 or len(seg) < w:
        return np.zeros(0)
    centred = ref - ref.mean()
    norm = float(np.sqrt(np.dot(centred, centred)))
    if norm == 0.0:
        return np.zeros(len(seg) - w + 1)
    size = 1 << (len(seg) + w - 1).bit_length()
    dot = np.fft.irfft(np.fft.rfft(seg, size) * np.conj(np.fft.rfft(centred, size)), size)[: len(seg) - w + 1]
    sums = np.concatenate(([0.0], np.cumsum(seg)))
    squares = np.concatenate(([0.0], np.cumsum(seg * seg)))
    s1 = sums[w:] - sums[:-w]
    spread = np.sqrt(np.maximum(squares[w:] - squares[:-w] - s1 * s1 / w, 0.0))
    out = np.zeros_like(dot)
    varied = spread > 1e-9 * max(1.0, float(np.abs(seg).max()))
    out[varied] = dot[varied] / (norm * spread[varied])
    return out


def windowed_correlation(ref: np.ndarray, rec: np.ndarray, rate: int = 16000) -> float:
    """Energy-weighted mean, over the source's non-silent 100 ms windows, of each window's best
    correlation with the recording at any sample offset within 100 ms of the global delay (a
    window the recording does not reach scores 0)."""
    ref = np.asarray(ref, dtype=np.float64)
    rec = np.asarray(rec, dtype=np.float64)
    lag = best_lag(ref, rec)
    win, slack = int(rate * WINDOW), int(rate * SLACK)
    total = weight = 0.0
    for start in range(0, len(ref) - win, win):
        r = ref[start : start + win]
        energy = float(np.dot(r, r))
        if energy < SILENT * win * 32768**2:
            continue
        seg = rec[max(0, lag + start - slack) : lag + start + win + slack]
        scores = sliding_correlation(r, seg)  # empty where the recording stops short: that window scores 0
        total += energy * max(float(scores.max(initial=0.0)), 0.0)
        weight += energy
    return total / weight if weight else 0.0
