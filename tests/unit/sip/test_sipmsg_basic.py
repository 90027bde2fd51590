"""Basic parse/serialise behaviour of voicebot.sip.message and .parser on hand-written typical messages."""

from __future__ import annotations

import pytest

from voicebot.errors import RemoteProtocolError
from voicebot.sip.build import build_response
from voicebot.sip.message import Request, Response
from voicebot.sip.parser import parse_message

INVITE = (
    b"INVITE sip:bob@192.0.2.4 SIP/2.0\r\n"
    b"Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK776asdhds;rport\r\n"
    b"Max-Forwards: 70\r\n"
    b'From: "Alice" <sip:alice@192.0.2.1>;tag=1928301774\r\n'
    b"To: <sip:bob@192.0.2.4>\r\n"
    b"Call-ID: a84b4c76e66710@192.0.2.1\r\n"
    b"CSeq: 314159 INVITE\r\n"
    b"Contact: <sip:alice@192.0.2.1:5060>\r\n"
    b"Content-Type: application/sdp\r\n"
    b"Content-Length: 4\r\n"
    b"\r\n"
    b"v=0\n"
)


def test_parse_typical_invite() -> None:
    m = parse_message(INVITE)
    assert isinstance(m, Request)
    assert m.method == "INVITE"
    assert str(m.uri) == "sip:bob@192.0.2.4"
    assert m.top_via.branch == "z9hG4bK776asdhds"
    assert m.top_via.wants_rport and m.top_via.rport is None
    assert m.from_.display == "Alice" and m.from_.tag == "1928301774"
    assert m.to.tag is None
    assert m.cseq.seq == 314159 and m.cseq.method == "INVITE"
    assert m.call_id == "a84b4c76e66710@192.0.2.1"
    assert m.max_forwards == 70
    assert m.content_type == "application/sdp"
    assert m.body == b"v=0\n"
    assert bytes(m) == INVITE


def test_build_response_copies_dialog_headers() -> None:
    req = parse_message(INVITE)
    assert isinstance(req, Request)
    resp = build_response(req, 180, to_tag="xyz")
    assert isinstance(resp, Response)
    assert resp.reason == "Ringing"
    assert resp.headers.get("Via") == req.headers.get("Via")
    assert resp.to.tag == "xyz"
    assert resp.cseq == req.cseq
    again = parse_message(bytes(resp))
    assert again == resp


def test_bad_request_line_raises_protocol_error() -> None:
    with pytest.raises(RemoteProtocolError) as info:
        parse_message(INVITE.replace(b"INVITE sip", b"INVITE  sip", 1))
    assert info.value.status == 400
