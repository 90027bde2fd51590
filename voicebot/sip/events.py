"""Events the SIP UA core reports to its driver (RFC 3261 §8, §12-§15; RFC 3515, 6086, 4028).

Frozen, slotted, keyword-only dataclasses (DESIGN.md rule 4). ``call`` is the core's handle of
one INVITE usage (an opaque string); ``token`` ties an event to the operation the driver asked
for (``UserAgentCore.reinvite`` returns the token that the matching :class:`RequestDone` carries).
"""

from __future__ import annotations

from dataclasses import dataclass

from voicebot.sip.message import Request, Response
from voicebot.sip.sdp import MediaParams


@dataclass(frozen=True, slots=True, kw_only=True)
class Event:
    """Base of every SIP core event."""


@dataclass(frozen=True, slots=True, kw_only=True)
class IncomingCall(Event):
    """A new INVITE arrived and passed validation (and authentication when configured)."""

    call: str
    request: Request
    caller: str  # From URI
    callee: str  # To URI
    user: str | None = None  # the authenticated user name, when serve challenges callers


@dataclass(frozen=True, slots=True, kw_only=True)
class CallProgress(Event):
    """A provisional response (180 Ringing, 183 Session Progress) for our INVITE."""

    call: str
    status: int
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class CallAnswered(Event):
    """The call is up: 2xx received (UAC) or our 2xx acknowledged (UAS)."""

    call: str
    media: MediaParams | None


@dataclass(frozen=True, slots=True, kw_only=True)
class CallFailed(Event):
    """Our INVITE ended without a dialog: final non-2xx, 408 on timeout, 503 on transport error."""

    call: str
    status: int
    reason: str
    response: Response | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class CallEnded(Event):
    """An established (or ringing, for CANCEL) call is over."""

    call: str
    reason: str  # "local BYE", "remote BYE", "cancelled", "ACK timeout", "session expired", ...
    by_remote: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class MediaChanged(Event):
    """Offer/answer in a re-INVITE or UPDATE changed the session (hold, resume, new address)."""

    call: str
    media: MediaParams


@dataclass(frozen=True, slots=True, kw_only=True)
class DtmfReceived(Event):
    """A digit from SIP INFO application/dtmf-relay (RFC 6086 usage)."""

    call: str
    digit: str
    duration_ms: int


@dataclass(frozen=True, slots=True, kw_only=True)
class TransferRequested(Event):
    """The peer sent REFER (RFC 3515); we answered 202 and report progress with NOTIFY."""

    call: str
    target: str


@dataclass(frozen=True, slots=True, kw_only=True)
class TransferProgress(Event):
    """A NOTIFY with a sipfrag for the REFER we sent."""

    call: str
    status: int
    final: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class RequestDone(Event):
    """A request the driver asked for (re-INVITE, UPDATE, INFO, REFER, OPTIONS, ...) completed."""

    call: str | None
    token: int
    status: int
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Registered(Event):
    """REGISTER succeeded (``expires`` > 0) or the binding was removed (``expires`` == 0)."""

    aor: str
    expires: int


@dataclass(frozen=True, slots=True, kw_only=True)
class RegistrationFailed(Event):
    aor: str
    status: int
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class SourceBlocked(Event):
    """The per-source defence started refusing a source (or a user name): reported once per
    ban or throttling episode, never per packet, so the driver can log it."""

    source: str  # the host address, or "user NAME" for a per-user backoff
    reason: str  # "banned after 10 failed digest answers", "request rate above 50/s", ...
    seconds: float  # how long the block lasts (0: until the rate falls)
