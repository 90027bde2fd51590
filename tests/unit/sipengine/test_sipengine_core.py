"""The I/O-free UA core: two cores wired by an in-memory network and a synthetic clock."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from voicebot.errors import LocalProtocolError
from voicebot.sip import events as ev
from voicebot.sip.message import Request, Response
from voicebot.sip.parser import parse_message
from voicebot.sip.transaction import TransportAddress
from voicebot.sip.useragent import NO_RESPONSE, UaConfig, UserAgentCore

A_ADDR = ("127.0.0.1", 5070)
B_ADDR = ("127.0.0.1", 5080)


class Net:
    """Delivers datagrams between cores; ``drop`` decides which ones are lost."""

    def __init__(self, **cores: UserAgentCore) -> None:
        self.cores = cores
        self.by_port = {c.config.addresses["udp"][1]: c for c in cores.values()}
        self.now = 0.0
        self.drop: Callable[[bytes], bool] = lambda data: False
        self.log: list[tuple[str, bytes]] = []
        self.events: dict[str, list[ev.Event]] = {name: [] for name in cores}

    def run(self, until: float | None = None, steps: int = 10000) -> None:
        """Deliver everything and fire timers up to ``until`` (default: only what is due now)."""
        for _ in range(steps):
            moved = False
            for name, core in self.cores.items():
                for data, dest in core.datagrams_to_send():
                    moved = True
                    self.log.append((name, data))
                    if self.drop(data):
                        continue
                    target = self.by_port.get(dest.port)
                    if target is not None:
                        src = core.config.addresses["udp"]
                        target.receive_datagram(data, TransportAddress("udp", src[0], src[1]), self.now)
                while (e := core.next_event()) is not None:
                    moved = True
                    self.events[name].append(e)
            if moved:
                continue
            deadlines = [d for c in self.cores.values() if (d := c.next_deadline()) is not None]
            if not deadlines or until is None or min(deadlines) > until:
                return
            self.now = max(self.now, min(deadlines))
            for core in self.cores.values():
                core.handle_timer(self.now)
        raise AssertionError("network did not settle")

    def of(self, name: str, kind: type[ev.Event]) -> list[ev.Event]:
        return [e for e in self.events[name] if isinstance(e, kind)]

    def sent(self, name: str, start: bytes) -> list[bytes]:
        return [d for n, d in self.log if n == name and d.startswith(start)]


def core(addr: tuple[str, int], **kw: object) -> UserAgentCore:
    return UserAgentCore(UaConfig(addresses={"udp": addr}, **kw))  # type: ignore[arg-type]


def pair(**kw_b: object) -> tuple[Net, UserAgentCore, UserAgentCore]:
    a = core(A_ADDR, user="alice")
    b = core(B_ADDR, user="bob", **kw_b)
    return Net(a=a, b=b), a, b


def call_up(net: Net, a: UserAgentCore, b: UserAgentCore) -> tuple[str, str]:
    cid = a.invite("sip:bob@127.0.0.1:5080", net.now, media_address=("127.0.0.1", 4000))
    net.run()
    (inc,) = net.of("b", ev.IncomingCall)
    assert isinstance(inc, ev.IncomingCall)
    b.ring(inc.call, net.now)
    b.answer(inc.call, net.now, ("127.0.0.1", 6000))
    net.run()
    assert net.of("a", ev.CallAnswered) and net.of("b", ev.CallAnswered)
    return cid, inc.call


def test_basic_call_offer_answer_and_bye() -> None:
    net, a, b = pair()
    cid, _bid = call_up(net, a, b)
    (answered,) = net.of("a", ev.CallAnswered)
    assert isinstance(answered, ev.CallAnswered) and answered.media is not None
    assert answered.media.remote_address == ("127.0.0.1", 6000)
    progress = net.of("a", ev.CallProgress)
    assert [p.status for p in progress if isinstance(p, ev.CallProgress)] == [100, 180]
    a.hangup(cid, net.now)
    net.run()
    (ended_a,) = net.of("a", ev.CallEnded)
    (ended_b,) = net.of("b", ev.CallEnded)
    assert isinstance(ended_a, ev.CallEnded) and not ended_a.by_remote
    assert isinstance(ended_b, ev.CallEnded) and ended_b.by_remote and ended_b.reason == "remote BYE"


def test_2xx_retransmitted_until_ack_then_bye_on_ack_timeout() -> None:
    net, a, b = pair()
    a.invite("sip:bob@127.0.0.1:5080", 0.0, media_address=("127.0.0.1", 4000))
    net.run()
    (inc,) = net.of("b", ev.IncomingCall)
    assert isinstance(inc, ev.IncomingCall)
    net.drop = lambda d: d.startswith(b"ACK")
    b.answer(inc.call, net.now, ("127.0.0.1", 6000))
    net.run(until=40.0)
    oks = [d for d in net.sent("b", b"SIP/2.0 200") if b"INVITE" in d.split(b"CSeq:")[1][:20]]
    assert len(oks) >= 7  # 0, .5, 1.5, 3.5, 7.5, 11.5, 15.5 ...
    ended = net.of("b", ev.CallEnded)
    assert ended and isinstance(ended[0], ev.CallEnded) and ended[0].reason == "ACK timeout"
    assert net.sent("b", b"BYE")


def test_retransmitted_2xx_is_acked_again() -> None:
    net, a, b = pair()
    a.invite("sip:bob@127.0.0.1:5080", 0.0, media_address=("127.0.0.1", 4000))
    net.run()
    (inc,) = net.of("b", ev.IncomingCall)
    assert isinstance(inc, ev.IncomingCall)
    first_ack = {"dropped": False}

    def drop_first_ack(d: bytes) -> bool:
        if d.startswith(b"ACK") and not first_ack["dropped"]:
            first_ack["dropped"] = True
            return True
        return False

    net.drop = drop_first_ack
    b.answer(inc.call, net.now, ("127.0.0.1", 6000))
    net.run(until=2.0)
    assert len(net.sent("a", b"ACK")) == 2
    assert len(net.of("a", ev.CallAnswered)) == 1 and len(net.of("b", ev.CallAnswered)) == 1


def test_cancel_gets_487_and_both_sides_know() -> None:
    net, a, b = pair()
    cid = a.invite("sip:bob@127.0.0.1:5080", 0.0, media_address=("127.0.0.1", 4000))
    net.run()
    (inc,) = net.of("b", ev.IncomingCall)
    assert isinstance(inc, ev.IncomingCall)
    b.ring(inc.call, net.now)
    net.run()
    a.hangup(cid, net.now)
    net.run(until=1.0)
    (failed,) = net.of("a", ev.CallFailed)
    assert isinstance(failed, ev.CallFailed) and failed.status == 487
    (ended,) = net.of("b", ev.CallEnded)
    assert isinstance(ended, ev.CallEnded) and ended.reason == "cancelled"
    assert net.sent("a", b"CANCEL")


def test_cancel_before_any_provisional_waits_for_one() -> None:
    net, a, b = pair()
    net.drop = lambda d: d.startswith(b"SIP/2.0 100")
    cid = a.invite("sip:bob@127.0.0.1:5080", 0.0, media_address=("127.0.0.1", 4000))
    a.hangup(cid, 0.0)
    net.run()
    assert not net.sent("a", b"CANCEL")  # §9.1: not before a provisional response
    (inc,) = net.of("b", ev.IncomingCall)
    assert isinstance(inc, ev.IncomingCall)
    b.ring(inc.call, net.now)
    net.run(until=1.0)
    assert net.sent("a", b"CANCEL")
    assert [f.status for f in net.of("a", ev.CallFailed) if isinstance(f, ev.CallFailed)] == [487]


def test_reject_busy() -> None:
    net, a, b = pair()
    a.invite("sip:bob@127.0.0.1:5080", 0.0, media_address=("127.0.0.1", 4000))
    net.run()
    (inc,) = net.of("b", ev.IncomingCall)
    assert isinstance(inc, ev.IncomingCall)
    b.reject(inc.call, 486, net.now)
    net.run(until=1.0)
    (failed,) = net.of("a", ev.CallFailed)
    assert isinstance(failed, ev.CallFailed) and failed.status == 486
    assert net.sent("a", b"ACK")  # the non-2xx ACK from the transaction
    with pytest.raises(LocalProtocolError):
        b.reject(inc.call, 200, net.now)


def test_no_response_is_timer_b() -> None:
    net, a, _b = pair()
    net.drop = lambda d: d.startswith(b"INVITE")
    a.invite("sip:bob@127.0.0.1:5080", 0.0, media_address=("127.0.0.1", 4000))
    net.run(until=40.0)
    (failed,) = net.of("a", ev.CallFailed)
    assert isinstance(failed, ev.CallFailed) and failed.status == 408 and failed.reason == NO_RESPONSE
    assert len(net.sent("a", b"INVITE")) == 7  # 0, .5, 1.5, 3.5, 7.5, 15.5, 31.5


def test_hold_resume_and_glare() -> None:
    net, a, b = pair()
    cid, bid = call_up(net, a, b)
    token = a.hold(cid, net.now)
    net.run()
    done = [e for e in net.of("a", ev.RequestDone) if isinstance(e, ev.RequestDone)]
    assert [(d.token, d.status) for d in done] == [(token, 200)]
    changes = [e for e in net.of("b", ev.MediaChanged) if isinstance(e, ev.MediaChanged)]
    assert changes[-1].media.direction == "recvonly"
    # glare: both send re-INVITE at once; both get 491 and retry after a random wait
    ta = a.resume(cid, net.now)
    tb = b.hold(bid, net.now)
    net.run(until=net.now + 10)
    assert len(net.sent("a", b"SIP/2.0 491")) + len(net.sent("b", b"SIP/2.0 491")) >= 1
    done_a = {e.token: e.status for e in net.of("a", ev.RequestDone) if isinstance(e, ev.RequestDone)}
    done_b = {e.token: e.status for e in net.of("b", ev.RequestDone) if isinstance(e, ev.RequestDone)}
    assert done_a[ta] == 200 and done_b[tb] == 200


def test_update_info_dtmf_and_options() -> None:
    net, a, b = pair()
    cid, _bid = call_up(net, a, b)
    t1 = a.update(cid, net.now)
    t2 = a.send_dtmf_info(cid, "7", net.now, 250)
    t3 = a.options("sip:bob@127.0.0.1:5080", net.now)
    net.run()
    done = {e.token: e.status for e in net.of("a", ev.RequestDone) if isinstance(e, ev.RequestDone)}
    assert done == {t1: 200, t2: 200, t3: 200}
    (dtmf,) = net.of("b", ev.DtmfReceived)
    assert isinstance(dtmf, ev.DtmfReceived) and dtmf.digit == "7" and dtmf.duration_ms == 250
    with pytest.raises(LocalProtocolError):
        a.send_dtmf_info(cid, "x", net.now)


def test_refer_notify_sipfrag_both_directions() -> None:
    net, a, b = pair()
    cid, bid = call_up(net, a, b)
    token = a.refer(cid, "sip:carol@127.0.0.1:5090", net.now)
    net.run()
    (req,) = net.of("b", ev.TransferRequested)
    assert isinstance(req, ev.TransferRequested) and req.target == "sip:carol@127.0.0.1:5090"
    b.notify_transfer(bid, 200, "OK", net.now)
    net.run()
    progress = [e for e in net.of("a", ev.TransferProgress) if isinstance(e, ev.TransferProgress)]
    assert [(p.status, p.final) for p in progress] == [(100, False), (200, True)]
    done = {e.token: e.status for e in net.of("a", ev.RequestDone) if isinstance(e, ev.RequestDone)}
    assert done[token] == 202


def test_in_dialog_request_for_unknown_dialog_gets_481() -> None:
    net, a, b = pair()
    cid, _ = call_up(net, a, b)
    b.sessions.clear()
    b._by_dialog.clear()
    a.hangup(cid, net.now)
    net.run(until=net.now + 1)
    assert net.sent("b", b"SIP/2.0 481")


def test_session_timer_refresh_and_expiry() -> None:
    net, a, b = pair()
    a.config.session_expires = 90
    call_up(net, a, b)
    start = net.now
    net.run(until=start + 100)  # refresher (uac) refreshes every 45 s: the call survives
    assert len(net.sent("a", b"INVITE")) + len(net.sent("a", b"UPDATE")) >= 3
    assert not net.of("b", ev.CallEnded)
    net.drop = lambda d: d.startswith((b"INVITE", b"UPDATE"))
    net.run(until=net.now + 100)  # refreshes lost: the non-refresher ends the call
    ended = [e for e in net.of("b", ev.CallEnded) if isinstance(e, ev.CallEnded)]
    assert ended and ended[0].reason == "session expired"


def test_session_interval_too_small_gets_422_and_retry() -> None:
    net, a, _b = pair(min_se=120)
    a.config.session_expires = 90
    a.invite("sip:bob@127.0.0.1:5080", 0.0, media_address=("127.0.0.1", 4000))
    net.run()
    assert net.sent("b", b"SIP/2.0 422")
    (inc,) = net.of("b", ev.IncomingCall)
    assert isinstance(inc, ev.IncomingCall)
    assert inc.request.headers.get("Session-Expires") == "120"


def test_server_auth_challenge_and_client_answer() -> None:
    a = core(A_ADDR, user="alice", password="secret")
    b = core(B_ADDR, user="bob", server_credentials={"alice": "secret"})
    net = Net(a=a, b=b)
    a.invite("sip:bob@127.0.0.1:5080", 0.0, media_address=("127.0.0.1", 4000))
    net.run()
    assert net.sent("b", b"SIP/2.0 401")
    (inc,) = net.of("b", ev.IncomingCall)
    assert isinstance(inc, ev.IncomingCall) and inc.user == "alice"
    assert inc.request.cseq.seq == 2


def test_wrong_password_fails_with_401() -> None:
    a = core(A_ADDR, user="alice", password="nope")
    b = core(B_ADDR, user="bob", server_credentials={"alice": "secret"})
    net = Net(a=a, b=b)
    a.invite("sip:bob@127.0.0.1:5080", 0.0, media_address=("127.0.0.1", 4000))
    net.run(until=1.0)
    (failed,) = net.of("a", ev.CallFailed)
    assert isinstance(failed, ev.CallFailed) and failed.status == 401
    assert not net.of("b", ev.IncomingCall)


def test_prack_for_reliable_provisional() -> None:
    net, a, b = pair()
    a.invite("sip:bob@127.0.0.1:5080", 0.0, media_address=("127.0.0.1", 4000), headers=[("Require", "100rel")])
    net.run()
    (inc,) = net.of("b", ev.IncomingCall)
    assert isinstance(inc, ev.IncomingCall)
    b.ring(inc.call, net.now)
    b.answer(inc.call, net.now, ("127.0.0.1", 6000))
    net.run(until=1.0)
    ringing = net.sent("b", b"SIP/2.0 180")
    assert ringing and b"RSeq: 1" in ringing[0]
    assert net.sent("a", b"PRACK")
    assert net.of("a", ev.CallAnswered) and net.of("b", ev.CallAnswered)


def test_responses_follow_rport_and_via_port() -> None:
    b = core(B_ADDR, user="bob")
    for via, expect_port in ((";rport", 40000), ("", 5099)):
        raw = (
            "OPTIONS sip:bob@127.0.0.1:5080 SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP 10.9.9.9:5099;branch=z9hG4bKr{expect_port}{via}\r\n"
            "Max-Forwards: 70\r\nFrom: <sip:x@10.9.9.9>;tag=1\r\nTo: <sip:bob@127.0.0.1>\r\n"
            f"Call-ID: r{expect_port}\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
        ).encode()
        b.receive_datagram(raw, TransportAddress("udp", "127.0.0.2", 40000), 0.0)
        ((data, dest),) = b.datagrams_to_send()
        assert dest == TransportAddress("udp", "127.0.0.2", expect_port)  # received = source IP
        assert data.startswith(b"SIP/2.0 200")


def test_garbage_never_raises_and_is_counted() -> None:
    b = core(B_ADDR)
    for junk in (b"", b"\x00\xff" * 40, b"INVITE\r\n\r\n", b"SIP/2.0 999 X\r\n\r\n"):
        b.receive_datagram(junk, TransportAddress("udp", "127.0.0.1", 1), 0.0)
    assert b.dropped >= 3


def test_register_refresh_and_unregister() -> None:
    a = core(A_ADDR, user="alice")
    registrar = core(B_ADDR)
    net = Net(a=a, r=registrar)
    bindings: list[int] = []

    # a tiny registrar on top of the raw network: answer REGISTER with 200 and its Expires
    def registrar_drop(data: bytes) -> bool:
        if data.startswith(b"REGISTER"):
            req = parse_message(data)
            assert isinstance(req, Request)
            bindings.append(int(req.headers.get("Expires") or "0"))
            resp = Response(200, "OK", req.headers.copy())
            resp.headers.set("Contact", f"{req.headers.get('Contact')};expires={bindings[-1]}")
            a.receive_datagram(bytes(resp), TransportAddress("udp", *B_ADDR), net.now)
            return True
        return False

    net.drop = registrar_drop
    a.register("sip:127.0.0.1:5080", 0.0, expires=60)
    net.run(until=200.0)
    regs = [e for e in net.events["a"] if isinstance(e, ev.Registered)]
    assert len(regs) >= 6 and regs[0].expires == 60  # refreshed every 30 s
    a.unregister(net.now)
    net.run()
    assert bindings[-1] == 0


def test_uas_hangup_before_ack_waits_for_the_ack() -> None:
    net, a, b = pair()
    a.invite("sip:bob@127.0.0.1:5080", 0.0, media_address=("127.0.0.1", 4000))
    net.run()
    (inc,) = net.of("b", ev.IncomingCall)
    assert isinstance(inc, ev.IncomingCall)
    held: list[bytes] = []

    def hold_ack(d: bytes) -> bool:
        if d.startswith(b"ACK") and not held:
            held.append(d)
            return True
        return False

    net.drop = hold_ack
    b.answer(inc.call, net.now, ("127.0.0.1", 6000))
    net.run()
    b.hangup(inc.call, net.now)
    net.run()
    assert not net.sent("b", b"BYE")  # RFC 3261 §15: not before the ACK
    src = a.config.addresses["udp"]
    b.receive_datagram(held[0], TransportAddress("udp", src[0], src[1]), net.now)
    net.run()
    assert net.sent("b", b"BYE")
    assert [e.reason for e in net.of("a", ev.CallEnded) if isinstance(e, ev.CallEnded)] == ["remote BYE"]


def test_session_refresh_uses_update_when_the_peer_allows_it() -> None:
    net, a, b = pair()
    a.config.session_expires = 90
    call_up(net, a, b)
    net.run(until=net.now + 50)
    assert net.sent("a", b"UPDATE") and len(net.sent("a", b"INVITE")) == 1


def test_unanswered_call_gets_480_and_too_many_calls_503() -> None:
    net, a, b = pair(incoming_timeout=10.0, max_sessions=1)
    a.invite("sip:bob@127.0.0.1:5080", 0.0, media_address=("127.0.0.1", 4000))
    a.invite("sip:bob@127.0.0.1:5080", 0.0, media_address=("127.0.0.1", 4002))
    net.run(until=1.0)
    assert len(net.of("b", ev.IncomingCall)) == 1
    failed = [e for e in net.of("a", ev.CallFailed) if isinstance(e, ev.CallFailed)]
    assert [f.status for f in failed] == [503]
    net.run(until=12.0)
    failed = [e for e in net.of("a", ev.CallFailed) if isinstance(e, ev.CallFailed)]
    assert [f.status for f in failed] == [503, 480]
    assert b.sessions == {}


def test_in_dialog_request_answers_a_407_challenge() -> None:
    from voicebot.sip.auth import DigestServer
    from voicebot.sip.build import build_response

    a = core(A_ADDR, user="alice", password="pw")
    b = core(B_ADDR, user="bob")
    net = Net(a=a, b=b)
    cid, _ = call_up(net, a, b)
    proxy = DigestServer("proxy", {"alice": "pw"})
    challenged: list[bytes] = []

    def challenge_first_bye(d: bytes) -> bool:
        if d.startswith(b"BYE") and not challenged:
            challenged.append(d)
            req = parse_message(d)
            assert isinstance(req, Request)
            resp = build_response(
                req, 407, to_tag=None, headers=[("Proxy-Authenticate", c) for c in proxy.challenge_headers()]
            )
            a.receive_datagram(bytes(resp), TransportAddress("udp", *B_ADDR), net.now)
            return True
        return False

    net.drop = challenge_first_bye
    a.hangup(cid, net.now)
    net.run(until=net.now + 1)
    byes = net.sent("a", b"BYE")
    assert len(byes) == 2
    second = parse_message(byes[1])
    assert isinstance(second, Request)
    assert second.cseq.seq == parse_message(byes[0]).cseq.seq + 1  # type: ignore[union-attr]
    value = second.headers.get("Proxy-Authorization")
    assert value is not None and proxy.verify("BYE", str(second.uri), value, net.now) == "alice"
    assert [e.by_remote for e in net.of("b", ev.CallEnded) if isinstance(e, ev.CallEnded)] == [True]


def test_invite_given_up_64_t1_after_cancel_without_final() -> None:
    net, a, b = pair()
    cid = a.invite("sip:bob@127.0.0.1:5080", 0.0, media_address=("127.0.0.1", 4000))
    net.run()
    (inc,) = net.of("b", ev.IncomingCall)
    assert isinstance(inc, ev.IncomingCall)
    b.ring(inc.call, net.now)
    net.run()
    net.drop = lambda d: d.startswith(b"SIP/2.0 487")  # the callee never ends the INVITE
    a.hangup(cid, net.now)
    net.run(until=net.now + 40)
    failed = [e for e in net.of("a", ev.CallFailed) if isinstance(e, ev.CallFailed)]
    assert [(f.status, f.reason) for f in failed] == [(487, "cancelled")]
    assert a.sessions == {}
