"""Call transfer with REFER and NOTIFY (RFC 3515, sipfrag bodies RFC 3420): a REFER from the
peer is accepted with 202 and reported on with NOTIFYs (100 Trying at once, the final status
when the driver gives it); a REFER we send is followed through the peer's NOTIFYs."""

from __future__ import annotations

from voicebot.errors import LocalProtocolError, RemoteProtocolError
from voicebot.sip import events as ev
from voicebot.sip.message import Request
from voicebot.sip.transaction import (
    Transaction,
)
from voicebot.sip.uacore.base import CoreBase
from voicebot.sip.uacore.records import (
    SIPFRAG,
    Session,
)
from voicebot.sip.uri import NameAddr, parse_uri


class Transfer(CoreBase):
    """REFER and the refer event package, both ways."""

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
        m = SIPFRAG.match(req.body.decode("utf-8", "replace"))
        state = (req.headers.get("Subscription-State") or "").lower()
        if m is not None:
            status = int(m.group(1))
            self._event(
                ev.TransferProgress(
                    call=session.id, status=status, final=status >= 200 or state.startswith("terminated")
                )
            )

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
