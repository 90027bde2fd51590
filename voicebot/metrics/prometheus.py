"""The Prometheus side: :class:`Metrics` implements the observer interface
(:mod:`voicebot.metrics.observer`: it follows each tracked call's progress events) with
``prometheus-client`` metrics in its own registry, evaluates the alert rules, measures the
event loop's lag all the time it serves, and exposes ``/metrics`` over HTTP.

```python
metrics = Metrics()                                   # DEFAULT_RULES, or load_rules(path)
async with metrics.serving(port=9108) as (host, port):
    metrics.track(call)                               # for every call
```

Exposed (counters end in ``_total``): ``voicebot_calls_active{direction}``,
``voicebot_calls_total{direction,outcome,sip_status}``, ``voicebot_answer_ratio`` and
``voicebot_drop_ratio`` (over the last ``window`` calls), ``voicebot_turn_latency_seconds``,
``voicebot_asr_latency_seconds``, ``voicebot_asr_confidence``,
``voicebot_tts_synthesis_seconds``, ``voicebot_rtp_packets_total{kind}``,
``voicebot_rtp_loss_ratio``, ``voicebot_rtp_jitter_seconds``, ``voicebot_concealment_ratio``,
``voicebot_call_mos`` (histograms, one observation per call), ``voicebot_event_loop_lag_seconds``,
``voicebot_gc_pause_seconds{generation}`` and ``voicebot_gc_objects_frozen`` (the process's own,
kept by :mod:`voicebot.runtime` and read at scrape time: :mod:`voicebot.metrics.runtime_collector`),
``voicebot_event_loop_lag_max_seconds``, ``voicebot_amd_decisions_total{verdict}`` and
``voicebot_amd_decision_seconds``, ``voicebot_alert_active{alert}`` and
``voicebot_alert_value{alert}``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import AsyncIterator, Iterable
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

from voicebot import runtime
from voicebot.errors import ConfigError
from voicebot.metrics.alerts import DEFAULT_RULES, AlertBook, AlertChange, AlertRule
from voicebot.metrics.observer import CallEnd, TrackedCall, call_end
from voicebot.metrics.runtime_collector import RuntimeCollector
from voicebot.progress import CallerSaid, CallEvent, MachineDetection, PromptAudio

log = logging.getLogger("voicebot.alerts")

LATENCY_BUCKETS = (0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0)


class Metrics:
    """Prometheus metrics and alert rules for one process (see the module docstring)."""

    def __init__(self, rules: Iterable[AlertRule] = DEFAULT_RULES, *, window: int = 100) -> None:
        self.registry = CollectorRegistry()
        self.alerts = AlertBook(rules)
        r = self.registry
        self.active = Gauge("voicebot_calls_active", "Calls in progress", ["direction"], registry=r)
        self.calls = Counter(
            "voicebot_calls", "Calls ended, by outcome and final SIP status", ["direction", "outcome", "sip_status"],
            registry=r,
        )  # fmt: skip
        self.answer_ratio = Gauge("voicebot_answer_ratio", "Answered share of the last outbound calls", registry=r)
        self.drop_ratio = Gauge("voicebot_drop_ratio", "Dropped share of the last answered calls", registry=r)
        self.turn_latency = Histogram(
            "voicebot_turn_latency_seconds", "Caller stops talking -> bot reply queued", buckets=LATENCY_BUCKETS,
            registry=r,
        )  # fmt: skip
        self.asr_latency = Histogram(
            "voicebot_asr_latency_seconds", "End of utterance detected -> final recognition result",
            buckets=(0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 1.0, 2.0), registry=r,
        )  # fmt: skip
        self.asr_confidence = Histogram(
            "voicebot_asr_confidence", "Confidence of each recognised utterance",
            buckets=(0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95, 1.0), registry=r,
        )  # fmt: skip
        self.tts_seconds = Histogram(
            "voicebot_tts_synthesis_seconds", "Prompt asked for -> its first audio ready",
            buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0), registry=r,
        )  # fmt: skip
        self.rtp_packets = Counter("voicebot_rtp_packets", "Inbound RTP packets of ended calls", ["kind"], registry=r)
        self.rtp_loss = Histogram(
            "voicebot_rtp_loss_ratio", "Inbound RTP loss per call",
            buckets=(0.0, 0.001, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 1.0), registry=r,
        )  # fmt: skip
        self.jitter = Histogram(
            "voicebot_rtp_jitter_seconds", "Inbound interarrival jitter per call (RFC 3550)",
            buckets=(0.001, 0.005, 0.01, 0.02, 0.03, 0.05, 0.1, 0.2), registry=r,
        )  # fmt: skip
        self.concealment = Histogram(
            "voicebot_concealment_ratio", "Concealed share of the caller's played-out audio per call",
            buckets=(0.0, 0.001, 0.01, 0.02, 0.05, 0.1, 0.2, 1.0), registry=r,
        )  # fmt: skip
        self.mos = Histogram(
            "voicebot_call_mos", "Estimated MOS per call (E-model, ITU-T G.107)",
            buckets=(1.0, 2.0, 2.5, 3.0, 3.5, 3.8, 4.0, 4.2, 4.4, 4.5), registry=r,
        )  # fmt: skip
        r.register(RuntimeCollector())  # loop lag and GC pauses, as voicebot.runtime keeps them
        self.loop_lag_max = Gauge("voicebot_event_loop_lag_max_seconds", "Largest lag in the last second", registry=r)
        self.amd = Counter("voicebot_amd_decisions", "Answering-machine detection verdicts", ["verdict"], registry=r)
        self.amd_seconds = Histogram(
            "voicebot_amd_decision_seconds", "Answer -> answering-machine verdict",
            buckets=(0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 8.0), registry=r,
        )  # fmt: skip
        self.alert_active = Gauge("voicebot_alert_active", "1 while an alert rule fires", ["alert"], registry=r)
        self.alert_value = Gauge("voicebot_alert_value", "The statistic each alert rule last computed", ["alert"],
                                 registry=r)  # fmt: skip
        for rule in self.alerts.rules:
            self.alert_active.labels(alert=rule.name).set(0)
        self._answered: deque[int] = deque(maxlen=window)
        self._dropped: deque[int] = deque(maxlen=window)
        self.ends: list[CallEnd] = []  # the most recent call ends, newest last (bounded)
        self._lag_worst, self._lag_since = 0.0, time.monotonic()

    # ------------------------------------------------------------------ the observer interface
    def track(self, call: TrackedCall) -> None:
        """Follow ``call``: its speech and prompts as they happen, its outcome when it is over."""
        gauge = self.active.labels(direction=call.direction)
        gauge.inc()

        def ended(fut: asyncio.Future[Any]) -> None:
            gauge.dec()
            if fut.cancelled() or fut.exception() is not None:
                return
            result = fut.result()
            self.observe_call_end(call_end(result, result.media_stats))

        call.observe(self.observe_event)
        call.finished.add_done_callback(ended)

    def observe_event(self, event: CallEvent) -> None:
        """One progress event of a tracked call (:mod:`voicebot.progress`)."""
        if isinstance(event, CallerSaid):
            latency = event.at - event.endpointed if event.endpointed is not None else None
            self.observe_asr(confidence=event.confidence, latency=latency)
        elif isinstance(event, PromptAudio):
            if event.synthesis is not None:
                self.observe_tts(seconds=event.synthesis)
            if event.turn_latency is not None:
                self.observe_turn(latency=event.turn_latency)
        elif isinstance(event, MachineDetection) and event.seconds is not None:  # a verdict
            self.observe_amd(verdict=event.what, seconds=event.seconds)

    def observe_call_end(self, end: CallEnd) -> None:
        self.calls.labels(direction=end.direction, outcome=end.outcome, sip_status=str(end.status)).inc()
        self.ends = [*self.ends[-99:], end]
        if end.direction == "outbound":
            self._answered.append(int(end.answered))
            self.answer_ratio.set(sum(self._answered) / len(self._answered))
            self._signal("answered", float(end.answered))
        if end.answered:
            self._dropped.append(int(end.dropped))
            self.drop_ratio.set(sum(self._dropped) / len(self._dropped))
            self._signal("dropped", float(end.dropped))
        q = end.quality
        if q is not None:
            self.rtp_packets.labels(kind="received").inc(q.packets_received)
            self.rtp_packets.labels(kind="lost").inc(q.packets_lost)
            self.rtp_loss.observe(q.loss_ratio)
            self.jitter.observe(q.jitter_s)
            self.concealment.observe(q.concealment_ratio)
            self.mos.observe(q.mos)
            self._signal("rtp_loss", q.loss_ratio)
            self._signal("jitter", q.jitter_s)
            self._signal("mos", q.mos)

    def observe_asr(self, *, confidence: float, latency: float | None = None) -> None:
        self.asr_confidence.observe(confidence)
        self._signal("asr_confidence", confidence)
        if latency is not None:
            self.asr_latency.observe(latency)
            self._signal("asr_latency", latency)

    def observe_turn(self, *, latency: float) -> None:
        self.turn_latency.observe(latency)
        self._signal("turn_latency", latency)

    def observe_tts(self, *, seconds: float) -> None:
        self.tts_seconds.observe(seconds)
        self._signal("tts_seconds", seconds)

    def observe_amd(self, *, verdict: str, seconds: float) -> None:
        self.amd.labels(verdict=verdict).inc()
        self.amd_seconds.observe(seconds)
        self._signal("amd_unknown", float(verdict == "unknown"))

    # ------------------------------------------------------------------ alerts
    def _signal(self, signal: str, value: float) -> None:
        for change in self.alerts.observe(signal, value):
            self._alert(change)
        for name, value_now in self.alerts.values.items():
            if value_now is not None:
                self.alert_value.labels(alert=name).set(value_now)

    def _alert(self, change: AlertChange) -> None:
        self.alert_active.labels(alert=change.rule.name).set(1 if change.firing else 0)
        state = "FIRING" if change.firing else "resolved"
        log.warning(
            "alert %s %s: %s (now %.3g over %d)",
            change.rule.name, state, change.rule.describe(), change.value, change.samples,
        )  # fmt: skip

    # ------------------------------------------------------------------ serving
    def observe_loop_lag(self, lag: float) -> None:
        """One lag of the loop's monitor: the worst of each second feeds the gauge and the alerts."""
        self._lag_worst = max(self._lag_worst, lag)
        now = time.monotonic()
        if now - self._lag_since >= 1.0:
            self.loop_lag_max.set(self._lag_worst)
            self._signal("loop_lag", self._lag_worst)
            self._lag_worst, self._lag_since = 0.0, now

    @contextlib.asynccontextmanager
    async def serving(self, port: int, host: str = "127.0.0.1") -> AsyncIterator[tuple[str, int]]:
        """Serve ``/metrics`` on ``host:port`` (0: any free port); meanwhile the loop's lag is
        measured (:func:`voicebot.runtime.watching_loop`, shared with ``serve --stats``) and
        every garbage collection timed."""
        try:
            server, thread = start_http_server(port, host, registry=self.registry)
        except OSError as exc:
            raise ConfigError(f"cannot serve metrics on {host}:{port}: {exc.strerror or exc}") from None
        runtime.watch_gc()
        try:
            with runtime.watching_loop() as monitor:
                monitor.listeners.append(self.observe_loop_lag)
                try:
                    bound = server.server_address
                    yield str(bound[0]), int(bound[1])
                finally:
                    monitor.listeners.remove(self.observe_loop_lag)
        finally:
            await asyncio.to_thread(server.shutdown)
            server.server_close()
            thread.join(timeout=5)


__all__ = ["Metrics"]
