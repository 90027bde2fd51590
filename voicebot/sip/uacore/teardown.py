"""Ending a call (RFC 3261 §15 BYE, §9.2 CANCEL from the peer): hanging up the right way for the
call's state (the call table decides: CANCEL, 603, BYE, or BYE once the ACK comes), the peer's
BYE and CANCEL, our BYE's response, and the events that report the end.
"""

from __future__ import annotations

from voicebot.sip import events as ev
from voicebot.sip.build import build_response, new_tag
from voicebot.sip.message import Request, Response
from voicebot.sip.transaction import State, Transaction, server_key
from voicebot.sip.uacore.base import CoreBase
from voicebot.sip.uacore.callstate import CallInput, Step
from voicebot.sip.uacore.records import Outgoing, Session


class Teardown(CoreBase):
    """BYE and CANCEL, both ways."""

    def hangup(self, call: str, now: float) -> None:
        """End the call the right way for its state: BYE, CANCEL, or 603 to a ringing caller."""
        self._fire(self._session(call), CallInput.HANGUP, Step(now=now, status=603, why="local BYE"))

    def _req_bye(self, stx: Transaction, req: Request, now: float) -> None:
        session = self._in_dialog_checks(stx, req, now)
        if session is None:
            return
        self._reply(stx, 200, now, session=session)
        self._fire(session, CallInput.BYE, Step(now=now, message=req, why="remote BYE"))

    def _req_cancel(self, stx: Transaction, req: Request, now: float) -> None:
        """§9.2: 200 to the CANCEL, 487 to the INVITE it names while that is still pending."""
        key = list(server_key(req))
        key[3 if key[0] == "3261" else 5] = "INVITE"
        itx = self._servers.get(tuple(key))
        if itx is None:
            self._reply(stx, 481, now)
            return
        self._reply(stx, 200, now)
        session = self._server_session.get(id(itx))
        if itx.state is State.PROCEEDING:
            tag = session.local_tag if session is not None else new_tag()
            self._respond(itx, build_response(itx.request, 487, to_tag=tag), now)
            if session is not None:
                self._fire(session, CallInput.CANCEL, Step(now=now, message=req, why="cancelled"))

    def _resp_bye(self, client: Outgoing, resp: Response, now: float) -> None:
        session = client.session
        if session is not None:
            why = session.ended_reason or "local BYE"
            self._fire(session, CallInput.BYE_DONE, Step(now=now, message=resp, why=why))

    # -- actions of the call table ---------------------------------------------------------

    def _act_send_bye(self, session: Session, step: Step) -> None:
        session.ended_reason = step.why
        session.deadlines.clear()
        req, dest = self._in_dialog(session, "BYE")
        self._send_request(req, dest, step.now, purpose="bye", session=session)

    def _act_end_local(self, session: Session, step: Step) -> None:
        self._end(session, step.why, by_remote=False)

    def _act_end_remote(self, session: Session, step: Step) -> None:
        self._end(session, step.why, by_remote=True)

    def _act_end_rejected(self, session: Session, step: Step) -> None:
        self._end(session, f"rejected {step.status}", by_remote=False)

    def _end(self, session: Session, reason: str, *, by_remote: bool) -> None:
        session.deadlines.clear()
        self._forget(session)
        self._event(ev.CallEnded(call=session.id, reason=reason, by_remote=by_remote))
