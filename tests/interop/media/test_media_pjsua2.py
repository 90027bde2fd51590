"""PJSIP (pjsua2, its own process) calls ``voicebot serve --play --record``: each side plays a
different real utterance and records the other; both directions must correlate >= 0.9 with
their sources after delay alignment (clean loopback)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from voicebot.media import read_wav
from voicebot_codecs import resample

from .conftest import HERE, aligned_correlation, read_channels, windowed_correlation

pytestmark = pytest.mark.interop

CALLER = "My order number is four five six. I would like to change the delivery date."
BOT = "Thank you. Your delivery has been moved to Friday morning."


def espeak(text: str, path: Path, voice: str | None = None) -> Path:
    """A recording of ``text`` spoken by the espeak-ng CLI (its default voice, or ``voice``)."""
    exe = shutil.which("espeak-ng")
    if exe is None:
        pytest.skip("espeak-ng is not installed (Debian package espeak-ng)")
    subprocess.run([exe, *(["-v", voice] if voice else []), "-w", str(path), text], check=True, timeout=60)
    return path


def narrowband(pcm: Any) -> Any:
    """What a G.711 call can carry: the source band-limited through 8 kHz."""
    return resample(resample(pcm, 16000, 8000), 8000, 16000)


def test_pjsua2_and_voicebot_hear_each_other(serve: Any, tmp_path: Path) -> None:
    pytest.importorskip("pjsua2", reason="pjsua2-python is a test dependency (pip install pjsua2-python)")
    caller_wav = espeak(CALLER, tmp_path / "caller.wav")
    bot_wav = espeak(BOT, tmp_path / "bot.wav")
    ours = tmp_path / "voicebot.wav"
    theirs = tmp_path / "pjsua.wav"
    server = serve("--play", str(bot_wav), "--record-wav", str(ours))
    peer = subprocess.run(
        [sys.executable, str(HERE / "pjsua_peer.py"), f"sip:bot@127.0.0.1:{server.port}", str(caller_wav),
         str(theirs), "7"],
        capture_output=True, timeout=60, start_new_session=True,
    )  # fmt: skip
    out = server.stop()
    peer_out = peer.stdout.decode(errors="replace") + peer.stderr.decode(errors="replace")
    assert peer.returncode == 0 and "MEDIA ACTIVE" in peer_out, peer_out[-2000:]
    assert "call 1" in out, out
    recorded = read_channels(ours)
    # what voicebot heard from PJSIP (caller channel) and what PJSIP heard from voicebot, each
    # aligned per 100 ms window: on a loaded machine either side's adaptive jitter buffer may
    # insert or remove a 20 ms frame, which shifts the rest of the recording
    assert windowed_correlation(narrowband(read_wav(caller_wav)), recorded[:, 0]) >= 0.9
    assert windowed_correlation(narrowband(read_wav(bot_wav)), read_wav(theirs)) >= 0.9
    # the bot channel of our recording is exactly the prompt we played
    assert aligned_correlation(read_wav(bot_wav), recorded[:, 1]) >= 0.99


async def test_rfc4733_digits_both_ways_with_pjsua2(tmp_path: Path) -> None:
    """pjsua2 sends digits with ``dialDtmf`` (RFC 4733) and prints the ones we send with
    ``MediaStream.send_dtmf``: each side gets every digit exactly once."""
    pytest.importorskip("pjsua2", reason="pjsua2-python is a test dependency (pip install pjsua2-python)")
    import asyncio

    from voicebot.agent import UserAgent

    from .conftest import free_udp_port

    caller_wav = espeak("One moment please.", tmp_path / "caller.wav")
    port = free_udp_port()
    got: list[Any] = []

    async def handle(call: Any) -> None:
        await call.answer()
        media = call.media
        assert media is not None
        await asyncio.sleep(1.5)
        media.send_dtmf("72#", duration_ms=120)
        while len(got) < 3:
            got.append(await media.dtmf_events.get())

    async with UserAgent(listen=f"127.0.0.1:{port}", user="bot") as ua:
        ua.on_call(handle)
        proc = await asyncio.create_subprocess_exec(
            sys.executable, str(HERE / "pjsua_peer.py"), f"sip:bot@127.0.0.1:{port}", str(caller_wav),
            str(tmp_path / "pj.wav"), "5", "49*",
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        try:
            out, _ = await asyncio.wait_for(proc.communicate(), 60)
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
    text = out.decode(errors="replace")
    assert proc.returncode == 0, text[-2000:]
    heard_by_pjsua = [line.split()[1] for line in text.splitlines() if line.startswith("DTMF ")]
    assert heard_by_pjsua == ["7", "2", "#"], text[-2000:]
    assert [(d.digit, d.source) for d in got] == [("4", "rfc4733"), ("9", "rfc4733"), ("*", "rfc4733")]
