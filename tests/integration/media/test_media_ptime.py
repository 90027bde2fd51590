"""Packet times other than 20 ms between two real MediaStreams over loopback UDP: each side
sends the packet time the other asked for, receives whatever arrives (10 to 60 ms packets,
through the jitter buffer and decoder), and speech crosses intact both ways."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from voicebot.media import MediaStream, read_wav

from .conftest import Params
from .test_media_stream import wire_reference

Corr = Callable[[np.ndarray, np.ndarray], float]


@pytest.mark.parametrize(
    ("codec", "pt", "a_sends", "b_sends"),
    [
        ("PCMU/8000", 0, 40, 20),  # one packet of two frames every second tick one way, 20 ms back
        ("PCMA/8000", 8, 10, 30),  # two packets a tick one way, a packet on two ticks of three back
        ("opus/48000/2", 111, 60, 40),  # multi-frame Opus packets both ways
    ],
)
async def test_speech_crosses_both_ways_at_any_packet_time(
    codec: str, pt: int, a_sends: int, b_sends: int, speech_wav: Path, tmp_path: Path, correlate_windowed: Corr,
    read_wav_channels: Any,
) -> None:  # fmt: skip
    a = await MediaStream.open("127.0.0.1")
    b = await MediaStream.open("127.0.0.1")
    try:
        a.configure(Params(b.local_address, codec, pt, ptime=a_sends))  # B's a=ptime asked for a_sends
        b.configure(Params(a.local_address, codec, pt, ptime=b_sends))
        a.start_recording(tmp_path / "a.wav")
        b.start_recording(tmp_path / "b.wav")
        await a.start()
        await b.start()
        await asyncio.gather(a.play_wav(speech_wav), b.play_wav(speech_wav))  # both talk at once
        await asyncio.sleep(0.5)
        a_stats, b_stats = a.stats(), b.stats()
    finally:
        await a.close()
        await b.close()
    assert (a_stats["ptime"], b_stats["ptime"]) == (a_sends, b_sends)
    for stream, stats, ptime in ((a, a_stats, a_sends), (b, b_stats, b_sends)):
        out = stats["outbound-rtp"]
        # on the wire: one packet per ptime of audio, not one per 20 ms frame of the clock
        assert abs(out["packetsSent"] * ptime - stream.frames_out * 20) <= 2 * ptime, (out, stream.frames_out)
        if codec.endswith("/8000"):  # G.711: a byte per sample, so the payload length is the ptime
            assert out["bytesSent"] == out["packetsSent"] * 8 * ptime
        inbound = stats["inbound-rtp"]
        assert inbound["packetsLost"] == 0 and inbound["decodeErrors"] == 0
    # each side heard the other's speech, decoded from the other's packet size
    ref = wire_reference(read_wav(speech_wav), codec)
    assert correlate_windowed(ref, read_wav_channels(tmp_path / "b.wav")[:, 0]) >= 0.9
    assert correlate_windowed(ref, read_wav_channels(tmp_path / "a.wav")[:, 0]) >= 0.9


async def test_relayed_echo_returns_40_ms_packets_as_they_came(
    speech_wav: Path, tmp_path: Path, correlate_windowed: Corr, read_wav_channels: Any
) -> None:
    a = await MediaStream.open("127.0.0.1")
    b = await MediaStream.open("127.0.0.1")
    try:
        a.configure(Params(b.local_address, ptime=40))
        b.configure(Params(a.local_address))
        b.set_echo(True)  # nothing else on B: each packet goes straight back, untouched
        a.start_recording(tmp_path / "a.wav")
        await a.start()
        await b.start()
        await a.play_wav(speech_wav)
        await asyncio.sleep(0.5)
        a_stats, b_stats = a.stats(), b.stats()
    finally:
        await a.close()
        await b.close()
    relayed = b_stats["outbound-rtp"]
    assert abs(relayed["packetsSent"] - b_stats["inbound-rtp"]["packetsReceived"]) <= 1
    assert relayed["bytesSent"] == relayed["packetsSent"] * 320  # 40 ms of G.711 each
    assert a_stats["inbound-rtp"]["packetsLost"] == 0
    ref = wire_reference(read_wav(speech_wav), "PCMU/8000")
    assert correlate_windowed(ref, read_wav_channels(tmp_path / "a.wav")[:, 0]) >= 0.9
