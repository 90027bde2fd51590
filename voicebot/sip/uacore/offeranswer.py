"""SDP offer/answer for the calls of the core (RFC 3264, RFC 4568 SDES keys): our offers and
answers, the peer's SDP read from a message, the media both sides agreed on."""

from __future__ import annotations

from voicebot.errors import ProtocolError, RemoteProtocolError
from voicebot.sip import events as ev
from voicebot.sip.message import Request, Response
from voicebot.sip.sdes import offer_crypto
from voicebot.sip.sdp import (
    DEFAULT_PTIME,
    SessionDescription,
    make_answer,
    make_offer,
    negotiated,
    with_direction,
)
from voicebot.sip.uacore.base import CoreBase
from voicebot.sip.uacore.records import (
    Session,
)


class OfferAnswer(CoreBase):
    """Offers and answers built from the configured codecs and SRTP policy."""

    def _parse_sdp(self, msg: Request | Response) -> SessionDescription:
        if msg.content_type != "application/sdp":
            raise RemoteProtocolError("body is not SDP", status=415, extra_headers={"Accept": "application/sdp"})
        return SessionDescription.parse(msg.body)

    def _can_answer(self, offer: SessionDescription) -> None:
        self._make_answer(offer, "127.0.0.1", 9)

    def _make_offer(self, host: str, port: int, transport: str, direction: str = "sendrecv") -> SessionDescription:
        """Our SDP offer; with SDES keys (RTP/SAVP) when SRTP is mandatory, or optional and the
        signalling is TLS (keys sent in the clear over UDP or TCP would protect nothing)."""
        cfg = self.config
        secure = cfg.srtp == "mandatory" or (cfg.srtp == "optional" and transport == "tls")
        crypto = offer_crypto(cfg.srtp_suites) if secure else []
        ptime = DEFAULT_PTIME if cfg.ptime is None else cfg.ptime
        return make_offer(host, port, codecs=cfg.codecs, crypto=crypto, direction=direction, ptime=ptime)

    def _make_answer(
        self,
        offer: SessionDescription,
        host: str,
        port: int,
        previous: SessionDescription | None = None,
        direction: str | None = None,
    ) -> SessionDescription:
        cfg = self.config
        return make_answer(
            offer, host, port, codecs=cfg.codecs, srtp=cfg.srtp, suites=cfg.srtp_suites,
            previous=previous, direction=direction, ptime=cfg.ptime,
        )  # fmt: skip

    def _answer_for(self, session: Session, offer: SessionDescription) -> SessionDescription:
        host, port = session.media_address or ("127.0.0.1", 9)
        return self._make_answer(
            offer, host, port, previous=session.local_sdp, direction="sendonly" if session.on_hold else None
        )

    def _offer_for(self, session: Session) -> SessionDescription:
        host, port = session.media_address or ("127.0.0.1", 9)
        direction = "sendonly" if session.on_hold else "sendrecv"
        if session.local_sdp is not None:
            return with_direction(session.local_sdp, direction)
        return self._make_offer(host, port, self.config.transport, direction=direction)

    def _take_answer(self, session: Session, resp: Response) -> None:
        remote = self._parse_sdp(resp)
        assert session.local_sdp is not None
        session.media = negotiated(session.local_sdp, remote)
        session.remote_sdp = remote

    def _take_new_answer(self, session: Session, offer: SessionDescription | None, resp: Response) -> None:
        """The SDP answer in a 2xx to our re-INVITE or UPDATE ``offer`` becomes the call's media;
        an answer that does not parse or match leaves the media as it was."""
        if offer is None or not resp.body:
            return
        try:
            remote = self._parse_sdp(resp)
            session.media = negotiated(offer, remote)
            session.local_sdp, session.remote_sdp = offer, remote
            self._event(ev.MediaChanged(call=session.id, media=session.media))
        except ProtocolError:
            pass
