"""The calling rules as pure functions of the time passed in (DESIGN.md rule 2).

* **Retries** — :data:`RULES` is the table ``attempt kind -> (retry?, final status)``: busy, no
  answer, network failure, a local failure and an attempt interrupted by a crash are retried
  with exponential backoff (``retry_after × 2^(n-1)``, at most a day) until ``max_attempts``;
  a rejection is final at once; an answered call is final unless the flow asked for a callback
  (outcome :data:`CALLBACK_OUTCOME`).
* **Calling windows** — local hours in the callee's time zones. A number whose zone is not
  certain (phonenumbers gives several for a region) may be called only while the window is
  open in *every* candidate zone.
* **Daily cap** — counted per calendar day in the campaign's time zone: :func:`cap_day` names
  the day, :func:`next_day_start` says when the next one begins.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from voicebot.campaign.spec import Window

MAX_BACKOFF_S = 86400.0
CALLBACK_OUTCOME = "callback"

# Contact statuses. Waiting ones may still be dialled; final ones never again.
PENDING, CAPPED = "pending", "capped"
DONE, DNC, FAILED, INVALID = "done", "dnc", "failed", "invalid"
WAITING = (PENDING, CAPPED)
FINAL = (DONE, DNC, FAILED, INVALID)
STATUSES = (*FINAL, *WAITING)

# How one attempt went (the dialer's words for a SIP result).
ANSWERED, BUSY, NO_ANSWER, NETWORK = "answered", "busy", "no_answer", "network"
REJECTED, LOCAL_FAILURE, INTERRUPTED = "rejected", "failed", "interrupted"


@dataclass(frozen=True, slots=True)
class Rule:
    retry: bool  # try again later while attempts remain
    final: str  # the contact's status when it is not retried


RULES: dict[str, Rule] = {
    ANSWERED: Rule(retry=False, final=DONE),
    BUSY: Rule(retry=True, final=FAILED),
    NO_ANSWER: Rule(retry=True, final=FAILED),
    NETWORK: Rule(retry=True, final=FAILED),
    LOCAL_FAILURE: Rule(retry=True, final=FAILED),
    INTERRUPTED: Rule(retry=True, final=FAILED),
    REJECTED: Rule(retry=False, final=FAILED),
}


@dataclass(frozen=True, slots=True, kw_only=True)
class Decision:
    """What becomes of a contact after an attempt: a final status, or ``pending`` until ``retry_at``."""

    status: str
    retry_at: float | None = None

    @property
    def final(self) -> bool:
        return self.status in FINAL


def backoff(retry_after: float, attempt: int) -> float:
    """Delay before the attempt after attempt number ``attempt`` (1-based)."""
    return min(retry_after * 2.0 ** max(attempt - 1, 0), MAX_BACKOFF_S)


def decide(kind: str, *, attempts: int, max_attempts: int, retry_after: float, now: float,
           outcome: str | None = None) -> Decision:
    """The contact's next status after its ``attempts``-th attempt ended as ``kind``."""
    try:
        rule = RULES[kind]
    except KeyError:
        raise ValueError(f"unknown attempt kind {kind!r}") from None
    retry = rule.retry or (kind == ANSWERED and outcome == CALLBACK_OUTCOME)
    if retry and attempts < max_attempts:
        return Decision(status=PENDING, retry_at=now + backoff(retry_after, attempts))
    return Decision(status=rule.final)


# ------------------------------------------------------------------------------ calendar


def _local(tz: ZoneInfo, now: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(now, tz)


def window_open(window: Window, zones: Sequence[ZoneInfo], now: float) -> bool:
    """True when ``now`` falls inside ``window`` in every one of ``zones``."""
    for tz in zones:
        local = _local(tz, now)
        if not window.contains(local.hour * 60 + local.minute):
            return False
    return True


def next_opening(window: Window, zones: Sequence[ZoneInfo], now: float) -> float | None:
    """The earliest time >= ``now`` at which the window is open in every zone (None: never).

    The answer is ``now`` itself or a moment when one zone's window opens, so only those moments
    over the next few days are tried.
    """
    candidates = {now}
    for tz in zones:
        today = _local(tz, now).date()
        for offset in range(-1, 4):
            day = today + dt.timedelta(days=offset)
            local = dt.datetime(day.year, day.month, day.day, window.start // 60, window.start % 60, tzinfo=tz)
            at = local.timestamp()
            if at > now:
                candidates.add(at)
    for at in sorted(candidates):
        if window_open(window, zones, at):
            return at
    return None


def cap_day(tz: ZoneInfo, now: float) -> str:
    """The calendar day (ISO date) in ``tz`` that the daily cap counts ``now`` in."""
    return _local(tz, now).date().isoformat()


def next_day_start(tz: ZoneInfo, now: float) -> float:
    """Local midnight after ``now`` in ``tz``, as a timestamp."""
    tomorrow = _local(tz, now).date() + dt.timedelta(days=1)
    return dt.datetime(tomorrow.year, tomorrow.month, tomorrow.day, tzinfo=tz).timestamp()
