"""Sending at a packet time other than the 20 ms clock: the packetizer (bot audio into
payloads) and the RTP session's packet timestamps, driven frame by frame as the media clock
drives them, with the wire packets parsed back."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from voicebot.media.frames import FRAME
from voicebot.media.packetizer import Packetizer
from voicebot.rtp.packet import RtpPacket
from voicebot.rtp.session import RtpSession, SessionConfig
from voicebot_codecs import get_codec

PEER = ("127.0.0.1", 40000)


def tone(frames: int) -> np.ndarray:
    t = np.arange(frames * FRAME) / 16000
    return (8000 * np.sin(2 * np.pi * 440 * t)).astype(np.int16)


def run(codec_name: str, ptime: int, frames: int, *, dtmf_at: int | None = None) -> tuple[list[int], list[RtpPacket]]:
    """Feed ``frames`` clock frames through a packetizer and a session; returns how many
    packets each frame sent and the packets as the peer would parse them."""
    codec = get_codec(codec_name)
    packer = Packetizer(codec, ptime)
    s = RtpSession(now=0.0, ssrc=0x1111, rng_seed=1)
    step = codec.info.frame_timestamp_step
    cfg = SessionConfig(payload_type=0, clock_rate=codec.clock_rate, frame_samples=step, telephone_event_pt=101)
    s.configure(cfg, remote_rtp=PEER, remote_rtcp=None, now=0.0)
    s.start(0.0)
    audio = tone(frames)
    per_frame, wire = [], []
    for i in range(frames):
        if i == dtmf_at:
            s.queue_dtmf("5", 100)
        assert s.frames_due(i * 0.020) == 1
        s.send_frame(packer.push(audio[i * FRAME : (i + 1) * FRAME]), speech=True, samples=packer.timestamp_step)
        sent = [RtpPacket.parse(d) for d, _dest, rtcp in s.datagrams_to_send() if not rtcp]
        per_frame.append(len(sent))
        wire += sent
    return per_frame, wire


@pytest.mark.parametrize(
    ("ptime", "pattern", "length"),
    [
        (20, [1, 1, 1], 160),
        (40, [0, 1, 0, 1], 320),  # one packet of two frames every second tick
        (10, [2, 2], 80),  # two packets a tick
        (30, [0, 1, 1], 240),  # two packets every three ticks
        (60, [0, 0, 1], 480),
    ],
)
def test_g711_packets_carry_the_ptime_and_follow_the_clock(ptime: int, pattern: list[int], length: int) -> None:
    per_frame, wire = run("PCMU/8000", ptime, 12)
    assert per_frame == (pattern * 12)[:12]
    assert {len(p.payload) for p in wire} == {length}
    steps = {(b.timestamp - a.timestamp) & 0xFFFFFFFF for a, b in itertools.pairwise(wire)}
    assert steps == {length}  # contiguous: each packet starts where the one before ended
    assert [p.sequence_number for p in wire] == [(wire[0].sequence_number + i) & 0xFFFF for i in range(len(wire))]
    assert wire[0].marker and not any(p.marker for p in wire[1:])


def test_opus_sends_one_40_ms_packet_every_second_tick() -> None:
    per_frame, wire = run("opus/48000/2", 40, 10)
    assert per_frame == [0, 1] * 5
    codec = get_codec("opus/48000/2")
    assert {codec.payload_duration(p.payload) for p in wire} == {1920}
    assert {(b.timestamp - a.timestamp) & 0xFFFFFFFF for a, b in itertools.pairwise(wire)} == {1920}


def test_dtmf_in_the_middle_of_40_ms_packets_keeps_the_audio_on_its_timeline() -> None:
    _per_frame, wire = run("PCMU/8000", 40, 30, dtmf_at=3)
    audio = [p for p in wire if p.payload_type == 0]
    events = [p for p in wire if p.payload_type == 101]
    assert events and len({p.timestamp for p in events}) == 1
    first = audio[0].timestamp
    # audio packets before and after the digit sit on the same 40 ms grid, never overlapping
    assert all((p.timestamp - first) % 320 == 0 for p in audio)
    assert len({p.timestamp for p in audio}) == len(audio)
    # the digit (and the packets it replaced) took the place of audio, not extra time
    assert (audio[-1].timestamp - first) // 320 + 1 == 15
