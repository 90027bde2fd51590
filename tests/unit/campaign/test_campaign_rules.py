"""The calling rules as pure functions of the time passed in."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from voicebot.campaign import rules
from voicebot.campaign.rules import Decision, backoff, cap_day, decide, next_day_start, next_opening, window_open
from voicebot.campaign.spec import Window, format_duration, parse_duration, parse_time_of_day
from voicebot.errors import ConfigError

NY, SEOUL, LA, PARIS = (ZoneInfo(z) for z in ("America/New_York", "Asia/Seoul", "America/Los_Angeles",
                                               "Europe/Paris"))


def utc(*args: int) -> float:
    return dt.datetime(*args, tzinfo=dt.UTC).timestamp()


@pytest.mark.parametrize("text, seconds", [("90s", 90), ("30m", 1800), ("2h", 7200), ("1d", 86400), ("1.5s", 1.5)])
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds
    assert parse_duration(format_duration(seconds)) == seconds


@pytest.mark.parametrize("bad", ["", "90", "5 minutes", "2w", "-1s", "1h30m"])
def test_bad_durations(bad: str) -> None:
    with pytest.raises(ConfigError, match="90s, 30m, 2h or 1d"):
        parse_duration(bad)


def test_times_and_windows() -> None:
    assert parse_time_of_day("09:30") == 570 and parse_time_of_day("23:59") == 1439
    for bad in ("24:00", "9.30", "09:60", "noon"):
        with pytest.raises(ConfigError):
            parse_time_of_day(bad)
    day = Window.parse("09:00-20:00")
    assert day.contains(540) and day.contains(1199) and not day.contains(1200) and not day.contains(539)
    night = Window.parse("21:00-02:00")  # crosses midnight
    assert night.contains(1300) and night.contains(60) and not night.contains(600)
    assert Window.parse("00:00-00:00").contains(0) and str(night) == "21:00-02:00"
    with pytest.raises(ConfigError):
        Window.parse("09:00")


# (kind, attempts made, outcome) -> decision, with max_attempts=3 and retry_after=60 at now=1000
DECISIONS = [
    ("answered", 1, "confirmed", Decision(status="done")),
    ("answered", 1, "callback", Decision(status="pending", retry_at=1060)),
    ("answered", 3, "callback", Decision(status="done")),
    ("busy", 1, None, Decision(status="pending", retry_at=1060)),
    ("busy", 2, None, Decision(status="pending", retry_at=1120)),
    ("busy", 3, None, Decision(status="failed")),
    ("no_answer", 2, None, Decision(status="pending", retry_at=1120)),
    ("network", 1, None, Decision(status="pending", retry_at=1060)),
    ("failed", 1, None, Decision(status="pending", retry_at=1060)),
    ("interrupted", 3, None, Decision(status="failed")),
    ("rejected", 1, None, Decision(status="failed")),
]


@pytest.mark.parametrize("kind, attempts, outcome, expected", DECISIONS)
def test_retry_table(kind: str, attempts: int, outcome: str | None, expected: Decision) -> None:
    assert decide(kind, attempts=attempts, max_attempts=3, retry_after=60, now=1000, outcome=outcome) == expected


def test_every_kind_has_a_rule_and_unknown_kinds_are_refused() -> None:
    assert set(rules.RULES) == {"answered", "busy", "no_answer", "network", "failed", "interrupted", "rejected"}
    with pytest.raises(ValueError, match="unknown attempt kind"):
        decide("maybe", attempts=1, max_attempts=3, retry_after=60, now=0)
    assert backoff(60, 1) == 60 and backoff(60, 4) == 480 and backoff(3600, 10) == rules.MAX_BACKOFF_S


def test_window_in_several_zones_opens_when_all_are_open() -> None:
    w = Window.parse("09:00-17:00")
    now = utc(2026, 3, 2, 13, 0)  # 08:00 New York, 05:00 Los Angeles
    assert not window_open(w, [NY], now)
    assert next_opening(w, [NY], now) == utc(2026, 3, 2, 14, 0)
    assert next_opening(w, [NY, LA], now) == utc(2026, 3, 2, 17, 0)  # 09:00 in LA, 12:00 in NY
    assert window_open(w, [NY, LA], utc(2026, 3, 2, 17, 0)) and not window_open(w, [NY, LA], utc(2026, 3, 2, 22, 0))
    assert next_opening(w, [SEOUL, NY], now) is None  # 09-17 in Seoul and in New York never overlap
    assert next_opening(w, [NY], utc(2026, 3, 2, 15, 0)) == utc(2026, 3, 2, 15, 0)  # open now: now


def test_window_follows_daylight_saving_time() -> None:
    w = Window.parse("09:00-17:00")
    # New York moves to EDT on 2026-03-08: 09:00 local is 14:00 UTC before, 13:00 UTC after
    assert next_opening(w, [NY], utc(2026, 3, 7, 23, 0)) == utc(2026, 3, 8, 13, 0)
    assert next_opening(w, [NY], utc(2026, 3, 6, 23, 0)) == utc(2026, 3, 7, 14, 0)


def test_cap_days_in_the_campaigns_zone() -> None:
    late = utc(2026, 3, 2, 23, 30)  # 00:30 on the 3rd in Paris
    assert cap_day(PARIS, late) == "2026-03-03" and cap_day(ZoneInfo("UTC"), late) == "2026-03-02"
    assert next_day_start(PARIS, late) == utc(2026, 3, 3, 23, 0)
    assert next_day_start(SEOUL, utc(2026, 3, 2, 1, 0)) == utc(2026, 3, 2, 15, 0)
