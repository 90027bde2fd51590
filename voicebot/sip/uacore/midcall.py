"""Requests inside an established dialog that keep the call going (RFC 3261 §14 re-INVITE with
§14.1 glare handling, RFC 3311 UPDATE, RFC 6086 INFO with application/dtmf-relay, §11 OPTIONS),
and the session refresh the call table sends when RFC 4028 says it is due.
"""

from __future__ import annotations

import secrets

from voicebot.errors import LocalProtocolError
from voicebot.sip import events as ev
from voicebot.sip.build import build_response, new_call_id, new_tag
from voicebot.sip.message import Request, Response
from voicebot.sip.sdp import negotiated
from voicebot.sip.transaction import Transaction
from voicebot.sip.uacore.callstate import CallInput, CallState, Step
from voicebot.sip.uacore.invite_client import InviteClient
from voicebot.sip.uacore.records import (
    ACCEPT,
    ALLOWED_METHODS,
    DTMF_DURATION,
    DTMF_SIGNAL,
    SUPPORTED,
    Outgoing,
    Session,
)
from voicebot.sip.uri import NameAddr, parse_uri


class MidCall(InviteClient):
    """re-INVITE, UPDATE, INFO and OPTIONS, both ways."""

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

    def hold(self, call: str, now: float) -> int:
        """Put the peer on hold (re-INVITE with a=sendonly, RFC 3264 §8.4). Returns the token."""
        return self._reinvite(call, now, hold=True)

    def resume(self, call: str, now: float) -> int:
        return self._reinvite(call, now, hold=False)

    def _reinvite(self, call: str, now: float, *, hold: bool | None, token: int | None = None) -> int:
        session = self._session(call)
        self._fire(session, CallInput.REINVITE, Step(now=now))
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
        self._send_request(req, dest, now, purpose="reinvite", session=session, token=token)
        self._pending_offer[token] = offer
        return token

    def _resp_reinvite(self, client: Outgoing, resp: Response, now: float) -> None:
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
                self._take_new_answer(session, offer, resp)
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
        if status in (408, 481):
            why = f"re-INVITE failed with {status}"
            self._fire(session, CallInput.REINVITE_FAILED, Step(now=now, message=resp, status=status, why=why))

    def update(self, call: str, now: float, *, with_sdp: bool = True) -> int:
        """Send UPDATE (RFC 3311): a new offer, or a bare session refresh with ``with_sdp=False``."""
        session = self._session(call)
        self._fire(session, CallInput.UPDATE, Step(now=now))
        if session.dialog is None:
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

    def _resp_update(self, client: Outgoing, resp: Response, now: float) -> None:
        session = client.session
        assert session is not None and client.token is not None
        if resp.status < 200:
            return
        offer = self._pending_offer.pop(client.token, None)
        if 200 <= resp.status < 300:
            self._take_new_answer(session, offer, resp)
            self._refresh_session_timer_from(session, resp, now)
        self._event(ev.RequestDone(call=session.id, token=client.token, status=resp.status, reason=resp.reason))

    def _req_info(self, stx: Transaction, req: Request, now: float) -> None:
        session = self._in_dialog_checks(stx, req, now)
        if session is None:
            return
        if req.content_type == "application/dtmf-relay":
            text = req.body.decode("utf-8", "replace")
            sig = DTMF_SIGNAL.search(text)
            if sig is None:
                self._reply(stx, 400, now, session=session, reason="Bad dtmf-relay body")
                return
            dur = DTMF_DURATION.search(text)
            digit = sig.group(1).upper()
            if digit.isdigit() and int(digit) >= 10:
                digit = "0123456789*#ABCD"[int(digit)] if int(digit) < 16 else "D"
            self._reply(stx, 200, now, session=session)
            self._event(ev.DtmfReceived(call=session.id, digit=digit, duration_ms=int(dur.group(1)) if dur else 160))
            return
        self._reply(stx, 200, now, session=session)

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

    def _resp_done(self, client: Outgoing, resp: Response, now: float) -> None:
        if resp.status < 200 or client.token is None:
            return
        call = client.session.id if client.session is not None else None
        self._event(ev.RequestDone(call=call, token=client.token, status=resp.status, reason=resp.reason))

    def _resp_quiet(self, client: Outgoing, resp: Response, now: float) -> None:
        """CANCEL, PRACK, NOTIFY, the BYE of a stray fork: nothing to report."""

    def _peer_allow(self, session: Session) -> str:
        return session.peer_allow.upper()

    # -- actions of the call table ---------------------------------------------------------

    def _act_send_refresh(self, session: Session, step: Step) -> None:
        """RFC 4028 §10: refresh with UPDATE when the peer allows it, else with a re-INVITE."""
        if session.reinvite_token is None:
            if "UPDATE" in self._peer_allow(session):
                self.update(session.id, step.now, with_sdp=False)
            else:
                self._reinvite(session.id, step.now, hold=None)
        session.deadlines["refresh"] = step.now + session.se_interval / 2

    def _act_retry_reinvite(self, session: Session, step: Step) -> None:
        """§14.1: the re-INVITE that met a 491, sent again once the wait is over."""
        token, session.glare_token = session.glare_token, None
        if token is None:
            return
        if session.reinvite_token is None:
            self._reinvite(session.id, step.now, hold=None, token=token)
        else:
            self._event(ev.RequestDone(call=session.id, token=token, status=491, reason="Request Pending"))
