"""SIP dialogs (RFC 3261 §12): identity, route set, remote target, CSeq in both directions.

A :class:`Dialog` is created by the UAS from the request it answers with a tag (§12.1.1) or by
the UAC from a 1xx/2xx carrying a To tag (§12.1.2). It builds in-dialog requests (§12.2.1.1:
Request-URI from the remote target, Route from the route set, loose and strict routing),
checks the remote CSeq (§12.2.2) and takes target refreshes (§12.2: the Contact of re-INVITE,
UPDATE and their 2xx). No I/O, no clock.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from voicebot.errors import RemoteProtocolError
from voicebot.sip.headers import Headers
from voicebot.sip.message import Request, Response
from voicebot.sip.uri import AbsoluteUri, NameAddr, SipUri, TelUri, split_list

Uri = SipUri | TelUri | AbsoluteUri


class DialogState(Enum):
    EARLY = "early"
    CONFIRMED = "confirmed"
    TERMINATED = "terminated"


def _route_list(values: list[str]) -> list[NameAddr]:
    out: list[NameAddr] = []
    for value in values:
        for item in split_list(value):
            out.append(NameAddr.parse(item))
    return out


def _contact(msg: Request | Response) -> Uri | None:
    contacts = msg.contacts
    if not contacts:
        return None
    return contacts[0].uri


@dataclass
class Dialog:
    call_id: str
    local_tag: str
    remote_tag: str
    local_uri: NameAddr  # our From (UAC) / the request's To (UAS), without tag
    remote_uri: NameAddr
    remote_target: Uri
    route_set: list[NameAddr] = field(default_factory=list)
    local_seq: int = 0
    remote_seq: int | None = None
    secure: bool = False
    state: DialogState = DialogState.EARLY

    @property
    def key(self) -> tuple[str, str, str]:
        """§12: Call-ID, local tag, remote tag."""
        return (self.call_id, self.local_tag, self.remote_tag)

    # -- creation ---------------------------------------------------------------------------

    @classmethod
    def from_uas(cls, request: Request, response: Response) -> Dialog:
        """§12.1.1: the UAS side, from the request and the response that carries our tag."""
        local_tag = response.to.tag
        remote_tag = request.from_.tag or ""
        if not local_tag:
            raise RemoteProtocolError("a dialog-creating response needs a To tag", status=500)
        target = _contact(request)
        if target is None:
            target = request.from_.uri  # RFC 2543 peers may omit Contact: reach them at From
        local = NameAddr(request.to.display, request.to.uri, {})
        remote = NameAddr(request.from_.display, request.from_.uri, {})
        return cls(
            call_id=request.call_id,
            local_tag=local_tag,
            remote_tag=remote_tag,
            local_uri=local,
            remote_uri=remote,
            remote_target=target,
            route_set=_route_list(request.headers.get_all("Record-Route")),
            local_seq=0,
            remote_seq=request.cseq.seq,
            secure=isinstance(request.uri, SipUri) and request.uri.scheme == "sips",
            state=DialogState.CONFIRMED if 200 <= response.status < 300 else DialogState.EARLY,
        )

    @classmethod
    def from_uac(cls, request: Request, response: Response) -> Dialog:
        """§12.1.2: the UAC side, from our request and a 1xx/2xx with a To tag."""
        target = _contact(response)
        if target is None:
            target = request.uri  # a broken peer; keep talking to where we sent the INVITE
        route_set = _route_list(response.headers.get_all("Record-Route"))
        route_set.reverse()
        return cls(
            call_id=request.call_id,
            local_tag=request.from_.tag or "",
            remote_tag=response.to.tag or "",
            local_uri=NameAddr(request.from_.display, request.from_.uri, {}),
            remote_uri=NameAddr(request.to.display, request.to.uri, {}),
            remote_target=target,
            route_set=route_set,
            local_seq=request.cseq.seq,
            remote_seq=None,
            secure=isinstance(request.uri, SipUri) and request.uri.scheme == "sips",
            state=DialogState.CONFIRMED if 200 <= response.status < 300 else DialogState.EARLY,
        )

    # -- in-dialog requests ------------------------------------------------------------------

    def confirm(self, response: Response, *, uac: bool) -> None:
        """An early dialog becomes confirmed on 2xx; a UAC takes the 2xx route set (§12.1.2)."""
        if uac and self.state is DialogState.EARLY:
            rs = _route_list(response.headers.get_all("Record-Route"))
            rs.reverse()
            self.route_set = rs
        target = _contact(response)
        if target is not None:
            self.remote_target = target
        self.state = DialogState.CONFIRMED

    def refresh_target(self, msg: Request | Response) -> None:
        """§12.2.1.2 / §12.2.2: a target refresh request or its 2xx replaces the remote target."""
        target = _contact(msg)
        if target is not None:
            self.remote_target = target

    def next_seq(self) -> int:
        self.local_seq += 1
        return self.local_seq

    def build_request(self, method: str, *, cseq: int | None = None) -> Request:
        """§12.2.1.1: a request within the dialog, without Via (the transport layer adds it).

        Loose routing when the first route has ``lr``; otherwise the strict-routing rewrite
        (Request-URI = first route, remote target appended as the last Route).
        """
        seq = cseq if cseq is not None else self.next_seq()
        headers = Headers()
        headers.add("Max-Forwards", "70")
        headers.add(
            "From",
            str(NameAddr(self.local_uri.display, self.local_uri.uri, {"tag": self.local_tag})),
        )
        to_params: dict[str, str | None] = {"tag": self.remote_tag} if self.remote_tag else {}
        headers.add("To", str(NameAddr(self.remote_uri.display, self.remote_uri.uri, to_params)))
        headers.add("Call-ID", self.call_id)
        headers.add("CSeq", f"{seq} {method}")
        uri: Uri = self.remote_target
        routes = list(self.route_set)
        if routes:
            first = routes[0].uri
            if isinstance(first, SipUri) and "lr" not in first.params:
                strict = SipUri(
                    first.scheme,
                    first.user,
                    first.password,
                    first.host,
                    first.port,
                    {k: v for k, v in first.params.items() if k not in ("method", "maddr", "ttl", "transport", "lr")},
                    {},
                )
                uri = strict
                routes = [*routes[1:], NameAddr(None, self.remote_target, {})]
        for route in routes:
            headers.add("Route", str(route))
        return Request(method, uri, headers)

    def next_hop(self) -> Uri:
        """§8.1.2: the first Route when there is one, else the remote target."""
        if self.route_set:
            return self.route_set[0].uri
        return self.remote_target

    def accept_remote_seq(self, request: Request) -> bool:
        """§12.2.2: a request with a CSeq lower than the last one is out of order (answer 500)."""
        seq = request.cseq.seq
        if request.method in ("ACK", "CANCEL"):
            return True
        if self.remote_seq is not None and seq < self.remote_seq:
            return False
        self.remote_seq = seq
        return True

    def matches(self, msg: Request | Response, *, incoming_request: bool) -> bool:
        if msg.call_id != self.call_id:
            return False
        if incoming_request:
            return (msg.to.tag or "") == self.local_tag and (msg.from_.tag or "") == self.remote_tag
        return (msg.from_.tag or "") == self.local_tag and (msg.to.tag or "") == self.remote_tag
