"""What the call and bot code tells the metrics: one small observer interface.

The call engine and the bot call these (a line each); :class:`voicebot.metrics.Metrics` is
the Prometheus implementation, and nothing is observed when no observer is given::

    observer.track(call)                                  # a call began; its end is observed
    observer.observe_asr(confidence=0.93, latency=0.05)   # a recognised utterance
    observer.observe_turn(latency=0.31)                   # caller stopped -> bot audio queued
    observer.observe_tts(seconds=0.008)                   # a prompt's first audio was ready
    observer.observe_amd(verdict="machine", seconds=2.1)  # answering-machine detection
    observer.observe_call_end(call_end(result, stats))    # when a call is not tracked
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from voicebot.bot import BotObserver
from voicebot.metrics.quality import MediaQuality, media_quality
from voicebot.sip.useragent import NO_RESPONSE, TRANSPORT_ERROR

# final statuses that mean "busy", "nobody answered", "authentication failed" (RFC 3261 §21)
BUSY = frozenset({486, 600})
NO_ANSWER = frozenset({408, 480, 487})
AUTH = frozenset({401, 407})
DROP_REASONS = ("media timeout", "no answer to", "transport")


class CallResultLike(Protocol):
    @property
    def answered(self) -> bool: ...
    @property
    def status(self) -> int: ...
    @property
    def reason(self) -> str: ...
    @property
    def direction(self) -> str: ...
    @property
    def duration(self) -> float: ...


class MediaLike(Protocol):
    def stats(self) -> dict[str, Any]: ...


class TrackedCall(Protocol):
    """What :meth:`CallObserver.track` needs of a :class:`voicebot.call.Call`."""

    direction: str

    @property
    def finished(self) -> asyncio.Future[Any]: ...
    @property
    def media(self) -> Any: ...


@dataclass(frozen=True, slots=True, kw_only=True)
class CallEnd:
    direction: str
    answered: bool
    status: int
    outcome: str  # completed, dropped, busy, no_answer, rejected, auth_failed, network
    dropped: bool
    duration: float
    quality: MediaQuality | None


def classify(answered: bool, status: int, reason: str) -> str:
    """One outcome word for a call (the labels of ``voicebot_calls_total``)."""
    text = reason.lower()
    if answered:
        return "dropped" if any(r in text for r in DROP_REASONS) else "completed"
    if (status, reason) in ((408, NO_RESPONSE), (503, TRANSPORT_ERROR)):
        return "network"
    if status in BUSY:
        return "busy"
    if status in NO_ANSWER or text in ("cancelled", "no answer"):
        return "no_answer"
    if status in AUTH:
        return "auth_failed"
    return "rejected"


def call_end(result: CallResultLike, stats: Mapping[str, Any] | None = None) -> CallEnd:
    outcome = classify(result.answered, result.status, result.reason)
    has_media = bool(stats) and bool((stats or {}).get("codec"))
    return CallEnd(
        direction=result.direction,
        answered=result.answered,
        status=result.status,
        outcome=outcome,
        dropped=outcome == "dropped",
        duration=result.duration,
        quality=media_quality(stats) if has_media and stats is not None and result.answered else None,
    )


class CallObserver(BotObserver, Protocol):
    """The bot's reports (:class:`voicebot.bot.BotObserver`) and the calls' own."""

    def track(self, call: TrackedCall) -> None: ...
    def observe_call_end(self, end: CallEnd) -> None: ...
    def observe_amd(self, *, verdict: str, seconds: float) -> None: ...


__all__ = ["CallEnd", "CallObserver", "TrackedCall", "call_end", "classify"]
