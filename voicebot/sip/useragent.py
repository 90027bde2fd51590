"""The SIP user agent core, I/O-free (RFC 3261 §8, §9, §10, §12-§18; RFC 3262, 3311, 3515,
3581, 4028, 6086 dtmf-relay, 6026).

The shape is aioquic's: feed it what arrived and the time, take back what to send and what
happened.

* ``receive_datagram(data, source, now)``: one whole SIP message (a UDP datagram or a message
  framed off a stream) from ``source`` (an :class:`Address`).
* ``datagrams_to_send()``: ``(bytes, Address)`` pairs to put on the wire.
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
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import re
import secrets
from collections import deque
from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING

from voicebot.errors import LocalProtocolError, ProtocolError, RemoteProtocolError
from voicebot.sip import events as ev
from voicebot.sip.defence import Defence, DefenceConfig
from voicebot.sip.dialog import Dialog, DialogState
from voicebot.sip.headers import Headers, Via
from voicebot.sip.message import (
    Request,
    Response,
    SipParseError,
    build_response,
    new_branch,
    new_call_id,
    new_tag,
    parse_message,
)
from voicebot.sip.sdes import DEFAULT_SUITES, offer_crypto
from voicebot.sip.sdp import (
    DEFAULT_CODECS,
    CodecSpec,
    MediaParams,
    SessionDescription,
    make_answer,
    make_offer,
    negotiated,
    with_direction,
)
from voicebot.sip.transaction import (
    Address,
    PassUp,
    Send,
    TimedOut,
    Timers,
    Transaction,
    TransportFailed,
    client_key,
    server_key,
)
from voicebot.sip.uri import AbsoluteUri, NameAddr, SipUri, TelUri, parse_uri, split_list
from voicebot.sip.validate import check_request, check_response

if TYPE_CHECKING:
    from voicebot.sip import auth

Uri = SipUri | TelUri | AbsoluteUri

ALLOWED_METHODS = (
    "INVITE", "ACK", "BYE", "CANCEL", "OPTIONS", "UPDATE", "INFO", "PRACK", "REFER", "NOTIFY",
)  # fmt: skip
SUPPORTED = ("100rel", "timer", "replaces", "norefersub")
ACCEPT = "application/sdp, application/dtmf-relay, message/sipfrag"
_DTMF_SIGNAL = re.compile(r"^\s*signal\s*=\s*([0-9A-Da-d*#]|1[0-6])\s*$", re.I | re.M)
_DTMF_DURATION = re.compile(r"^\s*duration\s*=\s*(\d+)\s*$", re.I | re.M)
NO_RESPONSE = "No Response"  # reason of the 408 we make up when Timer B/F fires
TRANSPORT_ERROR = "Transport Error"  # reason of the 503 we make up when sending failed
_SIPFRAG = re.compile(r"^SIP/2\.0\s+(\d{3})")


@dataclass(kw_only=True)
class UaConfig:
    """Settings of one user agent; addresses are filled in by the driver after binding."""

    user: str = "voicebot"
    display_name: str | None = None
    domain: str | None = None  # host part of our From/AOR; defaults to the listening host
    auth_user: str | None = None  # credentials we answer challenges with
    password: str | None = None
    server_credentials: dict[str, str] | None = None  # challenge callers with these
    realm: str = "voicebot"
    auth_algorithms: tuple[str, ...] = ("SHA-256", "MD5")  # challenges we offer, strongest first
    proxy: str | None = None  # outbound proxy URI (pre-loaded Route, §8.1.2)
    transport: str = "udp"  # default transport for URIs without ;transport
    timers: Timers = field(default_factory=Timers)
    user_agent: str = "voicebot/0.1"  # "" leaves the header out
    session_expires: int = 1800  # RFC 4028 interval we ask for; 0 disables session timers
    min_se: int = 90
    codecs: tuple[CodecSpec, ...] = DEFAULT_CODECS
    incoming_timeout: float = 120.0  # an INVITE nobody answers gets 480 after this long
    max_sessions: int = 1000  # more concurrent calls get 503 with Retry-After
    defence: DefenceConfig | None = field(default_factory=DefenceConfig)  # None: no per-source limits
    srtp: str = "optional"  # "off", "optional" (SRTP offered over TLS, taken when offered), "mandatory"
    srtp_suites: tuple[str, ...] = DEFAULT_SUITES  # SDES suites we offer / accept, preferred first
    addresses: dict[str, tuple[str, int]] = field(default_factory=dict)


class CallState(Enum):
    CALLING = "calling"  # UAC: INVITE sent
    EARLY = "early"  # UAC: provisional received / UAS: ringing
    INCOMING = "incoming"  # UAS: INVITE received, nothing sent beyond 100
    ANSWERING = "answering"  # UAS: 2xx sent, waiting for ACK
    CONFIRMED = "confirmed"
    ENDING = "ending"  # BYE sent
    ENDED = "ended"


@dataclass(eq=False)
class Session:
    """One INVITE usage (a call) and its dialog."""

    id: str
    role: str  # "uac" / "uas"
    invite: Request
    state: CallState
    local_tag: str
    dialog: Dialog | None = None
    media_address: tuple[str, int] | None = None
    local_sdp: SessionDescription | None = None
    remote_sdp: SessionDescription | None = None
    media: MediaParams | None = None
    on_hold: bool = False
    invite_tx: Transaction | None = None  # UAS: the server transaction of the (re-)INVITE
    ok: Response | None = None  # UAS: the 2xx being retransmitted until ACK
    ok_dest: Address | None = None
    ok_interval: float = 0.0
    ok_is_initial: bool = False
    last_ack: tuple[bytes, Address] | None = None  # UAC: resent on a retransmitted 2xx
    ack_cseq: int = 0
    cancel_wanted: bool = False
    cancelled: bool = False
    reinvite_token: int | None = None  # our outstanding re-INVITE
    reinvite_dir: str | None = None
    glare_token: int | None = None
    peer_allow: str = ""  # the peer's Allow (its INVITE, or its 2xx): UPDATE for refreshes?
    bye_after_ack: bool = (
        False  # hangup() while our 2xx waited for its ACK  # a re-INVITE that got 491 and waits to be retried
    )
    glare_tries: int = 0
    reliable: bool = False  # UAS: send 1xx reliably (caller requires 100rel)
    rseq: int = 0
    rel_response: Response | None = None
    rel_interval: float = 0.0
    queued_final: Response | None = None  # UAS: held back until PRACK
    prack_seen: set[int] = field(default_factory=set)  # UAC: RSeq values already PRACKed
    se_interval: int = 0  # RFC 4028 session interval
    se_we_refresh: bool = False
    refer_cseq: int | None = None  # a REFER we accepted: report with NOTIFY
    answer_in_ack: bool = False
    user: str | None = None
    source: str | None = None  # UAS: the host counted against its per-source dialog limit
    ended_reason: str | None = None
    deadlines: dict[str, float] = field(default_factory=dict)


@dataclass(eq=False)
class Registration:
    registrar: Uri
    aor: NameAddr
    call_id: str
    tag: str
    expires: int
    cseq: int = 0
    active: bool = False
    deadlines: dict[str, float] = field(default_factory=dict)


@dataclass(eq=False)
class _Client:
    """A client transaction and what its responses are for."""

    tx: Transaction
    purpose: str
    session: Session | None = None
    token: int | None = None
    reg: Registration | None = None
    auth_tries: int = 0
    extra: dict[str, str] = field(default_factory=dict)


class UserAgentCore:
    """The I/O-free user agent: see the module docstring for the driving protocol."""

    def __init__(self, config: UaConfig) -> None:
        self.config = config
        self._out: list[tuple[bytes, Address]] = []
        self._events: deque[ev.Event] = deque()
        self._clients: dict[tuple[str, str], _Client] = {}
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

    # ================================================================ driver interface

    def datagrams_to_send(self) -> list[tuple[bytes, Address]]:
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

    def handle_timer(self, now: float) -> None:
        heap = self._heap
        while heap and heap[0][0] <= now:
            _, _, obj = heapq.heappop(heap)
            if isinstance(obj, _Client):
                outs = obj.tx.handle_timer(now)
                self._client_outputs(obj, outs, now)
            elif isinstance(obj, Transaction):
                outs = obj.handle_timer(now)
                self._server_outputs(obj, outs, now)
            elif isinstance(obj, Session):
                self._session_timer(obj, now)
            elif isinstance(obj, Registration):
                self._registration_timer(obj, now)
            self._watch(obj)

    def transport_error(self, dest: Address, now: float) -> None:
        """The transport could not deliver to ``dest``: fail the client transactions going there."""
        for client in [c for c in self._clients.values() if c.tx.dest == dest]:
            self._client_outputs(client, client.tx.transport_error(now), now)

    def receive_datagram(self, data: bytes, source: Address, now: float) -> None:
        """One whole message from ``source``. Nothing a peer sends raises out of here."""
        if not data.startswith(b"SIP/2.0 ") and not self._admit(source, now):
            return  # a request over its source's rate, or from a banned source: not even parsed
        try:
            msg = parse_message(data)
        except SipParseError as exc:
            self._answer_unparsable(exc, source)
            return
        self._receive(msg, source, now)

    def receive_message(self, msg: Request | Response | SipParseError, source: Address, now: float) -> None:
        """A message a stream transport already framed and parsed (or the error it found)."""
        if not isinstance(msg, Response) and not self._admit(source, now):
            return
        if isinstance(msg, SipParseError):
            self._answer_unparsable(msg, source)
            return
        self._receive(msg, source, now)

    def _receive(self, msg: Request | Response, source: Address, now: float) -> None:
        try:
            if isinstance(msg, Request):
                self._on_request(msg, source, now)
            else:
                self._on_response(msg, now)
        except RemoteProtocolError:
            self.dropped += 1

    def _admit(self, source: Address, now: float) -> bool:
        """Ask the per-source defence whether a request from ``source`` is looked at."""
        defence = self.defence
        if defence is None:
            return True
        ok = defence.admit(source.host, now)
        if not ok:
            self.dropped += 1
        self._defence_notices()
        return ok

    def _defence_notices(self) -> None:
        if self.defence is not None:
            self._events.extend(self.defence.notices())

    # ================================================================ addresses and helpers

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

    def _address_of(self, uri: Uri) -> Address:
        """§8.1.2 / RFC 3263 without DNS: the transport, host and port a URI names."""
        if not isinstance(uri, SipUri):
            raise LocalProtocolError(f"cannot send to {uri} without a proxy (only sip: URIs route)")
        transport = uri.transport or ("tls" if uri.scheme == "sips" else self.config.transport)
        default = 5061 if transport == "tls" else 5060
        return Address(transport, uri.bare_host, uri.port or default)

    def _emit(self, data: bytes, dest: Address) -> None:
        self._out.append((data, dest))

    def _event(self, event: ev.Event) -> None:
        self._events.append(event)

    def _watch(self, obj: object) -> None:
        when = self._deadline_of(obj)
        if when is not None:
            heapq.heappush(self._heap, (when, next(self._seq), obj))

    def _deadline_of(self, obj: object) -> float | None:
        if isinstance(obj, _Client):
            return None if obj.tx.terminated else obj.tx.next_deadline()
        if isinstance(obj, Transaction):
            return None if obj.terminated else obj.next_deadline()
        if isinstance(obj, Session | Registration):
            return min(obj.deadlines.values()) if obj.deadlines else None
        return None

    def _response_address(self, req: Request, source: Address) -> Address:
        """§18.2.2 and RFC 3581: reliable -> the connection; UDP -> received + rport or Via port."""
        if source.reliable:
            return source
        via = req.top_via
        port = source.port if via.wants_rport else (via.port or 5060)
        return Address(source.transport, source.host, port)

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

    # ================================================================ sending requests

    def _send_request(
        self,
        req: Request,
        dest: Address,
        now: float,
        *,
        purpose: str,
        session: Session | None = None,
        token: int | None = None,
        reg: Registration | None = None,
        via: str | None = None,
        auth_tries: int = 0,
    ) -> _Client:
        req.headers.prepend("Via", via or self._via(dest.transport, new_branch()))
        tx = Transaction.client(req, dest, self.config.timers)
        client = _Client(tx=tx, purpose=purpose, session=session, token=token, reg=reg)
        client.auth_tries = auth_tries
        self._clients[client_key(req)] = client
        self._client_outputs(client, tx.start(now), now)
        self._watch(client)
        return client

    def _initial_request(
        self, method: str, target: Uri, *, to: NameAddr, from_: NameAddr, call_id: str, cseq: int
    ) -> tuple[Request, Address]:
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

    def _in_dialog(self, session: Session, method: str, *, cseq: int | None = None) -> tuple[Request, Address]:
        dialog = session.dialog
        if dialog is None:
            raise LocalProtocolError(f"call {session.id} has no dialog for {method}")
        req = dialog.build_request(method, cseq=cseq)
        self._common_headers(req.headers)
        return req, self._address_of(dialog.next_hop())

    # ================================================================ client outputs

    def _client_outputs(
        self, client: _Client, outs: list[Send | PassUp | TimedOut | TransportFailed], now: float
    ) -> None:
        for out in outs:
            if isinstance(out, Send):
                self._emit(bytes(out.message), out.dest)
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

    def _stray_2xx(self, resp: Response, now: float) -> None:
        session = self._by_dialog.get((resp.call_id, resp.from_.tag or ""))
        if (
            session is not None
            and session.last_ack is not None
            and session.dialog is not None
            and (resp.to.tag or "") == session.dialog.remote_tag
        ):
            self._emit(*session.last_ack)
            return
        self.dropped += 1

    def _client_response(self, client: _Client, resp: Response, now: float) -> None:
        status = resp.status
        if status in (401, 407) and self._retry_with_auth(client, resp, now):
            return
        handler = getattr(self, f"_resp_{client.purpose}")
        handler(client, resp, now)

    # -- authentication (RFC 7616, RFC 8760) as a client -------------------------------------

    def _retry_with_auth(self, client: _Client, resp: Response, now: float) -> bool:
        if self._digest is None or client.auth_tries >= 2 or client.tx.request.method in ("CANCEL", "ACK"):
            return False
        www = resp.status == 401
        values = resp.headers.get_all("WWW-Authenticate" if www else "Proxy-Authenticate")
        if not values:
            return False
        try:
            from voicebot.sip.auth import parse_challenges

            challenges = parse_challenges(values)
        except ProtocolError:
            return False
        old = client.tx.request
        headers = old.headers.copy()
        headers.remove("Via")
        session = client.session
        if session is not None and session.dialog is not None and client.purpose != "invite":
            seq = session.dialog.next_seq()
        else:
            seq = old.cseq.seq + 1
            if session is not None and session.dialog is not None:
                session.dialog.local_seq = seq
        if client.reg is not None:
            client.reg.cseq = seq
        headers.set("CSeq", f"{seq} {old.method}")
        try:
            value = None
            for challenge in challenges:
                try:
                    value = self._digest.authorization(challenge, old.method, str(old.uri), old.body)
                    break
                except ProtocolError:
                    continue
        except ProtocolError:
            value = None
        if value is None:
            return False
        headers.set("Authorization" if www else "Proxy-Authorization", value)
        new = Request(old.method, old.uri, headers, old.body)
        if session is not None and client.purpose == "invite":
            session.invite = new
        self._send_request(
            new,
            client.tx.dest,
            now,
            purpose=client.purpose,
            session=session,
            token=client.token,
            reg=client.reg,
            auth_tries=client.auth_tries + 1,
        )
        return True

    # ================================================================ incoming requests

    def _answer_unparsable(self, exc: SipParseError, source: Address) -> None:
        """A request we can still read enough of gets its 4xx/5xx; anything else is dropped."""
        self.dropped += 1
        req = exc.request
        if req is None or req.method == "ACK":
            return
        try:
            dest = self._response_address(req, source)
            resp = build_response(req, exc.status, to_tag=new_tag())
        except (ProtocolError, ValueError):
            return
        self._emit(bytes(resp), dest)

    def _on_request(self, req: Request, source: Address, now: float) -> None:
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
            getattr(self, f"_req_{req.method.lower()}")(stx, req, now)
        except ProtocolError as exc:
            if stx.state.name in ("PROCEEDING", "TRYING"):
                extra = list(exc.extra_headers.items())
                self._respond(stx, build_response(req, exc.status, to_tag=new_tag(), headers=extra), now)
        finally:
            self._verified.pop(key, None)

    @staticmethod
    def _stamp_via(req: Request, source: Address, key: tuple[str, ...]) -> None:
        """RFC 3261 §18.2.1 and RFC 3581 §4: the top Via gets ``received=`` the source address
        (when it differs from sent-by, or the client asked for ``rport``) and ``rport=`` the
        source port, so every response says where the request came from. Only for RFC 3261
        branches: an RFC 2543 transaction is keyed by the Via text itself."""
        if key[0] != "3261":
            return
        try:
            via = req.top_via
        except RemoteProtocolError:
            return
        wants_rport = via.wants_rport
        if not wants_rport and via.bare_host == source.host:
            return
        params = dict(via.params)
        params["received"] = source.host
        if wants_rport:
            params["rport"] = str(source.port)
        first = split_list(req.headers.get_all_fields("Via")[0])
        first[0] = str(Via(via.transport, via.host, via.port, params, via.protocol))
        req.headers.replace_first("Via", ", ".join(first))

    @staticmethod
    def _is_new_dialog(req: Request) -> bool:
        try:
            return not req.to.tag
        except RemoteProtocolError:
            return False  # a broken To: check_request answers 400

    def _screen_invite(self, req: Request, key: tuple[str, ...], dest: Address, now: float) -> bool:
        """Caller authentication and the per-source dialog limit, before any state is kept: an
        INVITE that fails either gets one stateless answer (or none) and leaves nothing behind,
        so a spoofed source gets back about the bytes it sent (Kamailio's ``sl``)."""
        if self._digest_server is not None:
            user = self._authenticate(req, dest, now)
            if user is None:
                return False
            self._verified[key] = user
        if self.defence is not None and self.defence.dialogs_full(dest.host, now):
            self._verified.pop(key, None)
            self._stateless(req, 503, dest, [("Retry-After", "5")], reason="Too Many Calls From This Address")
            return False
        return True

    def _authenticate(self, req: Request, dest: Address, now: float) -> str | None:
        """The user a new INVITE authenticated as; else None after a stateless 401 (or nothing,
        while the source or the user name is backed off or banned)."""
        from voicebot.sip.auth import Credentials

        server = self._digest_server
        assert server is not None
        defence = self.defence
        host = dest.host
        value = req.headers.get("Authorization")
        stale = False
        if value:
            try:
                claimed = Credentials.parse(value).get("username") or ""
            except ProtocolError:
                claimed = ""
            if defence is not None and not defence.may_authenticate(host, claimed, now):
                self.dropped += 1  # not checked, not answered: a retransmission is checked later
                return None
            verdict = server.check(req.method, self._digest_uri(req, value), value, now, req.body)
            if verdict.username is not None:
                if defence is not None:
                    defence.auth_succeeded(host, verdict.username, now)
                return verdict.username
            stale = verdict.stale
            if defence is not None and not stale:
                defence.auth_failed(host, claimed, now)
                self._defence_notices()
                if defence.banned(host, now):
                    return None
        challenges = server.challenge_headers(stale, now=now)
        self._stateless(req, 401, dest, [("WWW-Authenticate", c) for c in challenges])
        return None

    def _stateless(
        self, req: Request, status: int, dest: Address, headers: list[tuple[str, str]], reason: str | None = None
    ) -> None:
        """One response and no transaction (RFC 3261 §8.2.7 stateless UAS behaviour): a
        retransmitted request is simply answered again."""
        resp = build_response(req, status, reason, to_tag=new_tag(), headers=[*headers, *self._product(None)])
        self._emit(bytes(resp), dest)

    def _server_outputs(
        self, stx: Transaction, outs: list[Send | PassUp | TimedOut | TransportFailed], now: float
    ) -> None:
        for out in outs:
            if isinstance(out, Send):
                self._emit(bytes(out.message), out.dest)
            elif isinstance(out, PassUp) and isinstance(out.message, Request) and out.message.method == "ACK":
                self._on_ack(out.message, now)
        if stx.terminated:
            key = server_key(stx.request)
            if self._servers.get(key) is stx:
                del self._servers[key]
            self._server_session.pop(id(stx), None)

    def _respond(self, stx: Transaction, resp: Response, now: float) -> None:
        if not stx.is_client and stx.state.name in ("PROCEEDING", "TRYING", "ACCEPTED"):
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

    # -- OPTIONS (§11) -------------------------------------------------------------------------

    def _req_options(self, stx: Transaction, req: Request, now: float) -> None:
        self._reply(
            stx,
            200,
            now,
            headers=[
                ("Allow", ", ".join(ALLOWED_METHODS)),
                ("Accept", ACCEPT),
                ("Supported", ", ".join(SUPPORTED)),
            ],
        )

    # -- INVITE (§13.3, §14.2) -------------------------------------------------------------------

    def _req_invite(self, stx: Transaction, req: Request, now: float) -> None:
        if req.to.tag:
            self._reinvite_in(stx, req, now)
            return
        user = self._verified.get(server_key(req))  # set by _screen_invite when callers are challenged
        se = self._check_session_expires(req)
        remote: SessionDescription | None = None
        if req.body:
            remote = self._parse_sdp(req)
            self._can_answer(remote)
        if len(self.sessions) >= self.config.max_sessions:
            raise RemoteProtocolError("too many calls", status=503, extra_headers={"Retry-After": "5"})
        session = Session(id=req.call_id, role="uas", invite=req, state=CallState.INCOMING, local_tag=new_tag())
        if session.id in self.sessions:
            session.id = f"{req.call_id};{session.local_tag}"
        session.remote_sdp = remote
        session.invite_tx = stx
        session.user = user
        if self.defence is not None:
            self.defence.open_dialog(stx.dest.host, now)
            session.source = stx.dest.host
        session.peer_allow = ", ".join(req.headers.get_all("Allow"))
        session.reliable = "100rel" in [t.lower() for t in req.headers.get_all("Require")]
        session.se_interval = se
        self.sessions[session.id] = session
        self._by_dialog[(req.call_id, session.local_tag)] = session
        self._server_session[id(stx)] = session
        session.deadlines["unanswered"] = now + self.config.incoming_timeout
        self._watch(session)
        self._event(
            ev.IncomingCall(call=session.id, request=req, caller=str(req.from_.uri), callee=str(req.to.uri), user=user)
        )

    @staticmethod
    def _digest_uri(req: Request, authorization: str) -> str:
        """The digest-uri to verify against: the Request-URI, or the client's own uri when it
        names the same host and port (SIPp answers with ``sip:host:port``, RFC 7616 §3.4.6
        lets the server accept an equivalent URI)."""
        from voicebot.sip.auth import Credentials

        ruri = str(req.uri)
        try:
            given = Credentials.parse(authorization).get("uri")
            if given is None or given == ruri:
                return ruri
            theirs, ours = parse_uri(given), req.uri
        except ProtocolError:
            return ruri
        if (
            isinstance(theirs, SipUri)
            and isinstance(ours, SipUri)
            and theirs.host.lower() == ours.host.lower()
            and (theirs.port or 5060) == (ours.port or 5060)
        ):
            return given
        return ruri

    def _check_session_expires(self, req: Request) -> int:
        value = req.headers.get("Session-Expires")
        if value is None or self.config.session_expires <= 0:
            return 0
        try:
            interval = int(value.split(";", 1)[0].strip())
        except ValueError:
            raise RemoteProtocolError("bad Session-Expires", status=400) from None
        if interval < self.config.min_se:
            raise RemoteProtocolError(
                "Session-Expires below Min-SE", status=422, extra_headers={"Min-SE": str(self.config.min_se)}
            )
        return interval

    def _parse_sdp(self, msg: Request | Response) -> SessionDescription:
        if msg.content_type != "application/sdp":
            raise RemoteProtocolError("body is not SDP", status=415, extra_headers={"Accept": "application/sdp"})
        return SessionDescription.parse(msg.body)

    def _can_answer(self, offer: SessionDescription) -> None:
        self._make_answer(offer, "127.0.0.1", 9)

    def _make_offer(self, host: str, port: int, transport: str, direction: str = "sendrecv") -> SessionDescription:
        """Our SDP offer; with SDES keys (RTP/SAVP) when SRTP is mandatory, or optional and the
        signalling is TLS (keys sent in the clear over UDP or TCP would protect nothing)."""
        cfg = self.config
        secure = cfg.srtp == "mandatory" or (cfg.srtp == "optional" and transport == "tls")
        crypto = offer_crypto(cfg.srtp_suites) if secure else []
        return make_offer(host, port, codecs=cfg.codecs, crypto=crypto, direction=direction)

    def _make_answer(
        self,
        offer: SessionDescription,
        host: str,
        port: int,
        previous: SessionDescription | None = None,
        direction: str | None = None,
    ) -> SessionDescription:
        cfg = self.config
        return make_answer(
            offer, host, port, codecs=cfg.codecs, srtp=cfg.srtp, suites=cfg.srtp_suites,
            previous=previous, direction=direction,
        )  # fmt: skip

    def _session_expires_headers(self, session: Session, req: Request) -> list[tuple[str, str]]:
        if not session.se_interval:
            return []
        supported = [t.lower() for t in req.headers.get_all("Supported")]
        param = (req.headers.get("Session-Expires") or "").lower()
        if "refresher=uas" in param:
            refresher = "uas"
        elif "refresher=uac" in param or "timer" in supported:
            refresher = "uac"
        else:
            refresher = "uas"
        session.se_we_refresh = refresher == "uas"
        out = [("Session-Expires", f"{session.se_interval};refresher={refresher}")]
        if "timer" in supported:
            out.append(("Require", "timer"))
        return out

    def ring(self, call: str, now: float) -> None:
        """UAS: send 180 Ringing (reliably when the caller requires 100rel)."""
        session = self._session(call)
        if session.state not in (CallState.INCOMING, CallState.EARLY) or session.invite_tx is None:
            raise LocalProtocolError(f"call {call} is not ringing-capable in state {session.state.value}")
        headers = [("Contact", self._contact(session.invite_tx.dest.transport))]
        if session.reliable:
            session.rseq += 1
            headers += [("Require", "100rel"), ("RSeq", str(session.rseq))]
        resp = self._reply(session.invite_tx, 180, now, session=session, headers=headers)
        self._ensure_uas_dialog(session, resp)
        session.state = CallState.EARLY
        if session.reliable:
            session.rel_response = resp
            session.rel_interval = self.config.timers.t1
            session.deadlines["rel1xx"] = now + session.rel_interval
            session.deadlines["rel1xx_giveup"] = now + 64 * self.config.timers.t1
            self._watch(session)

    def _ensure_uas_dialog(self, session: Session, resp: Response) -> None:
        if session.dialog is None:
            session.dialog = Dialog.from_uas(session.invite, resp)
        elif 200 <= resp.status < 300:
            session.dialog.state = DialogState.CONFIRMED

    def answer(self, call: str, now: float, media_address: tuple[str, int]) -> None:
        """UAS: accept the call with 200 OK and our SDP (answer, or offer when the INVITE had none)."""
        session = self._session(call)
        stx = session.invite_tx
        if session.state not in (CallState.INCOMING, CallState.EARLY) or stx is None:
            raise LocalProtocolError(f"call {call} cannot be answered in state {session.state.value}")
        session.deadlines.pop("unanswered", None)
        session.media_address = media_address
        if session.remote_sdp is not None:
            session.local_sdp = self._make_answer(session.remote_sdp, media_address[0], media_address[1])
            session.media = negotiated(session.local_sdp, session.remote_sdp)
        else:
            session.local_sdp = self._make_offer(media_address[0], media_address[1], stx.dest.transport)
            session.answer_in_ack = True
        headers = [
            ("Contact", self._contact(stx.dest.transport)),
            ("Allow", ", ".join(ALLOWED_METHODS)),
            ("Supported", ", ".join(SUPPORTED)),
            *self._session_expires_headers(session, session.invite),
        ]
        ok = build_response(
            session.invite,
            200,
            to_tag=session.local_tag,
            headers=[*headers, *self._product(session)],
            body=bytes(session.local_sdp),
            content_type="application/sdp",
        )
        self._ensure_uas_dialog(session, ok)
        session.state = CallState.ANSWERING
        session.ok_is_initial = True
        if session.rel_response is not None:
            session.queued_final = ok  # RFC 3262 §3: wait for the PRACK of our reliable 1xx
            return
        self._send_2xx(session, stx, ok, now)

    def _send_2xx(self, session: Session, stx: Transaction, ok: Response, now: float) -> None:
        self._respond(stx, ok, now)
        session.ok = ok
        session.ok_dest = stx.dest
        if not stx.dest.reliable:
            session.ok_interval = self.config.timers.t1
            session.deadlines["2xx"] = now + session.ok_interval
        session.deadlines["2xx_giveup"] = now + 64 * self.config.timers.t1
        self._watch(session)

    def reject(self, call: str, status: int, now: float, reason: str | None = None) -> None:
        """UAS: refuse the call with a final non-2xx response (486 busy, 603 decline, ...)."""
        session = self._session(call)
        if not 300 <= status <= 699:
            raise LocalProtocolError(f"reject needs a 3xx-6xx status, not {status}")
        if session.invite_tx is None or session.state not in (CallState.INCOMING, CallState.EARLY):
            raise LocalProtocolError(f"call {call} cannot be rejected in state {session.state.value}")
        self._reply(session.invite_tx, status, now, session=session, reason=reason)
        self._end(session, f"rejected {status}", by_remote=False)

    def _on_ack(self, ack: Request, now: float) -> None:
        session = self._by_dialog.get((ack.call_id, ack.to.tag or ""))
        if session is None:
            session = self._ack_with_wrong_tag(ack)
        if session is None or session.ok is None or ack.cseq.seq != session.ok.cseq.seq:
            self.dropped += 1
            return
        session.ok = None
        session.deadlines.pop("2xx", None)
        session.deadlines.pop("2xx_giveup", None)
        if session.answer_in_ack and ack.body:
            session.answer_in_ack = False
            try:
                session.remote_sdp = self._parse_sdp(ack)
                assert session.local_sdp is not None
                session.media = negotiated(session.local_sdp, session.remote_sdp)
            except ProtocolError:
                self._bye(session, now, "bad SDP answer in ACK")
                return
            if not session.ok_is_initial:
                self._event(ev.MediaChanged(call=session.id, media=session.media))
        if session.ok_is_initial:
            session.ok_is_initial = False
            session.state = CallState.CONFIRMED
            self._settle(session)
            self._start_session_timer(session, now)
            self._event(ev.CallAnswered(call=session.id, media=session.media))
            if session.bye_after_ack:
                self._bye(session, now, "local BYE")

    def _ack_with_wrong_tag(self, ack: Request) -> Session | None:
        """Tolerate an ACK whose To tag is not ours (pyVoIP 1.6.8 makes one up) when Call-ID,
        From tag and CSeq all match a 2xx that waits for its ACK: dropping it would end the
        call at Timer H. The Call-ID alone carries 128 unpredictable bits of the caller's."""
        for session in self.sessions.values():
            if (
                session.ok is not None
                and session.invite.call_id == ack.call_id
                and (session.invite.from_.tag or "") == (ack.from_.tag or "")
                and session.ok.cseq.seq == ack.cseq.seq
            ):
                return session
        return None

    # -- CANCEL (§9.2) -----------------------------------------------------------------------------

    def _req_cancel(self, stx: Transaction, req: Request, now: float) -> None:
        key = list(server_key(req))
        key[3 if key[0] == "3261" else 5] = "INVITE"
        itx = self._servers.get(tuple(key))
        if itx is None:
            self._reply(stx, 481, now)
            return
        self._reply(stx, 200, now)
        session = self._server_session.get(id(itx))
        if itx.state.name == "PROCEEDING":
            tag = session.local_tag if session is not None else new_tag()
            resp = build_response(itx.request, 487, to_tag=tag)
            self._respond(itx, resp, now)
            if session is not None and session.state in (CallState.INCOMING, CallState.EARLY, CallState.ANSWERING):
                self._end(session, "cancelled", by_remote=True)

    # -- BYE (§15) ---------------------------------------------------------------------------------

    def _req_bye(self, stx: Transaction, req: Request, now: float) -> None:
        session = self._in_dialog_checks(stx, req, now)
        if session is None:
            return
        self._reply(stx, 200, now, session=session)
        if session.ok is not None and session.ok_is_initial:
            # BYE overtook (or replaced, with a broken peer) the ACK of our 2xx: the call was up
            session.ok = None
            session.ok_is_initial = False
            self._event(ev.CallAnswered(call=session.id, media=session.media))
        if session.invite_tx is not None and session.invite_tx.state.name == "PROCEEDING":
            self._respond(session.invite_tx, build_response(session.invite, 487, to_tag=session.local_tag), now)
        self._end(session, "remote BYE", by_remote=True)

    # -- re-INVITE and UPDATE (§14, RFC 3311) -----------------------------------------------------

    def _reinvite_in(self, stx: Transaction, req: Request, now: float) -> None:
        session = self._in_dialog_checks(stx, req, now)
        if session is None:
            return
        if session.reinvite_token is not None:
            self._reply(stx, 491, now, session=session)  # §14.2 glare
            return
        if session.ok is not None:
            self._reply(stx, 500, now, session=session, headers=[("Retry-After", str(secrets.randbelow(10)))])
            return
        assert session.dialog is not None
        session.dialog.refresh_target(req)
        self._server_session[id(stx)] = session
        body = b""
        if req.body:
            remote = self._parse_sdp(req)
            local = self._answer_for(session, remote)
            session.remote_sdp, session.local_sdp = remote, local
            session.media = negotiated(local, remote)
            body = bytes(local)
        else:
            session.local_sdp = self._offer_for(session)
            session.answer_in_ack = True
            body = bytes(session.local_sdp)
        se = self._check_session_expires(req)
        if se:
            session.se_interval = se
        headers = [
            ("Contact", self._contact(stx.dest.transport)),
            ("Allow", ", ".join(ALLOWED_METHODS)),
            ("Supported", ", ".join(SUPPORTED)),
            *self._session_expires_headers(session, req),
            *self._product(session),
        ]
        ok = build_response(
            req, 200, to_tag=session.local_tag, headers=headers, body=body, content_type="application/sdp"
        )
        session.ok_is_initial = False
        self._send_2xx(session, stx, ok, now)
        self._start_session_timer(session, now)
        if session.media is not None and not session.answer_in_ack:
            self._event(ev.MediaChanged(call=session.id, media=session.media))

    def _req_update(self, stx: Transaction, req: Request, now: float) -> None:
        session = self._in_dialog_checks(stx, req, now)
        if session is None:
            return
        assert session.dialog is not None
        session.dialog.refresh_target(req)
        body = b""
        changed = False
        if req.body:
            remote = self._parse_sdp(req)
            local = self._answer_for(session, remote)
            session.remote_sdp, session.local_sdp = remote, local
            session.media = negotiated(local, remote)
            body = bytes(local)
            changed = True
        se = self._check_session_expires(req)
        if se:
            session.se_interval = se
        headers = [("Contact", self._contact(stx.dest.transport)), *self._session_expires_headers(session, req)]
        self._reply(
            stx, 200, now, session=session, headers=headers, body=body, content_type="application/sdp" if body else None
        )
        self._start_session_timer(session, now)
        if changed and session.media is not None:
            self._event(ev.MediaChanged(call=session.id, media=session.media))

    def _answer_for(self, session: Session, offer: SessionDescription) -> SessionDescription:
        host, port = session.media_address or ("127.0.0.1", 9)
        return self._make_answer(
            offer, host, port, previous=session.local_sdp, direction="sendonly" if session.on_hold else None
        )

    def _offer_for(self, session: Session) -> SessionDescription:
        host, port = session.media_address or ("127.0.0.1", 9)
        direction = "sendonly" if session.on_hold else "sendrecv"
        if session.local_sdp is not None:
            return with_direction(session.local_sdp, direction)
        return self._make_offer(host, port, self.config.transport, direction=direction)

    # -- INFO (RFC 6086, application/dtmf-relay) ---------------------------------------------------

    def _req_info(self, stx: Transaction, req: Request, now: float) -> None:
        session = self._in_dialog_checks(stx, req, now)
        if session is None:
            return
        if req.content_type == "application/dtmf-relay":
            text = req.body.decode("utf-8", "replace")
            sig = _DTMF_SIGNAL.search(text)
            if sig is None:
                self._reply(stx, 400, now, session=session, reason="Bad dtmf-relay body")
                return
            dur = _DTMF_DURATION.search(text)
            digit = sig.group(1).upper()
            if digit.isdigit() and int(digit) >= 10:
                digit = "0123456789*#ABCD"[int(digit)] if int(digit) < 16 else "D"
            self._reply(stx, 200, now, session=session)
            self._event(ev.DtmfReceived(call=session.id, digit=digit, duration_ms=int(dur.group(1)) if dur else 160))
            return
        self._reply(stx, 200, now, session=session)

    # -- REFER / NOTIFY (RFC 3515) -----------------------------------------------------------------

    def _req_refer(self, stx: Transaction, req: Request, now: float) -> None:
        session = self._in_dialog_checks(stx, req, now)
        if session is None:
            return
        values = req.headers.get_all("Refer-To")
        if len(values) != 1:
            self._reply(stx, 400, now, session=session, reason="Bad Refer-To")
            return
        target = NameAddr.parse(values[0]).uri
        self._reply(stx, 202, now, session=session, headers=[("Contact", self._contact(stx.dest.transport))])
        session.refer_cseq = req.cseq.seq
        self._notify(session, 100, "Trying", now, final=False)
        self._event(ev.TransferRequested(call=session.id, target=str(target)))

    def _notify(self, session: Session, status: int, reason: str, now: float, *, final: bool) -> None:
        req, dest = self._in_dialog(session, "NOTIFY")
        req.headers.add("Event", "refer")
        req.headers.add("Subscription-State", "terminated;reason=noresource" if final else "active;expires=60")
        req.headers.add("Contact", self._contact(dest.transport))
        req.headers.add("Content-Type", "message/sipfrag;version=2.0")
        req.body = f"SIP/2.0 {status} {reason}\r\n".encode()
        self._send_request(req, dest, now, purpose="quiet", session=session)

    def notify_transfer(self, call: str, status: int, reason: str, now: float) -> None:
        """Report the progress of a transfer the peer asked for (NOTIFY with a sipfrag)."""
        session = self._session(call)
        if session.refer_cseq is None:
            raise LocalProtocolError(f"call {call} has no REFER to report on")
        final = status >= 200
        self._notify(session, status, reason, now, final=final)
        if final:
            session.refer_cseq = None

    def _req_notify(self, stx: Transaction, req: Request, now: float) -> None:
        session = self._in_dialog_checks(stx, req, now)
        if session is None:
            return
        event = (req.headers.get("Event") or "").split(";", 1)[0].strip().lower()
        if event != "refer":
            self._reply(stx, 489, now, session=session)
            return
        self._reply(stx, 200, now, session=session)
        m = _SIPFRAG.match(req.body.decode("utf-8", "replace"))
        state = (req.headers.get("Subscription-State") or "").lower()
        if m is not None:
            status = int(m.group(1))
            self._event(
                ev.TransferProgress(
                    call=session.id, status=status, final=status >= 200 or state.startswith("terminated")
                )
            )

    # -- PRACK (RFC 3262) as UAS ------------------------------------------------------------------

    def _req_prack(self, stx: Transaction, req: Request, now: float) -> None:
        session = self._in_dialog_checks(stx, req, now)
        if session is None:
            return
        rack = (req.headers.get("RAck") or "").split()
        pending = session.rel_response
        if pending is None or len(rack) != 3 or rack[0] != str(session.rseq) or rack[1] != str(session.invite.cseq.seq):
            self._reply(stx, 481, now, session=session)
            return
        session.rel_response = None
        session.deadlines.pop("rel1xx", None)
        session.deadlines.pop("rel1xx_giveup", None)
        self._reply(stx, 200, now, session=session)
        if session.queued_final is not None and session.invite_tx is not None:
            ok, session.queued_final = session.queued_final, None
            self._send_2xx(session, session.invite_tx, ok, now)

    # ================================================================ UAC side

    def _session(self, call: str) -> Session:
        session = self.sessions.get(call)
        if session is None:
            raise LocalProtocolError(f"no call {call!r}")
        return session

    def invite(
        self,
        target: str,
        now: float,
        *,
        media_address: tuple[str, int],
        from_uri: str | None = None,
        headers: list[tuple[str, str]] | None = None,
    ) -> str:
        """UAC: place a call to ``target``; returns the call handle (its Call-ID)."""
        try:
            uri = parse_uri(target)
        except RemoteProtocolError as exc:
            raise LocalProtocolError(f"bad target URI {target!r}: {exc}") from None
        from_ = NameAddr.parse(from_uri) if from_uri else self._our_uri()
        tag = new_tag()
        from_.params["tag"] = tag
        call_id = new_call_id()
        req, dest = self._initial_request(
            "INVITE", uri, to=NameAddr(None, uri, {}), from_=from_, call_id=call_id, cseq=1
        )
        req.headers.add("Contact", self._contact(dest.transport))
        req.headers.add("Allow", ", ".join(ALLOWED_METHODS))
        req.headers.add("Supported", ", ".join(SUPPORTED))
        if self.config.session_expires > 0:
            req.headers.add("Session-Expires", str(self.config.session_expires))
            req.headers.add("Min-SE", str(self.config.min_se))
        for name, value in headers or []:
            req.headers.add(name, value)
        session = Session(id=call_id, role="uac", invite=req, state=CallState.CALLING, local_tag=tag)
        session.media_address = media_address
        session.local_sdp = self._make_offer(media_address[0], media_address[1], dest.transport)
        req.headers.add("Content-Type", "application/sdp")
        req.body = bytes(session.local_sdp)
        self.sessions[call_id] = session
        self._by_dialog[(call_id, tag)] = session
        self._send_request(req, dest, now, purpose="invite", session=session)
        return call_id

    def _resp_invite(self, client: _Client, resp: Response, now: float) -> None:
        session = client.session
        assert session is not None
        status = resp.status
        if status < 200:
            if status == 100:
                self._event(ev.CallProgress(call=session.id, status=100, reason=resp.reason))
                if session.cancel_wanted:  # §9.1: any provisional response allows the CANCEL
                    self._send_cancel(session, now)
                return
            if resp.to.tag:
                dialog = session.dialog
                if dialog is None or (dialog.state is DialogState.EARLY and dialog.remote_tag != resp.to.tag):
                    session.dialog = Dialog.from_uac(session.invite, resp)
                    session.dialog.local_seq = session.invite.cseq.seq
                if "100rel" in [t.lower() for t in resp.headers.get_all("Require")]:
                    self._prack(session, resp, now)
            if resp.body and resp.content_type == "application/sdp" and session.remote_sdp is None:
                with contextlib.suppress(ProtocolError):  # early media is optional; the 2xx decides
                    self._take_answer(session, resp)
            if session.state is CallState.CALLING:
                session.state = CallState.EARLY
            self._event(ev.CallProgress(call=session.id, status=status, reason=resp.reason))
            if session.cancel_wanted:
                self._send_cancel(session, now)
            return
        if 200 <= status < 300:
            if session.state in (CallState.CONFIRMED, CallState.ENDING, CallState.ENDED) or (
                session.dialog is not None
                and session.dialog.state is DialogState.CONFIRMED
                and (resp.to.tag or "") != session.dialog.remote_tag
            ):
                self._ack_extra_2xx(session, resp, now)
                return
            if session.dialog is None or (resp.to.tag or "") != session.dialog.remote_tag:
                session.dialog = Dialog.from_uac(session.invite, resp)
            session.dialog.confirm(resp, uac=True)
            session.peer_allow = ", ".join(resp.headers.get_all("Allow"))
            session.dialog.local_seq = max(session.dialog.local_seq, session.invite.cseq.seq)
            self._send_ack(session, resp, session.invite.cseq.seq, now)
            if session.cancelled:
                session.state = CallState.CONFIRMED
                self._bye(session, now, "cancelled")
                return
            if resp.body and session.remote_sdp is None:
                try:
                    self._take_answer(session, resp)
                except ProtocolError:
                    session.state = CallState.CONFIRMED
                    self._bye(session, now, "unusable SDP answer")
                    return
            session.state = CallState.CONFIRMED
            se = resp.headers.get("Session-Expires")
            if se is not None and self.config.session_expires > 0:
                try:
                    session.se_interval = int(se.split(";", 1)[0])
                    session.se_we_refresh = "refresher=uas" not in se.replace(" ", "").lower()
                except ValueError:
                    session.se_interval = 0
                self._start_session_timer(session, now)
            self._event(ev.CallAnswered(call=session.id, media=session.media))
            return
        if status == 422 and client.auth_tries < 3:
            min_se = resp.headers.get("Min-SE")
            if min_se and min_se.split(";")[0].strip().isdigit():
                headers = session.invite.headers.copy()
                headers.remove("Via")
                headers.set("Session-Expires", min_se.split(";")[0].strip())
                headers.set("Min-SE", min_se.split(";")[0].strip())
                headers.set("CSeq", f"{session.invite.cseq.seq + 1} INVITE")
                new = Request("INVITE", session.invite.uri, headers, session.invite.body)
                session.invite = new
                session.dialog = None
                self._send_request(
                    new, client.tx.dest, now, purpose="invite", session=session, auth_tries=client.auth_tries + 1
                )
                return
        reason = "cancelled" if session.cancelled else resp.reason
        session.state = CallState.ENDED
        self._forget(session)
        self._event(ev.CallFailed(call=session.id, status=status, reason=reason, response=resp))

    def _take_answer(self, session: Session, resp: Response) -> None:
        remote = self._parse_sdp(resp)
        assert session.local_sdp is not None
        session.media = negotiated(session.local_sdp, remote)
        session.remote_sdp = remote

    def _send_ack(self, session: Session, resp: Response, cseq: int, now: float) -> None:
        """§13.2.2.4: the ACK for a 2xx is built by the core and sent outside any transaction."""
        assert session.dialog is not None
        ack, dest = self._in_dialog(session, "ACK", cseq=cseq)
        ack.headers.prepend("Via", self._via(dest.transport, new_branch()))
        data = bytes(ack)
        session.last_ack = (data, dest)
        self._emit(data, dest)

    def _ack_extra_2xx(self, session: Session, resp: Response, now: float) -> None:
        """A retransmitted 2xx gets our ACK again; a 2xx from another fork is ACKed and BYEd."""
        if session.dialog is not None and (resp.to.tag or "") == session.dialog.remote_tag:
            if session.last_ack is not None:
                self._emit(*session.last_ack)
            return
        other = Dialog.from_uac(session.invite, resp)
        other.confirm(resp, uac=True)
        ack = other.build_request("ACK", cseq=resp.cseq.seq)
        dest = self._address_of(other.next_hop())
        ack.headers.prepend("Via", self._via(dest.transport, new_branch()))
        self._emit(bytes(ack), dest)
        bye = other.build_request("BYE")
        self._send_request(bye, dest, now, purpose="quiet")

    def _prack(self, session: Session, resp: Response, now: float) -> None:
        rseq_text = resp.headers.get("RSeq")
        if rseq_text is None or not rseq_text.strip().isdigit():
            return
        rseq = int(rseq_text.strip())
        if rseq in session.prack_seen:
            return
        session.prack_seen.add(rseq)
        req, dest = self._in_dialog(session, "PRACK")
        req.headers.add("RAck", f"{rseq} {resp.cseq.seq} {resp.cseq.method}")
        self._send_request(req, dest, now, purpose="quiet", session=session)

    def _send_cancel(self, session: Session, now: float) -> None:
        """§9.1: CANCEL copies Request-URI, Call-ID, From, To, CSeq number and the top Via."""
        session.cancel_wanted = False
        session.cancelled = True
        inv = session.invite
        headers = Headers()
        for name in ("From", "To", "Call-ID"):
            value = inv.headers.get(name)
            if value is not None:
                headers.add(name, value)
        headers.add("CSeq", f"{inv.cseq.seq} CANCEL")
        headers.add("Max-Forwards", "70")
        for route in inv.headers.get_all("Route"):
            headers.add("Route", route)
        cancel = Request("CANCEL", inv.uri, headers)
        client = self._clients.get(client_key(inv))
        dest = client.tx.dest if client is not None else self._address_of(inv.uri)
        self._send_request(cancel, dest, now, purpose="quiet", session=session, via=str(inv.top_via))
        # §9.1: without a final response 64*T1 after the CANCEL, the INVITE is given up
        session.deadlines["cancel_timeout"] = now + 64 * self.config.timers.t1
        self._watch(session)

    def hangup(self, call: str, now: float) -> None:
        """End the call the right way for its state: BYE, CANCEL, or 603 to a ringing caller."""
        session = self._session(call)
        if session.state is CallState.CALLING:
            session.cancel_wanted = True  # §9.1: CANCEL only after a provisional response
            session.cancelled = True
        elif session.state is CallState.EARLY and session.role == "uac":
            self._send_cancel(session, now)
        elif session.state in (CallState.INCOMING, CallState.EARLY) and session.role == "uas":
            self.reject(call, 603, now)
        elif session.state is CallState.ANSWERING and session.ok is not None and session.ok_is_initial:
            session.bye_after_ack = True  # §15: no BYE before the ACK of our 2xx (or Timer H)
        elif session.state in (CallState.CONFIRMED, CallState.ANSWERING):
            self._bye(session, now, "local BYE")

    def _bye(self, session: Session, now: float, reason: str) -> None:
        if session.state in (CallState.ENDING, CallState.ENDED):
            return
        session.state = CallState.ENDING
        session.ended_reason = reason
        session.deadlines.clear()
        req, dest = self._in_dialog(session, "BYE")
        self._send_request(req, dest, now, purpose="bye", session=session)

    def _resp_bye(self, client: _Client, resp: Response, now: float) -> None:
        session = client.session
        if session is not None:
            self._end(session, session.ended_reason or "local BYE", by_remote=False)

    def _resp_quiet(self, client: _Client, resp: Response, now: float) -> None:
        """CANCEL, PRACK, NOTIFY, the BYE of a stray fork: nothing to report."""

    def _end(self, session: Session, reason: str, *, by_remote: bool) -> None:
        if session.state is CallState.ENDED:
            return
        session.state = CallState.ENDED
        session.deadlines.clear()
        self._forget(session)
        self._event(ev.CallEnded(call=session.id, reason=reason, by_remote=by_remote))

    def _forget(self, session: Session) -> None:
        self._settle(session)
        self.sessions.pop(session.id, None)
        self._by_dialog.pop((session.invite.call_id, session.local_tag), None)
        live = len(self.sessions) + len(self._servers) + len(self._clients) + len(self.registrations)
        if len(self._heap) > 4 * live + 64:
            # timer entries of ended calls would keep them alive until their old deadlines
            # (an unanswered-call timeout two minutes away): drop them now and then
            self._heap = [item for item in self._heap if self._deadline_of(item[2]) is not None]
            heapq.heapify(self._heap)

    def _settle(self, session: Session) -> None:
        """The call is up or over: it no longer counts against its source's dialogs in progress."""
        if session.source is not None and self.defence is not None:
            self.defence.close_dialog(session.source)
        session.source = None

    # -- re-INVITE / UPDATE as UAC -----------------------------------------------------------------

    def hold(self, call: str, now: float) -> int:
        """Put the peer on hold (re-INVITE with a=sendonly, RFC 3264 §8.4). Returns the token."""
        return self._reinvite(call, now, hold=True)

    def resume(self, call: str, now: float) -> int:
        return self._reinvite(call, now, hold=False)

    def _reinvite(self, call: str, now: float, *, hold: bool | None, token: int | None = None) -> int:
        session = self._session(call)
        if session.state is not CallState.CONFIRMED:
            raise LocalProtocolError(f"call {call} is not established")
        if session.reinvite_token is not None and token is None:
            raise LocalProtocolError(f"call {call} already has a re-INVITE in progress")
        token = token if token is not None else next(self._tokens)
        if hold is not None:
            session.on_hold = hold
        offer = self._offer_for(session)
        req, dest = self._in_dialog(session, "INVITE")
        req.headers.add("Contact", self._contact(dest.transport))
        req.headers.add("Allow", ", ".join(ALLOWED_METHODS))
        req.headers.add("Supported", ", ".join(SUPPORTED))
        if session.se_interval:
            req.headers.add("Session-Expires", f"{session.se_interval};refresher=uac")
        req.headers.add("Content-Type", "application/sdp")
        req.body = bytes(offer)
        session.reinvite_token = token
        client = self._send_request(req, dest, now, purpose="reinvite", session=session, token=token)
        client.extra["offer"] = "1"
        session.reinvite_dir = "hold" if session.on_hold else "resume"
        self._pending_offer[token] = offer
        return token

    def _resp_reinvite(self, client: _Client, resp: Response, now: float) -> None:
        session = client.session
        assert session is not None and client.token is not None
        status = resp.status
        if status < 200:
            return
        offer = self._pending_offer.get(client.token)
        if 200 <= status < 300:
            if session.dialog is not None:
                session.dialog.refresh_target(resp)
            self._send_ack(session, resp, resp.cseq.seq, now)
            if session.reinvite_token == client.token:
                session.reinvite_token = None
                self._pending_offer.pop(client.token, None)
                if offer is not None and resp.body:
                    try:
                        remote = self._parse_sdp(resp)
                        session.media = negotiated(offer, remote)
                        session.local_sdp, session.remote_sdp = offer, remote
                        self._event(ev.MediaChanged(call=session.id, media=session.media))
                    except ProtocolError:
                        pass
                self._refresh_session_timer_from(session, resp, now)
                self._event(ev.RequestDone(call=session.id, token=client.token, status=status, reason=resp.reason))
            return
        if status == 491 and session.glare_tries < 3 and session.state is CallState.CONFIRMED:
            session.glare_tries += 1
            session.glare_token, session.reinvite_token = client.token, None  # nothing pending now
            # §14.1: the Call-ID owner waits 2.1-4 s, the other side 0-2 s
            wait = (2.1 + secrets.randbelow(190) / 100) if session.role == "uac" else secrets.randbelow(200) / 100
            session.deadlines["glare"] = now + wait
            self._watch(session)
            return
        session.reinvite_token = None
        self._pending_offer.pop(client.token, None)
        self._event(ev.RequestDone(call=session.id, token=client.token, status=status, reason=resp.reason))
        if status in (408, 481) and session.state is CallState.CONFIRMED:
            self._end(session, f"re-INVITE failed with {status}", by_remote=True)

    def update(self, call: str, now: float, *, with_sdp: bool = True) -> int:
        """Send UPDATE (RFC 3311): a new offer, or a bare session refresh with ``with_sdp=False``."""
        session = self._session(call)
        if session.dialog is None or session.state not in (CallState.CONFIRMED, CallState.EARLY, CallState.ANSWERING):
            raise LocalProtocolError(f"call {call} has no dialog for UPDATE")
        token = next(self._tokens)
        req, dest = self._in_dialog(session, "UPDATE")
        req.headers.add("Contact", self._contact(dest.transport))
        if session.se_interval:
            req.headers.add("Session-Expires", f"{session.se_interval};refresher=uac")
            req.headers.add("Supported", "timer")
        if with_sdp:
            offer = self._offer_for(session)
            self._pending_offer[token] = offer
            req.headers.add("Content-Type", "application/sdp")
            req.body = bytes(offer)
        self._send_request(req, dest, now, purpose="update", session=session, token=token)
        return token

    def _resp_update(self, client: _Client, resp: Response, now: float) -> None:
        session = client.session
        assert session is not None and client.token is not None
        if resp.status < 200:
            return
        offer = self._pending_offer.pop(client.token, None)
        if 200 <= resp.status < 300:
            if offer is not None and resp.body:
                try:
                    remote = self._parse_sdp(resp)
                    session.media = negotiated(offer, remote)
                    session.local_sdp, session.remote_sdp = offer, remote
                    self._event(ev.MediaChanged(call=session.id, media=session.media))
                except ProtocolError:
                    pass
            self._refresh_session_timer_from(session, resp, now)
        self._event(ev.RequestDone(call=session.id, token=client.token, status=resp.status, reason=resp.reason))

    # -- INFO, REFER, OPTIONS as UAC ----------------------------------------------------------------

    def send_dtmf_info(self, call: str, digit: str, now: float, duration_ms: int = 160) -> int:
        """Send one DTMF digit as SIP INFO application/dtmf-relay."""
        session = self._session(call)
        if digit.upper() not in "0123456789*#ABCD" or len(digit) != 1:
            raise LocalProtocolError(f"not a DTMF digit: {digit!r}")
        token = next(self._tokens)
        req, dest = self._in_dialog(session, "INFO")
        req.headers.add("Content-Type", "application/dtmf-relay")
        req.body = f"Signal={digit.upper()}\r\nDuration={int(duration_ms)}\r\n".encode()
        self._send_request(req, dest, now, purpose="done", session=session, token=token)
        return token

    def refer(self, call: str, target: str, now: float) -> int:
        """Blind transfer (RFC 3515): ask the peer to call ``target``; NOTIFYs report progress."""
        session = self._session(call)
        try:
            uri = parse_uri(target)
        except RemoteProtocolError as exc:
            raise LocalProtocolError(f"bad transfer target {target!r}: {exc}") from None
        token = next(self._tokens)
        req, dest = self._in_dialog(session, "REFER")
        req.headers.add("Refer-To", f"<{uri}>")
        req.headers.add("Referred-By", str(NameAddr(None, session.dialog.local_uri.uri if session.dialog else uri, {})))
        req.headers.add("Contact", self._contact(dest.transport))
        self._send_request(req, dest, now, purpose="done", session=session, token=token)
        return token

    def options(self, target: str, now: float) -> int:
        """Out-of-dialog OPTIONS (a ping); the response arrives as :class:`RequestDone`."""
        uri = parse_uri(target)
        token = next(self._tokens)
        from_ = self._our_uri()
        from_.params["tag"] = new_tag()
        req, dest = self._initial_request(
            "OPTIONS", uri, to=NameAddr(None, uri, {}), from_=from_, call_id=new_call_id(), cseq=1
        )
        req.headers.add("Accept", "application/sdp")
        self._send_request(req, dest, now, purpose="done", token=token)
        return token

    def _resp_done(self, client: _Client, resp: Response, now: float) -> None:
        if resp.status < 200 or client.token is None:
            return
        call = client.session.id if client.session is not None else None
        self._event(ev.RequestDone(call=call, token=client.token, status=resp.status, reason=resp.reason))

    # -- session timers (RFC 4028) -----------------------------------------------------------------

    def _start_session_timer(self, session: Session, now: float) -> None:
        session.deadlines.pop("refresh", None)
        session.deadlines.pop("expire", None)
        if not session.se_interval or self.config.session_expires <= 0:
            return
        n = session.se_interval
        if session.se_we_refresh:
            session.deadlines["refresh"] = now + n / 2
        else:
            session.deadlines["expire"] = now + n - min(32, n / 3)
        self._watch(session)

    def _refresh_session_timer_from(self, session: Session, resp: Response, now: float) -> None:
        se = resp.headers.get("Session-Expires")
        if se is None:
            if session.se_interval:
                self._start_session_timer(session, now)
            return
        try:
            session.se_interval = int(se.split(";", 1)[0])
        except ValueError:
            return
        session.se_we_refresh = "refresher=uas" not in se.replace(" ", "").lower()
        self._start_session_timer(session, now)

    def _session_timer(self, session: Session, now: float) -> None:
        t = self.config.timers
        for name, when in sorted(session.deadlines.items(), key=lambda kv: kv[1]):
            if when > now or name not in session.deadlines:
                continue
            del session.deadlines[name]
            if name == "2xx" and session.ok is not None and session.ok_dest is not None:
                self._emit(bytes(session.ok), session.ok_dest)
                session.ok_interval = min(session.ok_interval * 2, t.t2)
                session.deadlines["2xx"] = now + session.ok_interval
            elif name == "2xx_giveup" and session.ok is not None:
                session.ok = None
                session.deadlines.pop("2xx", None)
                session.state = CallState.CONFIRMED
                self._bye(session, now, "ACK timeout")  # §13.3.1.4
            elif name == "rel1xx" and session.rel_response is not None and session.invite_tx is not None:
                self._emit(bytes(session.rel_response), session.invite_tx.dest)
                session.rel_interval *= 2
                session.deadlines["rel1xx"] = now + session.rel_interval
            elif name == "rel1xx_giveup" and session.rel_response is not None:
                session.rel_response = None
                session.deadlines.pop("rel1xx", None)
                if session.invite_tx is not None:
                    self._reply(session.invite_tx, 504, now, session=session, reason="PRACK Timeout")
                self._end(session, "no PRACK", by_remote=True)
            elif name == "refresh" and session.state is CallState.CONFIRMED:
                if session.reinvite_token is None:
                    allow = "UPDATE" in self._peer_allow(session)
                    if allow:
                        self.update(session.id, now, with_sdp=False)
                    else:
                        self._reinvite(session.id, now, hold=None)
                session.deadlines["refresh"] = now + session.se_interval / 2
            elif name == "cancel_timeout" and session.state in (CallState.CALLING, CallState.EARLY):
                session.state = CallState.ENDED
                session.deadlines.clear()
                self._forget(session)
                self._event(ev.CallFailed(call=session.id, status=487, reason="cancelled"))
            elif name == "unanswered" and session.state in (CallState.INCOMING, CallState.EARLY):
                self.reject(session.id, 480, now, "Not Answered")
            elif name == "expire" and session.state is CallState.CONFIRMED:
                self._bye(session, now, "session expired")
            elif name == "glare" and session.state is CallState.CONFIRMED and session.glare_token is not None:
                token, session.glare_token = session.glare_token, None
                if session.reinvite_token is None:
                    self._reinvite(session.id, now, hold=None, token=token)
                else:
                    self._event(ev.RequestDone(call=session.id, token=token, status=491, reason="Request Pending"))

    def _peer_allow(self, session: Session) -> str:
        return session.peer_allow.upper()

    # -- REGISTER (§10) ---------------------------------------------------------------------------

    def register(self, registrar: str, now: float, *, aor: str | None = None, expires: int = 3600) -> Registration:
        """Bind our Contact at ``registrar`` and keep it refreshed before it expires."""
        try:
            reg_uri = parse_uri(registrar)
        except RemoteProtocolError as exc:
            raise LocalProtocolError(f"bad registrar URI {registrar!r}: {exc}") from None
        if aor:
            aor_na = NameAddr.parse(aor)
        else:
            host = reg_uri.host if isinstance(reg_uri, SipUri) else "invalid"
            port = f":{reg_uri.port}" if isinstance(reg_uri, SipUri) and reg_uri.port else ""
            aor_na = NameAddr(self.config.display_name, SipUri("sip", self.config.user, None, host + port), {})
        reg = Registration(registrar=reg_uri, aor=aor_na, call_id=new_call_id(), tag=new_tag(), expires=expires)
        self.registrations.append(reg)
        self._send_register(reg, now, expires)
        return reg

    def _send_register(self, reg: Registration, now: float, expires: int) -> None:
        reg.cseq += 1
        from_ = NameAddr(reg.aor.display, reg.aor.uri, {"tag": reg.tag})
        to = NameAddr(reg.aor.display, reg.aor.uri, {})
        target = reg.registrar
        if isinstance(target, SipUri):
            target = SipUri(target.scheme, None, None, target.host, target.port, dict(target.params), {})
        req, dest = self._initial_request("REGISTER", target, to=to, from_=from_, call_id=reg.call_id, cseq=reg.cseq)
        req.headers.add("Contact", self._contact(dest.transport))
        req.headers.add("Expires", str(expires))
        req.headers.add("Allow", ", ".join(ALLOWED_METHODS))
        self._send_request(req, dest, now, purpose="register", reg=reg, token=expires)

    def unregister(self, now: float) -> None:
        """Remove every binding we made (Expires: 0)."""
        for reg in self.registrations:
            reg.deadlines.clear()
            if reg.active:
                self._send_register(reg, now, 0)

    def _resp_register(self, client: _Client, resp: Response, now: float) -> None:
        reg = client.reg
        assert reg is not None
        asked = client.token or 0
        if resp.status < 200:
            return
        if 200 <= resp.status < 300:
            granted = asked
            for c in resp.contacts:
                if isinstance(c.uri, SipUri) and c.uri.user == self.config.user and c.params.get("expires"):
                    value = c.params.get("expires") or ""
                    if value.isdigit():
                        granted = int(value)
                        break
            else:
                if resp.expires is not None and asked:
                    granted = resp.expires
            if asked == 0:
                granted = 0
            reg.active = granted > 0
            reg.deadlines.clear()
            if granted > 0:
                # refresh before expiry: at half the interval, at least 5 s before it ends
                reg.deadlines["refresh"] = now + max(1.0, min(granted / 2, granted - 5))
                self._watch(reg)
            self._event(ev.Registered(aor=str(reg.aor.uri), expires=granted))
            return
        if resp.status == 423 and client.auth_tries < 3:
            min_exp = resp.headers.get("Min-Expires")
            if min_exp and min_exp.strip().isdigit():
                reg.expires = int(min_exp.strip())
                self._send_register(reg, now, reg.expires)
                return
        reg.active = False
        self._event(ev.RegistrationFailed(aor=str(reg.aor.uri), status=resp.status, reason=resp.reason))

    def _registration_timer(self, reg: Registration, now: float) -> None:
        when = reg.deadlines.get("refresh")
        if when is not None and when <= now:
            del reg.deadlines["refresh"]
            self._send_register(reg, now, reg.expires)
