"""A stalled event loop must not cost the far end's audio.

The far end keeps sending in real time (here a thread with its own UDP socket) while the
loop is blocked, as it is when a C extension holds the GIL (building a pocketsphinx decoder
froze it for half a second, measured). When the loop runs again the media clock catches up
all the frames that fell due; asyncio would by then have read only one of the datagrams
waiting in the socket, so without reading the rest first the stream conceals audio that
actually arrived — that is what cut the barge-in word short.
"""

from __future__ import annotations

import asyncio
import itertools
import socket
import threading
import time

import numpy as np
import pytest

from voicebot.media import MediaStream
from voicebot.media.frames import AudioFrame
from voicebot.rtp.packet import RtpPacket
from voicebot_codecs import get_codec

from ..media.conftest import Params

PACKETS = 100  # 2 s of tone
STALL_AT = 30  # the loop freezes after this many packets have been sent
STALL = 0.4


def _sender(sock: socket.socket, dest: tuple[str, int], started: threading.Event, stall: threading.Event) -> None:
    enc = get_codec("PCMU/8000").encoder()
    t = np.arange(160) / 8000
    tone = enc.encode((np.sin(2 * np.pi * 440 * t) * 12000).astype(np.int16))
    started.set()
    t0 = time.monotonic()
    for i in range(PACKETS):
        delay = t0 + i * 0.02 - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        pkt = RtpPacket(payload_type=0, sequence_number=500 + i, timestamp=160 * i, ssrc=0xF00D, payload=tone)
        sock.sendto(bytes(pkt), dest)
        if i == STALL_AT:
            stall.set()


async def _stalled_call() -> list[AudioFrame]:
    far = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    far.bind(("127.0.0.1", 0))
    far.setblocking(False)
    stream = await MediaStream.open("127.0.0.1")
    stream.configure(Params(far.getsockname(), "PCMU/8000", 0))
    frames: list[AudioFrame] = []

    async def collect() -> None:
        async for f in stream.frames():
            frames.append(f)

    started, stall = threading.Event(), threading.Event()
    thread = threading.Thread(target=_sender, args=(far, stream.local_address, started, stall), daemon=True)
    try:
        await stream.start()
        task = asyncio.create_task(collect())
        thread.start()
        await asyncio.to_thread(stall.wait, 10)
        time.sleep(STALL)  # the loop is frozen; the far end keeps talking
        await asyncio.to_thread(thread.join, 10)
        await asyncio.sleep(0.3)
    finally:
        await stream.close()
        far.close()
    await asyncio.wait_for(task, 5)
    return frames


def test_frames_that_arrived_during_a_loop_stall_are_played_not_concealed() -> None:
    frames = asyncio.run(_stalled_call())
    loud = [i for i, f in enumerate(frames) if np.abs(f.pcm.astype(np.int32)).max() > 3000]
    tone_span = frames[loud[0] : loud[-1] + 1]
    played = [f for f in tone_span if not f.concealed]
    # every packet is played out, once: none was taken for late and
    # concealed, none skipped by the catch-up (the jitter buffer may still insert a frame or
    # two where the sending thread itself ran late)
    pattern = "".join("C" if f.concealed else ("T" if i in loud else ".") for i, f in enumerate(frames))
    assert len(played) == PACKETS, f"{PACKETS - len(played)} of {PACKETS} packets not played: {pattern}"
    assert all(b.media_time - a.media_time == pytest.approx(0.02) for a, b in itertools.pairwise(frames))
