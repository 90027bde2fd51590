"""The one seam between the dialer and the call engine.

The dialer hands a :class:`CallPlacer` an :class:`Attempt` (whom to call, with which flow and
context) and gets back an :class:`AttemptOutcome` (how the call went). Nothing else of the
call engine is visible to the business layer, so the engine behind it can change without the
dialer noticing. :mod:`voicebot.campaign.sipcall` is the implementation on a real call.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from voicebot.flow import Flow


@dataclass(frozen=True, slots=True, kw_only=True)
class Attempt:
    """One call to place: ``uri`` as dialled, ``context`` for the flow (the contact's columns)."""

    attempt_id: int
    contact_id: int
    campaign: str
    uri: str
    flow: Flow
    context: Mapping[str, Any]
    caller_id: str | None = None
    ring_timeout: float = 30.0
    max_duration: float = 600.0


@dataclass(frozen=True, slots=True, kw_only=True)
class TurnRecord:
    """One line of the transcript; ``latency_s`` is the bot's turn latency when it answered."""

    who: str  # "bot", "caller", "dtmf", "silence"
    text: str
    latency_s: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"who": self.who, "text": self.text, "latency_s": self.latency_s}


@dataclass(frozen=True, slots=True, kw_only=True)
class AttemptOutcome:
    """How one attempt went.

    ``kind`` is one of the attempt kinds of :mod:`voicebot.campaign.rules` (answered, busy,
    no_answer, network, rejected, failed). ``setup_s`` runs from the INVITE to the answer (or
    the failure), ``talk_s`` from the answer to the end. ``outcome``/``slots``/``transcript``
    come from the flow; ``do_not_call`` is the flow's opt-out.
    """

    kind: str
    sip_status: int | None
    reason: str = ""
    ended_by: str | None = None  # "local" / "remote"
    setup_s: float = 0.0
    talk_s: float = 0.0
    outcome: str | None = None
    slots: Mapping[str, Any] = field(default_factory=dict)
    do_not_call: bool = False
    transcript: tuple[TurnRecord, ...] = ()
    codec: str | None = None
    rtp: Mapping[str, Any] = field(default_factory=dict)
    mos: float | None = None

    @property
    def answered(self) -> bool:
        return self.kind == "answered"


class CallPlacer(Protocol):
    """Places one call and reports how it went; never raises for what the far end did."""

    async def place(self, attempt: Attempt) -> AttemptOutcome: ...
