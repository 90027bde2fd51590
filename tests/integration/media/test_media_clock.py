"""The per-loop media clock, the echo pass-through and the kernel receive timestamps, on a
real event loop and real loopback sockets."""

from __future__ import annotations

import asyncio
import os
import socket
import time
import wave
from pathlib import Path

import numpy as np

from voicebot.media import MediaStream
from voicebot.media.clock import PTIME, MediaClock
from voicebot.rtp.packet import RtpPacket
from voicebot.transport.buffers import (
    ANCILLARY_SPACE,
    arrival_time,
    enable_timestamps,
    kernel_receive_cap,
    realtime_offset,
    size_receive_buffer,
)
from voicebot.transport.rtp import RtpTransport

from .conftest import Params


class Counting:
    def __init__(self, fail: bool = False) -> None:
        self.ticks: list[float] = []
        self.fail = fail

    def tick(self, now: float) -> None:
        self.ticks.append(now)
        if self.fail:
            raise RuntimeError("a broken stream")


async def test_one_tick_serves_every_stream_on_an_accumulated_deadline() -> None:
    clock = MediaClock.for_loop()
    assert MediaClock.for_loop() is clock  # one per loop
    streams = [Counting(), Counting(fail=True), Counting()]
    for s in streams:
        clock.register(s)
        clock.register(s)  # twice is harmless
    start = clock.next_tick()
    await asyncio.sleep(0.5)
    for s in streams:
        clock.unregister(s)
    ticks = streams[0].ticks
    assert streams[2].ticks == ticks == streams[1].ticks  # the same instants; a failing stream stops nobody
    assert 20 <= len(ticks) <= 26
    assert clock.ticks == len(ticks)
    # never earlier than its deadline, and the deadlines are start + k * 20 ms (no drift)
    for k, t in enumerate(ticks[:-1]):
        assert t >= start + k * PTIME - 1e-9
    assert len(clock) == 0
    await asyncio.sleep(0.1)
    assert clock.ticks == len(ticks)  # stopped with the last stream


async def test_a_stalled_loop_does_not_fire_the_missed_ticks_back_to_back() -> None:
    clock = MediaClock.for_loop()
    s = Counting()
    clock.register(s)
    await asyncio.sleep(0.1)
    time.sleep(0.2)  # block the loop for ten ticks
    await asyncio.sleep(0.1)
    clock.unregister(s)
    gaps = [b - a for a, b in zip(s.ticks, s.ticks[1:], strict=False)]
    assert max(gaps) >= 0.19  # one late tick, the stream catches up on its own RTP clock
    assert clock.ticks_skipped >= 8
    assert sum(1 for g in gaps if g < 0.005) == 0  # no burst of ticks


def rtp(i: int, payload: bytes) -> bytes:
    return bytes(RtpPacket(payload_type=0, sequence_number=i, timestamp=i * 160, ssrc=0x1234, payload=payload))


async def test_echo_sends_the_callers_payloads_back_untouched() -> None:
    """Echo with nothing else using the audio skips decode, resampling and encode."""
    peer = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    peer.bind(("127.0.0.1", 0))
    peer.setblocking(False)
    stream = await MediaStream.open("127.0.0.1")
    stream.configure(Params(peer.getsockname(), "PCMU/8000", 0, telephone_event_pt=None))
    stream.set_echo(True)
    await stream.start()
    loop = asyncio.get_running_loop()
    sent = [os.urandom(160) for _ in range(50)]
    back: list[bytes] = []
    try:
        for i, payload in enumerate(sent):
            peer.sendto(rtp(i, payload), stream.local_address)
            await asyncio.sleep(PTIME)
        end = loop.time() + 1.0
        while loop.time() < end:
            try:
                back.append(RtpPacket.parse(peer.recv(2048)).payload)
            except BlockingIOError:
                await asyncio.sleep(0.01)
    finally:
        await stream.close()
        peer.close()
    echoed = [p for i, p in enumerate(back) if p in set(sent) and (i == 0 or back[i - 1] != p)]  # one per frame
    assert len(echoed) >= 45  # the random payloads come back byte for byte, in order
    assert echoed == [p for p in sent if p in set(echoed)]


async def test_relayed_echo_hands_over_to_the_clock_when_bot_audio_and_a_recording_start(tmp_path: Path) -> None:
    """While echo is relayed the ticks with no session timer due return at once (the RTCP
    interval is a minute here); when bot audio and a recording start, the playout grid picks
    up where the clock is, as if every tick had run: the recording grows with the wall clock,
    not by the relayed seconds in one go, and the clock is never seconds late."""
    peer = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    peer.bind(("127.0.0.1", 0))
    peer.setblocking(False)
    stream = await MediaStream.open("127.0.0.1", rtcp_interval=60.0)
    stream.configure(Params(peer.getsockname(), "PCMU/8000", 0, telephone_event_pt=None))
    stream.set_echo(True)
    await stream.start()
    loop = asyncio.get_running_loop()
    payload = b"\x55" * 160
    echoed = 0

    async def talk(first: int, count: int) -> None:
        nonlocal echoed
        for i in range(first, first + count):
            peer.sendto(rtp(i, payload), stream.local_address)
            await asyncio.sleep(PTIME)
            try:
                while True:
                    echoed += RtpPacket.parse(peer.recv(2048)).payload == payload
            except BlockingIOError:
                pass

    try:
        await talk(0, 75)  # 1.5 s of echo relayed packet by packet
        relayed = echoed
        started = loop.time()
        stream.start_recording(tmp_path / "r.wav")
        stream.play(np.full(16000, 1000, dtype=np.int16))
        await talk(75, 25)
        stream.stop_recording()
        wall = loop.time() - started
        late_ms = stream.stats()["media-clock"]["lateMaxMs"]
    finally:
        await stream.close()
        peer.close()
    assert relayed >= 65  # the relay ran
    with wave.open(str(tmp_path / "r.wav")) as w:
        recorded = w.getnframes() / w.getframerate()
    assert wall - 0.3 <= recorded <= wall + 0.1, (recorded, wall)
    assert late_ms < 1000, late_ms


async def test_a_digit_without_end_packets_is_reported_while_echo_is_relayed() -> None:
    """A telephone-event whose end packets never come is reported after the receiver's
    timeout (1 s), though the relaying stream's ticks skip ahead to a timer a minute away."""
    peer = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    peer.bind(("127.0.0.1", 0))
    stream = await MediaStream.open("127.0.0.1", rtcp_interval=60.0)
    stream.configure(Params(peer.getsockname(), "PCMU/8000", 0, telephone_event_pt=101))
    stream.set_echo(True)
    await stream.start()
    try:
        for i in range(25):  # the relay is running
            peer.sendto(rtp(i, b"\x55" * 160), stream.local_address)
            await asyncio.sleep(PTIME)
        for k in range(3):  # digit 5, no end bit, then nothing more of it
            event = RtpPacket(payload_type=101, sequence_number=25 + k, timestamp=25 * 160, ssrc=0x1234,
                              payload=bytes([5, 10]) + (160 * (k + 1)).to_bytes(2, "big"), marker=k == 0)  # fmt: skip
            peer.sendto(bytes(event), stream.local_address)
            await asyncio.sleep(PTIME)
        digit = await asyncio.wait_for(stream.dtmf_events.get(), 3.0)
    finally:
        await stream.close()
        peer.close()
    assert digit.digit == "5" and digit.source == "rfc4733"


async def test_a_backlog_on_an_rtp_socket_is_read_in_one_wake_up_with_its_arrival_times() -> None:
    """A packet that just arrived is read alone (no second read that would find the socket
    empty); packets that queued while the loop was held are read in the same wake-up as the
    first of them (a callback it schedules runs after all of them), stamped when they came."""
    transport = await RtpTransport.open("127.0.0.1")
    loop = asyncio.get_running_loop()
    got: list[tuple[bytes, float]] = []
    turns: list[int] = []  # datagrams delivered before the loop's next turn, from each first one

    def on_rtp(data: bytes, addr: tuple[str, int], at: float) -> None:
        if not got or turns:
            loop.call_soon(lambda: turns.append(len(got)))
        got.append((data, at))

    transport.on_rtp = on_rtp
    peer = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        sent_at = loop.time()
        for i in range(5):
            peer.sendto(rtp(i, b"x"), transport.local_address)
        time.sleep(0.05)  # the loop is held: they queue
        await asyncio.sleep(0.05)
        peer.sendto(rtp(5, b"x"), transport.local_address)  # a fresh one
        await asyncio.sleep(0.05)
    finally:
        peer.close()
        transport.close()
    assert [d for d, _ in got] == [rtp(i, b"x") for i in range(6)]
    assert turns[0] == 5, turns  # the backlog in one wake-up
    assert all(abs(at - sent_at) < 0.02 for _, at in got[:5])


def test_kernel_receive_time_is_the_arrival_not_the_read() -> None:
    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        rx.bind(("127.0.0.1", 0))
        assert enable_timestamps(rx)
        sent_at = time.monotonic()
        tx.sendto(b"x", rx.getsockname())
        time.sleep(0.15)  # the reader is busy elsewhere
        _data, ancillary, _flags, _addr = rx.recvmsg(64, ANCILLARY_SPACE)
        arrival = arrival_time(ancillary, realtime_offset())
        assert arrival is not None and abs(arrival - sent_at) < 0.02
    finally:
        rx.close()
        tx.close()


def test_receive_buffer_is_granted_up_to_the_kernel_cap() -> None:
    cap = kernel_receive_cap()
    assert cap is not None
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        assert size_receive_buffer(s, 1 << 16) >= 1 << 16
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        got = size_receive_buffer(s, cap * 4)
        assert got <= cap * 2 and got < cap * 4
