"""Deterministic speech-like test signals, made from numbers alone (numpy only, no voicebot).

The recorded resemblyzer embeddings (reference.json) are of these signals, so the comparison
does not depend on the installed espeak-ng: a glottal-like harmonic source whose pitch wanders,
shaped by vowel formants that change every syllable, with syllable envelopes, a little breath
noise, and pauses (one long enough for the silence trimming to cut). The same parameters give
the same int16 samples on any machine; reference.json keeps their SHA-256 to prove it.
"""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np

RATE = 16000
VOWELS = (  # first three formants, Hz (approximate adult values)
    (730, 1090, 2440),
    (270, 2290, 3010),
    (530, 1840, 2480),
    (300, 870, 2240),
    (570, 840, 2410),
    (660, 1720, 2410),
)

# name -> parameters; pitch in Hz, seconds of sound, pauses as (at second, length)
CASES: dict[str, dict[str, Any]] = {
    "low_voice_4s": {"seed": 1, "f0": 105.0, "seconds": 4.0, "tilt": 1.3, "shift": 0.95, "pauses": [(1.5, 0.2)]},
    "high_voice_3s": {"seed": 2, "f0": 215.0, "seconds": 3.0, "tilt": 1.0, "shift": 1.15, "pauses": []},
    "mid_voice_long_pause": {
        "seed": 3,
        "f0": 150.0,
        "seconds": 5.0,
        "tilt": 1.15,
        "shift": 1.05,
        "pauses": [(1.2, 1.0), (3.5, 0.15)],
    },
    "short_1s": {"seed": 4, "f0": 130.0, "seconds": 1.0, "tilt": 1.2, "shift": 1.0, "pauses": []},
    "quiet_6s": {
        "seed": 5,
        "f0": 180.0,
        "seconds": 6.0,
        "tilt": 1.1,
        "shift": 1.1,
        "pauses": [(2.0, 0.4)],
        "gain": 0.05,
    },
}


def speech_like(
    seed: int,
    f0: float,
    seconds: float,
    tilt: float,
    shift: float,
    pauses: list[tuple[float, float]],
    gain: float = 0.3,
) -> np.ndarray[Any, np.dtype[np.int16]]:
    """int16 samples at 16 kHz."""
    rng = np.random.default_rng(seed)
    n = int(seconds * RATE)
    t = np.arange(n) / RATE
    syllable = 0.22
    count = int(np.ceil(seconds / syllable)) + 1
    pitch_knots = f0 * (1.0 + 0.12 * rng.standard_normal(count))
    pitch = np.interp(t, np.arange(count) * syllable, pitch_knots)
    phase = 2 * np.pi * np.cumsum(pitch) / RATE
    vowel_of = rng.integers(0, len(VOWELS), count)
    formants = np.array([VOWELS[v] for v in vowel_of], dtype=np.float64) * shift
    idx = np.minimum((t / syllable).astype(int), count - 1)
    f = formants[idx]  # (n, 3)
    out = np.zeros(n)
    for k in range(1, 40):
        freq = k * pitch
        alive = freq < RATE / 2 - 200
        amp = k ** (-tilt) * np.sum(1.0 / (1.0 + ((freq[:, None] - f) / (60.0 + 0.08 * f)) ** 2), axis=1)
        out += np.where(alive, amp, 0.0) * np.sin(k * phase)
    within = (t % syllable) / syllable
    envelope = np.sin(np.pi * np.clip(within * 1.1, 0, 1)) ** 0.6
    out = out * envelope + 0.02 * rng.standard_normal(n) * envelope
    for at, length in pauses:
        out[int(at * RATE) : int((at + length) * RATE)] = 0.0
    out = out / np.max(np.abs(out)) * gain
    silence = np.zeros(int(0.3 * RATE))
    full = np.concatenate((silence, out, silence))
    return np.round(full * 32767).astype(np.int16)


def case(name: str) -> np.ndarray[Any, np.dtype[np.int16]]:
    return speech_like(**CASES[name])


def digest(pcm: np.ndarray[Any, Any]) -> str:
    return hashlib.sha256(np.asarray(pcm, dtype="<i2").tobytes()).hexdigest()
