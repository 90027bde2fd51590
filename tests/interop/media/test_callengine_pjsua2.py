"""An independent softphone calls a flow: pjsua2 (PJSIP, its own process, PCMU) plays a
recorded espeak-ng answer into `voicebot serve --flow`, which understands it and completes
the flow (the bot's JSON report says so)."""

from __future__ import annotations

import json
import subprocess
import sys
import wave
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from voicebot.media import read_wav, write_wav

from .conftest import HERE
from .test_media_pjsua2 import espeak

pytestmark = [pytest.mark.interop, pytest.mark.slow]
DIALOGS = HERE.parents[2] / "dialogs"


def test_a_pjsua2_caller_speaking_a_recording_completes_the_flow(serve: Any, tmp_path: Path) -> None:
    pytest.importorskip("pjsua2", reason="pjsua2-python is a test dependency (pip install pjsua2-python)")
    answer = read_wav(espeak("yes", tmp_path / "answer.wav"))
    # the greeting and the question take about ten seconds; answering a little before the
    # question ends is a barge-in the bot must take in stride
    recording = tmp_path / "caller.wav"
    write_wav(recording, np.concatenate([np.zeros(16000 * 10, np.int16), answer, np.zeros(16000, np.int16)]))
    with wave.open(str(recording)) as w:
        assert w.getframerate() == 16000
    server = serve("--flow", str(DIALOGS / "appointment_reminder.yaml"), "--context", "appointment_date=2026-01-08",
                   "--json")  # fmt: skip
    peer = subprocess.run(
        [sys.executable, str(HERE / "pjsua_peer.py"), f"sip:bot@127.0.0.1:{server.port}", str(recording),
         str(tmp_path / "heard.wav"), "30"],
        capture_output=True, timeout=90, start_new_session=True,
    )  # fmt: skip
    out = server.stop()
    peer_out = peer.stdout.decode(errors="replace") + peer.stderr.decode(errors="replace")
    assert peer.returncode == 0 and "MEDIA ACTIVE" in peer_out, peer_out[-2000:]
    reports = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    assert len(reports) == 1, out
    report = reports[0]
    assert report["codec"] in ("PCMU/8000", "PCMA/8000")  # what PJSIP offered first
    assert report["outcome"] == "confirmed" and report["slots"]["confirmed"] is True, report["transcript"]
    assert report["ended_by"] == "local"  # the bot said goodbye and hung up
