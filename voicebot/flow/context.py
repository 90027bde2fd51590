"""Context memory across calls: the callee profile and the store protocol.

Within a call the :class:`~voicebot.flow.runtime.Session` keeps slots and history. Across calls
a :class:`ContextStore` keeps, per callee (a phone number or SIP URI), a :class:`CalleeProfile`:
how many calls there were, their recent outcomes and slots, and whether the callee asked never
to be called again. The runtime never talks to a store: the call engine loads the profile before
``flow.start(..., profile=...)`` and records the :class:`CallRecord` afterwards. The in-memory
store here is the default; :mod:`voicebot.store.redis_context` shares profiles between
processes.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from voicebot.flow.events import CallResult

MAX_RECORDS = 20


@dataclass(frozen=True, slots=True, kw_only=True)
class CallRecord:
    """One finished call as remembered in the callee's profile."""

    flow: str
    outcome: str | None
    at: float
    slots: Mapping[str, Any] = field(default_factory=dict)
    do_not_call: bool = False

    @staticmethod
    def from_result(result: CallResult, *, at: float | None = None) -> CallRecord:
        return CallRecord(
            flow=result.flow,
            outcome=result.outcome,
            at=result.ended_at if at is None else at,
            slots=dict(result.slots),
            do_not_call=result.do_not_call,
        )

    def to_json(self) -> str:
        slots = {k: (v.isoformat() if isinstance(v, dt.date) else v) for k, v in self.slots.items()}
        return json.dumps(
            {
                "flow": self.flow,
                "outcome": self.outcome,
                "at": self.at,
                "slots": slots,
                "do_not_call": self.do_not_call,
            },
            ensure_ascii=False,
            sort_keys=True,
        )

    @staticmethod
    def from_json(text: str | bytes) -> CallRecord:
        d = json.loads(text)
        return CallRecord(
            flow=str(d["flow"]),
            outcome=d.get("outcome"),
            at=float(d.get("at", 0.0)),
            slots=dict(d.get("slots") or {}),
            do_not_call=bool(d.get("do_not_call", False)),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class CalleeProfile:
    """What earlier calls taught us about a callee (newest record last)."""

    callee: str = ""
    records: tuple[CallRecord, ...] = ()
    do_not_call: bool = False
    total_calls: int = 0

    @property
    def calls(self) -> int:
        return max(self.total_calls, len(self.records))

    @property
    def last_outcome(self) -> str | None:
        return self.records[-1].outcome if self.records else None

    def outcomes(self) -> list[str | None]:
        return [r.outcome for r in self.records]


@runtime_checkable
class ContextStore(Protocol):
    """Where callee profiles live. Implementations: :class:`MemoryContextStore`,
    :class:`voicebot.store.redis_context.RedisContextStore`."""

    def profile(self, callee: str) -> CalleeProfile:
        """The callee's profile (an empty one for a new callee)."""
        ...

    def record(self, callee: str, record: CallRecord) -> CalleeProfile:
        """Append a finished call (and its do-not-call wish); returns the updated profile."""
        ...

    def erase(self, callee: str) -> bool:
        """Forget everything about a callee (data erasure); True if there was anything."""
        ...


class MemoryContextStore:
    """A :class:`ContextStore` in a dict: for one process and for tests."""

    def __init__(self, max_records: int = MAX_RECORDS) -> None:
        self.max_records = max_records
        self._data: dict[str, CalleeProfile] = {}

    def profile(self, callee: str) -> CalleeProfile:
        return self._data.get(callee, CalleeProfile(callee=callee))

    def record(self, callee: str, record: CallRecord) -> CalleeProfile:
        old = self.profile(callee)
        new = CalleeProfile(
            callee=callee,
            records=(*old.records, record)[-self.max_records :],
            do_not_call=old.do_not_call or record.do_not_call,
            total_calls=old.calls + 1,
        )
        self._data[callee] = new
        return new

    def erase(self, callee: str) -> bool:
        return self._data.pop(callee, None) is not None
