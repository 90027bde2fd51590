"""A voicemail beep detector: a steady pure tone of any pitch in 300–3000 Hz lasting 150 ms to
3 s, found frame by frame with an FFT (a Goertzel filter bank would need the beep's pitch in
advance; beeps range from 400 to 1,400 Hz and more).

A 20 ms frame (16 kHz) is *tonal* when, after a Hann window, the strongest bin in 300–3000 Hz
and its two neighbours on each side hold at least ``purity`` of the energy in 100–4000 Hz, and
the frame is loud enough. Speech never does this for long: its energy spreads over many
harmonics and formants, and its pitch moves (the longest tonal run measured in espeak-ng speech
of nine voices after Opus was 120 ms). A beep is a run of tonal frames whose peak stays within
``drift_hz`` (one damaged frame inside it is bridged); it is reported when it ends. Pure:
frames and their times go in.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

RATE = 16000
FFT_SIZE = 512  # 31.25 Hz bins


@dataclass(frozen=True, slots=True, kw_only=True)
class BeepHeard:
    """A beep ended at ``end`` (seconds, the caller's clock); it began at ``start``."""

    start: float
    end: float
    frequency: float

    @property
    def duration(self) -> float:
        return self.end - self.start


@dataclass(frozen=True, slots=True, kw_only=True)
class BeepConfig:
    min_duration: float = 0.15
    max_duration: float = 3.0
    purity: float = 0.8
    min_rms: float = 300.0  # int16 units (about -40 dBFS)
    drift_hz: float = 40.0
    low_hz: float = 300.0
    high_hz: float = 3000.0
    bridge_frames: int = 1


class BeepDetector:
    """Feed 20 ms frames with their start times; :meth:`feed` returns a :class:`BeepHeard` when
    a beep has just ended."""

    def __init__(self, config: BeepConfig | None = None, *, rate: int = RATE) -> None:
        self.config = config or BeepConfig()
        self._rate = rate
        self._window: npt.NDArray[np.float64] | None = None
        freqs = np.fft.rfftfreq(FFT_SIZE, 1.0 / rate)
        c = self.config
        self._freqs = freqs
        self._tone_band = (freqs >= c.low_hz) & (freqs <= c.high_hz)
        self._all_band = (freqs >= 100.0) & (freqs <= 4000.0)
        self._run_start: float | None = None
        self._run_freq = 0.0
        self._run_end = 0.0
        self._misses = 0

    def tonal(self, frame: npt.NDArray[np.int16]) -> float | None:
        """The frame's tone frequency when it is a pure tone, else None."""
        x = frame.astype(np.float64)
        if float(np.sqrt(np.mean(x * x))) < self.config.min_rms:
            return None
        if self._window is None or len(self._window) != len(x):
            self._window = np.hanning(len(x))
        power = np.abs(np.fft.rfft(x * self._window, FFT_SIZE)) ** 2
        total = float(power[self._all_band].sum())
        if total <= 0:
            return None
        band = np.where(self._tone_band, power, 0.0)
        peak = int(np.argmax(band))
        near = float(power[max(0, peak - 2) : peak + 3].sum())
        if near / total < self.config.purity:
            return None
        return float(self._freqs[peak])

    def feed(self, frame: npt.NDArray[np.int16], now: float) -> BeepHeard | None:
        freq = self.tonal(frame)
        step = len(frame) / self._rate
        c = self.config
        if freq is not None and (self._run_start is None or abs(freq - self._run_freq) <= c.drift_hz):
            if self._run_start is None:
                self._run_start, self._run_freq = now, freq
            self._run_end = now + step
            self._misses = 0
            return None
        if self._run_start is not None and freq is None and self._misses < c.bridge_frames:
            self._misses += 1  # one damaged frame (a concealed or time-stretched one) does not end a beep
            return None
        heard = None
        if self._run_start is not None:
            duration = self._run_end - self._run_start
            if c.min_duration <= duration <= c.max_duration:
                heard = BeepHeard(start=self._run_start, end=self._run_end, frequency=self._run_freq)
            self._run_start = None
        self._misses = 0
        if freq is not None:  # a new tone at another pitch starts right away
            self._run_start, self._run_freq, self._run_end = now, freq, now + step
        return heard


__all__ = ["BeepConfig", "BeepDetector", "BeepHeard"]
