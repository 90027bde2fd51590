"""The plumbing every part of the user agent core shares (RFC 3261 §8.1, §12.2, §17, §18): the
outgoing datagrams and events, the timer heap, our addresses, Via and Contact, sending a request
in a new client transaction, answering through a server transaction, finding a call."""

from __future__ import annotations

import heapq
import itertools
import secrets
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING

from voicebot.errors import LocalProtocolError, RemoteProtocolError
from voicebot.sip import events as ev
from voicebot.sip.build import build_response, new_branch, new_tag
from voicebot.sip.defence import Defence
from voicebot.sip.headers import Headers
from voicebot.sip.message import Request, Response
from voicebot.sip.sdp import (
    SessionDescription,
)
from voicebot.sip.trace import MessageTrace, trace_of
from voicebot.sip.transaction import (
    PassUp,
    Send,
    State,
    TimedOut,
    Transaction,
    TransportAddress,
    TransportFailed,
    client_key,
    server_key,
)
from voicebot.sip.uri import NameAddr, SipUri, parse_uri

if TYPE_CHECKING:
    from voicebot.sip import auth


from voicebot.sip.uacore.callstate import CALL_TABLE, NETWORK_INPUTS, CallAction, CallInput, CallState, Step
from voicebot.sip.uacore.records import (
    NO_RESPONSE,
    TRANSPORT_ERROR,
    Outgoing,
    Registration,
    Session,
    UaConfig,
    Uri,
)


class CoreBase:
    """State and helpers of the core; the feature classes build on it."""

    def __init__(self, config: UaConfig) -> None:
        self.config = config
        self._out: list[tuple[bytes, TransportAddress]] = []
        self._events: deque[ev.Event] = deque()
        self._clients: dict[tuple[str, str], Outgoing] = {}
        self._servers: dict[tuple[str, ...], Transaction] = {}
        self._server_session: dict[int, Session] = {}
        self.sessions: dict[str, Session] = {}
        self._by_dialog: dict[tuple[str, str], Session] = {}  # (Call-ID, local tag)
        self.registrations: list[Registration] = []
        self._heap: list[tuple[float, int, object]] = []
        self._seq = itertools.count()
        self._tokens = itertools.count(1)
        self._pending_offer: dict[int, SessionDescription] = {}
        self._digest: auth.DigestClient | None = None
        self._digest_server: auth.DigestServer | None = None
        if config.password is not None or config.server_credentials:
            from voicebot.sip import auth  # the digest module is only needed with credentials

            if config.password is not None:
                self._digest = auth.DigestClient(config.auth_user or config.user, config.password)
            if config.server_credentials:
                self._digest_server = auth.DigestServer(
                    config.realm, dict(config.server_credentials), algorithms=config.auth_algorithms
                )
        self.defence = Defence(config.defence) if config.defence is not None else None
        self._verified: dict[tuple[str, ...], str] = {}  # server key -> user (a checked INVITE)
        self.dropped = 0
        self.rejected_full = 0  # new INVITEs answered 503 statelessly: max_sessions calls were up
        self._tag_key = secrets.token_bytes(16)  # keys the To tags of stateless responses
        self.tracing = False  # the driver turns it on to read traces_to_send()
        self._traces: list[MessageTrace] = []
        self._actions = self._call_actions()

    def datagrams_to_send(self) -> list[tuple[bytes, TransportAddress]]:
        out, self._out = self._out, []
        return out

    def next_event(self) -> ev.Event | None:
        return self._events.popleft() if self._events else None

    def next_deadline(self) -> float | None:
        heap = self._heap
        while heap:
            when, _, obj = heap[0]
            current = self._deadline_of(obj)
            if current is None or current > when:
                heapq.heappop(heap)
                if current is not None:
                    heapq.heappush(heap, (current, next(self._seq), obj))
                continue
            return when
        return None

    def _local(self, transport: str) -> tuple[str, int]:
        addrs = self.config.addresses
        return addrs.get(transport) or addrs.get("udp") or next(iter(addrs.values()), ("127.0.0.1", 5060))

    @staticmethod
    def _hostport(host: str, port: int) -> str:
        return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"

    def _contact(self, transport: str) -> str:
        """Our Contact on ``transport``; over TLS a ``sips:`` URI (RFC 5630 §3.1.3: required when
        the request is ``sips:``, allowed otherwise), so TLS peers keep using TLS to reach us."""
        host, port = self._local(transport)
        if transport == "tls":
            return f"<sips:{self.config.user}@{self._hostport(host, port)}>"
        tp = "" if transport == "udp" else f";transport={transport}"
        return f"<sip:{self.config.user}@{self._hostport(host, port)}{tp}>"

    def _via(self, transport: str, branch: str) -> str:
        host, port = self._local(transport)
        return f"SIP/2.0/{transport.upper()} {self._hostport(host, port)};branch={branch};rport"

    def _our_uri(self) -> NameAddr:
        host = self.config.domain or self._hostport(*self._local(self.config.transport))
        return NameAddr(self.config.display_name, SipUri("sip", self.config.user, None, host), {})

    def _address_of(self, uri: Uri) -> TransportAddress:
        """§8.1.2 / RFC 3263 without DNS: the transport, host and port a URI names."""
        if not isinstance(uri, SipUri):
            raise LocalProtocolError(f"cannot send to {uri} without a proxy (only sip: URIs route)")
        transport = uri.transport or ("tls" if uri.scheme == "sips" else self.config.transport)
        default = 5061 if transport == "tls" else 5060
        return TransportAddress(transport, uri.bare_host, uri.port or default)

    def _emit(self, data: bytes, dest: TransportAddress, now: float) -> None:
        self._out.append((data, dest))
        if self.tracing:
            self._traces.append(trace_of("sent", dest, data, now))

    def _trace_received(self, data: bytes, source: TransportAddress, now: float) -> None:
        self._traces.append(trace_of("received", source, data, now))

    def traces_to_send(self) -> list[MessageTrace]:
        """The messages sent and received since the last call, in order (empty unless ``tracing``)."""
        traces, self._traces = self._traces, []
        return traces

    def _event(self, event: ev.Event) -> None:
        self._events.append(event)

    def _watch(self, obj: object) -> None:
        when = self._deadline_of(obj)
        if when is not None:
            heapq.heappush(self._heap, (when, next(self._seq), obj))

    def _deadline_of(self, obj: object) -> float | None:
        if isinstance(obj, Outgoing):
            return None if obj.tx.terminated else obj.tx.next_deadline()
        if isinstance(obj, Transaction):
            return None if obj.terminated else obj.next_deadline()
        if isinstance(obj, Session | Registration):
            return min(obj.deadlines.values()) if obj.deadlines else None
        return None

    def _response_address(self, req: Request, source: TransportAddress) -> TransportAddress:
        """§18.2.2 and RFC 3581: reliable -> the connection; UDP -> received + rport or Via port."""
        if source.reliable:
            return source
        via = req.top_via
        port = source.port if via.wants_rport else (via.port or 5060)
        return TransportAddress(source.transport, source.host, port)

    def _common_headers(self, headers: Headers) -> None:
        if self.config.user_agent:
            headers.add("User-Agent", self.config.user_agent)

    def _product(self, session: Session | None) -> list[tuple[str, str]]:
        """The User-Agent header of a response: none when it is configured empty, and none to a
        caller who has not authenticated when callers are challenged (nothing to fingerprint)."""
        if not self.config.user_agent:
            return []
        if self._digest_server is not None and (session is None or session.user is None):
            return []
        return [("User-Agent", self.config.user_agent)]

    def _send_request(
        self,
        req: Request,
        dest: TransportAddress,
        now: float,
        *,
        purpose: str,
        session: Session | None = None,
        token: int | None = None,
        reg: Registration | None = None,
        via: str | None = None,
        auth_tries: int = 0,
    ) -> Outgoing:
        req.headers.prepend("Via", via or self._via(dest.transport, new_branch()))
        tx = Transaction.client(req, dest, self.config.timers)
        client = Outgoing(tx=tx, purpose=purpose, session=session, token=token, reg=reg)
        client.auth_tries = auth_tries
        self._clients[client_key(req)] = client
        self._client_outputs(client, tx.start(now), now)
        self._watch(client)
        return client

    def _initial_request(
        self, method: str, target: Uri, *, to: NameAddr, from_: NameAddr, call_id: str, cseq: int
    ) -> tuple[Request, TransportAddress]:
        headers = Headers()
        headers.add("Max-Forwards", "70")
        headers.add("From", str(from_))
        headers.add("To", str(to))
        headers.add("Call-ID", call_id)
        headers.add("CSeq", f"{cseq} {method}")
        if self.config.proxy:
            proxy = parse_uri(self.config.proxy)
            if isinstance(proxy, SipUri) and "lr" not in proxy.params:
                proxy.params["lr"] = None
            headers.add("Route", f"<{proxy}>")
            dest = self._address_of(proxy)
        else:
            dest = self._address_of(target)
        self._common_headers(headers)
        return Request(method, target, headers), dest

    def _in_dialog(self, session: Session, method: str, *, cseq: int | None = None) -> tuple[Request, TransportAddress]:
        dialog = session.dialog
        if dialog is None:
            raise LocalProtocolError(f"call {session.id} has no dialog for {method}")
        req = dialog.build_request(method, cseq=cseq)
        self._common_headers(req.headers)
        return req, self._address_of(dialog.next_hop())

    def _client_outputs(
        self, client: Outgoing, outs: list[Send | PassUp | TimedOut | TransportFailed], now: float
    ) -> None:
        for out in outs:
            if isinstance(out, Send):
                self._emit(bytes(out.message), out.dest, now)
            elif isinstance(out, PassUp):
                if isinstance(out.message, Response):
                    self._client_response(client, out.message, now)
            elif isinstance(out, TimedOut):
                self._client_response(client, build_response(client.tx.request, 408, NO_RESPONSE), now)
            else:
                self._client_response(client, build_response(client.tx.request, 503, TRANSPORT_ERROR), now)
        if client.tx.terminated:
            key = client_key(client.tx.request)
            if self._clients.get(key) is client:
                del self._clients[key]

    def _server_outputs(
        self, stx: Transaction, outs: list[Send | PassUp | TimedOut | TransportFailed], now: float
    ) -> None:
        for out in outs:
            if isinstance(out, Send):
                self._emit(bytes(out.message), out.dest, now)
            elif isinstance(out, PassUp) and isinstance(out.message, Request) and out.message.method == "ACK":
                self._on_ack(out.message, now)
        if stx.terminated:
            key = server_key(stx.request)
            if self._servers.get(key) is stx:
                del self._servers[key]
            self._server_session.pop(id(stx), None)

    def _respond(self, stx: Transaction, resp: Response, now: float) -> None:
        if not stx.is_client and stx.state in (State.PROCEEDING, State.TRYING, State.ACCEPTED):
            self._server_outputs(stx, stx.respond(resp, now), now)
            self._watch(stx)

    def _reply(
        self,
        stx: Transaction,
        status: int,
        now: float,
        *,
        session: Session | None = None,
        headers: list[tuple[str, str]] | None = None,
        body: bytes = b"",
        content_type: str | None = None,
        reason: str | None = None,
    ) -> Response:
        tag = session.local_tag if session is not None else new_tag()
        hdrs = [*(headers or []), *self._product(session)]
        resp = build_response(
            stx.request, status, reason, to_tag=tag, headers=hdrs, body=body, content_type=content_type
        )
        self._respond(stx, resp, now)
        return resp

    def _dialog_session(self, req: Request) -> Session | None:
        tag = req.to.tag
        if not tag:
            return None
        return self._by_dialog.get((req.call_id, tag))

    def _in_dialog_checks(self, stx: Transaction, req: Request, now: float) -> Session | None:
        session = self._dialog_session(req)
        if session is None or session.dialog is None or session.state is CallState.ENDED:
            self._reply(stx, 481, now)
            return None
        if not session.dialog.accept_remote_seq(req):
            self._reply(stx, 500, now, reason="Out of Order CSeq", session=session)
            return None
        return session

    def _session(self, call: str) -> Session:
        session = self.sessions.get(call)
        if session is None:
            raise LocalProtocolError(f"no call {call!r}")
        return session

    def _forget(self, session: Session) -> None:
        self._settle(session)
        self.sessions.pop(session.id, None)
        self._by_dialog.pop((session.invite.call_id, session.local_tag), None)
        self._prune_heap()

    def _prune_heap(self) -> None:
        """Drop the heap entries of what has no deadline any more (ended calls, finished
        transactions) once they outnumber the live ones: a burst of short calls must not leave
        the heap to grow until each stale entry happens to reach its top."""
        live = len(self.sessions) + len(self._clients) + len(self._servers) + len(self.registrations)
        if len(self._heap) > 4 * live + 64:
            self._heap = [entry for entry in self._heap if self._deadline_of(entry[2]) is not None]
            heapq.heapify(self._heap)

    def _settle(self, session: Session) -> None:
        """The call is up or over: it no longer counts against its source's dialogs in progress."""
        if session.source is not None and self.defence is not None:
            self.defence.close_dialog(session.source)
        session.source = None

    # -- what the composed core provides (the handlers live in the feature classes) -----------

    def _client_response(self, client: Outgoing, resp: Response, now: float) -> None:
        """A final or provisional response for a request we sent, to the handler of its purpose."""
        raise NotImplementedError

    def _on_ack(self, ack: Request, now: float) -> None:
        """An ACK for a 2xx we sent (§13.3.1.4)."""
        raise NotImplementedError

    def _call_actions(self) -> dict[CallAction, Callable[[Session, Step], None]]:
        """What each action of the call table does (built once by the composed core)."""
        raise NotImplementedError

    # -- the call state table ------------------------------------------------------------------

    def _entry(self, session: Session, inp: CallInput) -> tuple[tuple[CallAction, ...], CallState]:
        """The table's entry for the call's state and ``inp``; no entry is a protocol error."""
        entry = CALL_TABLE.get((session.state, inp))
        if entry is None:
            text = f"call {session.id} in state {session.state.value} cannot take {inp.value}"
            if inp in NETWORK_INPUTS:
                raise RemoteProtocolError(text, status=481)
            raise LocalProtocolError(text)
        return entry

    def _fire(self, session: Session, inp: CallInput, step: Step) -> None:
        """One transition: the next state, then the actions in the table's order."""
        actions, session.state = self._entry(session, inp)
        handlers = self._actions
        for action in actions:
            handlers[action](session, step)

    # -- §13.3.1.4: a 2xx to an INVITE is retransmitted by the core until its ACK ------------

    def _send_2xx(self, session: Session, stx: Transaction, ok: Response, now: float) -> None:
        self._respond(stx, ok, now)
        session.ok = ok
        session.ok_dest = stx.dest
        if not stx.dest.reliable:
            session.ok_interval = self.config.timers.t1
            session.deadlines["2xx"] = now + session.ok_interval
        session.deadlines["2xx_giveup"] = now + 64 * self.config.timers.t1
        self._watch(session)
