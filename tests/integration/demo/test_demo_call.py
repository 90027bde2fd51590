"""`voicebot demo`: a real loopback call where a bot runs a flow and a caller answers it.

Everything is real: SIP over UDP between two user agents, RTP with Opus, espeak-ng speaking
both sides, pocketsphinx recognising the caller, RFC 4733 DTMF, the flow runtime deciding.
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


def _channels(path: Path) -> tuple[np.ndarray, np.ndarray]:
    with wave.open(str(path), "rb") as w:
        assert (w.getnchannels(), w.getsampwidth(), w.getframerate()) == (2, 2, 16000)
        pcm = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").reshape(-1, 2)
    return pcm[:, 0], pcm[:, 1]


def _demo(out_dir: Path, *args: str) -> dict[str, Any]:
    """Run ``voicebot demo --json`` as a user would and return its report."""
    out = subprocess.run(
        [sys.executable, "-m", "voicebot", "demo", "--json", "--out", str(out_dir), *args],
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    report: dict[str, Any] = json.loads(out.stdout)
    return report


@pytest.mark.slow
def test_demo_call_runs_the_flow_script_end_to_end(tmp_path: Path) -> None:
    report = _demo(tmp_path)
    assert report["as_expected"], report["mismatches"]
    assert report["outcome"] == "cancelled"
    assert report["slots"]["booking_status"] == "cancelled"
    said = [(t["who"], t["text"]) for t in report["transcript"]]
    assert ("dtmf", "2") in said  # RFC 4733 over RTP reached the flow
    assert ("caller", "yes") in said  # espeak-ng speech over RTP, recognised by pocketsphinx
    assert said[-1][0] == "bot" and "cancelled" in said[-1][1]
    assert report["sip"]["answered"] and report["sip"]["ended_by"] == "remote"
    assert report["webhooks"] and report["webhooks"][0]["body"]["status"] == "cancelled"
    for side in ("caller", "bot"):
        rtp = report["rtp"][side]
        assert rtp["sent"] > 100 and rtp["received"] > 100 and rtp["lost"] == 0
    # both recordings hold both voices: the far end on channel 0, the near end on channel 1
    for wav in report["recordings"]:
        far, near = _channels(Path(wav))
        assert np.abs(far.astype(np.int32)).max() > 1000
        assert np.abs(near.astype(np.int32)).max() > 1000


@pytest.mark.slow
def test_demo_call_with_keyed_account_digits_and_a_crm_answer(tmp_path: Path) -> None:
    flow = Path(__file__).resolve().parents[3] / "dialogs" / "payment_reminder.yaml"
    report = _demo(tmp_path, "--flow", str(flow), "--script", "keyed digits, wrong then right")
    assert report["as_expected"], report["mismatches"]
    assert report["outcome"] == "already_paid"
    keyed = "".join(t["text"] for t in report["transcript"] if t["who"] == "dtmf")
    assert keyed == "43211234"  # two four-digit entries, digit by digit over RFC 4733
    assert report["slots"]["balance"] == 50  # the CRM's answer (from the script) reached the flow
    assert report["webhooks"][0]["url"] == "https://billing.example/api/accounts/1"
