"""Round trips of typical call messages, lexical corner cases, and a cross-check with the
independent ``sipmessage`` parser reading what we serialise."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote

import pytest
import sipmessage

from voicebot.errors import LocalProtocolError, RemoteProtocolError
from voicebot.sip.build import build_response, new_branch, new_call_id, new_tag
from voicebot.sip.headers import CSeq, Headers, Via
from voicebot.sip.message import Request, Response
from voicebot.sip.parser import SipParseError, parse_message
from voicebot.sip.sdp import SessionDescription, make_answer, make_offer
from voicebot.sip.uri import AbsoluteUri, NameAddr, SipUri, TelUri, parse_uri


def call_flow() -> list[Request | Response]:
    """INVITE (SDP) / 100 / 180 / 200 (SDP) / ACK / BYE / 200 built with the library."""
    offer = make_offer("192.0.2.10", 40000, session_id=42)
    invite = Request(
        "INVITE",
        "sip:bob@192.0.2.20:5060",
        [
            ("Via", f"SIP/2.0/UDP 192.0.2.10:5062;branch={new_branch()};rport"),
            ("Max-Forwards", "70"),
            ("From", f'"Alice Ünïcode" <sip:alice@192.0.2.10:5062>;tag={new_tag()}'),
            ("To", "<sip:bob@192.0.2.20:5060>"),
            ("Call-ID", new_call_id("192.0.2.10")),
            ("CSeq", "1 INVITE"),
            ("Contact", "<sip:alice@192.0.2.10:5062>"),
            ("Allow", "INVITE, ACK, BYE, CANCEL, OPTIONS, UPDATE, PRACK, INFO, REFER, NOTIFY"),
            ("Supported", "100rel, timer, replaces"),
            ("User-Agent", "voicebot"),
            ("Content-Type", "application/sdp"),
        ],
        bytes(offer),
    )
    trying = build_response(invite, 100)
    tag = new_tag()
    ringing = build_response(invite, 180, to_tag=tag, headers=[("Contact", "<sip:bob@192.0.2.20>")])
    answer = make_answer(SessionDescription.parse(invite.body), "192.0.2.20", 50000)
    ok = build_response(
        invite,
        200,
        to_tag=tag,
        headers=[("Contact", "<sip:bob@192.0.2.20>")],
        body=bytes(answer),
        content_type="application/sdp",
    )
    dialog = [
        ("From", invite.headers.get("From") or ""),
        ("To", ok.headers.get("To") or ""),
        ("Call-ID", invite.call_id),
        ("Max-Forwards", "70"),
    ]
    via = ("Via", f"SIP/2.0/UDP 192.0.2.10:5062;branch={new_branch()}")
    ack = Request("ACK", "sip:bob@192.0.2.20", [via, *dialog, ("CSeq", "1 ACK")])
    via2 = ("Via", f"SIP/2.0/UDP 192.0.2.10:5062;branch={new_branch()}")
    bye = Request("BYE", "sip:bob@192.0.2.20", [via2, *dialog, ("CSeq", "2 BYE")])
    bye_ok = build_response(bye, 200)
    return [invite, trying, ringing, ok, ack, bye, bye_ok]


def test_call_flow_round_trip() -> None:
    for msg in call_flow():
        wire = bytes(msg)
        again = parse_message(wire)
        assert again == msg
        assert bytes(again) == wire
        assert again.cseq == msg.cseq and again.call_id == msg.call_id
    invite = call_flow()[0]
    assert parse_message(bytes(invite)).from_.display == "Alice Ünïcode"


def test_responses_follow_rfc3261_8_2_6() -> None:
    invite, trying, ringing, ok, *_ = call_flow()
    assert isinstance(trying, Response) and trying.to.tag is None
    assert isinstance(ringing, Response) and ringing.to.tag is not None
    assert ringing.to.tag == ok.to.tag
    assert [str(v) for v in ok.vias] == [str(v) for v in invite.vias]
    assert ok.content_type == "application/sdp" and ok.body


def test_identifiers_are_unpredictable_and_well_formed() -> None:
    branches = {new_branch() for _ in range(200)}
    assert len(branches) == 200 and all(b.startswith("z9hG4bK") for b in branches)
    assert len({new_tag() for _ in range(200)}) == 200
    cid = new_call_id("example.com")
    assert cid.endswith("@example.com") and len(cid) > 20


def test_content_length_always_rewritten() -> None:
    req = Request("OPTIONS", "sip:a@b", [("Content-Length", "999"), ("CSeq", "1 OPTIONS")], b"xyz")
    wire = bytes(req)
    assert b"Content-Length: 3\r\n" in wire and b"999" not in wire
    assert wire.endswith(b"\r\n\r\nxyz")


def test_compact_forms_and_case_insensitivity() -> None:
    wire = (
        b"OPTIONS sip:a@example.com SIP/2.0\r\n"
        b"v: SIP/2.0/TCP h.example.com;branch=z9hG4bK1\r\n"
        b"f: <sip:b@example.com>;tag=1\r\nt: <sip:a@example.com>\r\ni: abc\r\n"
        b"CSEQ: 1 OPTIONS\r\nk: timer\r\nl: 0\r\n\r\n"
    )
    m = parse_message(wire)
    assert m.headers.get("Via") == m.headers.get("v") == "SIP/2.0/TCP h.example.com;branch=z9hG4bK1"
    assert m.call_id == "abc" and m.headers.get("SUPPORTED") == "timer"
    # serialised with full canonical names
    out = bytes(m)
    assert b"\r\nVia: " in out and b"\r\nCall-ID: abc" in out and b"\r\nCSeq: 1 OPTIONS" in out


def test_folding_and_lists() -> None:
    wire = (
        b"OPTIONS sip:a@example.com SIP/2.0\r\n"
        b"Via: SIP/2.0/UDP h1.example.com;branch=z9hG4bK1,\r\n"
        b"\tSIP/2.0/UDP h2.example.com;branch=z9hG4bK2\r\n"
        b"Via: SIP/2.0/UDP h3.example.com;branch=z9hG4bK3\r\n"
        b"From: <sip:b@example.com>;tag=1\r\nTo: <sip:a@example.com>\r\nCall-ID: abc\r\n"
        b'Contact: "A, B" <sip:x@h1>, <sip:y,z@h2;p=1>;q=0.5\r\n'
        b"CSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
    )
    m = parse_message(wire)
    assert [v.host for v in m.vias] == ["h1.example.com", "h2.example.com", "h3.example.com"]
    assert [c.display for c in m.contacts] == ["A, B", None]
    assert str(m.contacts[1].uri) == "sip:y,z@h2;p=1"
    assert m.contacts[1].params == {"q": "0.5"}


def test_headers_api() -> None:
    h = Headers([("Via", "a"), ("v", "b"), ("To", "x")])
    assert h.get_all("VIA") == ["a", "b"] and "to" in h and "t" in h
    h.set("Via", "c")
    assert h.items() == [("Via", "c"), ("To", "x")]
    h.add("Route", "<sip:p1;lr>, <sip:p2;lr>")
    assert h.get_all("Route") == ["<sip:p1;lr>", "<sip:p2;lr>"]
    h2 = h.copy()
    h2.remove("route")
    assert "Route" in h and "Route" not in h2
    with pytest.raises(LocalProtocolError):
        h.add("X-Evil", "a\r\nInjected: yes")
    with pytest.raises(LocalProtocolError):
        h.add("Bad Name", "v")


def test_uri_forms() -> None:
    u = parse_uri("SIP:alice:pw@[2001:db8::1]:5070;transport=TCP;lr?Subject=hi&Priority=urgent")
    assert isinstance(u, SipUri)
    assert (u.scheme, u.user, u.password, u.host, u.port) == ("sip", "alice", "pw", "[2001:db8::1]", 5070)
    assert u.transport == "tcp" and u.params["lr"] is None
    assert u.headers == {"Subject": "hi", "Priority": "urgent"}
    assert parse_uri(str(u)) == u
    t = parse_uri("tel:+1-201-555-0123;phone-context=example.com")
    assert isinstance(t, TelUri) and t.number == "+1-201-555-0123" and str(t).startswith("tel:+1")
    a = parse_uri("urn:service:sos")
    assert isinstance(a, AbsoluteUri) and a.scheme == "urn" and str(a) == "urn:service:sos"
    for bad in ("sip:", "sip:a@", "sip:a b@c", "sip:host:99999", "sip:[::1", "sip:a@[zz::1]", "<sip:a@b>", "", "x"):
        with pytest.raises(RemoteProtocolError):
            parse_uri(bad)


def test_name_addr_forms() -> None:
    na = NameAddr.parse('"Bob \\"B\\"" <sip:bob@h>;tag=9;expires=60')
    assert na.display == 'Bob "B"' and na.tag == "9" and na.params["expires"] == "60"
    assert NameAddr.parse(str(na)) == na
    plain = NameAddr.parse("sip:bob@h;tag=1")
    assert plain.display is None and plain.tag == "1" and str(plain) == "<sip:bob@h>;tag=1"
    tokens = NameAddr.parse("Bob  Smith <sip:bob@h>")
    assert tokens.display == "Bob Smith"
    assert str(NameAddr(display="line\r\nbreak", uri=parse_uri("sip:a@b"))) == '"line  break" <sip:a@b>'


def test_via_and_cseq() -> None:
    v = Via.parse("SIP / 2.0 / udp [2001:db8::9]:5062 ; branch=z9hG4bKx ; received=[2001:db8::1] ; rport=5062")
    assert (v.transport, v.host, v.port, v.branch, v.received, v.rport) == (
        "UDP", "[2001:db8::9]", 5062, "z9hG4bKx", "2001:db8::1", 5062
    )
    assert Via.parse(str(v)) == v
    for bad in ("SIP/2.0/UDP", "HTTP/1.1/TCP h", "SIP/2.0/UDP h:70000", "SIP/2.0/UDP h;rport=x"):
        with pytest.raises(RemoteProtocolError):
            Via.parse(bad)
    assert CSeq.parse("  12 \t INVITE ") == CSeq(12, "INVITE")
    for bad in ("x INVITE", "1", "2147483648 INVITE", "1 INV ITE"):
        with pytest.raises(RemoteProtocolError):
            CSeq.parse(bad)


def test_framing_errors() -> None:
    base = b"OPTIONS sip:a@b SIP/2.0\r\nCSeq: 1 OPTIONS\r\nCall-ID: x\r\n"
    cases = {
        b"": 400,
        b"\r\n\r\n": 400,
        base: 400,  # no empty line
        base + b"Content-Length: 10\r\n\r\nabc": 400,
        base + b"Content-Length: abc\r\n\r\n": 400,
        b"OPTIONS sip:a@b SIP/3.0\r\n\r\n": 505,
        b"OPTIONS sip:a@b HTTP/1.1\r\n\r\n": 400,
        b"SIP/2.0 99 Too small\r\n\r\n": 400,
        b"SIP/2.0 700 Too big\r\n\r\n": 400,
        b"SIP/3.0 200 OK\r\n\r\n": 505,
        base + b"Bad Header\r\n\r\n": 400,
        base + b"X: a\rb\r\n\r\n": 400,
        base + b"X" * 70000 + b"\r\n\r\n": 513,
        base + b"X: y\r\n" * 300 + b"\r\n": 513,
    }
    for data, status in cases.items():
        with pytest.raises(SipParseError) as info:
            parse_message(data)
        assert info.value.status == status, data[:60]


def test_keepalive_crlf_before_message_is_ignored() -> None:
    m = parse_message(b"\r\n\r\n" + bytes(call_flow()[4]))
    assert isinstance(m, Request) and m.method == "ACK"


def test_sipmessage_reads_what_we_write(corpora: Path) -> None:
    """The independent sipmessage parser agrees on every field of what we serialise."""
    messages: list[Request | Response] = list(call_flow())
    for path in sorted((corpora / "sip" / "rfc4475").glob("*.dat")):
        # (wsinv is left out: its values keep RFC-legal LWS inside Via that sipmessage rejects)
        if path.stem in ("esc01", "lwsdisp", "semiuri", "transports", "badbranch", "zeromf", "longreq"):
            messages.append(parse_message(path.read_bytes()))
    checked = 0
    for ours in messages:
        theirs = sipmessage.Message.parse(bytes(ours))
        if isinstance(ours, Request):
            assert isinstance(theirs, sipmessage.Request)
            assert theirs.method == ours.method
            assert unquote(str(theirs.uri)) == unquote(str(ours.uri))
        else:
            assert isinstance(theirs, sipmessage.Response)
            assert (theirs.code, theirs.phrase) == (ours.status, ours.reason)
        assert theirs.call_id == ours.call_id
        assert (theirs.cseq.sequence, theirs.cseq.method) == (ours.cseq.seq, ours.cseq.method)
        assert [(v.transport, v.host, v.port) for v in theirs.via] == [
            (v.transport, v.host, v.port) for v in ours.vias
        ]
        assert [v.parameters.get("branch") for v in theirs.via] == [v.branch for v in ours.vias]
        assert theirs.from_address.parameters.get("tag") == ours.from_.tag
        assert theirs.to_address.parameters.get("tag") == ours.to.tag
        assert unquote(str(theirs.from_address.uri)) == unquote(str(ours.from_.uri))
        assert (theirs.from_address.name or None) == ours.from_.display
        assert [unquote(str(c.uri)) for c in theirs.contact] == [
            unquote(str(c.uri)) for c in ours.contacts
        ]
        assert theirs.body == ours.body
        assert theirs.content_length == len(ours.body)
        checked += 1
    assert checked == len(messages) >= 14


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        # RFC 3261 §19.1.4 examples
        ("sip:%61lice@atlanta.com;transport=TCP", "sip:alice@AtLanTa.CoM;Transport=tcp", True),
        ("sip:carol@chicago.com", "sip:carol@chicago.com;newparam=5", True),
        ("sip:carol@chicago.com;security=on", "sip:carol@chicago.com;newparam=5", True),
        ("sip:biloxi.com;transport=tcp;method=REGISTER?to=sip:bob%40biloxi.com",
         "sip:biloxi.com;method=REGISTER;transport=tcp?to=sip:bob%40biloxi.com", True),
        ("sip:alice@atlanta.com?subject=project%20x&priority=urgent",
         "sip:alice@atlanta.com?priority=urgent&subject=project%20x", True),
        ("SIP:ALICE@AtLanTa.CoM;Transport=udp", "sip:alice@AtLanTa.CoM;Transport=UDP", False),
        ("sip:bob@biloxi.com", "sip:bob@biloxi.com:5060", False),
        ("sip:bob@biloxi.com", "sip:bob@biloxi.com;transport=udp", False),
        ("sip:bob@biloxi.com", "sip:bob@biloxi.com:6000;transport=tcp", False),
        ("sip:carol@chicago.com", "sip:carol@chicago.com?Subject=next%20meeting", False),
        ("sip:bob@phone21.boxesbybob.com", "sip:bob@192.0.2.4", False),
        ("sip:carol@chicago.com;security=on", "sip:carol@chicago.com;security=off", False),
        ("sip:a@[2001:db8::1]", "sip:a@[2001:DB8:0::1]", True),
    ],
)
def test_uri_equivalence_rfc3261_19_1_4(a: str, b: str, same: bool) -> None:
    ua, ub = parse_uri(a), parse_uri(b)
    assert isinstance(ua, SipUri) and isinstance(ub, SipUri)
    assert ua.equivalent(ub) is same and ub.equivalent(ua) is same
