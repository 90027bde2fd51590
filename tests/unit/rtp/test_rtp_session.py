"""The RTP session core: source learning (RTP Bleed), RTCP, DTMF, inactivity; synthetic clock."""

from __future__ import annotations

import itertools

from hypothesis import given
from hypothesis import strategies as st

from voicebot.rtp.events import DtmfDigit, MediaTimeout, RemoteBye, RemoteReport, SourceLatched
from voicebot.rtp.packet import RtpPacket
from voicebot.rtp.rtcp import Goodbye, ReceiverReport, SenderReport, parse_compound
from voicebot.rtp.session import RtpSession, SessionConfig

CFG = SessionConfig(payload_type=0, clock_rate=8000, frame_samples=160, telephone_event_pt=101)
PEER = ("127.0.0.1", 40000)
STRANGER = ("127.0.0.1", 40002)


def pkt(seq: int, ssrc: int = 0xABC, pt: int = 0, payload: bytes = b"\xff" * 160) -> bytes:
    return bytes(RtpPacket(payload_type=pt, sequence_number=seq, timestamp=seq * 160, ssrc=ssrc, payload=payload))


def session(remote: tuple[str, int] | None = PEER, **kw: float) -> RtpSession:
    s = RtpSession(now=0.0, ssrc=0x1111, rng_seed=1, **kw)  # type: ignore[arg-type]
    s.configure(CFG, remote_rtp=remote, remote_rtcp=None if remote is None else (remote[0], remote[1] + 1), now=0.0)
    return s


def events(s: RtpSession) -> list[object]:
    out = []
    while (e := s.next_event()) is not None:
        out.append(e)
    return out


def test_stranger_is_dropped_once_the_sdp_peer_has_sent() -> None:
    s = session()
    assert s.receive_rtp(pkt(1), PEER, 0.0) is not None
    assert isinstance(events(s)[0], SourceLatched)
    # a stranger with perfect sequence numbers inside the learning window stays out
    for i in range(10):
        assert s.receive_rtp(pkt(100 + i, ssrc=0x999), STRANGER, 0.02 + 0.02 * i) is None
    assert s.filter.dropped == 10
    assert s.filter.send_to == PEER


def test_sdp_address_takes_media_back_from_an_early_stranger() -> None:
    s = session()
    got = [s.receive_rtp(pkt(i, ssrc=0x999), STRANGER, 0.02 * i) for i in range(10)]
    assert [g is not None for g in got] == [False] * 7 + [True] * 3  # eight in a row, then latched
    assert s.receive_rtp(pkt(1), PEER, 0.2) is not None  # the signalled peer always wins
    assert s.filter.send_to == PEER
    assert s.receive_rtp(pkt(11, ssrc=0x999), STRANGER, 0.22) is None


def test_a_caller_whose_rtp_starts_late_is_preferred_during_learning() -> None:
    """A stranger that starts first gets nothing while it has sent fewer than N packets: one
    packet from the SDP address ends learning in its favour, and the stranger never gets our
    media (it goes to the SDP address all along)."""
    s = session()
    for i in range(6):
        assert s.receive_rtp(pkt(i, ssrc=0x999), STRANGER, 0.02 * i) is None
        assert s.filter.send_to == PEER
    assert s.receive_rtp(pkt(1), PEER, 0.13) is not None
    for i in range(6, 20):
        assert s.receive_rtp(pkt(i, ssrc=0x999), STRANGER, 0.02 * i) is None
    assert s.filter.latched == PEER and s.filter.dropped == 20


def test_a_burst_cannot_win_the_learning_race() -> None:
    """N packets fired at once are not N packets of media: only packets 5 ms or more after the
    one before count."""
    s = session()
    assert all(s.receive_rtp(pkt(i, ssrc=0x999), STRANGER, 0.001 * i) is None for i in range(40))
    assert s.filter.latched is None and s.filter.send_to == PEER
    assert s.receive_rtp(pkt(1), PEER, 0.05) is not None


def test_after_the_window_only_the_sdp_address_is_accepted() -> None:
    s = session(learn_window=1.0)
    for i in range(10):
        assert s.receive_rtp(pkt(i, ssrc=0x999), STRANGER, 1.5 + 0.02 * i) is None
    assert s.filter.dropped == 10
    assert s.receive_rtp(pkt(1), PEER, 2.0) is not None


def test_latching_to_a_natted_source_needs_consecutive_packets_in_the_window() -> None:
    s = session(remote=("10.0.0.5", 30000))  # private address in the SDP; media comes from elsewhere
    nat = ("127.0.0.1", 50000)
    assert s.receive_rtp(pkt(10), nat, 0.0) is None
    got = [s.receive_rtp(pkt(12 + i), nat, 0.02 * (i + 1)) for i in range(8)]  # 11 missing: a new run
    assert [g is not None for g in got] == [False] * 7 + [True]
    assert s.filter.send_to == nat  # symmetric RTP: we answer where media comes from
    assert s.receive_rtp(pkt(30, ssrc=1), STRANGER, 0.3) is None


def test_no_latching_after_the_window_until_reconfigured() -> None:
    s = session(remote=("10.0.0.5", 30000), learn_window=1.0)
    nat = ("127.0.0.1", 50000)
    for i in range(5):
        assert s.receive_rtp(pkt(i), nat, 2.0 + 0.02 * i) is None
    s.configure(CFG, remote_rtp=("10.0.0.5", 30000), remote_rtcp=None, now=3.0)  # re-INVITE
    results = [s.receive_rtp(pkt(10 + i), nat, 3.0 + 0.02 * i) for i in range(9)]
    assert [r is not None for r in results] == [False] * 7 + [True, True]


def test_malformed_packets_are_counted_and_dropped() -> None:
    s = session()
    assert s.receive_rtp(b"\x00\x01garbage", PEER, 0.0) is None
    assert s.receive_rtp(b"", PEER, 0.0) is None
    assert s.malformed == 2
    s.receive_rtcp(b"\x80\xc9\x00\x09", (PEER[0], PEER[1] + 1), 0.0)
    assert s.malformed == 3


def test_telephone_events_become_digits_not_audio() -> None:
    s = session()
    ev = bytes([4, 0x8A, 0x03, 0x20])  # digit 4, end, 800 samples
    out = [s.receive_rtp(bytes(RtpPacket(payload_type=101, sequence_number=i, timestamp=8000, ssrc=0xABC,
                                         payload=ev)), PEER, 0.1 * i) for i in range(3)]
    assert out == [None, None, None]
    digits = [e for e in events(s) if isinstance(e, DtmfDigit)]
    assert digits == [DtmfDigit(digit="4", duration_ms=100, source="rfc4733")]
    s.inject_dtmf("#", 250)
    assert events(s) == [DtmfDigit(digit="#", duration_ms=250, source="info")]


def test_sending_dtmf_through_the_session() -> None:
    s = session()
    s.start(0.0)
    s.queue_dtmf("7", 60)
    sent = []
    t = 0.0
    while t < 0.3:
        for _ in range(s.frames_due(t)):
            s.send_frame(b"\xff" * 160, speech=False)
        sent += [RtpPacket.parse(d) for d, _, rtcp in s.datagrams_to_send() if not rtcp]
        t += 0.02
    ev = [p for p in sent if p.payload_type == 101]
    assert len(ev) == 3 + 2  # 60 ms = 3 frames, the last one sent three times in all
    assert len({p.timestamp for p in ev}) == 1
    assert [p.sequence_number for p in sent] == [(sent[0].sequence_number + i) & 0xFFFF for i in range(len(sent))]


def test_inactivity_timeout_reports_once() -> None:
    s = session(inactivity_timeout=5.0)
    s.start(0.0)
    s.receive_rtp(pkt(1), PEER, 1.0)
    s.handle_timer(5.5)
    assert not [e for e in events(s) if isinstance(e, MediaTimeout)]
    assert s.next_deadline() <= 6.0
    s.handle_timer(6.1)
    s.handle_timer(9.0)
    timeouts = [e for e in events(s) if isinstance(e, MediaTimeout)]
    assert len(timeouts) == 1 and "5 s" in timeouts[0].reason


def test_rtcp_reports_and_round_trip_time_between_two_sessions() -> None:
    a_addr, b_addr = ("127.0.0.1", 40000), ("127.0.0.1", 42000)
    a = RtpSession(now=0.0, ssrc=1, rng_seed=1, wallclock_offset=1e9)
    b = RtpSession(now=0.0, ssrc=2, rng_seed=2, wallclock_offset=1e9)
    a.configure(CFG, remote_rtp=b_addr, remote_rtcp=(b_addr[0], b_addr[1] + 1), now=0.0)
    b.configure(CFG, remote_rtp=a_addr, remote_rtcp=(a_addr[0], a_addr[1] + 1), now=0.0)
    a.start(0.0)
    b.start(0.0)
    one_way = 0.030
    inflight: list[tuple[float, str, bytes, bool]] = []
    t = 0.0
    kinds: set[str] = set()
    while t < 20.0:
        for name, s in (("a", a), ("b", b)):
            for _ in range(s.frames_due(t)):
                s.send_frame(b"\xff" * 160, speech=True)
            if t >= s.next_deadline():
                s.handle_timer(t)
            for data, _dest, rtcp in s.datagrams_to_send():
                if rtcp:
                    kinds.add(type(parse_compound(data)[0]).__name__)
                inflight.append((t + one_way, name, data, rtcp))
        for item in [x for x in inflight if x[0] <= t]:
            inflight.remove(item)
            _, name, data, rtcp = item
            dst, src = (b, a_addr) if name == "a" else (a, b_addr)
            src_rtcp = (src[0], src[1] + 1)
            if rtcp:
                dst.receive_rtcp(data, src_rtcp, t)
            else:
                dst.receive_rtp(data, src, t)
        t += 0.005
    assert "SenderReport" in kinds
    assert a.rtcp_sent >= 2 and b.rtcp_received >= 2
    assert a.rtt is not None and abs(a.rtt - 2 * one_way) < 0.006
    reports = [e for e in events(a) if isinstance(e, RemoteReport)]
    assert reports and reports[-1].fraction_lost == 0.0
    assert b.remote is not None and b.remote.lost == 0


def test_receive_only_session_sends_receiver_reports_and_bye_on_close() -> None:
    s = RtpSession(now=0.0, ssrc=5, rng_seed=1)
    cfg = SessionConfig(payload_type=0, clock_rate=8000, frame_samples=160, send=False)
    s.configure(cfg, remote_rtp=PEER, remote_rtcp=(PEER[0], PEER[1] + 1), now=0.0)
    s.start(0.0)
    for i in range(100):
        s.receive_rtp(pkt(i), PEER, i * 0.02)
        for _ in range(s.frames_due(i * 0.02)):
            s.send_frame(b"\xff" * 160, speech=False)
    s.handle_timer(s.next_deadline() + 10)
    out = s.datagrams_to_send()
    assert all(rtcp for _, _, rtcp in out)  # nothing but RTCP when we do not send
    first = parse_compound(out[0][0])
    assert isinstance(first[0], ReceiverReport) and first[0].reports[0].ssrc == 0xABC
    s.close(20.0, "done")
    bye = parse_compound(s.datagrams_to_send()[-1][0])
    assert isinstance(bye[-1], Goodbye) and bye[-1].reason == "done"
    assert not isinstance(bye[0], SenderReport)


def test_remote_bye_is_an_event() -> None:
    s = session()
    s.receive_rtp(pkt(1), PEER, 0.0)
    s.receive_rtp(pkt(2), PEER, 0.02)
    events(s)
    s.receive_rtcp(bytes(ReceiverReport(ssrc=0xABC)) + bytes(Goodbye(ssrcs=(0xABC,), reason="bye")),
                   (PEER[0], PEER[1] + 1), 0.1)
    assert events(s) == [RemoteBye(ssrc=0xABC, reason="bye")]


def test_declared_receive_payload_numbers_are_accepted_too() -> None:
    """Offer/answer may leave the peer sending with the numbers we declared (recv) while we
    send with theirs: both count as audio / events."""
    s = RtpSession(now=0.0, ssrc=1, rng_seed=1)
    cfg = SessionConfig(
        payload_type=96, clock_rate=48000, frame_samples=960, telephone_event_pt=97,
        recv_payload_type=111, recv_telephone_event_pt=101,
    )  # fmt: skip
    s.configure(cfg, remote_rtp=PEER, remote_rtcp=None, now=0.0)
    assert s.receive_rtp(pkt(1, pt=111), PEER, 0.0) is not None
    assert s.receive_rtp(pkt(2, pt=96), PEER, 0.02) is not None
    assert s.receive_rtp(pkt(3, pt=13), PEER, 0.04) is None  # comfort noise: not decoded
    ev = bytes([9, 0x80, 0x03, 0xC0])
    for pt, ts in ((101, 48000), (97, 96000)):
        s.receive_rtp(bytes(RtpPacket(payload_type=pt, sequence_number=ts // 960, timestamp=ts, ssrc=0xABC,
                                      payload=ev)), PEER, ts / 48000)
    assert [e.digit for e in events(s) if isinstance(e, DtmfDigit)] == ["9", "9"]


@given(st.binary(max_size=300), st.booleans())
def test_nothing_a_peer_sends_raises(data: bytes, rtcp: bool) -> None:
    s = session()
    if rtcp:
        s.receive_rtcp(data, (PEER[0], PEER[1] + 1), 1.0)
    else:
        s.receive_rtp(data, PEER, 1.0)
    s.handle_timer(2.0)
    events(s)


def test_rtcp_goes_out_at_the_rfc_interval() -> None:
    """RFC 3550 §6.3: randomised between 0.5 and 1.5 times the 5 s minimum (2.5 s for the first
    report), divided by e - 3/2; here two members and a 64 kbit/s stream."""
    s = session()
    s.start(0.0)
    t, sent_at = 0.0, []
    while t < 300.0:
        for _ in range(s.frames_due(t)):
            s.send_frame(b"\xff" * 160, speech=True)
        if t >= s.next_deadline():
            s.handle_timer(t)
        sent_at += [t for _, _, rtcp in s.datagrams_to_send() if rtcp]
        t += 0.01
    gaps = [b - a for a, b in itertools.pairwise(sent_at)]
    comp = 2.718281828 - 1.5
    assert sent_at[0] <= 1.5 * 2.5 / comp + 0.02
    assert min(gaps) >= 0.5 * 5 / comp - 0.02 and max(gaps) <= 1.5 * 5 / comp + 0.02
    assert 300 / (1.5 * 5 / comp) <= len(sent_at) <= 300 / (0.5 * 5 / comp) + 1


def test_echo_fast_path_relays_plain_audio_and_leaves_everything_else_to_the_full_path() -> None:
    """relay_rtp: once the peer is latched and its SSRC followed, a plain audio packet comes
    back as our next packet (our SSRC, sequence and clock; the payload untouched) and is
    counted as received; another source, a telephone-event, a header with a CSRC or a new SSRC
    get None and change nothing, and the full path still handles them as before."""
    s = session()
    s.start(0.0)
    assert s.receive_rtp(pkt(1), PEER, 0.0) is not None  # latches the SDP address and follows SSRC 0xABC
    s.relay(b"\x01" * 160, 0.0, 160)  # the full path's echo of that packet
    first = RtpPacket.parse(s.datagrams_to_send()[0][0])
    out = []
    for i in range(2, 6):
        data = s.relay_rtp(pkt(i, payload=bytes([i]) * 160), PEER, 0.02 * (i - 1), len)
        assert data is not None
        out.append(RtpPacket.parse(data))
    assert [p.payload for p in out] == [bytes([i]) * 160 for i in range(2, 6)]
    assert {p.ssrc for p in out} == {0x1111} and {p.payload_type for p in out} == {0}
    assert [p.sequence_number for p in out] == [(first.sequence_number + k) & 0xFFFF for k in range(1, 5)]
    assert [p.timestamp - first.timestamp for p in out] == [160, 320, 480, 640]
    # RFC 3550 §A.1 statistics as on the full path: the first packet was the probation's
    assert s.remote is not None and s.remote.max_seq == 5 and s.remote.received == 4 and s.last_rtp == 0.08
    assert not s.datagrams_to_send()  # handed back, not queued
    received = s.remote.received
    csrc = bytes(RtpPacket(payload_type=0, sequence_number=6, timestamp=960, ssrc=0xABC, payload=b"x", csrc=(7,)))
    for data, addr in [
        (pkt(6), STRANGER),  # not the latched source
        (pkt(6, pt=101, payload=bytes([5, 0x0A, 0, 160])), PEER),  # a telephone-event: a digit, not audio
        (csrc, PEER),  # a header the fast path does not read
        (pkt(6, ssrc=0xDEF), PEER),  # a new source of the same address
    ]:
        assert s.relay_rtp(data, addr, 0.1, len) is None
    assert s.remote.received == received and s.filter.dropped == 0
    s.queue_dtmf("1")  # our own digit is due: the frame goes out as a telephone-event instead
    assert s.relay_rtp(pkt(6), PEER, 0.1, len) is None
