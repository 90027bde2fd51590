"""SIP transactions as state tables: RFC 3261 §17 (with the RFC 6026 "Accepted" state).

Four machines, each a table ``(state, input) -> (actions, next state)``:

* INVITE client (§17.1.1, Figure 5; RFC 6026 §7.2 Accepted + Timer M),
* non-INVITE client (§17.1.2, Figure 6),
* INVITE server (§17.2.1, Figure 7; RFC 6026 §7.1 Accepted + Timer L),
* non-INVITE server (§17.2.2, Figure 8).

Timers A-K (§17, Table 4 of RFC 3261 Appendix A) use T1, T2 and T4 from :class:`Timers`.
Retransmission timers (A, E, G) only run on unreliable transports; the wait timers D, I, J, K
are zero on reliable ones. The INVITE server transaction sends ``100 Trying`` at once (§17.2.1).

The tables are plain data: print them, draw them, test them pair by pair. A network input with
no entry cannot happen (every network input has an entry in every live state, most of them
"absorb"); a TU input with no entry raises :class:`~voicebot.errors.LocalProtocolError`.

No I/O and no clock: every call takes ``now`` and returns the outputs to act on. Transaction
identity (§17.1.3 / §17.2.3) is computed by :func:`client_key` and :func:`server_key`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import NamedTuple

from voicebot.errors import LocalProtocolError, RemoteProtocolError
from voicebot.sip.build import build_response
from voicebot.sip.headers import Headers, Via
from voicebot.sip.message import Request, Response

MAGIC_COOKIE = "z9hG4bK"


class TransportAddress(NamedTuple):
    """Where a SIP message goes or came from: transport name (``udp``/``tcp``/``tls``), host, port.

    A plain ``(host, port)`` pair is :data:`voicebot.address.Address`."""

    transport: str
    host: str
    port: int

    @property
    def reliable(self) -> bool:
        return self.transport.lower() != "udp"


@dataclass(frozen=True, slots=True, kw_only=True)
class Timers:
    """RFC 3261 §17.1.1.1 timer values in seconds (T1 RTT estimate, T2 max retransmit, T4)."""

    t1: float = 0.5
    t2: float = 4.0
    t4: float = 5.0


class Kind(Enum):
    INVITE_CLIENT = "INVITE client"
    NON_INVITE_CLIENT = "non-INVITE client"
    INVITE_SERVER = "INVITE server"
    NON_INVITE_SERVER = "non-INVITE server"


class State(Enum):
    CALLING = "Calling"
    TRYING = "Trying"
    PROCEEDING = "Proceeding"
    COMPLETED = "Completed"
    CONFIRMED = "Confirmed"
    ACCEPTED = "Accepted"
    TERMINATED = "Terminated"


class Input(Enum):
    # from the transaction user
    START = "start"  # client: send the request / server: the request arrived (creates the tx)
    TU_1XX = "TU 1xx"
    TU_2XX = "TU 2xx"
    TU_FINAL = "TU 300-699"  # non-INVITE server: any final (200-699) from the TU
    # from the network
    RESP_1XX = "1xx"
    RESP_2XX = "2xx"
    RESP_FINAL = "300-699"  # non-INVITE client: any final (200-699)
    REQUEST = "request retransmission"
    ACK = "ACK"
    TRANSPORT_ERROR = "transport error"
    # timers
    TIMER_A = "Timer A"
    TIMER_B = "Timer B"
    TIMER_D = "Timer D"
    TIMER_E = "Timer E"
    TIMER_F = "Timer F"
    TIMER_G = "Timer G"
    TIMER_H = "Timer H"
    TIMER_I = "Timer I"
    TIMER_J = "Timer J"
    TIMER_K = "Timer K"
    TIMER_L = "Timer L"
    TIMER_M = "Timer M"


class Action(Enum):
    SEND_REQUEST = "send request"
    SEND_ACK = "send ACK"
    SEND_RESPONSE = "send response"  # the most recent response the TU gave
    SEND_TRYING = "send 100 Trying"
    PASS_UP = "pass to TU"
    REPORT_TIMEOUT = "report timeout"
    REPORT_TRANSPORT_ERROR = "report transport error"
    START_A = "start Timer A"
    DOUBLE_A = "restart Timer A doubled"
    START_B = "start Timer B"
    START_D = "start Timer D"
    START_E = "start Timer E"
    DOUBLE_E = "restart Timer E min(2E, T2)"
    E_AT_T2 = "restart Timer E at T2"
    START_F = "start Timer F"
    START_G = "start Timer G"
    DOUBLE_G = "restart Timer G min(2G, T2)"
    START_H = "start Timer H"
    START_I = "start Timer I"
    START_J = "start Timer J"
    START_K = "start Timer K"
    START_L = "start Timer L"
    START_M = "start Timer M"


Table = dict[tuple[State, Input], tuple[tuple[Action, ...], State]]

S, In, A = State, Input, Action
_T = S.TERMINATED

# --- INVITE client transaction: RFC 3261 Figure 5, RFC 6026 Figure 5 ------------------------
INVITE_CLIENT: Table = {
    (S.CALLING, In.START): ((A.SEND_REQUEST, A.START_A, A.START_B), S.CALLING),
    (S.CALLING, In.TIMER_A): ((A.SEND_REQUEST, A.DOUBLE_A), S.CALLING),
    (S.CALLING, In.TIMER_B): ((A.REPORT_TIMEOUT,), _T),
    (S.CALLING, In.RESP_1XX): ((A.PASS_UP,), S.PROCEEDING),
    (S.CALLING, In.RESP_2XX): ((A.PASS_UP, A.START_M), S.ACCEPTED),
    (S.CALLING, In.RESP_FINAL): ((A.SEND_ACK, A.PASS_UP, A.START_D), S.COMPLETED),
    (S.CALLING, In.TRANSPORT_ERROR): ((A.REPORT_TRANSPORT_ERROR,), _T),
    (S.PROCEEDING, In.RESP_1XX): ((A.PASS_UP,), S.PROCEEDING),
    (S.PROCEEDING, In.RESP_2XX): ((A.PASS_UP, A.START_M), S.ACCEPTED),
    (S.PROCEEDING, In.RESP_FINAL): ((A.SEND_ACK, A.PASS_UP, A.START_D), S.COMPLETED),
    (S.PROCEEDING, In.TRANSPORT_ERROR): ((A.REPORT_TRANSPORT_ERROR,), _T),
    (S.COMPLETED, In.RESP_1XX): ((), S.COMPLETED),
    (S.COMPLETED, In.RESP_2XX): ((), S.COMPLETED),
    (S.COMPLETED, In.RESP_FINAL): ((A.SEND_ACK,), S.COMPLETED),
    (S.COMPLETED, In.TIMER_D): ((), _T),
    (S.COMPLETED, In.TRANSPORT_ERROR): ((A.REPORT_TRANSPORT_ERROR,), _T),
    (S.ACCEPTED, In.RESP_1XX): ((), S.ACCEPTED),
    (S.ACCEPTED, In.RESP_2XX): ((A.PASS_UP,), S.ACCEPTED),
    (S.ACCEPTED, In.RESP_FINAL): ((), S.ACCEPTED),
    (S.ACCEPTED, In.TIMER_M): ((), _T),
    (S.ACCEPTED, In.TRANSPORT_ERROR): ((), S.ACCEPTED),
}

# --- non-INVITE client transaction: RFC 3261 Figure 6 ----------------------------------------
NON_INVITE_CLIENT: Table = {
    (S.TRYING, In.START): ((A.SEND_REQUEST, A.START_E, A.START_F), S.TRYING),
    (S.TRYING, In.TIMER_E): ((A.SEND_REQUEST, A.DOUBLE_E), S.TRYING),
    (S.TRYING, In.TIMER_F): ((A.REPORT_TIMEOUT,), _T),
    (S.TRYING, In.RESP_1XX): ((A.PASS_UP,), S.PROCEEDING),
    (S.TRYING, In.RESP_2XX): ((A.PASS_UP, A.START_K), S.COMPLETED),
    (S.TRYING, In.RESP_FINAL): ((A.PASS_UP, A.START_K), S.COMPLETED),
    (S.TRYING, In.TRANSPORT_ERROR): ((A.REPORT_TRANSPORT_ERROR,), _T),
    (S.PROCEEDING, In.TIMER_E): ((A.SEND_REQUEST, A.E_AT_T2), S.PROCEEDING),
    (S.PROCEEDING, In.TIMER_F): ((A.REPORT_TIMEOUT,), _T),
    (S.PROCEEDING, In.RESP_1XX): ((A.PASS_UP,), S.PROCEEDING),
    (S.PROCEEDING, In.RESP_2XX): ((A.PASS_UP, A.START_K), S.COMPLETED),
    (S.PROCEEDING, In.RESP_FINAL): ((A.PASS_UP, A.START_K), S.COMPLETED),
    (S.PROCEEDING, In.TRANSPORT_ERROR): ((A.REPORT_TRANSPORT_ERROR,), _T),
    (S.COMPLETED, In.RESP_1XX): ((), S.COMPLETED),
    (S.COMPLETED, In.RESP_2XX): ((), S.COMPLETED),
    (S.COMPLETED, In.RESP_FINAL): ((), S.COMPLETED),
    (S.COMPLETED, In.TIMER_K): ((), _T),
    (S.COMPLETED, In.TRANSPORT_ERROR): ((), S.COMPLETED),
}

# --- INVITE server transaction: RFC 3261 Figure 7, RFC 6026 Figure 7 ------------------------
INVITE_SERVER: Table = {
    (S.PROCEEDING, In.START): ((A.SEND_TRYING, A.PASS_UP), S.PROCEEDING),
    (S.PROCEEDING, In.REQUEST): ((A.SEND_RESPONSE,), S.PROCEEDING),
    (S.PROCEEDING, In.ACK): ((), S.PROCEEDING),
    (S.PROCEEDING, In.TU_1XX): ((A.SEND_RESPONSE,), S.PROCEEDING),
    (S.PROCEEDING, In.TU_2XX): ((A.SEND_RESPONSE, A.START_L), S.ACCEPTED),
    (S.PROCEEDING, In.TU_FINAL): ((A.SEND_RESPONSE, A.START_G, A.START_H), S.COMPLETED),
    (S.PROCEEDING, In.TRANSPORT_ERROR): ((A.REPORT_TRANSPORT_ERROR,), _T),
    (S.COMPLETED, In.REQUEST): ((A.SEND_RESPONSE,), S.COMPLETED),
    (S.COMPLETED, In.TIMER_G): ((A.SEND_RESPONSE, A.DOUBLE_G), S.COMPLETED),
    (S.COMPLETED, In.TIMER_H): ((A.REPORT_TIMEOUT,), _T),
    (S.COMPLETED, In.ACK): ((A.START_I,), S.CONFIRMED),
    (S.COMPLETED, In.TRANSPORT_ERROR): ((A.REPORT_TRANSPORT_ERROR,), _T),
    (S.CONFIRMED, In.REQUEST): ((), S.CONFIRMED),
    (S.CONFIRMED, In.ACK): ((), S.CONFIRMED),
    (S.CONFIRMED, In.TIMER_I): ((), _T),
    (S.CONFIRMED, In.TRANSPORT_ERROR): ((), S.CONFIRMED),
    (S.ACCEPTED, In.REQUEST): ((), S.ACCEPTED),
    (S.ACCEPTED, In.ACK): ((A.PASS_UP,), S.ACCEPTED),
    (S.ACCEPTED, In.TU_2XX): ((A.SEND_RESPONSE,), S.ACCEPTED),
    (S.ACCEPTED, In.TIMER_L): ((), _T),
    (S.ACCEPTED, In.TRANSPORT_ERROR): ((A.REPORT_TRANSPORT_ERROR,), S.ACCEPTED),
}

# --- non-INVITE server transaction: RFC 3261 Figure 8 ----------------------------------------
NON_INVITE_SERVER: Table = {
    (S.TRYING, In.START): ((A.PASS_UP,), S.TRYING),
    (S.TRYING, In.REQUEST): ((), S.TRYING),
    (S.TRYING, In.TU_1XX): ((A.SEND_RESPONSE,), S.PROCEEDING),
    (S.TRYING, In.TU_FINAL): ((A.SEND_RESPONSE, A.START_J), S.COMPLETED),
    (S.TRYING, In.TRANSPORT_ERROR): ((A.REPORT_TRANSPORT_ERROR,), _T),
    (S.PROCEEDING, In.REQUEST): ((A.SEND_RESPONSE,), S.PROCEEDING),
    (S.PROCEEDING, In.TU_1XX): ((A.SEND_RESPONSE,), S.PROCEEDING),
    (S.PROCEEDING, In.TU_FINAL): ((A.SEND_RESPONSE, A.START_J), S.COMPLETED),
    (S.PROCEEDING, In.TRANSPORT_ERROR): ((A.REPORT_TRANSPORT_ERROR,), _T),
    (S.COMPLETED, In.REQUEST): ((A.SEND_RESPONSE,), S.COMPLETED),
    (S.COMPLETED, In.TIMER_J): ((), _T),
    (S.COMPLETED, In.TRANSPORT_ERROR): ((A.REPORT_TRANSPORT_ERROR,), _T),
}

TABLES: dict[Kind, Table] = {
    Kind.INVITE_CLIENT: INVITE_CLIENT,
    Kind.NON_INVITE_CLIENT: NON_INVITE_CLIENT,
    Kind.INVITE_SERVER: INVITE_SERVER,
    Kind.NON_INVITE_SERVER: NON_INVITE_SERVER,
}

INITIAL: dict[Kind, State] = {
    Kind.INVITE_CLIENT: S.CALLING,
    Kind.NON_INVITE_CLIENT: S.TRYING,
    Kind.INVITE_SERVER: S.PROCEEDING,
    Kind.NON_INVITE_SERVER: S.TRYING,
}

# Inputs that come from the network: every live state must have an entry for each.
NETWORK_INPUTS: dict[Kind, tuple[Input, ...]] = {
    Kind.INVITE_CLIENT: (In.RESP_1XX, In.RESP_2XX, In.RESP_FINAL, In.TRANSPORT_ERROR),
    Kind.NON_INVITE_CLIENT: (In.RESP_1XX, In.RESP_2XX, In.RESP_FINAL, In.TRANSPORT_ERROR),
    Kind.INVITE_SERVER: (In.REQUEST, In.ACK, In.TRANSPORT_ERROR),
    Kind.NON_INVITE_SERVER: (In.REQUEST, In.TRANSPORT_ERROR),
}

# Timers that stay armed in each state; entering a state cancels all others (the figures'
# "cancel timer" edges, written once).
LIVE_TIMERS: dict[tuple[Kind, State], frozenset[str]] = {
    (Kind.INVITE_CLIENT, S.CALLING): frozenset("AB"),
    (Kind.INVITE_CLIENT, S.COMPLETED): frozenset("D"),
    (Kind.INVITE_CLIENT, S.ACCEPTED): frozenset("M"),
    (Kind.NON_INVITE_CLIENT, S.TRYING): frozenset("EF"),
    (Kind.NON_INVITE_CLIENT, S.PROCEEDING): frozenset("EF"),
    (Kind.NON_INVITE_CLIENT, S.COMPLETED): frozenset("K"),
    (Kind.INVITE_SERVER, S.COMPLETED): frozenset("GH"),
    (Kind.INVITE_SERVER, S.CONFIRMED): frozenset("I"),
    (Kind.INVITE_SERVER, S.ACCEPTED): frozenset("L"),
    (Kind.NON_INVITE_SERVER, S.COMPLETED): frozenset("J"),
}

_TIMER_INPUT = {name: Input[f"TIMER_{name}"] for name in "ABDEFGHIJKLM"}

del S, In, A


# --- outputs --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Send:
    """Put ``message`` on the wire to ``dest``."""

    message: Request | Response
    dest: TransportAddress


@dataclass(frozen=True, slots=True, kw_only=True)
class PassUp:
    """Hand ``message`` (a response, or an ACK for a 2xx) to the transaction user."""

    message: Request | Response


@dataclass(frozen=True, slots=True, kw_only=True)
class TimedOut:
    """Timer B, F or H fired: the transaction failed (the TU treats it as a 408)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class TransportFailed:
    """The transport reported an error for this transaction (the TU treats it as a 503)."""


Output = Send | PassUp | TimedOut | TransportFailed


# --- keys -----------------------------------------------------------------------------------


def client_key(message: Request | Response) -> tuple[str, str]:
    """§17.1.3: a response matches by its top Via branch and its CSeq method."""
    via = message.top_via
    branch = via.branch if via is not None else None
    return (branch or "", message.cseq.method)


def server_key(request: Request) -> tuple[str, ...]:
    """§17.2.3: branch + sent-by + method (ACK and CANCEL map to INVITE's position 3 / 5).

    Without the magic cookie (or with an unreadable Via), the RFC 2543 fallback: Request-URI,
    From, Call-ID, CSeq number and the top Via text. Never raises on a bad header.
    """
    method = "INVITE" if request.method == "ACK" else request.method
    try:
        via: Via | None = request.top_via
    except RemoteProtocolError:
        via = None
    branch = (via.branch if via is not None else None) or ""
    sent_by = f"{via.host}:{via.port}" if via is not None else ""
    call_id = request.headers.get("Call-ID") or ""
    seq = (request.headers.get("CSeq") or "").split(" ", 1)[0]
    if branch.startswith(MAGIC_COOKIE):
        # Call-ID and CSeq number too: a peer that reuses a branch for a different request
        # (the RFC 4475 messages do) must not have it taken for a retransmission.
        return ("3261", branch, sent_by.lower(), method, call_id, seq)
    from_ = request.headers.get("From") or ""
    from_tag = from_.split("tag=", 1)[1].split(";", 1)[0].strip() if "tag=" in from_ else ""
    top_via = (request.headers.get_all("Via") or [""])[0]
    return ("2543", str(request.uri), from_tag, call_id, seq, method, top_via)


# --- the machine ----------------------------------------------------------------------------


@dataclass
class Transaction:
    """One transaction of any kind; drive it with :meth:`fire` (or the named helpers)."""

    kind: Kind
    request: Request
    dest: TransportAddress  # client: where the request goes; server: where responses go (§18.2.2)
    timers: Timers = field(default_factory=Timers)
    state: State = State.TERMINATED
    last_response: Response | None = None
    deadlines: dict[str, float] = field(default_factory=dict)
    _intervals: dict[str, float] = field(default_factory=dict)
    _ack: Request | None = None

    @classmethod
    def client(cls, request: Request, dest: TransportAddress, timers: Timers | None = None) -> Transaction:
        kind = Kind.INVITE_CLIENT if request.method == "INVITE" else Kind.NON_INVITE_CLIENT
        return cls(kind=kind, request=request, dest=dest, timers=timers or Timers(), state=INITIAL[kind])

    @classmethod
    def server(cls, request: Request, dest: TransportAddress, timers: Timers | None = None) -> Transaction:
        kind = Kind.INVITE_SERVER if request.method == "INVITE" else Kind.NON_INVITE_SERVER
        return cls(kind=kind, request=request, dest=dest, timers=timers or Timers(), state=INITIAL[kind])

    @property
    def terminated(self) -> bool:
        return self.state is State.TERMINATED

    @property
    def is_client(self) -> bool:
        return self.kind in (Kind.INVITE_CLIENT, Kind.NON_INVITE_CLIENT)

    # -- inputs ------------------------------------------------------------------------------

    def start(self, now: float) -> list[Output]:
        return self.fire(Input.START, now)

    def receive_response(self, response: Response, now: float) -> list[Output]:
        """Client side: a response matched this transaction (§17.1.3)."""
        status = response.status
        if status < 200:
            inp = Input.RESP_1XX
        elif status < 300 and self.kind is Kind.INVITE_CLIENT:
            inp = Input.RESP_2XX
        elif self.kind is Kind.INVITE_CLIENT:
            inp = Input.RESP_FINAL
        else:
            inp = Input.RESP_2XX if status < 300 else Input.RESP_FINAL
        return self.fire(inp, now, response)

    def receive_request(self, request: Request, now: float) -> list[Output]:
        """Server side: a retransmission of the request, or the ACK, matched this transaction."""
        inp = Input.ACK if request.method == "ACK" else Input.REQUEST
        return self.fire(inp, now, request)

    def respond(self, response: Response, now: float) -> list[Output]:
        """Server side: the TU sends ``response`` through the transaction."""
        if response.status < 200:
            inp = Input.TU_1XX
        elif response.status < 300 and self.kind is Kind.INVITE_SERVER:
            inp = Input.TU_2XX
        else:
            inp = Input.TU_FINAL
        return self.fire(inp, now, response)

    def transport_error(self, now: float) -> list[Output]:
        return self.fire(Input.TRANSPORT_ERROR, now)

    def next_deadline(self) -> float | None:
        return min(self.deadlines.values()) if self.deadlines else None

    def handle_timer(self, now: float) -> list[Output]:
        """Fire every timer whose deadline has passed, earliest first."""
        out: list[Output] = []
        while self.deadlines and not self.terminated:
            name, when = min(self.deadlines.items(), key=lambda kv: kv[1])
            if when > now:
                break
            del self.deadlines[name]
            out += self.fire(_TIMER_INPUT[name], now)
        return out

    # -- the interpreter -----------------------------------------------------------------------

    def fire(self, inp: Input, now: float, message: Request | Response | None = None) -> list[Output]:
        """Look ``(state, inp)`` up in the table, run its actions, move to the next state."""
        entry = TABLES[self.kind].get((self.state, inp))
        if entry is None:
            if inp in NETWORK_INPUTS[self.kind] or self.state is State.TERMINATED:
                return []  # a late retransmission after the transaction ended: absorbed
            raise LocalProtocolError(
                f"{self.kind.value} transaction in state {self.state.value} cannot take {inp.value}"
            )
        actions, nxt = entry
        if isinstance(message, Response) and not self.is_client:
            self.last_response = message
        out: list[Output] = []
        for action in actions:
            self._run(action, now, message, out)
        if nxt is not self.state:
            live = LIVE_TIMERS.get((self.kind, nxt), frozenset())
            for name in [n for n in self.deadlines if n not in live]:
                del self.deadlines[name]
        self.state = nxt
        return out

    def _arm(self, name: str, delay: float, now: float) -> None:
        self._intervals[name] = delay
        self.deadlines[name] = now + delay

    def _run(self, action: Action, now: float, message: Request | Response | None, out: list[Output]) -> None:
        t = self.timers
        reliable = self.dest.reliable
        if action is Action.SEND_REQUEST:
            out.append(Send(message=self.request, dest=self.dest))
        elif action is Action.SEND_ACK:
            assert isinstance(message, Response)
            self._ack = build_ack_for_non2xx(self.request, message)
            out.append(Send(message=self._ack, dest=self.dest))
        elif action is Action.SEND_RESPONSE:
            if self.last_response is not None:
                out.append(Send(message=self.last_response, dest=self.dest))
        elif action is Action.SEND_TRYING:
            trying = build_trying(self.request)
            self.last_response = trying
            out.append(Send(message=trying, dest=self.dest))
        elif action is Action.PASS_UP:
            out.append(PassUp(message=message if message is not None else self.request))
        elif action is Action.REPORT_TIMEOUT:
            out.append(TimedOut())
        elif action is Action.REPORT_TRANSPORT_ERROR:
            out.append(TransportFailed())
        elif action is Action.START_A:
            if not reliable:
                self._arm("A", t.t1, now)
        elif action is Action.DOUBLE_A:
            self._arm("A", self._intervals.get("A", t.t1) * 2, now)
        elif action is Action.START_B:
            self._arm("B", 64 * t.t1, now)
        elif action is Action.START_D:
            self._arm("D", 0.0 if reliable else max(32.0, 64 * t.t1), now)
        elif action is Action.START_E:
            if not reliable:
                self._arm("E", t.t1, now)
        elif action is Action.DOUBLE_E:
            self._arm("E", min(self._intervals.get("E", t.t1) * 2, t.t2), now)
        elif action is Action.E_AT_T2:
            self._arm("E", t.t2, now)
        elif action is Action.START_F:
            self._arm("F", 64 * t.t1, now)
        elif action is Action.START_G:
            if not reliable:
                self._arm("G", t.t1, now)
        elif action is Action.DOUBLE_G:
            self._arm("G", min(self._intervals.get("G", t.t1) * 2, t.t2), now)
        elif action is Action.START_H:
            self._arm("H", 64 * t.t1, now)
        elif action is Action.START_I:
            self._arm("I", 0.0 if reliable else t.t4, now)
        elif action is Action.START_J:
            self._arm("J", 0.0 if reliable else 64 * t.t1, now)
        elif action is Action.START_K:
            self._arm("K", 0.0 if reliable else t.t4, now)
        elif action is Action.START_L:
            self._arm("L", 64 * t.t1, now)
        elif action is Action.START_M:
            self._arm("M", 64 * t.t1, now)
        else:  # pragma: no cover - the enum is closed
            raise LocalProtocolError(f"unknown transaction action {action}")


# --- messages the transaction layer itself builds ------------------------------------------


def build_ack_for_non2xx(request: Request, response: Response) -> Request:
    """§17.1.1.3: the ACK for a non-2xx final response, built inside the INVITE client transaction.

    Same Request-URI, Call-ID, From and the top Via of the INVITE; To from the response (its
    tag); CSeq number of the INVITE with method ACK; the INVITE's Route headers.
    """
    headers = Headers()
    vias = request.headers.get_all("Via")
    if vias:
        headers.add("Via", str(request.top_via) if request.top_via is not None else vias[0])
    headers.add("Max-Forwards", "70")
    for name in ("From", "Call-ID"):
        value = request.headers.get(name)
        if value is not None:
            headers.add(name, value)
    to = response.headers.get("To")
    if to is not None:
        headers.add("To", to)
    headers.add("CSeq", f"{request.cseq.seq} ACK")
    for route in request.headers.get_all("Route"):
        headers.add("Route", route)
    return Request("ACK", request.uri, headers)


def build_trying(request: Request) -> Response:
    """§8.2.6: 100 Trying copies Via, From, To (no tag added), Call-ID, CSeq and Timestamp."""
    return build_response(request, 100)
