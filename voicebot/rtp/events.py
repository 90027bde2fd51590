"""Events the RTP layer reports to the call (DESIGN.md rule 4: frozen, slotted, keyword-only)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True, slots=True, kw_only=True)
class DtmfDigit:
    """A DTMF digit from RFC 4733 telephone-events or from a SIP INFO (application/dtmf-relay)."""

    digit: str
    duration_ms: int
    source: Literal["rfc4733", "info"]


@dataclass(frozen=True, slots=True, kw_only=True)
class SourceLatched:
    """Media is now accepted from (and symmetric RTP sent to) ``address`` (RFC 4961)."""

    address: tuple[str, int]
    ssrc: int


@dataclass(frozen=True, slots=True, kw_only=True)
class RemoteReport:
    """The peer's reception report about our stream (RFC 3550 §6.4.1)."""

    fraction_lost: float  # 0..1 over the last report interval
    cumulative_lost: int
    jitter: float  # seconds
    round_trip_time: float | None  # seconds


@dataclass(frozen=True, slots=True, kw_only=True)
class RemoteBye:
    """The peer sent RTCP BYE (RFC 3550 §6.6)."""

    ssrc: int
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class MediaTimeout:
    """No RTP arrived for the configured time; ``reason`` is meant for the call's end reason."""

    reason: str


RtpEvent = DtmfDigit | SourceLatched | RemoteReport | RemoteBye | MediaTimeout
