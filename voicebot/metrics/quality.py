"""Call quality for monitoring, from a call's end-of-call RTP statistics
(:meth:`voicebot.media.stream.MediaStream.stats`, WebRTC names).

Nothing is computed here that a call's report does not already compute: the loss, jitter,
concealment and mouth-to-ear delay are those of :func:`voicebot.report.rtp_summary` and
:func:`voicebot.report.quality`, and the MOS is the ITU-T G.107 E-model of
:mod:`voicebot.media.emodel` (the one model in the code base). This module only turns them
into the units the Prometheus metrics observe (ratios and seconds).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from voicebot.report import quality, rtp_summary


@dataclass(frozen=True, slots=True, kw_only=True)
class MediaQuality:
    packets_received: int
    packets_lost: int
    loss_ratio: float  # lost or too late to play, of those expected (the E-model's loss)
    jitter_s: float
    concealment_ratio: float  # concealed share of the audio played out
    one_way_delay_s: float  # the E-model's mouth-to-ear estimate
    mos: float


def media_quality(stats: Mapping[str, Any]) -> MediaQuality | None:
    """Quality of one call from its statistics; None when no codec was negotiated."""
    rtp = rtp_summary(stats)
    rating = quality(rtp) if rtp else None
    if rating is None:
        return None
    inputs = rating["inputs"]
    return MediaQuality(
        packets_received=int(rtp.get("received") or 0),
        packets_lost=max(0, int(rtp.get("lost") or 0)),
        loss_ratio=inputs["loss_pct"] / 100,
        jitter_s=float(rtp.get("jitter_ms") or 0.0) / 1000,
        concealment_ratio=float(rtp.get("concealed_pct") or 0.0) / 100,
        one_way_delay_s=inputs["one_way_delay_ms"] / 1000,
        mos=float(rating["mos"]),
    )


__all__ = ["MediaQuality", "media_quality"]
