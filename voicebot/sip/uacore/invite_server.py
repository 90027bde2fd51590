"""The INVITE server (RFC 3261 §13.3): a new call from the peer, ringing (reliably with RFC 3262
100rel), answering with our SDP answer or offer, rejecting, and the ACK of our 2xx (§13.3.1.4),
with the actions the call table names for them.
"""

from __future__ import annotations

from voicebot.errors import LocalProtocolError, ProtocolError
from voicebot.sip import events as ev
from voicebot.sip.build import build_response, new_tag
from voicebot.sip.dialog import Dialog, DialogState
from voicebot.sip.message import Request, Response
from voicebot.sip.sdp import SessionDescription, negotiated
from voicebot.sip.transaction import State, Transaction, server_key
from voicebot.sip.uacore.callstate import CallInput, CallState, Step
from voicebot.sip.uacore.offeranswer import OfferAnswer
from voicebot.sip.uacore.records import ALLOWED_METHODS, SUPPORTED, Session
from voicebot.sip.uacore.sessiontimer import SessionTimers


class InviteServer(OfferAnswer, SessionTimers):
    """INVITEs from the peer and what the driver does with them."""

    def _req_invite(self, stx: Transaction, req: Request, now: float) -> None:
        user = self._verified.get(server_key(req))  # set by _screen_invite when callers are challenged
        se = self._check_session_expires(req)
        remote: SessionDescription | None = None
        if req.body:
            remote = self._parse_sdp(req)
            self._can_answer(remote)
        # over max_sessions the INVITE never got here: Admission answered 503 statelessly
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

    def ring(self, call: str, now: float) -> None:
        """UAS: send 180 Ringing (reliably when the caller requires 100rel)."""
        self._fire(self._session(call), CallInput.RING, Step(now=now))

    def answer(self, call: str, now: float, media_address: tuple[str, int]) -> None:
        """UAS: accept the call with 200 OK and our SDP (answer, or offer when the INVITE had none);
        held back until the PRACK while a reliable 1xx is unacknowledged (RFC 3262 §3)."""
        session = self._session(call)
        stx = session.invite_tx
        inp = CallInput.ANSWER if session.rel_response is None else CallInput.ANSWER_HELD
        self._entry(session, inp)  # no entry raises before anything is built
        if stx is None:
            raise LocalProtocolError(f"call {call} has no INVITE to answer")
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
        session.ok_is_initial = True
        session.queued_final = ok
        self._fire(session, inp, Step(now=now))

    def reject(self, call: str, status: int, now: float, reason: str | None = None) -> None:
        """UAS: refuse the call with a final non-2xx response (486 busy, 603 decline, ...)."""
        session = self._session(call)
        if not 300 <= status <= 699:
            raise LocalProtocolError(f"reject needs a 3xx-6xx status, not {status}")
        self._fire(session, CallInput.REJECT, Step(now=now, status=status, reason=reason))

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
                self._fire(session, CallInput.ACK_BAD_SDP, Step(now=now, message=ack, why="bad SDP answer in ACK"))
                return
            if not session.ok_is_initial:
                self._event(ev.MediaChanged(call=session.id, media=session.media))
        if session.ok_is_initial:
            session.ok_is_initial = False
            inp = CallInput.ACK_THEN_BYE if session.bye_after_ack else CallInput.ACK
            self._fire(session, inp, Step(now=now, message=ack, why="local BYE"))

    # -- actions of the call table ---------------------------------------------------------

    def _act_send_ringing(self, session: Session, step: Step) -> None:
        stx = session.invite_tx
        assert stx is not None
        headers = [("Contact", self._contact(stx.dest.transport))]
        if session.reliable:
            session.rseq += 1
            headers += [("Require", "100rel"), ("RSeq", str(session.rseq))]
        resp = self._reply(stx, 180, step.now, session=session, headers=headers)
        self._ensure_uas_dialog(session, resp)
        if session.reliable:
            session.rel_response = resp
            session.rel_interval = self.config.timers.t1
            session.deadlines["rel1xx"] = step.now + session.rel_interval
            session.deadlines["rel1xx_giveup"] = step.now + 64 * self.config.timers.t1
            self._watch(session)

    def _act_send_2xx(self, session: Session, step: Step) -> None:
        ok, session.queued_final = session.queued_final, None
        assert ok is not None and session.invite_tx is not None
        self._send_2xx(session, session.invite_tx, ok, step.now)

    def _act_send_final(self, session: Session, step: Step) -> None:
        if session.invite_tx is not None:
            self._reply(session.invite_tx, step.status, step.now, session=session, reason=step.reason)

    def _act_reply_487(self, session: Session, step: Step) -> None:
        stx = session.invite_tx
        if stx is not None and stx.state is State.PROCEEDING:
            self._respond(stx, build_response(session.invite, 487, to_tag=session.local_tag), step.now)

    def _act_bye_after_ack(self, session: Session, step: Step) -> None:
        session.bye_after_ack = True  # §15: no BYE before the ACK of our 2xx (or Timer H)

    def _act_drop_2xx(self, session: Session, step: Step) -> None:
        session.ok = None
        session.ok_is_initial = False
        session.deadlines.pop("2xx", None)
        session.deadlines.pop("2xx_giveup", None)

    def _act_settle(self, session: Session, step: Step) -> None:
        self._settle(session)

    def _act_report_answered(self, session: Session, step: Step) -> None:
        self._event(ev.CallAnswered(call=session.id, media=session.media))

    def _ensure_uas_dialog(self, session: Session, resp: Response) -> None:
        if session.dialog is None:
            session.dialog = Dialog.from_uas(session.invite, resp)
        elif 200 <= resp.status < 300:
            session.dialog.state = DialogState.CONFIRMED

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
