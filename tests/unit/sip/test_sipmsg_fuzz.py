"""Hypothesis fuzzing of the SIP message layer: whatever arrives, only ProtocolError escapes,
and stream framing gives the same result for any chunking (whole, random, one byte)."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from voicebot.errors import ProtocolError
from voicebot.sip.build import build_response
from voicebot.sip.message import Request, Response
from voicebot.sip.parser import SipParseError, StreamParser, parse_message
from voicebot.sip.sdp import SessionDescription, make_answer, negotiated
from voicebot.sip.validate import check_request, check_response

ALLOWED = ("INVITE", "ACK", "BYE", "CANCEL", "OPTIONS", "UPDATE", "PRACK", "INFO", "REFER", "NOTIFY")
# same lookup as the shared ``corpora`` fixture (strategies need the data at import time)
_ROOT = os.environ.get("VOICEBOT_CORPORA") or Path(__file__).resolve().parents[4] / "shared" / "corpora"
CORPUS_DIR = Path(_ROOT) / "sip"


def _corpus() -> list[bytes]:
    files = sorted((CORPUS_DIR / "rfc4475").glob("*.dat")) + sorted((CORPUS_DIR / "rfc5118").glob("*"))
    return [p.read_bytes() for p in files]


CORPUS = _corpus() if CORPUS_DIR.is_dir() else []
needs_corpus = pytest.mark.skipif(not CORPUS, reason="shared SIP corpora not found")

# VOICEBOT_FUZZ_EXAMPLES raises the example count for a long local run
EXAMPLES = int(os.environ.get("VOICEBOT_FUZZ_EXAMPLES", "300"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def exercise(data: bytes) -> None:
    """Everything a server does with a datagram; only ProtocolError may escape."""
    try:
        msg = parse_message(data)
    except SipParseError as e:
        assert 400 <= e.status <= 599
        if e.request is not None:
            bytes(build_response(e.request, e.status))
        return
    for name in ("vias", "call_id", "cseq", "from_", "to", "contacts", "routes", "record_routes",
                 "max_forwards", "content_type", "expires"):
        with contextlib.suppress(ProtocolError):
            getattr(msg, name)
    if isinstance(msg, Request):
        resp = check_request(msg, allowed_methods=ALLOWED)
        if resp is not None:
            again = parse_message(bytes(resp))
            assert isinstance(again, Response) and again.status == resp.status
        elif msg.content_type == "application/sdp" and msg.body:
            try:
                offer = SessionDescription.parse(msg.body)
                answer = make_answer(offer, "192.0.2.1", 4000)
                negotiated(answer, offer)
            except ProtocolError:
                pass
    else:
        with contextlib.suppress(ProtocolError):
            check_response(msg)
    # what parsed re-serialises to something that parses to the same message
    wire = bytes(msg)
    assert parse_message(wire) == msg


@FUZZ
@given(st.binary(max_size=2000))
def test_arbitrary_bytes(data: bytes) -> None:
    exercise(data)


@FUZZ
@given(st.lists(st.sampled_from([
    b"INVITE", b"SIP/2.0", b" ", b"\r\n", b"\r\n ", b":", b";", b",", b"<", b">", b'"', b"\\",
    b"sip:a@b", b"Via: SIP/2.0/UDP h;branch=z9hG4bK1", b"Content-Length: 5", b"l: 0", b"CSeq: 1 INVITE",
    b"From: <sip:a@b>;tag=1", b"To: x", b"Call-ID: c", b"[::1]", b"%00", b"\xff", b"=", b"\t", b"0",
    b"SIP/2.0 200 OK", b"tag", b"Contact: *", b"Max-Forwards: 70", b"v=0\r\n", b"c: application/sdp",
]), max_size=60))
def test_sip_shaped_garbage(parts: list[bytes]) -> None:
    exercise(b"".join(parts))


@needs_corpus
@FUZZ
@given(
    st.sampled_from(CORPUS or [b""]),
    st.lists(st.tuples(st.integers(0, 4000), st.integers(0, 2), st.binary(min_size=0, max_size=4)), max_size=6),
)
def test_mutated_corpus(message: bytes, edits: list[tuple[int, int, bytes]]) -> None:
    data = bytearray(message)
    for pos, kind, chunk in edits:
        pos %= max(1, len(data))
        if kind == 0:
            data[pos:pos + len(chunk)] = chunk  # overwrite
        elif kind == 1:
            data[pos:pos] = chunk  # insert
        else:
            del data[pos:pos + 1 + len(chunk)]  # delete
    exercise(bytes(data))


def _stream_result(chunks: list[bytes]) -> list[object]:
    """Run chunks through a StreamParser; normalise messages and errors for comparison."""
    sp = StreamParser()
    out: list[object] = []
    for c in chunks:
        for item in sp.events(c):
            if isinstance(item, SipParseError):
                out.append(("error", item.status, str(item)))
            else:
                out.append(("msg", bytes(item)))
    return out


def _framed(messages: list[bytes]) -> list[bytes]:
    """Messages that carry Content-Length (required on streams)."""
    out = []
    for m in messages:
        try:
            msg = parse_message(m)
        except SipParseError:
            continue
        out.append(bytes(msg))
    return out


@needs_corpus
@FUZZ
@given(st.data())
def test_stream_equals_datagram_parsing(data: st.DataObject) -> None:
    msgs = data.draw(st.lists(st.sampled_from(_framed(CORPUS) or [b""]), min_size=1, max_size=5))
    stream = b"".join(msgs)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=12)))
    chunks = [stream[a:b] for a, b in zip([0, *cuts], [*cuts, len(stream)], strict=True)]
    expected = [("msg", bytes(parse_message(m))) for m in msgs]
    assert _stream_result([stream]) == expected
    assert _stream_result(chunks) == expected


@needs_corpus
@settings(max_examples=max(60, EXAMPLES // 5), deadline=None)
@given(st.data())
def test_mutated_stream_any_chunking_same_result(data: st.DataObject) -> None:
    msgs = data.draw(st.lists(st.sampled_from(CORPUS or [b""]), min_size=1, max_size=4))
    stream = bytearray(b"\r\n".join(msgs))
    for _ in range(data.draw(st.integers(0, 4))):
        pos = data.draw(st.integers(0, max(0, len(stream) - 1)))
        stream[pos:pos + 1] = data.draw(st.binary(min_size=0, max_size=3))
    whole = _stream_result([bytes(stream)])
    bytewise = _stream_result([bytes([b]) for b in stream])
    assert whole == bytewise
    # the raising API loses nothing either: messages ride on the error
    sp = StreamParser()
    via_feed: list[bytes] = []
    for b in stream:
        try:
            via_feed.extend(bytes(m) for m in sp.feed(bytes([b])))
        except SipParseError as e:
            via_feed.extend(bytes(m) for m in e.messages)
            if sp.broken:
                break
    assert via_feed == [item[1] for item in whole if item[0] == "msg"]


@needs_corpus
def test_every_corpus_message_one_byte_at_a_time() -> None:
    framed = _framed(CORPUS)
    stream = b"\r\n".join(framed)  # CRLF keep-alives between messages are ignored
    sp = StreamParser()
    got: list[Request | Response] = []
    for b in stream:
        got.extend(sp.feed(bytes([b])))
    assert [bytes(m) for m in got] == framed
    assert sp.buffered == 0


def test_stream_errors_keep_going_or_break() -> None:
    good = (b"OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/TCP h;branch=z9hG4bK1\r\nFrom: <sip:x@y>;tag=1\r\n"
            b"To: <sip:a@b>\r\nCall-ID: c1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n")
    bad_line = good.replace(b"OPTIONS sip:a@b SIP/2.0", b"OPTIONS  sip:a@b SIP/2.0")
    sp = StreamParser()
    items = sp.events(good + bad_line + good)
    kinds = [type(i).__name__ for i in items]
    assert kinds == ["Request", "SipParseError", "Request"] and not sp.broken
    bad = items[1]
    assert isinstance(bad, SipParseError) and bad.request is not None  # a 400 can still be sent
    with pytest.raises(SipParseError) as info:
        StreamParser().feed(good + bad_line + good)
    assert len(info.value.messages) == 2
    no_length = good.replace(b"Content-Length: 0\r\n", b"")
    sp = StreamParser()
    items = sp.events(good + no_length + good)
    assert [type(i).__name__ for i in items] == ["Request", "SipParseError"] and sp.broken
    assert sp.events(good) == []
    with pytest.raises(SipParseError):
        sp.feed(b"")
    huge = StreamParser(max_message_size=1000)
    with pytest.raises(SipParseError) as info:
        huge.feed(b"OPTIONS sip:a@b SIP/2.0\r\n" + b"X-Pad: " + b"a" * 2000)
    assert info.value.status == 513 and huge.broken and huge.buffered == 0


SDP_LINES = [
    "v=0", "o=- 1 1 IN IP4 192.0.2.1", "s=-", "c=IN IP4 192.0.2.1", "c=IN IP6 ::1", "c=IN IP4 0.0.0.0",
    "t=0 0", "m=audio 4000 RTP/AVP 0 8 101", "m=audio 0 RTP/AVP 0", "m=video 5000 RTP/AVP 31",
    "m=audio 4000 RTP/SAVP 0", "m=audio x RTP/AVP 0", "m=audio 4000/2 RTP/AVP 111",
    "a=rtpmap:0 PCMU/8000", "a=rtpmap:111 opus/48000/2", "a=rtpmap:101 telephone-event/8000",
    "a=rtpmap:x", "a=rtpmap:96", "a=fmtp:101 0-15", "a=ptime:30", "a=ptime:abc", "a=ptime:1e9",
    "a=sendonly", "a=recvonly", "a=inactive", "a=sendrecv", "b=AS:64", "x", "=", "m=", "o=",
    "a=rtcp: ", "a=rtcp:4001", "a=rtcp:99999999999", "a=rtcp:4001 IN IP4 192.0.2.7", "a=rtcp:x",
]


@FUZZ
@given(st.lists(st.sampled_from(SDP_LINES), max_size=14), st.sampled_from(["\r\n", "\n"]))
def test_sdp_offer_answer_never_crashes(lines: list[str], eol: str) -> None:
    try:
        offer = SessionDescription.parse(eol.join(lines).encode())
    except ProtocolError:
        return
    again = SessionDescription.parse(bytes(offer))
    assert bytes(again) == bytes(offer)
    try:
        answer = make_answer(offer, "192.0.2.9", 6000)
    except ProtocolError as e:
        assert e.status == 488
        return
    try:
        params = negotiated(answer, offer)
    except ProtocolError:
        return
    assert params.payload_type in range(128) and params.ptime > 0


@FUZZ
@given(st.text(max_size=300), st.binary(max_size=300))
def test_sdp_and_digest_garbage(text: str, data: bytes) -> None:
    from voicebot.sip.auth import Challenge, DigestServer, parse_challenges

    with contextlib.suppress(ProtocolError):
        SessionDescription.parse(data)
    with contextlib.suppress(ProtocolError):
        SessionDescription.parse(text)
    with contextlib.suppress(ProtocolError):
        Challenge.parse(text)
    parse_challenges([text, "Digest " + text])
    server = DigestServer("r", {"u": "p"})
    server.challenge_headers(now=0.0)
    for value in (text, "Digest " + text, 'Digest username="u", realm="r", nonce="' + text + '", nc=00000001'):
        assert server.verify("INVITE", "sip:a@b", value, now=1.0) is None


@pytest.mark.parametrize(
    "unit", [" ", "\t", '"', "\\", "<", ";", "a;", "a=", ",", ":", "@", "a b ", '"a" ', "%", "9", "١"]
)
def test_long_pathological_values_parse_in_linear_time(unit: str) -> None:
    """Values near the size cap made of one repeated pattern (quadratic regex backtracking
    would turn each of these into minutes; the suite's timeout catches that)."""
    filler = unit * (60000 // len(unit))
    for field in ("From", "To", "Contact", "Via", "CSeq", "Route", "Call-ID", "Max-Forwards", "Expires", "X-Long"):
        wire = (
            b"OPTIONS sip:a@b SIP/2.0\r\n" + field.encode() + b": a" + filler.encode() + b"x\r\n"
            b"Content-Length: 0\r\n\r\n"
        )
        exercise(wire)


ALNUM = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
TOKEN = st.text(alphabet=ALNUM + "-.!%*_+`'~", min_size=1, max_size=12)
PARAMCHARS = st.text(alphabet=ALNUM + "-_.!~*'()[]/:&+$", min_size=1, max_size=12)  # RFC 3261 paramchar
HOSTS = st.one_of(
    st.from_regex(r"[a-z0-9]([a-z0-9\-]{0,10}[a-z0-9])?(\.[a-z]{2,6}){0,2}", fullmatch=True),
    st.ip_addresses(v=4).map(str),
    st.ip_addresses(v=6).map(lambda a: f"[{a}]"),
)


@FUZZ
@given(
    display=st.one_of(st.none(), st.text(max_size=20).filter(lambda t: "\r" not in t and "\n" not in t)),
    user=st.one_of(st.none(), st.from_regex(r"[A-Za-z0-9\-_.!~*'()&=+$,;?/]{1,12}", fullmatch=True)),
    host=HOSTS,
    port=st.one_of(st.none(), st.integers(1, 65535)),
    uri_params=st.dictionaries(PARAMCHARS.map(str.lower), st.one_of(st.none(), PARAMCHARS), max_size=3),
    params=st.dictionaries(TOKEN.map(str.lower), st.one_of(st.none(), TOKEN), max_size=3),
)
def test_generated_name_addr_round_trip(
    display: str | None, user: str | None, host: str, port: int | None,
    uri_params: dict[str, str | None], params: dict[str, str | None],
) -> None:
    from voicebot.sip.uri import NameAddr, SipUri

    uri = SipUri("sip", user, None, host, port, uri_params, {})
    na = NameAddr(display or None, uri, params)
    again = NameAddr.parse(str(na))
    assert again.display == (display or None)
    assert again.uri == uri and again.params == params
    # and as a whole message, From and Contact survive the wire
    req = Request("OPTIONS", uri, [
        ("Via", "SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1"), ("From", str(na) if "tag" in params else f"{na};tag=1"),
        ("To", str(NameAddr(None, uri))), ("Call-ID", "x"), ("CSeq", "1 OPTIONS"), ("Contact", str(na)),
    ])
    parsed = parse_message(bytes(req))
    assert isinstance(parsed, Request) and parsed == req
    assert parsed.contacts[0].display == na.display and parsed.contacts[0].uri == uri
    assert check_request(parsed, allowed_methods=ALLOWED) is None


def test_giant_numbers_are_protocol_errors() -> None:
    """Digit runs past Python's int-conversion limit must not escape as ValueError."""
    big = "9" * 5000
    for wire in (
        f"OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1;rport={big}\r\n\r\n",
        f"OPTIONS sip:a@b:{big} SIP/2.0\r\n\r\n",
        f"OPTIONS sip:a@b SIP/2.0\r\nContent-Length: {big}\r\n\r\n",
        f"OPTIONS sip:a@b SIP/2.0\r\nCSeq: {big} OPTIONS\r\n\r\n",
        f"SIP/2.0 {big} OK\r\n\r\n",
    ):
        exercise(wire.encode())
    for sdp in (
        f"v=0\r\no=- 1 {big} IN IP4 a\r\n",
        f"v=0\r\no=- 1 1 IN IP4 a\r\nm=audio {big} RTP/AVP 0\r\n",
        f"v=0\r\no=- 1 1 IN IP4 a\r\nm=audio 4000/{big} RTP/AVP 0\r\n",
        f"v=0\r\no=- 1 1 IN IP4 a\r\nc=IN IP4 a\r\nm=audio 4000 RTP/AVP {big} 0\r\n"
        f"a=rtpmap:{big} PCMU/{big}/{big}\r\na=fmtp:{big} x\r\na=ptime:{big}\r\na=rtcp:{big}\r\n",
    ):
        try:
            offer = SessionDescription.parse(sdp)
            answer = make_answer(offer, "192.0.2.1", 4000)
            negotiated(answer, offer)
        except ProtocolError:
            pass
