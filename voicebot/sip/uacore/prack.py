"""Reliable provisional responses (RFC 3262): as UAS, a 1xx sent reliably is retransmitted until
its PRACK (and the call given up with 504 after 64*T1), and a 2xx waits for that PRACK (§3); as
UAC, each reliable 1xx (new RSeq) gets one PRACK (§4).
"""

from __future__ import annotations

from voicebot.sip.message import Request, Response
from voicebot.sip.transaction import Transaction
from voicebot.sip.uacore.base import CoreBase
from voicebot.sip.uacore.callstate import CallInput, Step
from voicebot.sip.uacore.records import Session


class ReliableProvisional(CoreBase):
    """PRACK both ways and the retransmission of our reliable 1xx."""

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
        self._fire(session, CallInput.PRACK, Step(now=now, message=req))

    def _retransmit_1xx(self, session: Session, now: float) -> None:
        """§3: the reliable 1xx again, at T1, 2*T1, 4*T1 ... until its PRACK."""
        if session.rel_response is not None and session.invite_tx is not None:
            self._emit(bytes(session.rel_response), session.invite_tx.dest, now)
            session.rel_interval *= 2
            session.deadlines["rel1xx"] = now + session.rel_interval

    def _prack_timeout(self, session: Session, now: float) -> None:
        """§3: no PRACK within 64*T1: 504 to the INVITE and the call is over."""
        if session.rel_response is not None:
            session.rel_response = None
            session.deadlines.pop("rel1xx", None)
            step = Step(now=now, status=504, reason="PRACK Timeout", why="no PRACK")
            self._fire(session, CallInput.PRACK_TIMEOUT, step)

    # -- actions of the call table ---------------------------------------------------------

    def _act_send_prack(self, session: Session, step: Step) -> None:
        resp = step.message
        assert isinstance(resp, Response)
        if resp.to.tag and "100rel" in [t.lower() for t in resp.headers.get_all("Require")]:
            self._prack(session, resp, step.now)

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
