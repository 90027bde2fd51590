"""RTP injection against a live MediaStream, from a stranger's socket on 127.0.0.2.

The known weakness of issue 13: when the caller's own RTP starts late, a stranger that sends
first used to be latched. Now the SDP address is preferred: a burst, or a short run, from
elsewhere is dropped, nothing is sent to the stranger, and the caller's late audio is heard.
With SRTP, nothing without the key even reaches the source filter."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path
from typing import Any

import numpy as np

from tests.integration.media.conftest import Params
from tests.integration.media.test_media_stream import wire_reference
from voicebot.media import read_wav
from voicebot.media.stream import MediaStream
from voicebot.rtp.packet import RtpPacket
from voicebot.sip.sdes import Crypto, SrtpKeys

STRANGER = "127.0.0.2"


def noise_packets(n: int, seq0: int = 1000) -> list[bytes]:
    rng = np.random.default_rng(7)
    return [
        bytes(RtpPacket(payload_type=0, sequence_number=seq0 + i, timestamp=160 * i, ssrc=0xBAD,
                        payload=bytes(rng.integers(0, 256, 160, dtype=np.uint8))))
        for i in range(n)
    ]  # fmt: skip


async def test_a_stranger_firing_first_is_not_latched(
    speech_wav: Path, tmp_path: Path, correlate_windowed: Any, read_wav_channels: Any
) -> None:
    a = await MediaStream.open("127.0.0.1")
    b = await MediaStream.open("127.0.0.1")
    stranger = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    stranger.bind((STRANGER, 0))
    stranger.setblocking(False)
    try:
        a.configure(Params(b.local_address))
        b.configure(Params(a.local_address))
        b.set_echo(True)
        a.start_recording(tmp_path / "a.wav")
        await b.start()
        packets = noise_packets(60)
        for p in packets[:40]:  # a burst: 40 packets at once
            stranger.sendto(p, b.local_address)
        for p in packets[40:45]:  # then a short paced run
            await asyncio.sleep(0.02)
            stranger.sendto(p, b.local_address)
        await a.start()  # the caller's RTP starts late
        await a.play_wav(speech_wav)
        for p in packets[45:]:  # the stranger keeps trying once the caller is there
            stranger.sendto(p, b.local_address)
        await asyncio.sleep(0.4)
        got = 0
        while True:
            try:
                stranger.recv(2048)
                got += 1
            except BlockingIOError:
                break
    finally:
        stranger.close()
        await a.close()
        await b.close()
    stats = b.stats()
    assert stats["transport"]["remoteAddress"] == a.local_address
    assert stats["inbound-rtp"]["packetsFromUnknownSource"] >= 45  # the burst and the run, all dropped
    assert got == 0  # not one packet of the call went to the stranger
    back = read_wav_channels(tmp_path / "a.wav")[:, 0]
    assert correlate_windowed(wire_reference(read_wav(speech_wav), "PCMU/8000"), back) >= 0.9


async def test_srtp_call_refuses_what_is_not_keyed(
    speech_wav: Path, tmp_path: Path, correlate_windowed: Any, read_wav_channels: Any
) -> None:
    ka, kb = Crypto.new(1, "AES_CM_128_HMAC_SHA1_80"), Crypto.new(1, "AES_CM_128_HMAC_SHA1_80")
    a = await MediaStream.open("127.0.0.1")
    b = await MediaStream.open("127.0.0.1")
    stranger = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    stranger.bind((STRANGER, 0))
    try:
        a.configure(Params(b.local_address, srtp=SrtpKeys(suite=ka.suite, local=ka.key, remote=kb.key)))
        b.configure(Params(a.local_address, srtp=SrtpKeys(suite=kb.suite, local=kb.key, remote=ka.key)))
        b.set_echo(True)
        a.start_recording(tmp_path / "a.wav")
        await a.start()
        await b.start()
        for p in noise_packets(30):  # plain RTP, forged: fails authentication
            stranger.sendto(p, b.local_address)
        await a.play_wav(speech_wav)
        await asyncio.sleep(0.4)
    finally:
        stranger.close()
        await a.close()
        await b.close()
    stats = b.stats()
    assert stats["transport"]["srtpSuite"] == "AES_CM_128_HMAC_SHA1_80"
    assert stats["transport"]["srtpRejected"] == 30
    assert stats["inbound-rtp"]["packetsFromUnknownSource"] == 0  # refused before the source filter
    back = read_wav_channels(tmp_path / "a.wav")[:, 0]
    assert correlate_windowed(wire_reference(read_wav(speech_wav), "PCMU/8000"), back) >= 0.9
