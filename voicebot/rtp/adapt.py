"""Loss-driven audio bandwidth adaptation for Opus (RFC 7587 §3.1.2 leaves the encoder free to
change bandwidth and bitrate; RFC 3550 §6.4.1 fraction lost is the signal).

The controller smooths the fraction lost from successive RTCP reports and moves between
wideband (16 kHz audio, higher bitrate) and narrowband (8 kHz audio, lower bitrate, more
redundancy left for in-band FEC) with hysteresis: it steps down as soon as the smoothed loss
passes ``high`` and steps back up only after ``hold`` consecutive reports below ``low``.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True, kw_only=True)
class EncoderSetting:
    bandwidth: str  # "wideband" | "narrowband" (voicebot_codecs.BANDWIDTHS names)
    bitrate: int
    expected_loss_percent: int


class BandwidthController:
    def __init__(
        self,
        *,
        high: float = 0.05,
        low: float = 0.02,
        hold: int = 2,
        wide_bitrate: int = 24000,
        narrow_bitrate: int = 12000,
        smoothing: float = 0.5,
    ) -> None:
        self.high = high
        self.low = low
        self.hold = hold
        self.wide_bitrate = wide_bitrate
        self.narrow_bitrate = narrow_bitrate
        self.smoothing = smoothing
        self.loss = 0.0
        self.mode = "wideband"
        self._good_reports = 0
        self.switches = 0

    def setting(self) -> EncoderSetting:
        return EncoderSetting(
            bandwidth=self.mode,
            bitrate=self.wide_bitrate if self.mode == "wideband" else self.narrow_bitrate,
            expected_loss_percent=min(100, round(self.loss * 100)),
        )

    def update(self, fraction_lost: float) -> EncoderSetting:
        """Feed one report's fraction lost (0..1); returns the encoder setting to apply."""
        f = min(1.0, max(0.0, fraction_lost))
        self.loss = self.smoothing * f + (1 - self.smoothing) * self.loss
        if self.mode == "wideband":
            if self.loss >= self.high:
                self.mode = "narrowband"
                self._good_reports = 0
                self.switches += 1
        elif self.loss <= self.low:
            self._good_reports += 1
            if self._good_reports >= self.hold:
                self.mode = "wideband"
                self._good_reports = 0
                self.switches += 1
        else:
            self._good_reports = 0
        return self.setting()
