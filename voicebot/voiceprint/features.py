"""What the speaker encoder hears: the same preprocessing and mel features resemblyzer 0.1.4
computes, in numpy.

* :func:`normalise_volume` raises quiet audio to -30 dBFS RMS (never lowers it);
* :func:`voiced_mask` / :func:`trim_long_silences`: WebRTC VAD (mode 3) on 30 ms windows,
  smoothed by a moving average of 8 windows, rounded, then widened by 3 windows each side, so
  pauses longer than about 200 ms are cut out and short ones kept;
* :func:`is_narrowband`: whether audio came through an 8 kHz telephone channel, so that speech
  is compared with a print in the band both have (:mod:`.verify`);
* :func:`mel_spectrogram`: power spectrogram (25 ms periodic Hann window, 10 ms hop, 400-point
  FFT, frames centred on zero-padded audio) through 40 Slaney-normalised mel filters from 0 to
  8 kHz — not logarithmic. These are librosa's ``melspectrogram`` defaults (librosa >= 0.10).

Audio is float32 in [-1, 1) at 16 kHz, as ``int16 / 32768``.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
import webrtcvad

RATE = 16000
N_FFT = 400  # 25 ms
HOP = 160  # 10 ms
N_MELS = 40
VAD_WINDOW = 480  # 30 ms
VAD_AVERAGE = 8  # windows in the moving average
VAD_WIDEN = 3  # windows added on each side of voiced audio (a 7-window dilation)
TARGET_DBFS = -30.0
INT16_MAX = 32767
NARROW_EDGE_HZ = 4200.0  # a telephone (8 kHz) channel carries nothing above 4 kHz
NARROW_RATIO = 1e-5  # measured: espeak-ng speech 1e-4..5e-2 above the edge, after G.711 ~5e-9

Audio = np.ndarray[Any, np.dtype[np.float32]]


def from_pcm16(pcm: np.ndarray[Any, Any]) -> Audio:
    """int16 samples as float32 in [-1, 1)."""
    return (np.asarray(pcm, dtype=np.float32) / 32768.0).astype(np.float32)


def normalise_volume(wav: Audio, target_dbfs: float = TARGET_DBFS) -> Audio:
    """Raise ``wav`` to ``target_dbfs`` RMS when it is quieter; louder audio is left alone."""
    if wav.size == 0:
        return wav
    rms = float(np.sqrt(np.mean(np.square(wav.astype(np.float64) * INT16_MAX))))
    if rms == 0.0:
        return wav
    change = target_dbfs - 20.0 * np.log10(rms / INT16_MAX)
    if change < 0:
        return wav
    return (wav * np.float32(10.0 ** (change / 20.0))).astype(np.float32)


def vad_flags(wav: Audio, vad: webrtcvad.Vad | None = None) -> np.ndarray[Any, np.dtype[np.bool_]]:
    """WebRTC VAD's verdict (mode 3) on each whole 30 ms window of ``wav``."""
    vad = vad or webrtcvad.Vad(3)
    n = len(wav) // VAD_WINDOW
    pcm = np.clip(np.round(wav[: n * VAD_WINDOW] * INT16_MAX), -32768, 32767).astype("<i2").tobytes()
    step = VAD_WINDOW * 2
    return np.array([vad.is_speech(pcm[i * step : (i + 1) * step], RATE) for i in range(n)], dtype=bool)


def smooth_flags(flags: np.ndarray[Any, np.dtype[np.bool_]]) -> np.ndarray[Any, np.dtype[np.bool_]]:
    """Window i is kept when the average of flags i-3..i+4 rounds to 1 (half rounds to even,
    so 4 of 8 is not enough) or such a window lies within 3 of it."""
    n = len(flags)
    if n == 0:
        return flags.astype(bool)
    before, after = (VAD_AVERAGE - 1) // 2, VAD_AVERAGE // 2
    padded = np.concatenate((np.zeros(before), flags.astype(np.float64), np.zeros(after)))
    sums = np.convolve(padded, np.ones(VAD_AVERAGE), mode="valid")
    voiced = np.round(sums / VAD_AVERAGE).astype(bool)
    wide = np.concatenate((np.zeros(VAD_WIDEN, bool), voiced, np.zeros(VAD_WIDEN, bool)))
    windows = np.lib.stride_tricks.sliding_window_view(wide, 2 * VAD_WIDEN + 1)
    return np.asarray(windows.any(axis=1), dtype=bool)


def voiced_mask(wav: Audio) -> np.ndarray[Any, np.dtype[np.bool_]]:
    """Per 30 ms window: whether :func:`trim_long_silences` keeps it."""
    return smooth_flags(vad_flags(wav))


def trim_long_silences(wav: Audio) -> Audio:
    """``wav`` without its long pauses (and without a last partial 30 ms window)."""
    keep = voiced_mask(wav)
    return wav[: len(keep) * VAD_WINDOW][np.repeat(keep, VAD_WINDOW)]


def is_narrowband(wav: np.ndarray[Any, Any]) -> bool:
    """Whether 16 kHz audio came through an 8 kHz channel (G.711): next to no energy above 4.2 kHz.
    Silence counts as narrowband."""
    x = np.asarray(wav, dtype=np.float64)
    power = np.abs(np.fft.rfft(x)) ** 2
    total = float(power.sum())
    high = float(power[int(len(power) * NARROW_EDGE_HZ / (RATE / 2)) :].sum())
    return total == 0.0 or high / total < NARROW_RATIO


def preprocess(wav: Audio) -> Audio:
    """16 kHz audio as the encoder wants it: volume raised, long silences cut."""
    return trim_long_silences(normalise_volume(wav))


# ---------------------------------------------------------------------------------- mel features


def _hz_to_mel(hz: np.ndarray[Any, np.dtype[np.float64]]) -> np.ndarray[Any, np.dtype[np.float64]]:
    """Slaney's mel scale: linear (200/3 Hz per mel) below 1 kHz, logarithmic above."""
    lin = hz / (200.0 / 3)
    log = 15.0 + np.log(np.maximum(hz, 1e-10) / 1000.0) / (np.log(6.4) / 27.0)
    return np.where(hz >= 1000.0, log, lin)


def _mel_to_hz(mel: np.ndarray[Any, np.dtype[np.float64]]) -> np.ndarray[Any, np.dtype[np.float64]]:
    lin = mel * (200.0 / 3)
    log = 1000.0 * np.exp((np.log(6.4) / 27.0) * (mel - 15.0))
    return np.where(mel >= 15.0, log, lin)


@functools.cache
def mel_filters() -> np.ndarray[Any, np.dtype[np.float32]]:
    """(40, 201) triangular filters, each scaled to unit area in Hz (Slaney normalisation)."""
    edges = _mel_to_hz(np.linspace(_hz_to_mel(np.array(0.0)), _hz_to_mel(np.array(RATE / 2)), N_MELS + 2))
    bins = np.linspace(0, RATE / 2, N_FFT // 2 + 1)
    widths = np.diff(edges)
    rel = edges[:, None] - bins[None, :]
    rising = -rel[:-2] / widths[:-1, None]
    falling = rel[2:] / widths[1:, None]
    weights = np.maximum(0.0, np.minimum(rising, falling)) * (2.0 / (edges[2:] - edges[:-2]))[:, None]
    out = weights.astype(np.float32)
    out.setflags(write=False)
    return out


@functools.cache
def _window() -> np.ndarray[Any, np.dtype[np.float32]]:
    n = np.arange(N_FFT)
    return (0.5 - 0.5 * np.cos(2 * np.pi * n / N_FFT)).astype(np.float32)  # periodic Hann


def n_frames(n_samples: int) -> int:
    """How many mel frames :func:`mel_spectrogram` gives for ``n_samples`` of audio."""
    return 1 + n_samples // HOP


def mel_frames(padded: Audio, count: int) -> np.ndarray[Any, np.dtype[np.float32]]:
    """``count`` mel frames of audio already padded by N_FFT/2 at the start: frame k is centred
    on sample k*HOP of the unpadded audio. (count, 40), float32."""
    frames = np.lib.stride_tricks.sliding_window_view(padded, N_FFT)[: count * HOP : HOP]
    spectrum = np.fft.rfft(frames * _window(), axis=1)
    power = (spectrum.real**2 + spectrum.imag**2).astype(np.float32)
    out: np.ndarray[Any, np.dtype[np.float32]] = power @ mel_filters().T
    return out


def mel_spectrogram(wav: Audio) -> np.ndarray[Any, np.dtype[np.float32]]:
    """(frames, 40) power mel spectrogram of 16 kHz ``wav``; frames centred every 10 ms."""
    half = N_FFT // 2
    padded = np.concatenate((np.zeros(half, np.float32), wav.astype(np.float32), np.zeros(half, np.float32)))
    return mel_frames(padded, n_frames(len(wav)))


__all__ = [
    "HOP",
    "N_MELS",
    "RATE",
    "VAD_WINDOW",
    "from_pcm16",
    "is_narrowband",
    "mel_filters",
    "mel_frames",
    "mel_spectrogram",
    "n_frames",
    "normalise_volume",
    "preprocess",
    "smooth_flags",
    "trim_long_silences",
    "vad_flags",
    "voiced_mask",
]
