"""The SIP user agent core, I/O-free (RFC 3261 §8, §9, §10, §12-§18; RFC 3262, 3311, 3515,
3581, 4028, 6086 dtmf-relay, 6026).

The shape is aioquic's: feed it what arrived and the time, take back what to send and what
happened.

* ``receive_datagram(data, source, now)``: one whole SIP message (a UDP datagram or a message
  framed off a stream) from ``source`` (a :class:`TransportAddress`).
* ``datagrams_to_send()``: ``(bytes, TransportAddress)`` pairs to put on the wire.
* ``next_event()``: the next :mod:`voicebot.sip.events` event, or None.
* ``next_deadline()`` / ``handle_timer(now)``: the earliest timer and its firing.
* Actions the driver asks for: :meth:`invite`, :meth:`ring`, :meth:`answer`, :meth:`reject`,
  :meth:`hangup`, :meth:`hold`, :meth:`resume`, :meth:`update`, :meth:`send_dtmf_info`,
  :meth:`refer`, :meth:`notify_transfer`, :meth:`options`, :meth:`register`,
  :meth:`unregister`, :meth:`transport_error`.

What it does: UAS and UAC INVITE with offer/answer (late offer too), ACK for 2xx built by the
core and 2xx retransmitted until ACK (§13.3.1.4), BYE either side, CANCEL (§9, 487), OPTIONS,
responses routed per §18.2.2 (received/rport, RFC 3581), §8.2 request checks
(``validate.check_request``), re-INVITE and UPDATE for hold/resume and media change with 491
on glare (§14.1) and retry, INFO dtmf-relay, REFER/NOTIFY sipfrag (RFC 3515) both ways, PRACK
(RFC 3262) as UAC and reliable 1xx as UAS when the caller requires 100rel, session timers
(RFC 4028) with refresh and expiry, digest authentication for every challenged request
(401/407), server-side digest challenge of callers, REGISTER with refresh before expiry and
removal, an outbound proxy as a pre-loaded route. Call-IDs, tags and branches come from
``secrets`` (via ``message.new_*``).

The class is composed of one part per concern under :mod:`voicebot.sip.uacore` (the INVITE
client and server, teardown, re-INVITE/UPDATE/INFO/OPTIONS, PRACK, REFER, REGISTER, session
timers, digest retry, admission); the state of a call changes only through the table in
:mod:`voicebot.sip.uacore.callstate`. This module routes: requests by method, responses by what
the request was for, deadlines by name, table actions to the methods that perform them.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable

from voicebot.errors import ProtocolError, RemoteProtocolError
from voicebot.sip.build import build_response, new_tag
from voicebot.sip.message import Request, Response
from voicebot.sip.parser import SipParseError, parse_message
from voicebot.sip.transaction import State, Transaction, TransportAddress, client_key, server_key
from voicebot.sip.uacore.admission import Admission
from voicebot.sip.uacore.base import CoreBase
from voicebot.sip.uacore.callstate import CallAction, CallInput, Step
from voicebot.sip.uacore.digest import DigestRetry
from voicebot.sip.uacore.invite_client import InviteClient
from voicebot.sip.uacore.invite_server import InviteServer
from voicebot.sip.uacore.midcall import MidCall
from voicebot.sip.uacore.offeranswer import OfferAnswer
from voicebot.sip.uacore.prack import ReliableProvisional
from voicebot.sip.uacore.records import (
    ALLOWED_METHODS,
    NO_RESPONSE,
    SUPPORTED,
    TRANSPORT_ERROR,
    Outgoing,
    Registration,
    Session,
    UaConfig,
)
from voicebot.sip.uacore.refer import Transfer
from voicebot.sip.uacore.register import RegisterClient
from voicebot.sip.uacore.sessiontimer import SessionTimers
from voicebot.sip.uacore.teardown import Teardown
from voicebot.sip.validate import check_request, check_response

__all__ = ["NO_RESPONSE", "TRANSPORT_ERROR", "UaConfig", "UserAgentCore"]


class UserAgentCore(
    RegisterClient,
    Transfer,
    MidCall,
    InviteClient,
    InviteServer,
    ReliableProvisional,
    Teardown,
    DigestRetry,
    Admission,
    OfferAnswer,
    SessionTimers,
    CoreBase,
):
    """The I/O-free user agent: see the module docstring for the driving protocol."""

    def __init__(self, config: UaConfig) -> None:
        super().__init__(config)
        # requests by method: ALLOWED_METHODS without ACK (matched to its INVITE before this)
        self._request_handlers: dict[str, Callable[[Transaction, Request, float], None]] = {
            "INVITE": self._invite_or_reinvite,
            "BYE": self._req_bye,
            "CANCEL": self._req_cancel,
            "OPTIONS": self._req_options,
            "UPDATE": self._req_update,
            "INFO": self._req_info,
            "PRACK": self._req_prack,
            "REFER": self._req_refer,
            "NOTIFY": self._req_notify,
        }
        # responses by what the request was for (Outgoing.purpose)
        self._response_handlers: dict[str, Callable[[Outgoing, Response, float], None]] = {
            "invite": self._resp_invite,
            "reinvite": self._resp_reinvite,
            "update": self._resp_update,
            "bye": self._resp_bye,
            "register": self._resp_register,
            "done": self._resp_done,
            "quiet": self._resp_quiet,
        }
        # a call's deadlines by name (Session.deadlines)
        self._deadline_handlers: dict[str, Callable[[Session, float], None]] = {
            "2xx": self._retransmit_2xx,
            "2xx_giveup": self._ack_timeout,
            "rel1xx": self._retransmit_1xx,
            "rel1xx_giveup": self._prack_timeout,
            "refresh": lambda s, now: self._fire(s, CallInput.REFRESH_DUE, Step(now=now)),
            "expire": lambda s, now: self._fire(s, CallInput.SESSION_EXPIRED, Step(now=now, why="session expired")),
            "cancel_timeout": lambda s, now: self._fire(
                s, CallInput.CANCEL_TIMEOUT, Step(now=now, status=487, why="cancelled")
            ),
            "unanswered": lambda s, now: self._fire(
                s, CallInput.UNANSWERED, Step(now=now, status=480, reason="Not Answered")
            ),
            "glare": lambda s, now: self._fire(s, CallInput.GLARE_RETRY, Step(now=now)),
        }

    def _call_actions(self) -> dict[CallAction, Callable[[Session, Step], None]]:
        A = CallAction
        return {
            A.SEND_RINGING: self._act_send_ringing,
            A.SEND_2XX: self._act_send_2xx,
            A.SEND_FINAL: self._act_send_final,
            A.REPLY_487: self._act_reply_487,
            A.MARK_CANCEL: self._act_mark_cancel,
            A.SEND_CANCEL: self._act_send_cancel,
            A.CANCEL_IF_WANTED: self._act_cancel_if_wanted,
            A.BYE_AFTER_ACK: self._act_bye_after_ack,
            A.SEND_BYE: self._act_send_bye,
            A.EARLY_DIALOG: self._act_early_dialog,
            A.SEND_PRACK: self._act_send_prack,
            A.EARLY_MEDIA: self._act_early_media,
            A.CONFIRM_DIALOG: self._act_confirm_dialog,
            A.SEND_ACK: self._act_send_ack,
            A.ACK_AGAIN: self._act_ack_again,
            A.RETRY_MIN_SE: self._act_retry_min_se,
            A.TAKE_SESSION_EXPIRES: self._act_take_session_expires,
            A.START_SESSION_TIMER: self._act_start_session_timer,
            A.SEND_REFRESH: self._act_send_refresh,
            A.RETRY_REINVITE: self._act_retry_reinvite,
            A.DROP_2XX: self._act_drop_2xx,
            A.SETTLE: self._act_settle,
            A.REPORT_PROGRESS: self._act_report_progress,
            A.REPORT_ANSWERED: self._act_report_answered,
            A.REPORT_FAILED: self._act_report_failed,
            A.END_REJECTED: self._act_end_rejected,
            A.END_LOCAL: self._act_end_local,
            A.END_REMOTE: self._act_end_remote,
        }

    # ================================================================ driver interface

    def handle_timer(self, now: float) -> None:
        heap = self._heap
        while heap and heap[0][0] <= now:
            _, _, obj = heapq.heappop(heap)
            if isinstance(obj, Outgoing):
                try:
                    self._client_outputs(obj, obj.tx.handle_timer(now), now)
                except RemoteProtocolError:  # a made-up 408 the call table has no entry for
                    self.dropped += 1
            elif isinstance(obj, Transaction):
                outs = obj.handle_timer(now)
                self._server_outputs(obj, outs, now)
            elif isinstance(obj, Session):
                self._session_deadlines(obj, now)
            elif isinstance(obj, Registration):
                self._registration_timer(obj, now)
            self._watch(obj)

    def transport_error(self, dest: TransportAddress, now: float) -> None:
        """The transport could not deliver to ``dest``: fail the client transactions going there."""
        for client in [c for c in self._clients.values() if c.tx.dest == dest]:
            try:
                self._client_outputs(client, client.tx.transport_error(now), now)
            except RemoteProtocolError:
                self.dropped += 1

    def receive_datagram(self, data: bytes, source: TransportAddress, now: float) -> None:
        """One whole message from ``source``. Nothing a peer sends raises out of here."""
        if self.tracing:
            self._trace_received(data, source, now)
        if not data.startswith(b"SIP/2.0 ") and not self._admit(source, now):
            return  # a request over its source's rate, or from a banned source: not even parsed
        try:
            msg = parse_message(data)
        except SipParseError as exc:
            self._answer_unparsable(exc, source, now)
            return
        self._receive(msg, source, now)

    def receive_message(self, msg: Request | Response | SipParseError, source: TransportAddress, now: float) -> None:
        """A message a stream transport already framed and parsed (or the error it found)."""
        if self.tracing:
            self._trace_received(str(msg).encode() if isinstance(msg, SipParseError) else bytes(msg), source, now)
        if not isinstance(msg, Response) and not self._admit(source, now):
            return
        if isinstance(msg, SipParseError):
            self._answer_unparsable(msg, source, now)
            return
        self._receive(msg, source, now)

    def _receive(self, msg: Request | Response, source: TransportAddress, now: float) -> None:
        try:
            if isinstance(msg, Request):
                self._on_request(msg, source, now)
            else:
                self._on_response(msg, now)
        except RemoteProtocolError:
            self.dropped += 1

    def _on_response(self, resp: Response, now: float) -> None:
        try:
            check_response(resp)
            key = client_key(resp)
        except RemoteProtocolError:
            self.dropped += 1
            return
        client = self._clients.get(key)
        if client is None:
            # A 2xx retransmission after the INVITE transaction ended: re-ACK it (§13.2.2.4).
            if resp.cseq.method == "INVITE" and 200 <= resp.status < 300:
                self._stray_2xx(resp, now)
            else:
                self.dropped += 1
            return
        self._client_outputs(client, client.tx.receive_response(resp, now), now)
        self._watch(client)

    def _on_request(self, req: Request, source: TransportAddress, now: float) -> None:
        try:
            key = server_key(req)
        except RemoteProtocolError:
            self.dropped += 1
            return
        try:
            dest = self._response_address(req, source)
        except RemoteProtocolError:
            dest = source  # an unreadable Via: answer the source address (the 400 says why)
        if req.method == "ACK":
            stx = self._servers.get(key)
            if stx is not None:
                self._server_outputs(stx, stx.receive_request(req, now), now)
                self._watch(stx)
                return
            try:
                self._on_ack(req, now)
            except RemoteProtocolError:
                self.dropped += 1
            return
        stx = self._servers.get(key)
        if stx is not None:
            self._server_outputs(stx, stx.receive_request(req, now), now)
            return
        self._stamp_via(req, source, key)
        if req.method == "INVITE" and self._is_new_dialog(req) and not self._screen_invite(req, key, dest, now):
            return
        stx = Transaction.server(req, dest, self.config.timers)
        self._servers[key] = stx
        self._server_outputs(stx, stx.start(now), now)
        try:
            error = check_request(req, allowed_methods=ALLOWED_METHODS, supported=SUPPORTED)
        except RemoteProtocolError as exc:
            error = build_response(req, exc.status, to_tag=new_tag())
        if error is not None:
            self._verified.pop(key, None)
            self._respond(stx, error, now)
            return
        try:
            self._request_handlers[req.method](stx, req, now)
        except ProtocolError as exc:
            if stx.state in (State.PROCEEDING, State.TRYING):
                extra = list(exc.extra_headers.items())
                self._respond(stx, build_response(req, exc.status, to_tag=new_tag(), headers=extra), now)
        finally:
            self._verified.pop(key, None)

    def _invite_or_reinvite(self, stx: Transaction, req: Request, now: float) -> None:
        """§12.2, §14: an INVITE with a To tag is a re-INVITE inside a dialog."""
        (self._reinvite_in if req.to.tag else self._req_invite)(stx, req, now)

    def _client_response(self, client: Outgoing, resp: Response, now: float) -> None:
        if resp.status in (401, 407) and self._retry_with_auth(client, resp, now):
            return
        self._response_handlers[client.purpose](client, resp, now)

    # ================================================================ a call's deadlines

    def _session_deadlines(self, session: Session, now: float) -> None:
        """Every deadline of ``session`` that is due, earliest first."""
        for name, when in sorted(session.deadlines.items(), key=lambda kv: kv[1]):
            if when > now or name not in session.deadlines:
                continue
            del session.deadlines[name]
            self._deadline_handlers[name](session, now)

    def _retransmit_2xx(self, session: Session, now: float) -> None:
        """§13.3.1.4: our 2xx again, at T1, 2*T1 ... capped at T2, until its ACK."""
        if session.ok is not None and session.ok_dest is not None:
            self._emit(bytes(session.ok), session.ok_dest, now)
            session.ok_interval = min(session.ok_interval * 2, self.config.timers.t2)
            session.deadlines["2xx"] = now + session.ok_interval

    def _ack_timeout(self, session: Session, now: float) -> None:
        """§13.3.1.4: no ACK within 64*T1: the dialog is ended with a BYE."""
        if session.ok is not None:
            self._fire(session, CallInput.ACK_TIMEOUT, Step(now=now, why="ACK timeout"))
