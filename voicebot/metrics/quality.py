"""Call quality from a call's RTP statistics: loss, jitter, concealment, delay and an estimated
MOS by the E-model (ITU-T G.107, simplified as is usual for VoIP monitoring: no echo or noise
terms, random loss).

    R = 93.2 - Id - Ie_eff
    Id = 0.024 d + 0.11 (d - 177.3) H(d - 177.3)            d: one-way delay in ms
    Ie_eff = Ie + (95 - Ie) * Ppl / (Ppl + Bpl)              Ppl: loss in percent
    MOS = 1 + 0.035 R + 7e-6 R (R - 60) (100 - R)            clamped to 1 .. 4.5

Ie / Bpl are G.113 Appendix I's for G.711 with concealment (0 / 25.1). G.113 gives no Opus
values; Opus is scored here as G.711 with concealment (0 / 25.1), which understates it on a
clean line (it is wideband) and is close under loss (its own concealment plus FEC).
The stats are :meth:`voicebot.media.stream.MediaStream.stats` (WebRTC names).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

CODEC_IMPAIRMENT = {"pcmu": (0.0, 25.1), "pcma": (0.0, 25.1), "opus": (0.0, 25.1)}
PACKETISATION_S = 0.020


def r_factor(loss_ratio: float, one_way_delay_s: float, codec: str = "PCMU/8000") -> float:
    ie, bpl = CODEC_IMPAIRMENT.get(codec.split("/")[0].lower(), (0.0, 25.1))
    d = max(0.0, one_way_delay_s) * 1000.0
    idd = 0.024 * d + (0.11 * (d - 177.3) if d > 177.3 else 0.0)
    ppl = max(0.0, min(1.0, loss_ratio)) * 100.0
    ie_eff = ie + (95.0 - ie) * ppl / (ppl + bpl)
    return 93.2 - idd - ie_eff


def mos_from_r(r: float) -> float:
    if r <= 0:
        return 1.0
    if r >= 100:
        return 4.5
    return max(1.0, min(4.5, 1 + 0.035 * r + 7e-6 * r * (r - 60) * (100 - r)))


@dataclass(frozen=True, slots=True, kw_only=True)
class MediaQuality:
    packets_received: int
    packets_lost: int
    loss_ratio: float
    jitter_s: float
    concealment_ratio: float
    one_way_delay_s: float
    mos: float


def media_quality(stats: Mapping[str, Any]) -> MediaQuality:
    """Quality of one call from its end-of-call statistics."""
    inbound = stats.get("inbound-rtp") or {}
    remote = stats.get("remote-inbound-rtp") or {}
    received = int(inbound.get("packetsReceived") or 0)
    lost = max(0, int(inbound.get("packetsLost") or 0))
    loss = lost / (received + lost) if received + lost else 0.0
    emitted = int(inbound.get("jitterBufferEmittedCount") or 0)
    concealed = int(inbound.get("concealedSamples") or 0)
    jitter = float(inbound.get("jitter") or 0.0)
    # the jitter buffer's measured mean delay; without one, twice the jitter is what it would hold
    buffer_delay = float(inbound.get("jitterBufferDelay") or 0.0) / emitted if emitted else 2 * jitter
    rtt = remote.get("roundTripTime")
    delay = (float(rtt) / 2 if rtt else 0.0) + buffer_delay + PACKETISATION_S
    return MediaQuality(
        packets_received=received,
        packets_lost=lost,
        loss_ratio=loss,
        jitter_s=jitter,
        concealment_ratio=concealed / (emitted + concealed) if emitted + concealed else 0.0,
        one_way_delay_s=delay,
        mos=mos_from_r(r_factor(loss, delay, str(stats.get("codec") or ""))),
    )


__all__ = ["MediaQuality", "media_quality", "mos_from_r", "r_factor"]
