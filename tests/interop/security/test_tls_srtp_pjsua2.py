"""SIP over TLS and SRTP (SDES) against PJSIP: pjsua2 with SRTP mandatory calls ``voicebot serve
--tls-cert ... --srtp mandatory`` and, the other way round, ``voicebot dial sips:...`` calls a
pjsua2 that answers on TLS. Each side plays a different utterance and records the other; both
directions must correlate with their sources (so the audio really was encrypted by one side
and decrypted by the other), and the trace shows RTP/SAVP with an a=crypto key."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from tests.interop.media.conftest import aligned_correlation, read_channels, windowed_correlation
from tests.interop.media.test_media_pjsua2 import espeak, narrowband
from tests.procs import free_port
from voicebot.media import read_wav

from .conftest import Certs, Server, run_voicebot

pytestmark = pytest.mark.interop
HERE = Path(__file__).resolve().parent
PEER = HERE / "pjsua_tls_peer.py"

CALLER = "Please send the invoice to the billing office before Friday."
BOT = "Your account number is seven three one. Thank you for calling."


def test_pjsua2_calls_serve_over_tls_with_srtp_mandatory(
    server: Callable[..., Server], certs: Certs, tmp_path: Path
) -> None:
    pytest.importorskip("pjsua2", reason="pjsua2-python is a test dependency")
    caller_wav = espeak(CALLER, tmp_path / "caller.wav")
    bot_wav = espeak(BOT, tmp_path / "bot.wav")
    ours, theirs = tmp_path / "voicebot.wav", tmp_path / "pjsua.wav"
    srv = server(
        "--tls-cert", str(certs.server_cert), "--tls-key", str(certs.server_key), "--tls-port", "0",
        "--srtp", "mandatory", "--play", str(bot_wav), "--record-wav", str(ours), "--trace",
    )  # fmt: skip
    target = f"sip:bot@127.0.0.1:{srv.tls_port};transport=tls"
    peer = subprocess.run(
        [sys.executable, str(PEER), "call", target, str(caller_wav), str(theirs), "7", str(certs.ca)],
        capture_output=True, timeout=60, start_new_session=True,
    )  # fmt: skip
    out = srv.stop()
    peer_out = peer.stdout.decode(errors="replace") + peer.stderr.decode(errors="replace")
    assert peer.returncode == 0 and "MEDIA ACTIVE" in peer_out, peer_out[-2000:]
    assert "received from TLS 127.0.0.1" in out and "m=audio" in out
    assert "RTP/SAVP" in out and "a=crypto:" in out, out[-3000:]
    recorded = read_channels(ours)
    assert windowed_correlation(narrowband(read_wav(caller_wav)), recorded[:, 0]) >= 0.9
    assert windowed_correlation(narrowband(read_wav(bot_wav)), read_wav(theirs)) >= 0.9
    assert aligned_correlation(read_wav(bot_wav), recorded[:, 1]) >= 0.99


def test_dial_calls_pjsua2_over_tls_verifying_it_with_srtp_mandatory(certs: Certs, tmp_path: Path) -> None:
    pytest.importorskip("pjsua2", reason="pjsua2-python is a test dependency")
    caller_wav = espeak(CALLER, tmp_path / "caller.wav")
    bot_wav = espeak(BOT, tmp_path / "bot.wav")
    ours, theirs = tmp_path / "voicebot.wav", tmp_path / "pjsua.wav"
    port = free_port(host="127.0.0.1")
    peer = subprocess.Popen(
        [sys.executable, str(PEER), "answer", str(port), str(bot_wav), str(theirs), "20", str(certs.ca),
         str(certs.server_cert), str(certs.server_key)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    try:
        assert peer.stdout is not None
        head = ""
        while "LISTENING" not in head and peer.poll() is None:
            head += peer.stdout.readline().decode(errors="replace")
        assert "LISTENING" in head, head
        # a server whose certificate our CA did not sign is refused (network failure, exit 7)
        wrong = run_voicebot(
            "dial", f"sips:pj@127.0.0.1:{port}", "--tls-ca", str(certs.other_ca), "--srtp", "mandatory",
            "--timeout", "5", "--no-media",
        )  # fmt: skip
        assert wrong.returncode == 7, wrong.stdout + wrong.stderr
        dial = run_voicebot(
            "dial", f"sips:pj@127.0.0.1:{port}", "--tls-ca", str(certs.ca), "--srtp", "mandatory",
            "--play", str(caller_wav), "--record-wav", str(ours), "--hangup-after", "6", "--json", "--trace",
        )  # fmt: skip
        peer_out = peer.communicate(timeout=30)[0].decode(errors="replace")
    finally:
        if peer.poll() is None:
            peer.kill()
            peer.wait()
    assert dial.returncode == 0, dial.stdout[-3000:] + dial.stderr
    assert "RTP/SAVP" in dial.stderr and "a=crypto:" in dial.stderr  # --trace goes to stderr beside --json
    assert "MEDIA ACTIVE" in peer_out, peer_out[-2000:]
    # pjsua2 starts its prompt as soon as it has sent its 200 OK: the first packets reach us
    # before our side of the call is up, so our recording may start a little into the prompt.
    # Half a second of silence in front lets the alignment search look at that (negative) lag.
    heard = np.concatenate([np.zeros(8000), read_channels(ours)[:, 0]])
    assert windowed_correlation(narrowband(read_wav(bot_wav)), heard) >= 0.9
    assert windowed_correlation(narrowband(read_wav(caller_wav)), read_wav(theirs)) >= 0.9
