"""RFC 3550 §6: SR/RR/SDES/BYE compound packets, §A.7 interval, §6.4.1 RTT."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from voicebot.errors import RemoteProtocolError
from voicebot.rtp.rtcp import (
    Goodbye,
    ReceiverReport,
    ReportBlock,
    RtcpUnknown,
    SdesChunk,
    SenderReport,
    SourceDescription,
    ntp_from_unix,
    ntp_middle,
    parse_compound,
    rtcp_interval,
    serialize_compound,
)
from voicebot.rtp.stats import round_trip_time

BLOCK = ReportBlock(
    ssrc=0x11223344, fraction_lost=64, cumulative_lost=-5, highest_sequence=70000, jitter=123, lsr=77, dlsr=88
)


def test_compound_round_trip() -> None:
    packets = [
        SenderReport(
            ssrc=1, ntp_timestamp=ntp_from_unix(1_700_000_000.25), rtp_timestamp=160, packet_count=5,
            octet_count=800, reports=(BLOCK,),
        ),
        SourceDescription(chunks=(SdesChunk(ssrc=1, items=((1, b"bot@127.0.0.1"), (6, b"voicebot"))),)),
        Goodbye(ssrcs=(1,), reason="call ended"),
    ]
    data = serialize_compound(packets)
    assert len(data) % 4 == 0
    parsed = parse_compound(data)
    assert parsed == packets
    sdes = parsed[1]
    assert isinstance(sdes, SourceDescription)
    assert sdes.cname(1) == "bot@127.0.0.1"


def test_receiver_report_and_unknown_types_round_trip() -> None:
    packets = [ReceiverReport(ssrc=9, reports=(BLOCK, BLOCK)), RtcpUnknown(packet_type=204, count=1, body=b"abcd")]
    assert parse_compound(serialize_compound(packets)) == packets


def test_negative_cumulative_loss_is_signed_24_bit() -> None:
    data = bytes(ReceiverReport(ssrc=9, reports=(BLOCK,)))
    rr = parse_compound(data)[0]
    assert isinstance(rr, ReceiverReport)
    assert rr.reports[0].cumulative_lost == -5


@pytest.mark.parametrize(
    "data",
    [
        b"\x80\xc8",
        bytes([0x40, 201, 0, 1]) + b"\x00" * 4,  # version 1
        bytes([0x81, 201, 0, 1]) + b"\x00" * 4,  # RR claims one block, has none
        bytes([0x80, 201, 0, 9]) + b"\x00" * 4,  # length past the end
        bytes([0x80, 150, 0, 0]),  # not an RTCP type
        bytes([0xA0, 201, 0, 1]) + b"\x00\x00\x00\x00" + bytes([0x80, 202, 0, 0]),  # padding not last
        bytes([0x80, 202, 0, 0]) + bytes([0x80, 201, 0, 1]) + b"\x00" * 4,  # compound not led by SR/RR
    ],
)
def test_malformed_rtcp(data: bytes) -> None:
    with pytest.raises(RemoteProtocolError):
        parse_compound(data)


@given(st.binary(max_size=80))
def test_any_bytes_parse_or_raise_protocol_error(data: bytes) -> None:
    try:
        packets = parse_compound(data)
    except RemoteProtocolError:
        return
    assert parse_compound(serialize_compound(packets)) == packets


def test_interval_respects_minimum_and_randomisation() -> None:
    args = {"members": 2, "senders": 2, "rtcp_bw": 500.0, "we_sent": True, "avg_rtcp_size": 100.0}
    lo = rtcp_interval(**args, initial=False, random_value=0.0)
    hi = rtcp_interval(**args, initial=False, random_value=0.999999)
    first = rtcp_interval(**args, initial=True, random_value=0.5)
    assert lo == pytest.approx(5.0 * 0.5 / 1.21828, rel=1e-3)
    assert hi == pytest.approx(5.0 * 1.5 / 1.21828, rel=1e-3)
    assert first == pytest.approx(2.5 / 1.21828, rel=1e-3)
    # a large group scales the interval with the number of members
    big = rtcp_interval(
        members=1000, senders=2, rtcp_bw=500.0, we_sent=False, avg_rtcp_size=100.0, initial=False, random_value=0.5
    )
    assert big > 100


def test_round_trip_time_from_lsr_and_dlsr() -> None:
    sent_at = 1_700_000_000.0
    lsr = ntp_middle(ntp_from_unix(sent_at))
    block = ReportBlock(
        ssrc=1, fraction_lost=0, cumulative_lost=0, highest_sequence=0, jitter=0, lsr=lsr, dlsr=int(0.25 * 65536)
    )
    rtt = round_trip_time(block, ntp_from_unix(sent_at + 0.25 + 0.080))
    assert rtt == pytest.approx(0.080, abs=1e-3)
    no_sr = ReportBlock(ssrc=1, fraction_lost=0, cumulative_lost=0, highest_sequence=0, jitter=0)
    assert round_trip_time(no_sr, ntp_from_unix(sent_at)) is None
