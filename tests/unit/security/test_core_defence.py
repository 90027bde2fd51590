"""The SIP core under attack, I/O-free: INVITEs written by hand from an attacker's address go
through ``receive_datagram`` with a synthetic clock, and what the core sends back is counted."""

from __future__ import annotations

from voicebot.sip import events as ev
from voicebot.sip.auth import DigestClient, parse_challenges
from voicebot.sip.defence import DefenceConfig
from voicebot.sip.message import Response
from voicebot.sip.parser import parse_message
from voicebot.sip.transaction import TransportAddress
from voicebot.sip.useragent import UaConfig, UserAgentCore

BOT = ("127.0.0.1", 5080)
ATTACKER = TransportAddress("udp", "127.0.0.2", 5999)
SDP = (
    b"v=0\r\no=- 1 1 IN IP4 127.0.0.2\r\ns=-\r\nc=IN IP4 127.0.0.2\r\nt=0 0\r\n"
    b"m=audio 7000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
)


def bot(**kw: object) -> UserAgentCore:
    return UserAgentCore(UaConfig(addresses={"udp": BOT}, user="bot", **kw))  # type: ignore[arg-type]


def invite(n: int, *, authorization: str | None = None, via_host: str = "127.0.0.2", rport: bool = True) -> bytes:
    lines = [
        "INVITE sip:bot@127.0.0.1:5080 SIP/2.0",
        f"Via: SIP/2.0/UDP {via_host}:5999;branch=z9hG4bK-att-{n}" + (";rport" if rport else ""),
        "Max-Forwards: 70",
        f"From: <sip:mallory@127.0.0.2>;tag=t{n}",
        "To: <sip:bot@127.0.0.1:5080>",
        f"Call-ID: attack-{n}@127.0.0.2",
        "CSeq: 1 INVITE",
        "Contact: <sip:mallory@127.0.0.2:5999>",
        "Content-Type: application/sdp",
        f"Content-Length: {len(SDP)}",
    ]
    if authorization:
        lines.insert(5, f"Authorization: {authorization}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + SDP


def options(n: int) -> bytes:
    return (
        "OPTIONS sip:bot@127.0.0.1:5080 SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP 127.0.0.2:5999;branch=z9hG4bK-opt-{n};rport\r\n"
        "Max-Forwards: 70\r\nFrom: <sip:scan@127.0.0.2>;tag=s\r\nTo: <sip:bot@127.0.0.1:5080>\r\n"
        f"Call-ID: scan-{n}\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
    ).encode()


def responses(core: UserAgentCore) -> list[Response]:
    out = []
    for data, _dest in core.datagrams_to_send():
        msg = parse_message(data)
        assert isinstance(msg, Response)
        out.append(msg)
    return out


def events(core: UserAgentCore) -> list[ev.Event]:
    out = []
    while (e := core.next_event()) is not None:
        out.append(e)
    return out


def answer(challenge_response: Response, password: str, user: str = "alice") -> str:
    (challenge, *_) = parse_challenges(challenge_response.headers.get_all("WWW-Authenticate"))
    return DigestClient(user, password).authorization(challenge, "INVITE", "sip:bot@127.0.0.1:5080")


def test_challenge_is_stateless_one_401_and_nothing_retransmitted() -> None:
    core = bot(server_credentials={"alice": "secret"})
    data = invite(1)
    core.receive_datagram(data, ATTACKER, 0.0)
    (resp,) = responses(core)
    assert resp.status == 401  # no 100 Trying first, and one 401
    assert core.next_deadline() is None  # no transaction, no timer: nothing will be resent
    core.handle_timer(40.0)
    assert responses(core) == []
    sent = len(bytes(resp))
    assert sent <= 1.5 * len(data)  # a spoofed victim gets about the bytes the attacker sent


def test_right_password_answers_the_challenge_once_per_nonce() -> None:
    core = bot(server_credentials={"alice": "secret"})
    core.receive_datagram(invite(1), ATTACKER, 0.0)
    (challenge,) = responses(core)
    value = answer(challenge, "secret")
    core.receive_datagram(invite(2, authorization=value), ATTACKER, 0.1)
    assert [r.status for r in responses(core)] == [100]
    incoming = [e for e in events(core) if isinstance(e, ev.IncomingCall)]
    assert len(incoming) == 1 and incoming[0].user == "alice"
    core.receive_datagram(invite(3, authorization=value), ATTACKER, 0.2)  # same nonce, new INVITE
    (again,) = responses(core)
    assert again.status == 401 and "stale=TRUE" in again.headers.get("WWW-Authenticate", "")


def test_brute_force_backs_off_then_bans_and_the_right_password_is_refused() -> None:
    cfg = DefenceConfig(auth_free_failures=3, auth_backoff=1.0, auth_ban_failures=6, ban_time=600.0, request_rate=0)
    core = bot(server_credentials={"alice": "secret"}, defence=cfg)
    now, n, answered = 0.0, 0, 0
    guess = 0
    while now < 10.0:  # svcrack's pace: 100 guesses a second for 10 s
        guess += 1
        n += 1
        core.receive_datagram(invite(n), ATTACKER, now)
        got = responses(core)
        if not got:
            now += 0.01
            continue
        n += 1
        core.receive_datagram(invite(n, authorization=answer(got[0], f"guess{guess}")), ATTACKER, now)
        answered += len(responses(core))  # nothing while backed off
        now += 0.01
    assert answered <= 5  # backoff, then a ban at the sixth failure: a handful of guesses answered
    blocked = [e for e in events(core) if isinstance(e, ev.SourceBlocked)]
    assert sum("banned" in b.reason for b in blocked) == 1  # logged once, not per packet
    # the right password from the banned source is refused (ignored)
    n += 1
    core.receive_datagram(invite(n), ATTACKER, now)
    assert responses(core) == []
    # another address is served as before
    other = TransportAddress("udp", "127.0.0.3", 5999)
    core.receive_datagram(invite(n + 1, via_host="127.0.0.3"), other, now)
    (challenge,) = responses(core)
    core.receive_datagram(invite(n + 2, authorization=answer(challenge, "secret"), via_host="127.0.0.3"), other, now)
    assert [r.status for r in responses(core)] == [100]


def test_one_source_cannot_take_every_call_slot() -> None:
    core = bot(defence=DefenceConfig(dialogs_per_source=5, request_rate=0), max_sessions=50)
    for n in range(40):  # INVITEs never answered nor ACKed
        core.receive_datagram(invite(n), ATTACKER, 0.0)
    statuses = [r.status for r in responses(core)]
    assert statuses.count(100) == 5 and statuses.count(503) == 35
    assert len(core.sessions) == 5
    other = TransportAddress("udp", "127.0.0.3", 5999)
    core.receive_datagram(invite(99, via_host="127.0.0.3"), other, 0.0)
    assert [r.status for r in responses(core)] == [100]  # the next caller still gets in


def test_dialog_slot_is_returned_when_the_call_is_up_or_over() -> None:
    core = bot(defence=DefenceConfig(dialogs_per_source=1, request_rate=0))
    core.receive_datagram(invite(1), ATTACKER, 0.0)
    (call,) = [e.call for e in events(core) if isinstance(e, ev.IncomingCall)]
    core.reject(call, 486, 0.1)
    responses(core)
    core.receive_datagram(invite(2), ATTACKER, 0.2)
    assert [r.status for r in responses(core)] == [100]


def test_flood_over_the_request_rate_is_dropped_unparsed() -> None:
    core = bot(defence=DefenceConfig(request_rate=10, request_burst=20))
    for n in range(500):
        core.receive_datagram(options(n), ATTACKER, n * 0.002)  # 500 requests/s for a second
    answered = len(responses(core))
    assert 20 <= answered <= 35  # the burst, then 10/s
    assert core.dropped >= 465
    assert sum(isinstance(e, ev.SourceBlocked) for e in events(core)) == 1


def test_user_agent_option_and_no_product_to_unauthenticated_requests() -> None:
    plain = bot(user_agent="")
    plain.receive_datagram(options(1), ATTACKER, 0.0)
    (resp,) = responses(plain)
    assert "User-Agent" not in resp.headers and "Server" not in resp.headers
    named = bot(user_agent="acme-ivr")
    named.receive_datagram(options(2), ATTACKER, 0.0)
    assert responses(named)[0].headers.get("User-Agent") == "acme-ivr"
    guarded = bot(user_agent="acme-ivr", server_credentials={"alice": "secret"})
    guarded.receive_datagram(options(3), ATTACKER, 0.0)
    guarded.receive_datagram(invite(4), ATTACKER, 0.0)
    for resp in responses(guarded):
        assert "User-Agent" not in resp.headers, bytes(resp)


def test_rport_and_received_are_filled_in() -> None:
    core = bot()
    behind_nat = TransportAddress("udp", "198.51.100.7", 40123)
    core.receive_datagram(options(1), behind_nat, 0.0)
    (resp,) = responses(core)
    via = resp.top_via
    assert via.params["rport"] == "40123" and via.received == "198.51.100.7"
    stranger = TransportAddress("udp", "198.51.100.7", 5999)
    core.receive_datagram(invite(2, via_host="198.51.100.7", rport=False), stranger, 0.0)
    (trying,) = responses(core)
    assert "received" not in trying.top_via.params and "rport" not in trying.top_via.params


def ack_for(resp: Response, n: int) -> bytes:
    """The ACK of a non-2xx final response to ``invite(n)`` (the INVITE's branch, §17.1.1.3)."""
    return (
        "ACK sip:bot@127.0.0.1:5080 SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP 127.0.0.2:5999;branch=z9hG4bK-att-{n};rport\r\nMax-Forwards: 70\r\n"
        f"From: <sip:mallory@127.0.0.2>;tag=t{n}\r\nTo: {resp.headers.get('To')}\r\n"
        f"Call-ID: attack-{n}@127.0.0.2\r\nCSeq: 1 ACK\r\nContent-Length: 0\r\n\r\n"
    ).encode()


def test_invites_over_the_call_limit_get_a_stateless_503() -> None:
    """A full server answers each new INVITE with one 503 + Retry-After and keeps nothing for it
    (RFC 3261 §8.2.7): no 100, no timer, no event; a retransmission is answered again and the
    ACK is ignored; the calls that are up are untouched."""
    core = bot(defence=None, max_sessions=2)
    for n in range(2):
        core.receive_datagram(invite(n), ATTACKER, 0.0)
    assert [r.status for r in responses(core)] == [100, 100]
    assert len([e for e in events(core) if isinstance(e, ev.IncomingCall)]) == 2
    deadline = core.next_deadline()
    for n in range(2, 40):
        core.receive_datagram(invite(n), ATTACKER, 0.1)
    rejected = responses(core)
    assert [r.status for r in rejected] == [503] * 38
    assert all(r.headers.get("Retry-After") == "5" and r.to.tag for r in rejected)
    assert [r.call_id for r in rejected] == [f"attack-{n}@127.0.0.2" for n in range(2, 40)]
    assert events(core) == [] and core.next_deadline() == deadline and len(core.sessions) == 2
    assert core.rejected_full == 38
    core.receive_datagram(invite(7), ATTACKER, 0.6)  # the INVITE again: no transaction kept it
    (again,) = responses(core)
    assert again.status == 503 and again.call_id == "attack-7@127.0.0.2"
    assert again.to.tag == rejected[5].to.tag  # the same request, the same To tag (§8.2.7)
    assert len({r.to.tag for r in rejected}) == len(rejected)
    core.receive_datagram(ack_for(again, 7), ATTACKER, 0.7)
    assert responses(core) == [] and core.next_deadline() == deadline


def test_an_unparsable_request_is_answered_statelessly_with_a_stable_to_tag() -> None:
    """A request that does not parse but can still be answered (here SIP/7.0: 505) gets its
    answer with no transaction kept; its retransmission gets the same To tag, another request
    another (RFC 3261 §8.2.7)."""
    core = bot(defence=None)

    def broken(n: int) -> bytes:
        return invite(n).replace(b"5080 SIP/2.0\r\n", b"5080 SIP/7.0\r\n", 1)

    core.receive_datagram(broken(1), ATTACKER, 0.0)
    core.receive_datagram(broken(1), ATTACKER, 0.5)
    core.receive_datagram(broken(2), ATTACKER, 0.6)
    first, again, other = responses(core)
    assert [first.status, again.status, other.status] == [505, 505, 505]
    assert first.to.tag and first.to.tag == again.to.tag != other.to.tag
    assert events(core) == [] and core.next_deadline() is None and not core.sessions
