"""RFC 3550 §5.1 packets: round trips, malformed input, wraparound helpers."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from voicebot.errors import LocalProtocolError, RemoteProtocolError
from voicebot.rtp.packet import RtpExtension, RtpPacket, Unwrapper, is_rtcp, seq_distance


def test_minimal_packet_layout() -> None:
    pkt = RtpPacket(payload_type=0, sequence_number=0x1234, timestamp=0xDEADBEEF, ssrc=7, payload=b"\xff" * 160)
    data = bytes(pkt)
    assert data[:12] == bytes.fromhex("80001234deadbeef00000007")
    assert RtpPacket.parse(data) == pkt


def test_csrc_extension_padding_marker_round_trip() -> None:
    pkt = RtpPacket(
        payload_type=111,
        sequence_number=65535,
        timestamp=1,
        ssrc=0xFFFFFFFF,
        payload=b"opus",
        marker=True,
        csrc=(1, 2, 3),
        extension=RtpExtension(profile=0xBEDE, data=b"\x10\xaa\x00\x00"),
        padding=4,
    )
    data = bytes(pkt)
    assert data[0] == 0x80 | 0x20 | 0x10 | 3
    assert data[1] == 0x80 | 111
    assert data[-1] == 4
    assert RtpPacket.parse(data) == pkt


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\x80\x00",
        bytes.fromhex("40001234deadbeef00000007"),  # version 1
        bytes.fromhex("83001234deadbeef00000007") + b"\x00" * 8,  # 3 CSRCs, room for 2
        bytes.fromhex("90001234deadbeef00000007") + b"\xbe\xde",  # extension header cut
        bytes.fromhex("90001234deadbeef00000007") + b"\xbe\xde\x00\x02\x00\x00\x00\x00",
        bytes.fromhex("a0001234deadbeef00000007") + b"\x00\x00",  # padding count 0
        bytes.fromhex("a0001234deadbeef00000007") + b"\x00\x09",  # padding longer than packet
        bytes.fromhex("80c81234deadbeef00000007"),  # PT 72 (RTCP SR with marker)
        b"\x80" * 9000,
    ],
)
def test_malformed_packets_are_rejected(data: bytes) -> None:
    with pytest.raises(RemoteProtocolError):
        RtpPacket.parse(data)


def test_local_misuse_is_a_local_error() -> None:
    with pytest.raises(LocalProtocolError):
        bytes(RtpPacket(payload_type=128, sequence_number=0, timestamp=0, ssrc=0))
    with pytest.raises(LocalProtocolError):
        bytes(RtpPacket(payload_type=0, sequence_number=0, timestamp=0, ssrc=0, csrc=tuple(range(16))))
    with pytest.raises(LocalProtocolError):
        bytes(
            RtpPacket(
                payload_type=0, sequence_number=0, timestamp=0, ssrc=0, extension=RtpExtension(profile=1, data=b"x")
            )
        )


@given(st.binary(max_size=64))
def test_any_bytes_parse_or_raise_protocol_error(data: bytes) -> None:
    try:
        pkt = RtpPacket.parse(data)
    except RemoteProtocolError:
        return
    again = RtpPacket.parse(bytes(pkt))
    assert again == pkt


@given(
    pt=st.integers(0, 127).filter(lambda p: not 72 <= p <= 76),
    seq=st.integers(0, 0xFFFF),
    ts=st.integers(0, 0xFFFFFFFF),
    ssrc=st.integers(0, 0xFFFFFFFF),
    payload=st.binary(max_size=200),
    marker=st.booleans(),
    csrc=st.lists(st.integers(0, 0xFFFFFFFF), max_size=15),
    ext=st.none() | st.binary(max_size=12).map(lambda b: b + bytes(-len(b) % 4)),
    padding=st.integers(0, 255),
)
def test_round_trip_property(
    pt: int,
    seq: int,
    ts: int,
    ssrc: int,
    payload: bytes,
    marker: bool,
    csrc: list[int],
    ext: bytes | None,
    padding: int,
) -> None:
    pkt = RtpPacket(
        payload_type=pt,
        sequence_number=seq,
        timestamp=ts,
        ssrc=ssrc,
        payload=payload,
        marker=marker,
        csrc=tuple(csrc),
        extension=None if ext is None else RtpExtension(profile=0x1000, data=ext),
        padding=padding,
    )
    assert RtpPacket.parse(bytes(pkt)) == pkt


def test_rtcp_demultiplexing() -> None:
    assert is_rtcp(bytes([0x80, 200, 0, 6]))
    assert is_rtcp(bytes([0x81, 201, 0, 7]))
    assert not is_rtcp(bytes(RtpPacket(payload_type=0, sequence_number=1, timestamp=0, ssrc=1)))
    assert not is_rtcp(bytes(RtpPacket(payload_type=111, sequence_number=1, timestamp=0, ssrc=1, marker=True)))


def test_sequence_distance_and_unwrapping_across_wrap() -> None:
    assert seq_distance(65535, 0) == 1
    assert seq_distance(0, 65535) == -1
    assert seq_distance(100, 50) == -50
    u = Unwrapper(16)
    seqs = [65533, 65534, 65535, 0, 1, 65535, 2]
    assert [u.unwrap(s) for s in seqs] == [65533, 65534, 65535, 65536, 65537, 65535, 65538]
    t = Unwrapper(32)
    assert t.unwrap(0xFFFFFF00) == 0xFFFFFF00
    assert t.unwrap(0x00000100) == 0x100000100
