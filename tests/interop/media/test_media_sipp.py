"""SIPp replays real RTP captures (PCMA speech, RFC 4733 digits) into a voicebot call."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from voicebot.agent import UserAgent
from voicebot.media import read_wav
from voicebot.rtp.events import DtmfDigit
from voicebot_codecs import get_codec, resample

from .conftest import (
    SIPP_CAPTURES,
    aligned_correlation,
    free_udp_port,
    pcap_rtp,
    read_channels,
    run_sipp,
    sipp_exe,
    windowed_correlation,
)

pytestmark = pytest.mark.interop


def capture_audio() -> np.ndarray:
    """The speech in SIPp's g711a.pcap, decoded and at 16 kHz."""
    dec = get_codec("PCMA/8000").decoder()
    pcm = np.concatenate([dec.decode(pkt[12:]) for pkt in pcap_rtp(SIPP_CAPTURES / "g711a.pcap")])
    return resample(pcm, 8000, 16000)


def test_serve_records_sipp_pcap_audio(serve: Any, tmp_path: Path) -> None:
    """``voicebot serve --record``: the caller channel holds the capture's speech (30 ms PCMA
    packets, another SSRC for the digits), the bot channel is silent."""
    sipp_exe()
    rec = tmp_path / "call.wav"
    server = serve("--record-wav", str(rec))
    run_sipp("uac_pcap_media.xml", f"127.0.0.1:{server.port}")
    out = server.stop()
    assert "call 1" in out and "ended by remote" in out, out
    channels = read_channels(rec)
    assert channels.shape[1] == 2
    assert windowed_correlation(capture_audio(), channels[:, 0]) >= 0.9
    assert np.abs(channels[:, 1]).max() == 0


async def test_sipp_rfc4733_digits_reach_the_call() -> None:
    """The same SIPp call into the library API: the three RFC 4733 captures arrive as three
    digits with the durations written in them (end packet sent three times, counted once)."""
    sipp_exe()
    port = free_udp_port()
    digits: list[DtmfDigit] = []
    stats: dict[str, Any] = {}

    async def handle(call: Any) -> None:
        await call.answer()
        media = call.media
        assert media is not None
        while len(digits) < 3:
            digits.append(await media.dtmf_events.get())
        stats.update(media.stats())

    async with UserAgent(listen=f"127.0.0.1:{port}", user="bot") as ua:
        ua.on_call(handle)
        await asyncio.to_thread(run_sipp, "uac_pcap_media.xml", f"127.0.0.1:{port}")
    assert [(d.digit, d.source) for d in digits] == [("1", "rfc4733"), ("5", "rfc4733"), ("#", "rfc4733")]
    assert digits[0].duration_ms == 280  # 2240 timestamp units in dtmf_2833_1.pcap
    assert stats["inbound-rtp"]["packetsFromUnknownSource"] == 0, stats


def test_dial_play_record_against_sipp_rtp_echo(tmp_path: Path) -> None:
    """``voicebot dial --play --record`` calls SIPp's built-in UAS with ``-rtp_echo``: SIPp
    sends our RTP straight back, so the caller channel of our recording is our prompt."""
    import subprocess
    import sys

    from .conftest import free_even_port_pair, stop_process

    exe = sipp_exe()
    port = free_udp_port()
    sipp = subprocess.Popen(
        [exe, "-sn", "uas", "-rtp_echo", "-i", "127.0.0.1", "-p", str(port), "-mp", str(free_even_port_pair()),
         "-m", "1", "-nostdin", "-timeout", "60s"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True, cwd=tmp_path,
    )  # fmt: skip
    try:
        prompt = tmp_path / "prompt.wav"
        subprocess.run(["espeak-ng", "-w", str(prompt), "Testing one two three, echo check."], check=True, timeout=60)
        rec = tmp_path / "dial.wav"
        dial = subprocess.run(
            [sys.executable, "-m", "voicebot", "dial", f"sip:echo@127.0.0.1:{port}", "--play", str(prompt),
             "--record-wav", str(rec), "--hangup-after", "4"],
            capture_output=True, timeout=60,
        )  # fmt: skip
        assert dial.returncode == 0, dial.stdout.decode() + dial.stderr.decode()
        sipp.wait(timeout=15)
    finally:
        stop_process(sipp)
    channels = read_channels(rec)
    src = read_wav(prompt)
    narrow = resample(resample(src, 16000, 8000), 8000, 16000)  # SIPp's UAS answers PCMU only
    assert windowed_correlation(narrow, channels[:, 0]) >= 0.9
    assert aligned_correlation(src, channels[:, 1]) >= 0.99
