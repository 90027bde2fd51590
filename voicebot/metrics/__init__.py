"""Monitoring: Prometheus metrics of calls, turns, speech and media quality, event-loop lag,
and alert rules (:mod:`voicebot.metrics.alerts`). The call and bot code report through the
small :class:`~voicebot.metrics.observer.CallObserver` interface."""

from __future__ import annotations

from voicebot.metrics.alerts import DEFAULT_RULES, AlertBook, AlertRule, load_rules
from voicebot.metrics.observer import CallEnd, CallObserver, call_end, classify
from voicebot.metrics.prometheus import Metrics
from voicebot.metrics.quality import MediaQuality, media_quality

__all__ = [
    "DEFAULT_RULES",
    "AlertBook",
    "AlertRule",
    "CallEnd",
    "CallObserver",
    "MediaQuality",
    "Metrics",
    "call_end",
    "classify",
    "load_rules",
    "media_quality",
]
