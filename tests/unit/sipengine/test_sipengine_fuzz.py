"""Whatever a peer sends, the UA core never raises and keeps answering (DESIGN.md rule 5)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from voicebot.sip.transaction import TransportAddress
from voicebot.sip.useragent import UaConfig, UserAgentCore

SRC = TransportAddress("udp", "127.0.0.1", 5090)

INVITE = (
    b"INVITE sip:bob@127.0.0.1:5080 SIP/2.0\r\n"
    b"Via: SIP/2.0/UDP 127.0.0.1:5090;branch=z9hG4bKfuzz;rport\r\n"
    b"Max-Forwards: 70\r\nFrom: <sip:a@127.0.0.1>;tag=1\r\nTo: <sip:bob@127.0.0.1>\r\n"
    b"Call-ID: fuzz@x\r\nCSeq: 1 INVITE\r\nContact: <sip:a@127.0.0.1:5090>\r\n"
    b"Content-Type: application/sdp\r\nContent-Length: 105\r\n\r\n"
    b"v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
    b"m=audio 4000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
)
OPTIONS = (
    b"OPTIONS sip:bob@127.0.0.1:5080 SIP/2.0\r\n"
    b"Via: SIP/2.0/UDP 127.0.0.1:5090;branch=z9hG4bKalive;rport\r\nMax-Forwards: 70\r\n"
    b"From: <sip:a@127.0.0.1>;tag=9\r\nTo: <sip:bob@127.0.0.1>\r\nCall-ID: alive@x\r\n"
    b"CSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
)


def mutate(data: bytes, edits: list[tuple[int, int, bytes]]) -> bytes:
    out = bytearray(data)
    for pos, cut, insert in edits:
        p = pos % (len(out) + 1)
        out[p : p + cut] = insert
    return bytes(out)


edit = st.tuples(st.integers(0, 2000), st.integers(0, 8), st.binary(max_size=8))


@settings(max_examples=300, deadline=None)
@given(st.lists(edit, min_size=1, max_size=6), st.sampled_from([INVITE, OPTIONS]))
def test_mutated_messages_never_raise(edits: list[tuple[int, int, bytes]], base: bytes) -> None:
    core = UserAgentCore(UaConfig(addresses={"udp": ("127.0.0.1", 5080)}))
    core.receive_datagram(mutate(base, edits), SRC, 0.0)
    while core.next_event() is not None:
        pass
    core.handle_timer(100.0)
    core.datagrams_to_send()
    core.receive_datagram(OPTIONS, SRC, 100.0)
    answers = [d for d, _ in core.datagrams_to_send() if b"alive@x" in d]
    assert answers and answers[-1].startswith(b"SIP/2.0 200")


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=600))
def test_random_bytes_never_raise(data: bytes) -> None:
    core = UserAgentCore(UaConfig(addresses={"udp": ("127.0.0.1", 5080)}))
    core.receive_datagram(data, SRC, 0.0)
    core.receive_datagram(b"SIP/2.0 200 OK\r\n" + data, SRC, 0.0)
    core.handle_timer(1.0)
