"""Session timers (RFC 4028): the interval and refresher a request asks for and the one we
grant (§9, §7.4 422 with Min-SE), the refresh at half the interval when we refresh (§10), and
the BYE a little before expiry when the peer should have refreshed and did not (§10)."""

from __future__ import annotations

from voicebot.errors import RemoteProtocolError
from voicebot.sip.message import Request, Response
from voicebot.sip.uacore.base import CoreBase
from voicebot.sip.uacore.callstate import Step
from voicebot.sip.uacore.records import (
    Session,
)


class SessionTimers(CoreBase):
    """Negotiating and arming session timers."""

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

    @staticmethod
    def _min_se(resp: Response) -> str | None:
        """The Min-SE of a 422 (RFC 4028 §7.4), or None when it has none we can use."""
        value = (resp.headers.get("Min-SE") or "").split(";")[0].strip()
        return value if value.isdigit() else None

    # -- actions of the call table ---------------------------------------------------------

    def _act_retry_min_se(self, session: Session, step: Step) -> None:
        """RFC 4028 §7.4: a 422 is answered by the same INVITE asking for the Min-SE it gave."""
        assert isinstance(step.message, Response) and step.dest is not None
        min_se = self._min_se(step.message)
        assert min_se is not None
        headers = session.invite.headers.copy()
        headers.remove("Via")
        headers.set("Session-Expires", min_se)
        headers.set("Min-SE", min_se)
        headers.set("CSeq", f"{session.invite.cseq.seq + 1} INVITE")
        new = Request("INVITE", session.invite.uri, headers, session.invite.body)
        session.invite = new
        session.dialog = None
        self._send_request(new, step.dest, step.now, purpose="invite", session=session, auth_tries=step.tries + 1)

    def _act_take_session_expires(self, session: Session, step: Step) -> None:
        """The session interval and refresher the 2xx to our INVITE settled on."""
        assert isinstance(step.message, Response)
        se = step.message.headers.get("Session-Expires")
        if se is not None and self.config.session_expires > 0:
            try:
                session.se_interval = int(se.split(";", 1)[0])
                session.se_we_refresh = "refresher=uas" not in se.replace(" ", "").lower()
            except ValueError:
                session.se_interval = 0
            self._start_session_timer(session, step.now)

    def _act_start_session_timer(self, session: Session, step: Step) -> None:
        self._start_session_timer(session, step.now)
