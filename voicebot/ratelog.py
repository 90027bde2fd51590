"""Rate-limited logging for errors that a peer can cause once per packet or per connection.

A flood must not turn into a flood of log lines (or of tracebacks): :class:`RateLimitedLog`
lets at most one record per ``interval`` seconds through for each key, counts the rest, and
says how many were held back on the next record that goes out.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable


class RateLimitedLog:
    """``log(key, level, msg, *args)``: at most one record per ``interval`` per key."""

    def __init__(
        self, logger: logging.Logger, interval: float = 1.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.logger = logger
        self.interval = interval
        self._clock = clock
        self._last: dict[str, float] = {}
        self._held: dict[str, int] = {}

    def log(
        self, key: str, level: int, msg: str, *args: object, exc_info: BaseException | None = None
    ) -> bool:
        """Log unless ``key`` logged less than ``interval`` ago; True when the record went out."""
        now = self._clock()
        last = self._last.get(key)
        if last is not None and now - last < self.interval:
            self._held[key] = self._held.get(key, 0) + 1
            return False
        if len(self._last) > 1024:  # keys come from a small fixed set; stay bounded regardless
            self._last.clear()
        self._last[key] = now
        held = self._held.pop(key, 0)
        if held:
            msg = f"{msg} (and {held} more like it since the last report)"
        self.logger.log(level, msg, *args, exc_info=exc_info)
        return True

    @property
    def held_back(self) -> int:
        """Records held back since they were last reported."""
        return sum(self._held.values())
