"""RFC 3261 §17 transaction tables, pair by pair, with a synthetic clock."""

from __future__ import annotations

import pytest

from voicebot.errors import LocalProtocolError
from voicebot.sip.build import build_response
from voicebot.sip.message import Request, Response
from voicebot.sip.parser import parse_message
from voicebot.sip.transaction import (
    INITIAL,
    LIVE_TIMERS,
    NETWORK_INPUTS,
    TABLES,
    Action,
    Input,
    Kind,
    PassUp,
    Send,
    State,
    TimedOut,
    Timers,
    Transaction,
    TransportAddress,
    TransportFailed,
    build_ack_for_non2xx,
    client_key,
    server_key,
)

UDP = TransportAddress("udp", "127.0.0.1", 5060)
TCP = TransportAddress("tcp", "127.0.0.1", 5060)
T = Timers()


def request(method: str = "INVITE", branch: str = "z9hG4bKabc", cseq: int = 1) -> Request:
    raw = (
        f"{method} sip:bob@127.0.0.1 SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP 127.0.0.1:5070;branch={branch};rport\r\n"
        "Max-Forwards: 70\r\n"
        "From: <sip:alice@127.0.0.1>;tag=a1\r\n"
        "To: <sip:bob@127.0.0.1>\r\n"
        "Call-ID: c1@test\r\n"
        f"CSeq: {cseq} {method}\r\n"
        "Route: <sip:proxy.example;lr>\r\n"
        "Contact: <sip:alice@127.0.0.1:5070>\r\n"
        "Content-Length: 0\r\n\r\n"
    ).encode()
    msg = parse_message(raw)
    assert isinstance(msg, Request)
    return msg


def response(req: Request, status: int) -> Response:
    return build_response(req, status, to_tag=None if status == 100 else "b1")


def sent(outs: list[object]) -> list[Request | Response]:
    return [o.message for o in outs if isinstance(o, Send)]


# -- the tables themselves --------------------------------------------------------------------


@pytest.mark.parametrize("kind", list(Kind))
def test_every_live_state_handles_every_network_input(kind: Kind) -> None:
    states = {s for (s, _i) in TABLES[kind]} | {n for (_a, n) in TABLES[kind].values()}
    for state in states - {State.TERMINATED}:
        for inp in NETWORK_INPUTS[kind]:
            assert (state, inp) in TABLES[kind], f"{kind} {state} lacks {inp}"


@pytest.mark.parametrize("kind", list(Kind))
def test_every_timer_started_is_live_in_its_target_state(kind: Kind) -> None:
    for (_state, _inp), (actions, nxt) in TABLES[kind].items():
        for action in actions:
            if action.name.startswith(("START_", "DOUBLE_")) or action is Action.E_AT_T2:
                timer = action.name.split("_")[1] if action is not Action.E_AT_T2 else "E"
                assert timer in LIVE_TIMERS.get((kind, nxt), frozenset()), (kind, action, nxt)


ALL_PAIRS = [(kind, state, inp) for kind, table in TABLES.items() for (state, inp) in table]


def _message_for(kind: Kind, inp: Input, req: Request) -> Request | Response | None:
    if inp in (Input.RESP_1XX,):
        return response(req, 180)
    if inp is Input.RESP_2XX:
        return response(req, 200)
    if inp is Input.RESP_FINAL:
        return response(req, 486)
    if inp is Input.REQUEST:
        return req
    if inp is Input.ACK:
        return request("ACK")
    if inp is Input.TU_1XX:
        return response(req, 180)
    if inp is Input.TU_2XX:
        return response(req, 200)
    if inp is Input.TU_FINAL:
        return response(req, 486)
    return None


@pytest.mark.parametrize(("kind", "state", "inp"), ALL_PAIRS, ids=lambda x: getattr(x, "value", x))
def test_each_pair_reaches_its_next_state_with_its_outputs(kind: Kind, state: State, inp: Input) -> None:
    req = request("INVITE" if kind in (Kind.INVITE_CLIENT, Kind.INVITE_SERVER) else "OPTIONS")
    tx = Transaction(kind=kind, request=req, dest=UDP, timers=T, state=state)
    tx.last_response = response(req, 180)
    msg = _message_for(kind, inp, req)
    outs = tx.fire(inp, 100.0, msg)
    actions, nxt = TABLES[kind][(state, inp)]
    assert tx.state is nxt
    sends = sum(
        1 for a in actions if a in (Action.SEND_REQUEST, Action.SEND_ACK, Action.SEND_RESPONSE, Action.SEND_TRYING)
    )
    assert len(sent(outs)) == sends
    assert sum(isinstance(o, PassUp) for o in outs) == actions.count(Action.PASS_UP)
    assert sum(isinstance(o, TimedOut) for o in outs) == actions.count(Action.REPORT_TIMEOUT)
    assert sum(isinstance(o, TransportFailed) for o in outs) == actions.count(Action.REPORT_TRANSPORT_ERROR)
    assert set(tx.deadlines) <= LIVE_TIMERS.get((kind, nxt), frozenset())


def test_tu_input_without_entry_is_an_error() -> None:
    req = request("OPTIONS")
    tx = Transaction.server(req, UDP, T)
    tx.start(0.0)
    tx.respond(response(req, 200), 0.0)
    with pytest.raises(LocalProtocolError):
        tx.respond(response(req, 486), 0.1)


def test_network_input_after_termination_is_absorbed() -> None:
    req = request("OPTIONS")
    tx = Transaction.client(req, UDP, T)
    tx.start(0.0)
    tx.receive_response(response(req, 200), 0.1)
    tx.handle_timer(0.1 + T.t4)
    assert tx.terminated
    assert tx.receive_response(response(req, 200), 10.0) == []


# -- scenarios with the synthetic clock ----------------------------------------------------------


def test_invite_client_timer_a_doubles_until_timer_b() -> None:
    req = request()
    tx = Transaction.client(req, UDP, T)
    assert tx.kind is Kind.INVITE_CLIENT and tx.state is INITIAL[tx.kind]
    outs = tx.start(0.0)
    assert sent(outs) == [req]
    times = []
    now = 0.0
    while not tx.terminated:
        nd = tx.next_deadline()
        assert nd is not None
        now = nd
        outs = tx.handle_timer(now)
        if sent(outs):
            times.append(round(now, 3))
        if any(isinstance(o, TimedOut) for o in outs):
            break
    # A fires at 0.5, 1.5, 3.5, 7.5, 15.5, 31.5 (doubling), B at 64*T1 = 32 s
    assert times == [0.5, 1.5, 3.5, 7.5, 15.5, 31.5]
    assert now == pytest.approx(32.0)
    assert tx.terminated


def test_invite_client_no_retransmission_over_tcp() -> None:
    req = request()
    tx = Transaction.client(req, TCP, T)
    tx.start(0.0)
    assert set(tx.deadlines) == {"B"}


def test_invite_client_provisional_stops_retransmission() -> None:
    req = request()
    tx = Transaction.client(req, UDP, T)
    tx.start(0.0)
    outs = tx.receive_response(response(req, 180), 0.2)
    assert tx.state is State.PROCEEDING
    assert [type(o) for o in outs] == [PassUp]
    assert tx.next_deadline() is None


def test_invite_client_non2xx_acked_inside_and_reacked_on_retransmission() -> None:
    req = request()
    tx = Transaction.client(req, UDP, T)
    tx.start(0.0)
    final = response(req, 486)
    outs = tx.receive_response(final, 0.1)
    acks = sent(outs)
    assert len(acks) == 1 and isinstance(acks[0], Request) and acks[0].method == "ACK"
    ack = acks[0]
    assert ack.cseq.seq == 1 and ack.cseq.method == "ACK"
    assert ack.top_via.branch == req.top_via.branch
    assert ack.to.tag == "b1"
    assert ack.headers.get_all("Route") == ["<sip:proxy.example;lr>"]
    assert tx.state is State.COMPLETED
    assert tx.deadlines["D"] == pytest.approx(0.1 + 32.0)
    again = tx.receive_response(final, 0.5)
    assert [m.method for m in sent(again) if isinstance(m, Request)] == ["ACK"]
    assert not any(isinstance(o, PassUp) for o in again)
    tx.handle_timer(40.0)
    assert tx.terminated


def test_invite_client_timer_d_zero_on_tcp() -> None:
    req = request()
    tx = Transaction.client(req, TCP, T)
    tx.start(0.0)
    tx.receive_response(response(req, 404), 1.0)
    assert tx.next_deadline() == 1.0
    tx.handle_timer(1.0)
    assert tx.terminated


def test_invite_client_2xx_accepted_passes_retransmissions_then_timer_m() -> None:
    req = request()
    tx = Transaction.client(req, UDP, T)
    tx.start(0.0)
    ok = response(req, 200)
    assert [type(o) for o in tx.receive_response(ok, 0.1)] == [PassUp]
    assert tx.state is State.ACCEPTED
    assert [type(o) for o in tx.receive_response(ok, 0.6)] == [PassUp]
    tx.handle_timer(0.1 + 64 * T.t1)
    assert tx.terminated


def test_non_invite_client_timer_e_caps_at_t2_and_t2_in_proceeding() -> None:
    req = request("OPTIONS")
    tx = Transaction.client(req, UDP, T)
    tx.start(0.0)
    intervals = []
    last = 0.0
    for _ in range(6):
        nd = tx.next_deadline()
        assert nd is not None
        tx.handle_timer(nd)
        intervals.append(round(nd - last, 3))
        last = nd
    assert intervals == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    tx2 = Transaction.client(req, UDP, T)
    tx2.start(0.0)
    tx2.receive_response(response(req, 100), 0.1)
    tx2.handle_timer(0.5)
    assert tx2.deadlines["E"] == pytest.approx(0.5 + T.t2)


def test_non_invite_client_timer_f_times_out() -> None:
    req = request("BYE")
    tx = Transaction.client(req, UDP, T)
    tx.start(0.0)
    outs: list[object] = []
    while not tx.terminated:
        nd = tx.next_deadline()
        assert nd is not None
        outs += tx.handle_timer(nd)
    assert isinstance(outs[-1], TimedOut)


def test_non_invite_client_completed_absorbs_then_timer_k() -> None:
    req = request("BYE")
    tx = Transaction.client(req, UDP, T)
    tx.start(0.0)
    tx.receive_response(response(req, 200), 0.1)
    assert tx.state is State.COMPLETED and set(tx.deadlines) == {"K"}
    assert tx.receive_response(response(req, 200), 0.2) == []
    tx.handle_timer(0.1 + T.t4)
    assert tx.terminated


def test_invite_server_sends_trying_and_retransmits_last_response() -> None:
    req = request()
    tx = Transaction.server(req, UDP, T)
    outs = tx.start(0.0)
    trying = sent(outs)
    assert len(trying) == 1 and isinstance(trying[0], Response) and trying[0].status == 100
    assert any(isinstance(o, PassUp) for o in outs)
    tx.respond(response(req, 180), 0.1)
    again = sent(tx.receive_request(req, 0.2))
    assert [r.status for r in again if isinstance(r, Response)] == [180]


def test_invite_server_final_timer_g_then_ack_confirms() -> None:
    req = request()
    tx = Transaction.server(req, UDP, T)
    tx.start(0.0)
    tx.respond(response(req, 486), 0.0)
    assert tx.state is State.COMPLETED
    times = []
    for _ in range(5):
        nd = tx.next_deadline()
        assert nd is not None
        if sent(tx.handle_timer(nd)):
            times.append(round(nd, 3))
    assert times == [0.5, 1.5, 3.5, 7.5, 11.5]
    outs = tx.receive_request(request("ACK"), 12.0)
    assert outs == [] and tx.state is State.CONFIRMED
    tx.handle_timer(12.0 + T.t4)
    assert tx.terminated


def test_invite_server_timer_h_without_ack() -> None:
    req = request()
    tx = Transaction.server(req, TCP, T)
    tx.start(0.0)
    tx.respond(response(req, 500), 0.0)
    assert set(tx.deadlines) == {"H"}  # no Timer G on a reliable transport
    outs = tx.handle_timer(64 * T.t1)
    assert any(isinstance(o, TimedOut) for o in outs) and tx.terminated


def test_invite_server_2xx_accepted_absorbs_invite_passes_ack() -> None:
    req = request()
    tx = Transaction.server(req, UDP, T)
    tx.start(0.0)
    ok = response(req, 200)
    assert [r.status for r in sent(tx.respond(ok, 0.1)) if isinstance(r, Response)] == [200]
    assert tx.state is State.ACCEPTED
    assert tx.receive_request(req, 0.2) == []
    assert sent(tx.respond(ok, 0.6)) == [ok]  # the TU's 2xx retransmission passes through
    ack = request("ACK")
    assert tx.receive_request(ack, 0.7) == [PassUp(message=ack)]
    tx.handle_timer(0.1 + 64 * T.t1)
    assert tx.terminated


def test_non_invite_server_repeats_final_until_timer_j() -> None:
    req = request("OPTIONS")
    tx = Transaction.server(req, UDP, T)
    assert tx.start(0.0) == [PassUp(message=req)]
    assert tx.receive_request(req, 0.1) == []  # Trying: absorbed
    ok = response(req, 200)
    tx.respond(ok, 0.2)
    assert sent(tx.receive_request(req, 0.3)) == [ok]
    tx.handle_timer(0.2 + 64 * T.t1)
    assert tx.terminated


def test_non_invite_server_timer_j_zero_on_tcp() -> None:
    req = request("OPTIONS")
    tx = Transaction.server(req, TCP, T)
    tx.start(0.0)
    tx.respond(response(req, 200), 1.0)
    tx.handle_timer(1.0)
    assert tx.terminated


def test_transport_error_reported() -> None:
    req = request("OPTIONS")
    tx = Transaction.client(req, UDP, T)
    tx.start(0.0)
    assert [type(o) for o in tx.transport_error(0.1)] == [TransportFailed]
    assert tx.terminated


def test_keys_match_requests_responses_and_ack() -> None:
    req = request()
    assert client_key(response(req, 180)) == ("z9hG4bKabc", "INVITE")
    assert server_key(request("ACK")) == server_key(req)
    assert server_key(request("CANCEL")) != server_key(req)
    legacy = request(branch="1234")
    assert server_key(legacy)[0] == "2543"


def test_ack_for_non2xx_shape() -> None:
    req = request()
    ack = build_ack_for_non2xx(req, response(req, 603))
    assert str(ack.uri) == str(req.uri)
    assert ack.call_id == req.call_id and ack.from_.tag == "a1"
    assert len(ack.vias) == 1
    assert parse_message(bytes(ack)).cseq.method == "ACK"  # type: ignore[union-attr]
