"""How the metrics learn about calls: from the call itself.

``observer.track(call)`` is the one line a command adds per call. The observer then follows
the call's progress events (``call.observe``, :mod:`voicebot.progress`): each recognised
utterance (:class:`~voicebot.progress.CallerSaid`: confidence, and the recogniser's latency
from the endpoint to the final result) and each prompt's first audio
(:class:`~voicebot.progress.PromptAudio`: synthesis time, and the turn latency when it
answers the caller); when the call has finished, its :class:`~voicebot.call.CallResult` gives
the outcome and the RTP statistics. :class:`voicebot.metrics.Metrics` is the Prometheus
implementation::

    observer.track(call)                                  # a call began; the rest follows from it
    observer.observe_amd(verdict="machine", seconds=2.1)  # answering-machine detection
    observer.observe_call_end(call_end(result, stats))    # a call that is not tracked
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from voicebot.metrics.quality import MediaQuality, media_quality
from voicebot.progress import CallEvent
from voicebot.report import classify


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


class TrackedCall(Protocol):
    """What :meth:`CallObserver.track` needs of a :class:`voicebot.call.Call`."""

    direction: str

    @property
    def finished(self) -> asyncio.Future[Any]: ...
    def observe(self, callback: Callable[[CallEvent], None]) -> None: ...


@dataclass(frozen=True, slots=True, kw_only=True)
class CallEnd:
    direction: str
    answered: bool
    status: int
    outcome: str  # completed, dropped, busy, no_answer, rejected, auth_failed, network
    dropped: bool
    duration: float
    quality: MediaQuality | None


def call_end(result: CallResultLike, stats: Mapping[str, Any] | None = None) -> CallEnd:
    outcome = classify(result.answered, result.status, result.reason)
    return CallEnd(
        direction=result.direction,
        answered=result.answered,
        status=result.status,
        outcome=outcome,
        dropped=outcome == "dropped",
        duration=result.duration,
        quality=media_quality(stats) if stats and result.answered else None,
    )


class CallObserver(Protocol):
    """What follows calls for monitoring (:class:`voicebot.metrics.Metrics` implements it)."""

    def track(self, call: TrackedCall) -> None: ...
    def observe_call_end(self, end: CallEnd) -> None: ...
    def observe_amd(self, *, verdict: str, seconds: float) -> None: ...


__all__ = ["CallEnd", "CallObserver", "TrackedCall", "call_end", "classify"]
