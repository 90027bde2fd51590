"""check_request / check_response beyond the torture corpus: the §8.2 order and answers."""

from __future__ import annotations

import pytest

from voicebot.errors import LocalProtocolError, RemoteProtocolError
from voicebot.sip.build import build_response
from voicebot.sip.message import Request, Response
from voicebot.sip.parser import parse_message
from voicebot.sip.validate import check_request, check_response

ALLOWED = ("INVITE", "ACK", "BYE", "CANCEL", "OPTIONS")


def req(method: str = "OPTIONS", extra: str = "", body: bytes = b"", uri: str = "sip:bob@example.com") -> Request:
    wire = (
        f"{method} {uri} SIP/2.0\r\n"
        "Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKabc\r\n"
        "From: <sip:alice@example.com>;tag=a1\r\n"
        "To: <sip:bob@example.com>\r\n"
        "Call-ID: c1@192.0.2.1\r\n"
        f"CSeq: 7 {method}\r\n"
        "Max-Forwards: 70\r\n"
        f"{extra}"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body
    m = parse_message(wire)
    assert isinstance(m, Request)
    return m


def status(r: Request, **kw: object) -> int | None:
    resp = check_request(r, allowed_methods=ALLOWED, **kw)  # type: ignore[arg-type]
    return None if resp is None else resp.status


def test_plain_requests_pass() -> None:
    assert status(req()) is None
    assert status(req("INVITE", "Content-Type: application/sdp\r\n", b"v=0\r\n")) is None
    assert status(req("INVITE", "Accept: application/*\r\n")) is None
    assert status(req(uri="tel:+15551234")) is None
    assert status(req(uri="sips:bob@example.com")) is None


def test_method_checks() -> None:
    r = check_request(req("SUBSCRIBE"), allowed_methods=ALLOWED)
    assert r is not None and r.status == 405 and r.headers.get("Allow") == ", ".join(ALLOWED)
    r = check_request(req("FROBNICATE"), allowed_methods=ALLOWED)
    assert r is not None and r.status == 501 and r.to.tag  # final responses carry a To tag


def test_require_and_extensions() -> None:
    r = check_request(req(extra="Require: 100rel, foo\r\n"), allowed_methods=ALLOWED)
    assert r is not None and r.status == 420 and r.headers.get_all("Unsupported") == ["foo"]
    assert status(req(extra="Require: timer\r\n")) is None
    assert status(req("CANCEL", "Require: foo\r\n")) is None  # §8.2.2.3: not for CANCEL
    assert status(req(extra="Require: foo\r\n"), supported=("foo",)) is None


def test_content_checks() -> None:
    assert status(req("INVITE", "Content-Type: text/html\r\n", b"<b>")) == 415
    assert status(req("INVITE", "Content-Type: application/sdp\r\nContent-Encoding: gzip\r\n", b"x")) == 415
    assert status(req("INVITE", "", b"v=0\r\n")) == 400  # a body without Content-Type
    assert status(req("INVITE", "Accept: text/plain\r\n")) == 406
    assert status(req("INVITE", "Accept: application/sdp;level=1, text/plain\r\n")) is None


def test_syntax_checks() -> None:
    assert status(req(extra="Max-Forwards: 70\r\n")) == 400  # a second Max-Forwards
    assert status(req(extra="Expires: soon\r\n")) == 400
    assert status(req(extra="Contact: <sip:a@b\r\n")) == 400
    assert status(req(extra="Route: \r\n")) == 400
    assert status(req(extra="Record-Route: <sip:p1;lr>, <sip:p2;lr>\r\n")) is None
    assert status(req(extra="Contact: *\r\n")) is None
    bad = req()
    bad.headers.set("CSeq", "7 BYE")
    r = check_request(bad, allowed_methods=ALLOWED)
    assert r is not None and r.status == 400 and "CSeq" in r.reason


def test_order_method_before_scheme_before_require() -> None:
    assert status(req("SUBSCRIBE", "Require: foo\r\n", uri="http://example.com")) == 405
    assert status(req(extra="Require: foo\r\n", uri="http://example.com")) == 416
    assert status(req("INVITE", "Require: foo\r\nContent-Type: text/x\r\n", b"x")) == 420


def test_check_response() -> None:
    r = build_response(req(), 200, to_tag="t")
    check_response(r)
    r.headers.add("To", "<sip:x@y>")
    with pytest.raises(RemoteProtocolError):
        check_response(r)
    r2 = Response(200, headers=[("From", "<sip:a@b>;tag=1"), ("To", "<sip:b@c>"), ("Call-ID", "x"), ("CSeq", "1 BYE")])
    with pytest.raises(RemoteProtocolError):
        check_response(r2)  # no Via


def test_build_response_details() -> None:
    r = req("INVITE", "Timestamp: 54\r\n")
    trying = build_response(r, 100)
    assert trying.headers.get("Timestamp") == "54" and trying.to.tag is None
    ok = build_response(
        r, 200, "Fine", to_tag="z", headers=[("X-A", "1")], body=b"v=0\r\n", content_type="application/sdp"
    )
    assert (ok.reason, ok.to.tag, ok.headers.get("X-A"), ok.content_type) == ("Fine", "z", "1", "application/sdp")
    assert build_response(r, 480).reason == "Temporarily Unavailable"
    tagged = req(extra="").headers.copy()
    tagged.set("To", "<sip:bob@example.com>;tag=keep")
    r.headers = tagged
    assert build_response(r, 200, to_tag="new").to.tag == "keep"  # an existing tag is kept
    with pytest.raises(LocalProtocolError):
        build_response(r, 99)


def test_start_line_injection_and_folding() -> None:
    with pytest.raises(LocalProtocolError):
        bytes(Response(200, "OK\r\nEvil: yes"))
    with pytest.raises(RemoteProtocolError):
        parse_message(b"OPTIONS sip:a@b\r\n SIP/2.0\r\nCSeq: 1 OPTIONS\r\n\r\n")
