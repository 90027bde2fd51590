"""Digest authentication as a client (RFC 3261 §22.2-§22.3, RFC 7616, RFC 8760): a request
challenged with 401 or 407 is sent again, once per challenge round and at most twice, with
the Authorization our credentials compute, in a new client transaction with the next CSeq."""

from __future__ import annotations

from voicebot.errors import ProtocolError
from voicebot.sip.message import Request, Response
from voicebot.sip.uacore.base import CoreBase
from voicebot.sip.uacore.records import (
    Outgoing,
)


class DigestRetry(CoreBase):
    """The retry of a challenged request."""

    def _retry_with_auth(self, client: Outgoing, resp: Response, now: float) -> bool:
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
