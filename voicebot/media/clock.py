"""One media clock per event loop: a single 20 ms tick that serves every stream on the loop.

A worker with two hundred calls used to run two hundred ``call_at`` timers, each waking the
loop on its own 20 ms grid. The :class:`MediaClock` wakes once per 20 ms, on an accumulated
monotonic deadline (``start + n * 20 ms``, never ``now + 20 ms``, so it never drifts), and in
that one pass calls ``tick(now)`` on every registered stream; each stream sends the frames
its own RTP clock says are due (usually one; after a late wake-up, the ones it missed).

Streams start on the clock's grid (:meth:`MediaClock.next_tick`), so their frames fall due on
the ticks. The clock stops when the last stream leaves and starts again with the next one;
two seconds after it stopped, and again once the last calls' SIP transactions have expired,
it hands the freed C heap back to the system (:func:`voicebot.runtime.trim_heap`).
How late a call's frames were played is in that call's report (the stream's ``media-clock``
statistics); the loop's own lateness in :data:`voicebot.runtime.LOOP_LAG`.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from typing import Protocol

from voicebot.media.frames import FRAME_SECONDS
from voicebot.runtime import trim_heap

log = logging.getLogger(__name__)

_CLOCKS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, MediaClock] = weakref.WeakKeyDictionary()

PTIME = FRAME_SECONDS
# seconds without streams after which the freed heap goes back to the system: soon, and again
# once the ended calls' SIP transactions have expired too (Timers J and L, 64 x T1 = 32 s)
IDLE_TRIM_AFTER = (2.0, 35.0)


class ClockedStream(Protocol):
    def tick(self, now: float) -> None: ...


class MediaClock:
    """The 20 ms tick of one event loop. Get it with :meth:`for_loop`."""

    def __init__(self, loop: asyncio.AbstractEventLoop, *, ptime: float = PTIME) -> None:
        self._loop = loop
        self.ptime = ptime
        self._streams: dict[int, ClockedStream] = {}
        self._handle: asyncio.TimerHandle | None = None
        self._deadline = 0.0
        self.ticks = 0
        self.ticks_skipped = 0

    @classmethod
    def for_loop(cls, loop: asyncio.AbstractEventLoop | None = None) -> MediaClock:
        """The clock of ``loop`` (the running loop by default), created on first use."""
        loop = loop or asyncio.get_running_loop()
        clock = _CLOCKS.get(loop)
        if clock is None:
            clock = _CLOCKS[loop] = cls(loop)
        return clock

    def __len__(self) -> int:
        return len(self._streams)

    def next_tick(self) -> float:
        """The loop time of the next tick (where a stream that starts now should anchor)."""
        if self._handle is None:
            return self._loop.time()
        return self._deadline

    def register(self, stream: ClockedStream) -> None:
        """Tick ``stream`` from the next tick on (registering twice is harmless)."""
        self._streams[id(stream)] = stream
        if self._handle is None:
            self._deadline = self._loop.time()
            self._handle = self._loop.call_at(self._deadline, self._tick)

    def unregister(self, stream: ClockedStream) -> None:
        self._streams.pop(id(stream), None)
        if not self._streams and self._handle is not None:
            self._handle.cancel()
            self._handle = None
            for delay in IDLE_TRIM_AFTER:
                self._loop.call_later(delay, self._trim_if_idle)

    def _trim_if_idle(self) -> None:
        if not self._streams:  # no media to disturb: the pause of the trim costs nobody a frame
            trim_heap()

    def _tick(self) -> None:
        # uvloop keeps time in whole milliseconds and may run a timer a fraction of a
        # millisecond before its deadline: never let a tick look earlier than its deadline
        now = max(self._loop.time(), self._deadline)
        self.ticks += 1
        for stream in list(self._streams.values()):
            try:
                stream.tick(now)
            except Exception:  # one broken stream must not stop every other call's audio
                log.exception("media clock: a stream failed its tick")
        if not self._streams:
            self._handle = None
            return
        self._deadline += self.ptime
        if self._deadline <= now:
            # the loop stalled past whole ticks: the streams catch up on their own RTP clocks
            # (frames_due), so the clock does not fire the missed ticks back to back
            missed = int((now - self._deadline) / self.ptime) + 1
            self._deadline += missed * self.ptime
            self.ticks_skipped += missed
        self._handle = self._loop.call_at(self._deadline, self._tick)


__all__ = ["PTIME", "ClockedStream", "MediaClock"]
