"""Waveform-substitution packet loss concealment for codecs without their own (G.711, L16).

The idea follows ITU-T G.711 Appendix I: keep a short history of decoded audio; when a frame
is lost, estimate the pitch period by autocorrelation and repeat the last pitch period, so
voiced speech keeps its periodicity instead of dropping to silence. Consecutive losses fade
out linearly (full level for the first 10 ms, then -20 % per 10 ms, silent after 60 ms) so a
long gap never turns into a buzzing tone.
"""

from __future__ import annotations

from collections import deque

import numpy as np

from voicebot_codecs.base import PCM


class WaveformSubstitution:
    """Concealment state for one stream at ``sample_rate``."""

    def __init__(self, sample_rate: int, frame_samples: int) -> None:
        self.rate = sample_rate
        self.frame = frame_samples
        self.min_lag = sample_rate // 200  # 200 Hz
        self.max_lag = sample_rate // 66  # ~66 Hz
        self.history = np.zeros(self.max_lag * 3, dtype=np.float32)
        # good frames not yet shifted into ``history`` (newest last), just enough to fill it:
        # a frame is almost never lost, so the shift waits for a loss instead of costing every frame
        self._pending: deque[PCM] = deque()
        self._pending_samples = 0
        self.lost_samples = 0  # samples concealed since the last good frame
        self.period = np.zeros(0, dtype=np.float32)
        self.phase = 0

    def good(self, pcm: PCM) -> None:
        """Remember a correctly received frame (kept as it is: nobody writes to a decoded frame)."""
        pending = self._pending
        pending.append(pcm)
        self._pending_samples += len(pcm)
        while self._pending_samples - len(pending[0]) >= len(self.history):
            self._pending_samples -= len(pending.popleft())  # wholly shifted out by the newer ones
        self.lost_samples = 0

    def _catch_up(self) -> None:
        """Shift the pending good frames into ``history``, oldest first."""
        n = len(self.history)
        for pcm in self._pending:
            f = pcm.astype(np.float32)
            if len(f) >= n:
                self.history[:] = f[-n:]
            else:
                self.history[:-len(f)] = self.history[len(f):]
                self.history[-len(f):] = f
        self._pending.clear()
        self._pending_samples = 0

    def _pitch(self) -> int:
        h = self.history
        seg = h[-self.max_lag:]
        energy = float(np.dot(seg, seg))
        if energy < 1.0:
            return self.max_lag
        best_lag, best = self.max_lag, -1.0
        for lag in range(self.min_lag, self.max_lag + 1):
            ref = h[-self.max_lag - lag : len(h) - lag]
            denom = float(np.sqrt(energy * float(np.dot(ref, ref)))) or 1.0
            score = float(np.dot(seg, ref)) / denom
            if score > best:
                best, best_lag = score, lag
        return best_lag

    def conceal(self) -> PCM:
        """One frame of substitute audio."""
        self._catch_up()
        if self.lost_samples == 0:
            lag = self._pitch()
            self.period = self.history[-lag:].copy()
            self.phase = 0
        lag = len(self.period)
        idx = (self.phase + np.arange(self.frame)) % lag
        out = self.period[idx]
        self.phase = int((self.phase + self.frame) % lag)
        # gain per sample: 1.0 for the first 10 ms of loss, then down 0.2 per 10 ms
        ten_ms = self.rate // 100
        t = self.lost_samples + np.arange(self.frame)
        gain = np.clip(1.0 - 0.2 * np.maximum(t - ten_ms, 0) / ten_ms, 0.0, 1.0)
        self.lost_samples += self.frame
        pcm = np.clip(out * gain, -32768, 32767).astype(np.int16)
        # concealed audio becomes history so a second loss continues smoothly
        n = len(self.history)
        self.history[:-self.frame] = self.history[self.frame:] if self.frame < n else self.history[:0]
        self.history[-self.frame:] = pcm.astype(np.float32)[-min(self.frame, n):]
        return pcm
