"""RFC 4733 telephone-events: sending shape and de-duplicating receiver."""

from __future__ import annotations

import pytest

from voicebot.errors import LocalProtocolError, RemoteProtocolError
from voicebot.rtp.dtmf import DtmfReceiver, DtmfSender, TelephoneEvent


def test_sender_shape_growing_duration_and_three_end_packets() -> None:
    s = DtmfSender(8000, 160)
    s.queue("5", 100)
    frames = []
    while (f := s.next_frame()) is not None:
        frames.append(f)
    events = [TelephoneEvent.parse(p) for p, _, _ in frames]
    assert [e.event for e in events] == [5] * len(events)
    assert frames[0][1] is True and not any(new for _, new, _ in frames[1:])
    durations = [e.duration for e in events]
    assert durations == [160, 320, 480, 640, 800, 800, 800]
    assert [e.end for e in events] == [False] * 4 + [True] * 3
    assert s.active  # the pause between digits still owns a few frames
    while s.active:
        assert s.next_frame() is None


def test_sender_rejects_bad_digits_and_durations() -> None:
    s = DtmfSender(8000, 160)
    with pytest.raises(LocalProtocolError):
        s.queue("12x")
    with pytest.raises(LocalProtocolError):
        s.queue("1", duration_ms=5000)
    s.queue("*#abcd")
    assert s.active


def test_receiver_reports_each_event_once() -> None:
    r = DtmfReceiver(8000)
    got = []
    for dur in (160, 320, 480, 640):
        got += r.receive(1000, bytes(TelephoneEvent(event=11, end=False, volume=10, duration=dur)), 0.0)
    assert got == []
    end = bytes(TelephoneEvent(event=11, end=True, volume=10, duration=800))
    for _ in range(3):
        got += r.receive(1000, end, 0.1)
    assert [(d.digit, d.duration_ms, d.source) for d in got] == [("#", 100, "rfc4733")]


def test_receiver_recovers_lost_end_packets() -> None:
    r = DtmfReceiver(8000, timeout=0.5)
    r.receive(1000, bytes(TelephoneEvent(event=1, end=False, volume=10, duration=320)), 0.0)
    nxt = r.receive(5000, bytes(TelephoneEvent(event=2, end=False, volume=10, duration=160)), 0.3)
    assert [d.digit for d in nxt] == ["1"]
    assert r.poll(0.5) == []
    late = r.poll(0.9)
    assert [(d.digit, d.duration_ms) for d in late] == [("2", 20)]


def test_receiver_ignores_non_dtmf_events_and_rejects_short_payloads() -> None:
    r = DtmfReceiver(8000)
    assert r.receive(1, bytes(TelephoneEvent(event=70, end=True, volume=0, duration=160)), 0.0) == []
    with pytest.raises(RemoteProtocolError):
        r.receive(2, b"\x01\x02", 0.0)
