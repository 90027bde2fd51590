"""RFC 4475 and RFC 5118 torture messages: each gets the verdict of corpora/sip/README.md.

The messages are read byte-exact from the shared corpora (never copied into the repo).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from voicebot.errors import ProtocolError
from voicebot.sip.build import build_response
from voicebot.sip.message import Request, Response
from voicebot.sip.parser import SipParseError, parse_message
from voicebot.sip.uri import SipUri, parse_uri
from voicebot.sip.validate import check_request, check_response

# what a voicebot UA implements (REGISTER and MESSAGE are not served by a UA)
ALLOWED = ("INVITE", "ACK", "BYE", "CANCEL", "OPTIONS", "UPDATE", "PRACK", "INFO", "REFER", "NOTIFY")

# verdicts from corpora/sip/README.md; "process" = parses and check_request returns None,
# "process-405" = a method the UA does not serve (405/501 with Allow), "drop" = a response
# that either does not parse or parses (and is dropped as stray); "400" may come from the
# parser (SipParseError 400) or from check_request.
RFC4475 = {
    "wsinv": "process",
    "intmeth": "process-405",
    "esc01": "process",
    "escnull": "process-405",
    "esc02": "process-405",
    "lwsdisp": "process",
    "longreq": "process",
    "dblreq": "process-405",
    "semiuri": "process",
    "transports": "process",
    "mpart01": "process-405",
    "unreason": "response",
    "noreason": "response",
    "badinv01": "400",
    "clerr": "400",
    "ncl": "400",
    "scalar02": "400",
    "scalarlg": "drop",
    "quotbal": "400",
    "ltgtruri": "400",
    "lwsruri": "400",
    "lwsstart": "400",
    "trws": "400-or-process",
    "escruri": "400-or-process",
    "baddate": "400-or-process",
    "regbadct": "400-or-process-405",
    "badaspec": "400",
    "baddn": "400",
    "badvers": "505",
    "mismatch01": "400",
    "mismatch02": "400",
    "bigcode": "drop",
    "badbranch": "process",
    "insuf": "400",
    "unkscm": "416",
    "novelsc": "416",
    "unksm2": "400-or-process-405",
    "bext01": "420",
    "invut": "415",
    "regaut01": "400-or-process-405",
    "multi01": "400",
    "mcl01": "400",
    "bcast": "response",
    "zeromf": "process",
    "cparam01": "process-405",
    "cparam02": "process-405",
    "regescrt": "process-405",
    "sdp01": "406",
    "inv2543": "process",
}

# RFC 5118 §4: which messages are valid. Only ipv6-bad (§4.2, an IPv6 address without
# brackets as the host) is invalid -> 400. §4.3 (port inside the brackets) is well-formed;
# §4.5 asks for received= with and without brackets; §4.10 asks receivers to tolerate the
# three-colon form that RFC 3261's ABNF allows by accident.
RFC5118 = {
    "ipv6-good": True,
    "ipv6-bad": False,
    "port-ambiguous": True,
    "port-unambiguous": True,
    "via-received-param-with-delim": True,
    "via-received-param-no-delim": True,
    "ipv4-mapped-ipv6": True,
    "mult-ip-in-header": True,
    "mult-ip-in-sdp": True,
    "ipv6-in-sdp": True,
    "ipv6-bug-abnf-3-colons": True,
    "ipv6-correct-abnf-2-colons": True,
}


def _verdict(data: bytes) -> tuple[str, Request | Response | SipParseError, Response | None]:
    """Return (kind, message-or-error, response-to-send)."""
    try:
        msg = parse_message(data)
    except SipParseError as e:
        return f"raise-{e.status}", e, None
    if isinstance(msg, Response):
        return "response", msg, None
    resp = check_request(msg, allowed_methods=ALLOWED)
    return ("process" if resp is None else str(resp.status)), msg, resp


def test_corpus_is_complete(corpora: Path) -> None:
    names = {p.stem for p in (corpora / "sip" / "rfc4475").glob("*.dat")}
    assert names == set(RFC4475)
    assert {p.name for p in (corpora / "sip" / "rfc5118").iterdir()} == set(RFC5118)


@pytest.mark.parametrize("name", sorted(RFC4475))
def test_rfc4475_verdict(corpora: Path, name: str) -> None:
    data = (corpora / "sip" / "rfc4475" / f"{name}.dat").read_bytes()
    kind, obj, resp = _verdict(data)
    expected = RFC4475[name]
    if expected == "process":
        assert kind == "process", (kind, resp and resp.reason)
    elif expected == "process-405":
        assert kind in ("405", "501"), kind
        assert resp is not None and resp.headers.get("Allow")
    elif expected in ("400-or-process", "400-or-process-405"):
        assert kind in ("process", "400", "raise-400", "405", "501"), kind
    elif expected == "400":
        assert kind in ("400", "raise-400"), kind
    elif expected == "505":
        assert kind == "raise-505"
        assert isinstance(obj, SipParseError) and obj.request is not None
        # the server can still answer 505 with the request's dialog fields
        answer = build_response(obj.request, obj.status)
        assert answer.status == 505 and answer.cseq.seq == 1
    elif expected == "drop":
        if kind == "response":
            assert isinstance(obj, Response)
            with pytest.raises(ProtocolError):
                check_response(obj)
        else:
            assert kind.startswith("raise-")
    elif expected == "response":
        assert kind == "response"
        assert isinstance(obj, Response)
        check_response(obj)
    else:
        assert kind == expected, (kind, resp and resp.reason)
    if resp is not None:
        # every answer is well formed, tagged, and mirrors the request's Via/Call-ID/CSeq
        again = parse_message(bytes(resp))
        assert isinstance(again, Response) and again.status == resp.status
        assert isinstance(obj, Request)
        assert again.headers.get_all("Via") == obj.headers.get_all("Via")
        assert again.headers.get("Call-ID") == obj.headers.get("Call-ID")
        assert again.headers.get("CSeq") == obj.headers.get("CSeq")
        if resp.status != 400:  # a 400 may mirror a To field too broken to carry a tag
            assert again.to.tag


def test_rfc4475_specific_answers(corpora: Path) -> None:
    d = corpora / "sip" / "rfc4475"
    _, _, r = _verdict((d / "bext01.dat").read_bytes())
    assert r is not None and r.status == 420
    assert r.headers.get_all("Unsupported") == ["nothingSupportsThis", "nothingSupportsThisEither"]
    _, _, r = _verdict((d / "invut.dat").read_bytes())
    assert r is not None and "application/sdp" in r.headers.get_all("Accept")
    assert r.headers.get("Accept-Encoding") and r.headers.get("Accept-Language")
    _, _, r = _verdict((d / "esc02.dat").read_bytes())
    assert r is not None and r.status == 501
    _, _, r = _verdict((d / "escnull.dat").read_bytes())
    assert r is not None and r.status == 405 and "INVITE" in r.headers.get_all("Allow")


def test_rfc4475_details(corpora: Path) -> None:
    d = corpora / "sip" / "rfc4475"
    wsinv = parse_message((d / "wsinv.dat").read_bytes())
    assert isinstance(wsinv, Request)
    assert wsinv.to.tag == "1918181833n"
    assert wsinv.from_.display == 'J Rosenberg \\"'
    assert wsinv.from_.tag == "98asjd8"
    assert wsinv.max_forwards == 68
    assert (wsinv.cseq.seq, wsinv.cseq.method) == (9, "INVITE")
    assert [v.host for v in wsinv.vias] == ["192.0.2.2", "spindle.example.com", "192.168.255.111"]
    assert [v.transport for v in wsinv.vias] == ["UDP", "TCP", "UDP"]
    assert wsinv.vias[2].branch == "z9hG4bK30239"
    assert wsinv.headers.get("Subject") == ""
    assert wsinv.headers.get("NewFangledHeader") == "newfangled value continued newfangled value"
    (contact,) = wsinv.contacts
    assert contact.display == 'Quoted string ""'
    assert contact.params == {"newparam": "newvalue", "secondparam": None, "q": "0.33"}
    assert len(wsinv.body) == 150

    dbl = parse_message((d / "dblreq.dat").read_bytes())
    assert isinstance(dbl, Request) and dbl.method == "REGISTER" and dbl.body == b""

    intm = parse_message((d / "intmeth.dat").read_bytes())
    assert isinstance(intm, Request)
    assert isinstance(intm.uri, SipUri)
    assert intm.uri.user == "1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*"
    assert intm.uri.password == "&it+has=1,weird!*pas$wo~d_too.(doesn't-it)"
    assert intm.to.display == "BEL:\x07 NUL:\x00 DEL:\x7f"
    assert intm.from_.display == "token1~` token2'+_ token3*%!.-"
    assert intm.from_.tag == "_token~1'+`*%!-."

    longreq = parse_message((d / "longreq.dat").read_bytes())
    assert len(longreq.vias) == 34

    esc01 = parse_message((d / "esc01.dat").read_bytes())
    assert isinstance(esc01, Request) and isinstance(esc01.uri, SipUri)
    assert esc01.uri.user == "sips%3Auser%40example.com" and esc01.uri.host == "example.net"

    unreason = parse_message((d / "unreason.dat").read_bytes())
    assert isinstance(unreason, Response) and "простое" in unreason.reason

    esc02 = parse_message((d / "esc02.dat").read_bytes())
    assert len(esc02.contacts) == 2  # "C%6Fntact" is another header
    assert esc02.headers.get("C%6Fntact") == "<sip:alias2@host2.example.com>"

    tr = parse_message((d / "transports.dat").read_bytes())
    assert [v.transport for v in tr.vias] == ["UDP", "SCTP", "TLS", "UNKNOWN", "TCP"]


@pytest.mark.parametrize("name", sorted(RFC5118))
def test_rfc5118_verdict(corpora: Path, name: str) -> None:
    data = (corpora / "sip" / "rfc5118" / name).read_bytes()
    kind, _, _ = _verdict(data)
    if RFC5118[name]:
        assert kind in ("process", "405"), kind
    else:
        assert kind in ("raise-400", "400"), kind


def test_rfc5118_details(corpora: Path) -> None:
    d = corpora / "sip" / "rfc5118"
    amb = parse_message((d / "port-ambiguous").read_bytes())
    assert isinstance(amb, Request) and isinstance(amb.uri, SipUri)
    assert amb.uri.host == "[2001:db8::10:5070]" and amb.uri.port is None
    unamb = parse_message((d / "port-unambiguous").read_bytes())
    assert isinstance(unamb, Request) and isinstance(unamb.uri, SipUri)
    assert unamb.uri.host == "[2001:db8::10]" and unamb.uri.port == 5070
    assert unamb.uri.bare_host == "2001:db8::10"
    with_delim = parse_message((d / "via-received-param-with-delim").read_bytes())
    no_delim = parse_message((d / "via-received-param-no-delim").read_bytes())
    assert with_delim.top_via.received == "2001:db8::9:255"
    assert no_delim.top_via.received == "2001:db8::9:255"
    mapped = parse_message((d / "ipv4-mapped-ipv6").read_bytes())
    assert mapped.top_via.host == "[::ffff:192.0.2.10]" and mapped.top_via.port == 19823
    three = parse_message((d / "ipv6-bug-abnf-3-colons").read_bytes())
    two = parse_message((d / "ipv6-correct-abnf-2-colons").read_bytes())
    assert isinstance(three, Request) and isinstance(three.uri, SipUri)
    assert isinstance(two, Request) and isinstance(two.uri, SipUri)
    assert three.uri.host == "[2001:db8:::192.0.2.1]"  # kept as received ...
    assert three.uri.bare_host == two.uri.bare_host == "2001:db8::192.0.2.1"  # ... read as meant
    for bad in ("sip:[2001:db8::1:::192.0.2.1]", "sip:[1:::2]", "sip:[:::192.0.2.1]", "sip:[2001::db8:::1.2.3.4]"):
        with pytest.raises(ProtocolError):
            parse_uri(bad)
    multi = parse_message((d / "mult-ip-in-header").read_bytes())
    assert [v.host for v in multi.vias] == ["[2001:db8::9:1]", "192.0.2.1", "[2001:db8::9:255]"]
    assert multi.vias[2].received == "192.0.2.200"


def _all_files(corpora: Path) -> list[Path]:
    return sorted((corpora / "sip" / "rfc4475").glob("*.dat")) + sorted(
        (corpora / "sip" / "rfc5118").iterdir()
    )


def test_round_trip_every_parsable_corpus_message(corpora: Path) -> None:
    done = 0
    for path in _all_files(corpora):
        try:
            first = parse_message(path.read_bytes())
        except SipParseError:
            continue
        wire = bytes(first)
        second = parse_message(wire)
        assert second == first, path.name
        assert bytes(second) == wire, path.name
        done += 1
    assert done >= 50
