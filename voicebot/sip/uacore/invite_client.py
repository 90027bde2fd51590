"""The INVITE client (RFC 3261 §13.2, §9.1 CANCEL, §13.2.2.4 ACK for 2xx): placing a call,
the responses to it turned into inputs of the call table, and the actions that table names for
them (early dialog and media, the dialog confirmed by a 2xx, ACK, CANCEL, an extra 2xx from a
fork ACKed and ended).
"""

from __future__ import annotations

import contextlib

from voicebot.errors import LocalProtocolError, ProtocolError, RemoteProtocolError
from voicebot.sip import events as ev
from voicebot.sip.build import new_branch, new_call_id, new_tag
from voicebot.sip.dialog import Dialog, DialogState
from voicebot.sip.headers import Headers
from voicebot.sip.message import Request, Response
from voicebot.sip.transaction import client_key
from voicebot.sip.uacore.callstate import CallInput, CallState, Step
from voicebot.sip.uacore.offeranswer import OfferAnswer
from voicebot.sip.uacore.records import ALLOWED_METHODS, SUPPORTED, Outgoing, Session
from voicebot.sip.uacore.sessiontimer import SessionTimers
from voicebot.sip.uri import NameAddr, parse_uri


class InviteClient(OfferAnswer, SessionTimers):
    """Our INVITEs and what their responses do."""

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

    def _resp_invite(self, client: Outgoing, resp: Response, now: float) -> None:
        """A response to our INVITE, as one input of the call table."""
        session = client.session
        assert session is not None
        status = resp.status
        why = "cancelled" if session.cancelled else resp.reason
        if status == 100:
            inp = CallInput.RESP_100
        elif status < 200:
            inp = CallInput.RESP_1XX
        elif status < 300:
            if session.cancelled:
                inp = CallInput.RESP_2XX_CANCELLED
            elif resp.body and session.remote_sdp is None and not self._answer_usable(session, resp):
                inp, why = CallInput.RESP_2XX_BAD_SDP, "unusable SDP answer"
            else:
                inp = CallInput.RESP_2XX
        elif status == 422 and client.auth_tries < 3 and self._min_se(resp) is not None:
            inp = CallInput.RESP_422
        else:
            inp = CallInput.RESP_FAILED
        step = Step(now=now, message=resp, status=status, why=why, dest=client.tx.dest, tries=client.auth_tries)
        self._fire(session, inp, step)

    def _answer_usable(self, session: Session, resp: Response) -> bool:
        """Take the SDP answer of a 2xx; False when it cannot be used (the call is then ended)."""
        try:
            self._take_answer(session, resp)
        except ProtocolError:
            return False
        return True

    # -- actions of the call table ---------------------------------------------------------

    def _act_early_dialog(self, session: Session, step: Step) -> None:
        resp = step.message
        assert isinstance(resp, Response)
        if resp.to.tag:
            dialog = session.dialog
            if dialog is None or (dialog.state is DialogState.EARLY and dialog.remote_tag != resp.to.tag):
                session.dialog = Dialog.from_uac(session.invite, resp)
                session.dialog.local_seq = session.invite.cseq.seq

    def _act_early_media(self, session: Session, step: Step) -> None:
        resp = step.message
        assert isinstance(resp, Response)
        if resp.body and resp.content_type == "application/sdp" and session.remote_sdp is None:
            with contextlib.suppress(ProtocolError):  # early media is optional; the 2xx decides
                self._take_answer(session, resp)

    def _act_report_progress(self, session: Session, step: Step) -> None:
        assert isinstance(step.message, Response)
        self._event(ev.CallProgress(call=session.id, status=step.status, reason=step.message.reason))

    def _act_mark_cancel(self, session: Session, step: Step) -> None:
        session.cancel_wanted = True  # §9.1: CANCEL only after a provisional response
        session.cancelled = True

    def _act_cancel_if_wanted(self, session: Session, step: Step) -> None:
        if session.cancel_wanted:  # §9.1: any provisional response allows the CANCEL
            self._send_cancel(session, step.now)

    def _act_send_cancel(self, session: Session, step: Step) -> None:
        self._send_cancel(session, step.now)

    def _act_confirm_dialog(self, session: Session, step: Step) -> None:
        resp = step.message
        assert isinstance(resp, Response)
        if session.dialog is None or (resp.to.tag or "") != session.dialog.remote_tag:
            session.dialog = Dialog.from_uac(session.invite, resp)
        session.dialog.confirm(resp, uac=True)
        session.peer_allow = ", ".join(resp.headers.get_all("Allow"))
        session.dialog.local_seq = max(session.dialog.local_seq, session.invite.cseq.seq)

    def _act_send_ack(self, session: Session, step: Step) -> None:
        assert isinstance(step.message, Response)
        self._send_ack(session, step.message, session.invite.cseq.seq, step.now)

    def _act_ack_again(self, session: Session, step: Step) -> None:
        assert isinstance(step.message, Response)
        self._ack_extra_2xx(session, step.message, step.now)

    def _act_report_failed(self, session: Session, step: Step) -> None:
        session.deadlines.clear()
        self._forget(session)
        response = step.message if isinstance(step.message, Response) else None
        self._event(ev.CallFailed(call=session.id, status=step.status, reason=step.why, response=response))

    def _send_ack(self, session: Session, resp: Response, cseq: int, now: float) -> None:
        """§13.2.2.4: the ACK for a 2xx is built by the core and sent outside any transaction."""
        assert session.dialog is not None
        ack, dest = self._in_dialog(session, "ACK", cseq=cseq)
        ack.headers.prepend("Via", self._via(dest.transport, new_branch()))
        data = bytes(ack)
        session.last_ack = (data, dest)
        self._emit(data, dest, now)

    def _ack_extra_2xx(self, session: Session, resp: Response, now: float) -> None:
        """A retransmitted 2xx gets our ACK again; a 2xx from another fork is ACKed and BYEd."""
        if session.dialog is not None and (resp.to.tag or "") == session.dialog.remote_tag:
            if session.last_ack is not None:
                self._emit(*session.last_ack, now)
            return
        other = Dialog.from_uac(session.invite, resp)
        other.confirm(resp, uac=True)
        ack = other.build_request("ACK", cseq=resp.cseq.seq)
        dest = self._address_of(other.next_hop())
        ack.headers.prepend("Via", self._via(dest.transport, new_branch()))
        self._emit(bytes(ack), dest, now)
        bye = other.build_request("BYE")
        self._send_request(bye, dest, now, purpose="quiet")

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

    def _stray_2xx(self, resp: Response, now: float) -> None:
        session = self._by_dialog.get((resp.call_id, resp.from_.tag or ""))
        if (
            session is not None
            and session.last_ack is not None
            and session.dialog is not None
            and (resp.to.tag or "") == session.dialog.remote_tag
        ):
            self._emit(*session.last_ack, now)
            return
        self.dropped += 1
