"""Registration as a client (RFC 3261 §10.2): bind our Contact at a registrar, take the expiry
it grants (the Contact's expires, else Expires), refresh at half the interval and at least 5 s
before the end, follow 423 Interval Too Brief with its Min-Expires, and remove the bindings
(Expires: 0) on unregister."""

from __future__ import annotations

from voicebot.errors import LocalProtocolError, RemoteProtocolError
from voicebot.sip import events as ev
from voicebot.sip.build import new_call_id, new_tag
from voicebot.sip.message import Response
from voicebot.sip.uacore.base import CoreBase
from voicebot.sip.uacore.records import (
    ALLOWED_METHODS,
    Outgoing,
    Registration,
)
from voicebot.sip.uri import NameAddr, SipUri, parse_uri


class RegisterClient(CoreBase):
    """REGISTER, its refresh and its removal."""

    def register(self, registrar: str, now: float, *, aor: str | None = None, expires: int = 3600) -> Registration:
        """Bind our Contact at ``registrar`` and keep it refreshed before it expires."""
        try:
            reg_uri = parse_uri(registrar)
        except RemoteProtocolError as exc:
            raise LocalProtocolError(f"bad registrar URI {registrar!r}: {exc}") from None
        if aor:
            aor_na = NameAddr.parse(aor)
        else:
            host = reg_uri.host if isinstance(reg_uri, SipUri) else "invalid"
            port = f":{reg_uri.port}" if isinstance(reg_uri, SipUri) and reg_uri.port else ""
            aor_na = NameAddr(self.config.display_name, SipUri("sip", self.config.user, None, host + port), {})
        reg = Registration(registrar=reg_uri, aor=aor_na, call_id=new_call_id(), tag=new_tag(), expires=expires)
        self.registrations.append(reg)
        self._send_register(reg, now, expires)
        return reg

    def _send_register(self, reg: Registration, now: float, expires: int) -> None:
        reg.cseq += 1
        from_ = NameAddr(reg.aor.display, reg.aor.uri, {"tag": reg.tag})
        to = NameAddr(reg.aor.display, reg.aor.uri, {})
        target = reg.registrar
        if isinstance(target, SipUri):
            target = SipUri(target.scheme, None, None, target.host, target.port, dict(target.params), {})
        req, dest = self._initial_request("REGISTER", target, to=to, from_=from_, call_id=reg.call_id, cseq=reg.cseq)
        req.headers.add("Contact", self._contact(dest.transport))
        req.headers.add("Expires", str(expires))
        req.headers.add("Allow", ", ".join(ALLOWED_METHODS))
        self._send_request(req, dest, now, purpose="register", reg=reg, token=expires)

    def unregister(self, now: float) -> None:
        """Remove every binding we made (Expires: 0)."""
        for reg in self.registrations:
            reg.deadlines.clear()
            if reg.active:
                self._send_register(reg, now, 0)

    def _resp_register(self, client: Outgoing, resp: Response, now: float) -> None:
        reg = client.reg
        assert reg is not None
        asked = client.token or 0
        if resp.status < 200:
            return
        if 200 <= resp.status < 300:
            granted = asked
            for c in resp.contacts:
                if isinstance(c.uri, SipUri) and c.uri.user == self.config.user and c.params.get("expires"):
                    value = c.params.get("expires") or ""
                    if value.isdigit():
                        granted = int(value)
                        break
            else:
                if resp.expires is not None and asked:
                    granted = resp.expires
            if asked == 0:
                granted = 0
            reg.active = granted > 0
            reg.deadlines.clear()
            if granted > 0:
                # refresh before expiry: at half the interval, at least 5 s before it ends
                reg.deadlines["refresh"] = now + max(1.0, min(granted / 2, granted - 5))
                self._watch(reg)
            self._event(ev.Registered(aor=str(reg.aor.uri), expires=granted))
            return
        if resp.status == 423 and client.auth_tries < 3:
            min_exp = resp.headers.get("Min-Expires")
            if min_exp and min_exp.strip().isdigit():
                reg.expires = int(min_exp.strip())
                self._send_register(reg, now, reg.expires)
                return
        reg.active = False
        self._event(ev.RegistrationFailed(aor=str(reg.aor.uri), status=resp.status, reason=resp.reason))

    def _registration_timer(self, reg: Registration, now: float) -> None:
        when = reg.deadlines.get("refresh")
        if when is not None and when <= now:
            del reg.deadlines["refresh"]
            self._send_register(reg, now, reg.expires)
