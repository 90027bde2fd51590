"""The process a worker runs in: its event loop, its garbage collector, and how late both make it.

* :func:`run` runs a coroutine on uvloop when it is installed (a Linux dependency) and on the
  standard asyncio loop otherwise, or when ``VOICEBOT_LOOP=asyncio`` asks for it.
* :func:`settle_gc` is called once start-up is done (sockets bound, modules imported, models
  loaded): it collects, moves every surviving object into the permanent generation
  (``gc.freeze()``) so later full collections never walk them again, and sets thresholds
  under which the young generations are collected in small steps. Measured with the GC-pause
  histogram in ``benchmarks/capacity.py``.
* :class:`LoopLagMonitor` wakes on an accumulated deadline and records how late the loop woke
  it; :func:`watching_loop` shares one per loop among its users (``serve``, the Prometheus
  endpoint), so the lag is measured once however many want it. How late the media clock runs
  for one call is in that call's report (``media-clock`` in its media statistics).
* :func:`stats` is the one function exporters read (the Prometheus metrics at scrape time,
  ``serve --stats``): loop lag and GC pause histograms, GC counts, the loop in use, RSS.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import threading
import time
import weakref
from collections.abc import Callable, Coroutine, Iterator
from typing import Any, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")

# Upper bounds (seconds) of the histogram buckets, Prometheus style (the last one is +Inf).
BUCKETS: tuple[float, ...] = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64)

# The young generation is collected after this many net new container objects (CPython's
# default is 700). Larger steps mean fewer collections, each still well under a millisecond.
GC_THRESHOLDS = (10_000, 20, 100)


class Histogram:
    """Counts of observations (seconds) per bucket, with their sum, count and maximum."""

    __slots__ = ("buckets", "count", "counts", "max", "sum")

    def __init__(self, buckets: tuple[float, ...] = BUCKETS) -> None:
        self.buckets = buckets
        self.counts = [0] * (len(buckets) + 1)
        self.count = 0
        self.sum = 0.0
        self.max = 0.0

    def observe(self, value: float) -> None:
        i = 0
        for bound in self.buckets:
            if value <= bound:
                break
            i += 1
        self.counts[i] += 1
        self.count += 1
        self.sum += value
        if value > self.max:
            self.max = value

    def over(self, limit: float) -> int:
        """How many observations were above ``limit`` (which must be a bucket bound)."""
        i = self.buckets.index(limit)
        return sum(self.counts[i + 1 :])

    def reset(self) -> None:
        self.counts = [0] * (len(self.buckets) + 1)
        self.count = 0
        self.sum = 0.0
        self.max = 0.0

    def snapshot(self) -> dict[str, Any]:
        """``le`` -> cumulative count (Prometheus' shape), plus count, sum and max."""
        cumulative: dict[str, int] = {}
        running = 0
        for bound, n in zip((*map(str, self.buckets), "+Inf"), self.counts, strict=True):
            running += n
            cumulative[bound] = running
        return {"le": cumulative, "count": self.count, "sum": round(self.sum, 6), "max": round(self.max, 6)}


LOOP_LAG = Histogram()
GC_PAUSES: dict[int, Histogram] = {0: Histogram(), 1: Histogram(), 2: Histogram()}
_gc_started: list[float] = []
_gc_frozen = 0


def _gc_callback(phase: str, info: dict[str, int]) -> None:
    if phase == "start":
        _gc_started.append(time.perf_counter())
    elif _gc_started:
        GC_PAUSES[info.get("generation", 2)].observe(time.perf_counter() - _gc_started.pop())


def watch_gc() -> None:
    """Time every collection into :data:`GC_PAUSES` (idempotent)."""
    if _gc_callback not in gc.callbacks:
        gc.callbacks.append(_gc_callback)


def settle_gc(*, freeze: bool = True, thresholds: tuple[int, int, int] | None = GC_THRESHOLDS) -> None:
    """Call once start-up is done: collect, freeze the survivors, and set the thresholds.

    ``VOICEBOT_GC=freeze`` keeps CPython's thresholds, ``VOICEBOT_GC=off`` does neither (both
    only for comparing, as ``benchmarks/capacity.py`` does).
    """
    global _gc_frozen
    mode = os.environ.get("VOICEBOT_GC", "tuned").lower()
    if mode in ("freeze", "off"):
        thresholds = None
        freeze = freeze and mode == "freeze"
    gc.collect()  # start-up's own collection is not timed: no call is up yet
    watch_gc()
    if freeze:
        gc.freeze()
        _gc_frozen = gc.get_freeze_count()
    if thresholds is not None:
        gc.set_threshold(*thresholds)


class LoopLagMonitor:
    """Wakes every ``interval`` seconds on an accumulated deadline and records the lateness."""

    def __init__(self, interval: float = 0.05, histogram: Histogram = LOOP_LAG) -> None:
        self.interval = interval
        self.histogram = histogram
        self.listeners: list[Callable[[float], None]] = []  # each lag too, as it is measured
        self._loop: asyncio.AbstractEventLoop | None = None
        self._handle: asyncio.TimerHandle | None = None
        self._deadline = 0.0

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._deadline = self._loop.time() + self.interval
        self._handle = self._loop.call_at(self._deadline, self._wake)

    def _wake(self) -> None:
        assert self._loop is not None
        now = self._loop.time()
        lag = max(0.0, now - self._deadline)
        self.histogram.observe(lag)
        for listener in list(self.listeners):
            listener(lag)
        self._deadline += self.interval
        if self._deadline <= now:  # more than a whole interval late: re-anchor, do not burst
            self._deadline = now + self.interval
        self._handle = self._loop.call_at(self._deadline, self._wake)

    def stop(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None


_WATCHING: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, tuple[LoopLagMonitor, int]] = (
    weakref.WeakKeyDictionary()
)


@contextlib.contextmanager
def watching_loop() -> Iterator[LoopLagMonitor]:
    """The running loop's lag monitor (into :data:`LOOP_LAG`), started by its first user and
    stopped when the last one leaves."""
    loop = asyncio.get_running_loop()
    monitor, users = _WATCHING.get(loop, (None, 0))
    if monitor is None:
        monitor = LoopLagMonitor()
        monitor.start()
    _WATCHING[loop] = (monitor, users + 1)
    try:
        yield monitor
    finally:
        _, users = _WATCHING[loop]
        if users == 1:
            monitor.stop()
            del _WATCHING[loop]
        else:
            _WATCHING[loop] = (monitor, users - 1)


def loop_name(loop: asyncio.AbstractEventLoop | None = None) -> str:
    loop = loop or asyncio.get_running_loop()
    return "uvloop" if type(loop).__module__.startswith("uvloop") else "asyncio"


def _loop_factory() -> Any:
    if os.environ.get("VOICEBOT_LOOP", "").lower() == "asyncio":
        return None
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


def run(main: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run`` on uvloop when installed (``VOICEBOT_LOOP=asyncio`` for the default loop)."""
    with asyncio.Runner(loop_factory=_loop_factory()) as runner:
        return runner.run(main)


_libc: Any = None
_PR_SET_NAME = 15  # prctl(2): name the calling thread


def _glibc() -> Any:
    """glibc through ctypes, or False where there is none (loaded once)."""
    global _libc
    if _libc is None:
        try:
            import ctypes

            _libc = ctypes.CDLL("libc.so.6")
            _libc.malloc_trim.argtypes = [ctypes.c_size_t]
        except (OSError, AttributeError):
            _libc = False
    return _libc


def trim_heap() -> bool:
    """Give the C heap's free pages back to the system (glibc ``malloc_trim``); False elsewhere.

    A worker that held many calls keeps their freed memory mapped; the media clock calls this
    once the worker has no calls left, so the memory comes back when the load is gone.
    """
    libc = _glibc()
    if not libc:
        return False
    libc.malloc_trim(0)
    return True


def name_os_thread() -> None:
    """Give the calling thread's Python name to its OS thread (its first 15 bytes), so
    ``/proc/PID/task/*/comm`` tells whose CPU a thread used (``benchmarks/botcalls.py`` splits
    a bot call's CPU into ASR, TTS and the event loop that way). A ``ThreadPoolExecutor``
    initializer; does nothing where glibc is missing."""
    libc = _glibc()
    if libc:
        libc.prctl(_PR_SET_NAME, threading.current_thread().name.encode()[:15], 0, 0, 0)


def rss_bytes() -> int:
    """Resident set size of this process (Linux /proc; 0 where unavailable)."""
    with contextlib.suppress(OSError, ValueError, IndexError), open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    return 0


def stats() -> dict[str, Any]:
    """Everything an exporter needs, as plain data (seconds, counts, bytes)."""
    loop: str | None = None
    with contextlib.suppress(RuntimeError):
        loop = loop_name()
    return {
        "loop": loop,
        "loop_lag": LOOP_LAG.snapshot(),
        "gc_pauses": {str(g): h.snapshot() for g, h in GC_PAUSES.items()},
        "gc_counts": list(gc.get_count()),
        "gc_thresholds": list(gc.get_threshold()),
        "gc_frozen": _gc_frozen,
        "rss_bytes": rss_bytes(),
    }


__all__ = [
    "GC_PAUSES",
    "LOOP_LAG",
    "Histogram",
    "LoopLagMonitor",
    "loop_name",
    "name_os_thread",
    "rss_bytes",
    "run",
    "settle_gc",
    "stats",
    "trim_heap",
    "watch_gc",
    "watching_loop",
]
