"""Message traces from the core: what was received and sent, in order, with the time passed in."""

from __future__ import annotations

from voicebot.sip.transaction import TransportAddress
from voicebot.sip.useragent import UaConfig, UserAgentCore

PEER = TransportAddress("udp", "127.0.0.1", 5080)
OPTIONS = (
    b"OPTIONS sip:bot@127.0.0.1:5070 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5080;branch=z9hG4bKtr1\r\n"
    b"Max-Forwards: 70\r\nFrom: <sip:a@127.0.0.1>;tag=a1\r\nTo: <sip:bot@127.0.0.1>\r\n"
    b"i: tr1@127.0.0.1\r\nCSeq: 7 OPTIONS\r\nContent-Length: 0\r\n\r\n"
)


def _core(tracing: bool) -> UserAgentCore:
    core = UserAgentCore(UaConfig(addresses={"udp": ("127.0.0.1", 5070)}))
    core.tracing = tracing
    return core


def test_received_and_sent_messages_are_traced_in_order_with_their_time_and_ids() -> None:
    core = _core(True)
    core.receive_datagram(OPTIONS, PEER, 12.5)
    sent = core.datagrams_to_send()
    received, answer = core.traces_to_send()
    assert (received.direction, received.peer, received.data, received.at) == ("received", PEER, OPTIONS, 12.5)
    assert received.start_line == "OPTIONS sip:bot@127.0.0.1:5070 SIP/2.0"
    assert (received.call_id, received.cseq, received.transport, received.size) == (
        "tr1@127.0.0.1", "7 OPTIONS", "udp", len(OPTIONS)
    )  # fmt: skip
    assert (answer.direction, answer.peer, answer.at) == ("sent", PEER, 12.5)
    assert [(answer.data, answer.peer)] == sent
    assert answer.start_line == "SIP/2.0 200 OK" and answer.cseq == "7 OPTIONS"
    assert core.traces_to_send() == []


def test_an_unparsable_datagram_is_traced_with_what_can_be_read() -> None:
    core = _core(True)
    core.receive_datagram(b"garbage\r\n\r\n", PEER, 1.0)
    (trace,) = core.traces_to_send()
    assert trace.start_line == "garbage" and trace.call_id is None and trace.cseq is None


def test_nothing_is_kept_while_tracing_is_off() -> None:
    core = _core(False)
    core.receive_datagram(OPTIONS, PEER, 1.0)
    assert core.datagrams_to_send() and core.traces_to_send() == []
