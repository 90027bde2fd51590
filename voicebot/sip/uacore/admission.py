"""What a request must pass before the core keeps any state for it: the per-source defence
(rate, bans), the 4xx to what does not parse, RFC 3261 §18.2.1 / RFC 3581 Via stamping, caller
digest authentication (RFC 7616, RFC 8760) and the per-source dialog limit, answered
statelessly (§8.2.7) so a spoofed source gets back no more than it sent."""

from __future__ import annotations

from voicebot.errors import ProtocolError, RemoteProtocolError
from voicebot.sip.build import build_response, stateless_tag
from voicebot.sip.headers import Via
from voicebot.sip.message import Request
from voicebot.sip.parser import SipParseError
from voicebot.sip.transaction import (
    TransportAddress,
)
from voicebot.sip.uacore.base import CoreBase
from voicebot.sip.uri import SipUri, parse_uri, split_list


class Admission(CoreBase):
    """Screening of incoming requests and stateless answers."""

    def _admit(self, source: TransportAddress, now: float) -> bool:
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

    def _answer_unparsable(self, exc: SipParseError, source: TransportAddress, now: float) -> None:
        """A request we can still read enough of gets its 4xx/5xx, statelessly (a retransmission
        gets the same To tag); anything else is dropped."""
        self.dropped += 1
        req = exc.request
        if req is None or req.method == "ACK":
            return
        try:
            dest = self._response_address(req, source)
            resp = build_response(req, exc.status, to_tag=stateless_tag(req, self._tag_key))
        except (ProtocolError, ValueError):
            return
        self._emit(bytes(resp), dest, now)

    @staticmethod
    def _stamp_via(req: Request, source: TransportAddress, key: tuple[str, ...]) -> None:
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

    def _screen_invite(self, req: Request, key: tuple[str, ...], dest: TransportAddress, now: float) -> bool:
        """The call limit, caller authentication and the per-source dialog limit, before any
        state is kept: an INVITE that fails one gets one stateless answer (or none) and leaves
        nothing behind, so a spoofed source gets back about the bytes it sent (Kamailio's
        ``sl``), and a burst of INVITEs over ``max_sessions`` costs no transaction, no timers
        and no 503 retransmissions (a retransmitted INVITE is answered again)."""
        if len(self.sessions) >= self.config.max_sessions:
            self.rejected_full += 1
            self._stateless(req, 503, dest, now, [("Retry-After", "5")], reason="Too Many Calls")
            return False
        if self._digest_server is not None:
            user = self._authenticate(req, dest, now)
            if user is None:
                return False
            self._verified[key] = user
        if self.defence is not None and self.defence.dialogs_full(dest.host, now):
            self._verified.pop(key, None)
            self._stateless(req, 503, dest, now, [("Retry-After", "5")], reason="Too Many Calls From This Address")
            return False
        return True

    def _authenticate(self, req: Request, dest: TransportAddress, now: float) -> str | None:
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
        self._stateless(req, 401, dest, now, [("WWW-Authenticate", c) for c in challenges])
        return None

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

    def _stateless(
        self,
        req: Request,
        status: int,
        dest: TransportAddress,
        now: float,
        headers: list[tuple[str, str]],
        reason: str | None = None,
    ) -> None:
        """One response and no transaction (RFC 3261 §8.2.7 stateless UAS behaviour): a
        retransmitted request is simply answered again, with the same To tag."""
        tag = stateless_tag(req, self._tag_key)
        resp = build_response(req, status, reason, to_tag=tag, headers=[*headers, *self._product(None)])
        self._emit(bytes(resp), dest, now)
