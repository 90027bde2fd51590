"""How people write campaign settings: durations (``90s``, ``30m``, ``2h``, ``1d``), times of
day (``HH:MM``, 24-hour) and calling windows (``HH:MM-HH:MM``, may cross midnight).

Every parser raises :class:`~voicebot.errors.ConfigError` with a message that says what to
write instead, so the command line turns it into a one-line error and exit code 2.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from voicebot.errors import ConfigError

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_DURATION_RE = re.compile(r"(\d+(?:\.\d+)?)([smhd])")
_TIME_RE = re.compile(r"([01]?\d|2[0-3]):([0-5]\d)")


def parse_duration(text: str) -> float:
    """``90s`` / ``30m`` / ``2h`` / ``1d`` (a number and one unit) -> seconds."""
    m = _DURATION_RE.fullmatch(text.strip())
    if m is None:
        raise ConfigError(f"expected a duration like 90s, 30m, 2h or 1d, got {text!r}")
    return float(m.group(1)) * _UNITS[m.group(2)]


def format_duration(seconds: float) -> str:
    """The shortest exact spelling of ``seconds`` that :func:`parse_duration` reads back."""
    for unit in ("d", "h", "m"):
        size = _UNITS[unit]
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"


def parse_time_of_day(text: str) -> int:
    """``HH:MM`` (24-hour) -> minutes after midnight."""
    m = _TIME_RE.fullmatch(text.strip())
    if m is None:
        raise ConfigError(f"expected a time of day as HH:MM (24-hour), got {text!r}")
    return int(m.group(1)) * 60 + int(m.group(2))


@dataclass(frozen=True, slots=True, kw_only=True)
class Window:
    """Calling hours as minutes after local midnight: ``start`` inclusive, ``end`` exclusive.

    ``end < start`` crosses midnight (``21:00-02:00``); ``start == end`` is all day.
    """

    start: int
    end: int

    @classmethod
    def parse(cls, text: str) -> Window:
        parts = text.split("-")
        if len(parts) != 2:
            raise ConfigError(f"expected a calling window as HH:MM-HH:MM, got {text!r}")
        return cls(start=parse_time_of_day(parts[0]), end=parse_time_of_day(parts[1]))

    def contains(self, minute: int) -> bool:
        if self.start == self.end:
            return True
        if self.start < self.end:
            return self.start <= minute < self.end
        return minute >= self.start or minute < self.end

    def __str__(self) -> str:
        return f"{self.start // 60:02d}:{self.start % 60:02d}-{self.end // 60:02d}:{self.end % 60:02d}"


ALL_DAY = Window(start=0, end=0)


def zone(name: str) -> ZoneInfo:
    """An IANA time zone by name (``Europe/Paris``)."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"unknown time zone {name!r}; use an IANA name such as Europe/Paris") from None
