"""The process runtime: histograms, GC settling, the loop choice and the loop-lag monitor."""

from __future__ import annotations

import asyncio
import gc
import time

import pytest

from voicebot import runtime


def test_histogram_buckets_are_cumulative_like_prometheus() -> None:
    h = runtime.Histogram((0.001, 0.01, 0.1))
    for v in (0.0005, 0.002, 0.003, 0.05, 0.5):
        h.observe(v)
    snap = h.snapshot()
    assert snap["le"] == {"0.001": 1, "0.01": 3, "0.1": 4, "+Inf": 5}
    assert snap["count"] == 5 and snap["max"] == 0.5
    assert h.over(0.01) == 2


@pytest.mark.parametrize(("mode", "frozen", "thresholds"), [("off", False, None), ("freeze", True, None),
                                                             ("tuned", True, runtime.GC_THRESHOLDS)])  # fmt: skip
def test_settle_gc_modes(monkeypatch: pytest.MonkeyPatch, mode: str, frozen: bool,
                         thresholds: tuple[int, int, int] | None) -> None:  # fmt: skip
    before = gc.get_threshold()
    monkeypatch.setenv("VOICEBOT_GC", mode)
    try:
        runtime.settle_gc()
        assert (gc.get_freeze_count() > 0) == frozen
        assert gc.get_threshold() == (thresholds or before)
        gc.collect(0)
        assert runtime.GC_PAUSES[0].count > 0  # collections are timed once settled
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)


@pytest.mark.parametrize("loop", ["asyncio", "uvloop"])
def test_run_picks_the_loop(monkeypatch: pytest.MonkeyPatch, loop: str) -> None:
    monkeypatch.setenv("VOICEBOT_LOOP", loop if loop == "asyncio" else "")

    async def which() -> str:
        return runtime.loop_name()

    assert runtime.run(which()) == loop


def test_loop_lag_monitor_sees_a_blocked_loop() -> None:
    h = runtime.Histogram()

    async def main() -> None:
        mon = runtime.LoopLagMonitor(0.01, h)
        mon.start()
        await asyncio.sleep(0.05)
        time.sleep(0.12)  # a slow callback
        await asyncio.sleep(0.05)
        mon.stop()

    asyncio.run(main())
    assert h.max >= 0.1 and h.count >= 5
    assert runtime.stats()["loop_lag"]["count"] >= 0  # the exporter's view is plain data


def test_name_os_thread_names_the_kernel_thread() -> None:
    """The ASR pool's threads carry their Python name in /proc, where per-thread CPU is read."""
    import concurrent.futures
    import threading

    def comm() -> str:
        with open(f"/proc/self/task/{threading.get_native_id()}/comm") as f:
            return f.read().strip()

    with concurrent.futures.ThreadPoolExecutor(
        1, thread_name_prefix="voicebot-test-long-name", initializer=runtime.name_os_thread
    ) as pool:
        assert pool.submit(comm).result() == "voicebot-test-long-name_0"[:15]
    with concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="voicebot-plain") as pool:
        assert pool.submit(comm).result() != "voicebot-plain_0"
