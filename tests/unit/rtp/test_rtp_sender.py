"""Sender pacing (accumulated deadline), marker bit, sequence/timestamp wraparound."""

from __future__ import annotations

import random

from voicebot.rtp.packet import RtpPacket
from voicebot.rtp.session import RtpSender


def make(start: float = 100.0, seq: int = 0, ts: int = 0) -> RtpSender:
    return RtpSender(
        ssrc=1, payload_type=0, clock_rate=8000, frame_samples=160, start=start, initial_seq=seq, initial_ts=ts
    )


def test_ten_minutes_of_late_wakeups_never_drift() -> None:
    """The driver wakes 0-15 ms late every time (a busy loop); after 10 minutes the last sent
    timestamp still matches the wall clock within one frame."""
    rng = random.Random(5)
    s = make()
    now = s.start
    last_ts = None
    sent = 0
    while now < s.start + 600.0:
        for _ in range(s.frames_due(now)):
            pkt = s.audio(b"\xff" * 160, speech=False)
            last_ts = pkt.timestamp
            sent += 1
        now = s.next_deadline + rng.uniform(0.0, 0.015)
    assert last_ts is not None
    elapsed_wall = now - s.start
    elapsed_media = ((last_ts - s.ts0) & 0xFFFFFFFF) / 8000
    assert abs(elapsed_wall - elapsed_media) <= 0.020 + 0.015
    assert sent == 30000  # every frame of the 10 minutes was sent, none skipped
    assert s.frames_skipped == 0


def test_naive_now_plus_ptime_pacing_would_drift() -> None:
    """The contrast that motivates the accumulated deadline: re-arming at ``now + 20 ms`` with the
    same late wake-ups falls minutes behind over 10 minutes."""
    rng = random.Random(5)
    now, frames = 0.0, 0
    while now < 600.0:
        frames += 1
        now += 0.020 + rng.uniform(0.0, 0.015)
    assert 600.0 - frames * 0.020 > 60.0


def test_stall_skips_frames_but_keeps_timestamps_on_the_clock() -> None:
    s = make()
    assert s.frames_due(s.start) == 1
    s.audio(b"x", speech=True)
    due = s.frames_due(s.start + 1.0)  # the loop stalled for a second
    assert due == s.max_burst
    pkts = [s.audio(b"x", speech=True) for _ in range(due)]
    assert s.frames_skipped > 0
    assert (pkts[-1].timestamp - s.ts0) / 8000 == 1.0
    assert pkts[0].marker  # skipped frames end the talk spurt


def test_marker_bit_at_talk_spurt_start_only() -> None:
    s = make()
    flags = []
    for speech in [False, False, True, True, True, False, True, True]:
        flags.append(s.audio(b"x", speech=speech).marker)
    assert flags == [True, False, True, False, False, False, True, False]


def test_sequence_and_timestamp_wrap() -> None:
    s = make(seq=0xFFFE, ts=0xFFFFFF00)
    pkts = [RtpPacket.parse(bytes(s.audio(b"x", speech=True))) for _ in range(4)]
    assert [p.sequence_number for p in pkts] == [0xFFFE, 0xFFFF, 0, 1]
    assert [p.timestamp for p in pkts] == [0xFFFFFF00, 0xFFFFFFA0 & 0xFFFFFFFF, 0x40, 0xE0]


def test_telephone_event_keeps_its_timestamp_and_audio_resumes_on_the_clock() -> None:
    s = make()
    a = s.audio(b"x", speech=True)
    e1 = RtpPacket.parse(s.event(b"ev", payload_type=101, new_event=True))
    e2 = RtpPacket.parse(s.event(b"ev", payload_type=101, new_event=False))
    b = s.audio(b"x", speech=True)
    assert e1.timestamp == e2.timestamp == a.timestamp + 160
    assert e1.marker and not e2.marker
    assert b.timestamp == a.timestamp + 3 * 160
    assert b.marker  # a new talk spurt after the event
