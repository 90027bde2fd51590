"""The process's loop-lag and GC-pause histograms in Prometheus: read from voicebot.runtime when
scraped (no second count), and one lag monitor per loop however many users want it."""

from __future__ import annotations

import asyncio
import gc

from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from voicebot import runtime
from voicebot.metrics import Metrics


def _samples(metrics: Metrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = generate_latest(metrics.registry).decode()
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for f in text_string_to_metric_families(text) for s in f.samples}  # fmt: skip


def test_a_scrape_reads_the_runtime_histograms_as_they_are_then() -> None:
    metrics = Metrics()
    before = _samples(metrics)
    runtime.LOOP_LAG.observe(0.003)
    runtime.LOOP_LAG.observe(0.3)
    runtime.watch_gc()
    pauses = runtime.GC_PAUSES[2].count
    gc.collect()  # a full collection, timed by the runtime's callback
    after = _samples(metrics)

    lag = "voicebot_event_loop_lag_seconds"
    assert after[(f"{lag}_count", ())] - before[(f"{lag}_count", ())] == 2
    assert after[(f"{lag}_sum", ())] - before[(f"{lag}_sum", ())] >= 0.303 - 1e-6
    for le, new in (("0.002", 0), ("0.005", 1), ("0.16", 1), ("0.32", 2), ("+Inf", 2)):  # cumulative buckets
        key = (f"{lag}_bucket", (("le", le),))
        assert after[key] - before[key] == new, le
    assert after[(f"{lag}_bucket", (("le", "+Inf"),))] == after[(f"{lag}_count", ())]

    gen2 = ("voicebot_gc_pause_seconds_count", (("generation", "2"),))
    assert runtime.GC_PAUSES[2].count == pauses + 1
    assert after[gen2] == pauses + 1 and after[gen2] - before.get(gen2, 0) == 1
    assert {("generation", g) for g in "012"} <= {k[1][0] for k in after if k[0] == "voicebot_gc_pause_seconds_count"}


def test_users_of_one_loop_share_its_lag_monitor() -> None:
    async def main() -> None:
        with runtime.watching_loop() as first, runtime.watching_loop() as second:
            assert first is second
            seen: list[float] = []
            first.listeners.append(seen.append)
            count = runtime.LOOP_LAG.count
            await asyncio.sleep(0.26)
            assert len(seen) == runtime.LOOP_LAG.count - count >= 3  # each probe counted once
        with runtime.watching_loop() as third:  # the last user left: a new monitor
            assert third is not first

    asyncio.run(main())
