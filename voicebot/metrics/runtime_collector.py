"""The process's own histograms in Prometheus: event-loop lag and GC pauses.

:mod:`voicebot.runtime` keeps them (the lag monitor and the GC callback observe into them);
this collector reads :func:`voicebot.runtime.stats` when Prometheus scrapes and turns its
cumulative buckets into histogram families, so nothing is counted twice and a scrape always
shows what ``serve --stats`` would write at that moment:

* ``voicebot_event_loop_lag_seconds`` — how late the loop ran the 50 ms lag probe;
* ``voicebot_gc_pause_seconds{generation}`` — how long each collection stopped the process,
  by the generation it collected (0, 1, 2);
* ``voicebot_gc_objects_frozen`` — objects moved to the permanent generation at start-up.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from voicebot import runtime


def _buckets(snapshot: Mapping[str, Any]) -> list[tuple[str, float]]:
    """A :meth:`voicebot.runtime.Histogram.snapshot`'s cumulative counts, ``+Inf`` last."""
    return [(le, float(n)) for le, n in snapshot["le"].items()]


class RuntimeCollector(Collector):
    """Loop lag and GC pauses of this process, read from :mod:`voicebot.runtime` at scrape time."""

    def collect(self) -> Iterator[Metric]:
        now = runtime.stats()
        lag = now["loop_lag"]
        loop = HistogramMetricFamily(
            "voicebot_event_loop_lag_seconds", "How late the event loop ran its 50 ms lag probe",
            buckets=_buckets(lag), sum_value=lag["sum"],
        )  # fmt: skip
        yield loop
        pauses = HistogramMetricFamily(
            "voicebot_gc_pause_seconds", "How long each garbage collection paused the process, by generation",
            labels=["generation"],
        )  # fmt: skip
        for generation, h in sorted(now["gc_pauses"].items()):
            pauses.add_metric([generation], _buckets(h), h["sum"])
        yield pauses
        yield GaugeMetricFamily(
            "voicebot_gc_objects_frozen", "Objects moved to the permanent generation after start-up (gc.freeze)",
            value=float(now["gc_frozen"]),
        )  # fmt: skip


__all__ = ["RuntimeCollector"]
