"""`voicebot demo` (what `make demo` runs): two processes, `serve --persona` and `dial --flow`.

Everything is real: SIP over UDP between the processes, RTP with Opus, espeak-ng speaking
both sides, pocketsphinx recognising the callee, RFC 4733 DTMF, the flow runtime deciding,
and the verdict checks the outcome, the slots and the path through the flow (the path check
itself: tests/unit/api/test_persona.py).
"""

from __future__ import annotations

import json
import subprocess
import sys
import wave
from pathlib import Path
from typing import Any

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[3]


def _channels(path: Path) -> tuple[np.ndarray, np.ndarray]:
    with wave.open(str(path), "rb") as w:
        assert (w.getnchannels(), w.getsampwidth(), w.getframerate()) == (2, 2, 16000)
        pcm = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").reshape(-1, 2)
    return pcm[:, 0], pcm[:, 1]


def _demo(out_dir: Path, *args: str) -> tuple[int, dict[str, Any]]:
    """Run ``voicebot demo --json`` as a user would; its exit code and report."""
    out = subprocess.run(
        [sys.executable, "-m", "voicebot", "demo", "--json", "--out", str(out_dir), *args],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
    )
    assert out.stdout.strip(), out.stderr
    report: dict[str, Any] = json.loads(out.stdout)
    return out.returncode, report


@pytest.mark.slow
def test_demo_is_a_two_process_call_that_goes_as_the_persona_expects(tmp_path: Path) -> None:
    code, report = _demo(tmp_path)
    assert code == 0 and report["as_expected"], report["mismatches"]
    bot = report["bot"]
    assert bot["outcome"] == "cancelled" and bot["slots"]["booking_status"] == "cancelled"
    said = [(t["who"], t["text"]) for t in bot["transcript"]]
    assert ("dtmf", "2") in said  # RFC 4733 over RTP reached the flow
    assert ("caller", "yes") in said  # espeak-ng speech over RTP, recognised by pocketsphinx
    assert said[-1][0] == "bot" and "cancelled" in said[-1][1]
    assert bot["path"][-1] == "bye_cancelled" and "confirm_cancel" in bot["path"]
    assert bot["answered"] and bot["ended_by"] == "local" and report["callee"]["ended_by"] == "remote"
    for side in (bot, report["callee"]):
        assert side["rtp"]["sent"] > 100 and side["rtp"]["received"] > 100 and side["rtp"]["lost"] == 0
    assert 3.5 < bot["quality"]["mos"] <= 4.5  # a clean loopback line rates well
    # the clinic's webhook went to the demo's stand-in CRM on loopback, not to clinic.example
    (hook,) = report["webhooks"]
    assert (hook["method"], hook["path"], hook["body"]["status"]) == ("POST", "/api/appointments", "cancelled")
    # both recordings hold both voices: the far end on channel 0, the near end on channel 1
    for wav in report["recordings"]:
        far, near = _channels(Path(wav))
        assert np.abs(far.astype(np.int32)).max() > 1000
        assert np.abs(near.astype(np.int32)).max() > 1000
