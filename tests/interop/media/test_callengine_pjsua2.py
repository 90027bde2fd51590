"""An independent softphone calls a flow: pjsua2 (PJSIP, its own process, PCMU) plays a
recorded espeak-ng answer into `voicebot serve --flow`, whose next turn is that answer (the
bot's JSON report says so): confirmed, or not understood and asked again."""

from __future__ import annotations

import json
import subprocess
import sys
import wave
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from voicebot.asr.engine import Band
from voicebot.asr.shipped import shipped
from voicebot.media import read_wav, write_wav

from .conftest import HERE
from .test_media_pjsua2 import espeak

pytestmark = [pytest.mark.interop, pytest.mark.slow]
DIALOGS = HERE.parents[2] / "dialogs"
ANSWER_AT = 8  # seconds into the call: inside the question that follows the greeting


def call_the_flow(
    serve: Any,
    tmp_path: Path,
    recording: Path,
    *,
    flow: str = "appointment_reminder",
    context: tuple[str, ...] = ("appointment_date=2026-01-08",),
    answers: tuple[Path, ...] = (),
    seconds: float = 30,
    serve_args: tuple[str, ...] = (),
) -> tuple[dict[str, Any], str]:
    """pjsua2 calls ``serve --flow`` (``dialogs/<flow>.yaml``, with ``serve_args``), plays
    ``recording`` and then each of ``answers`` after a prompt of the bot's ends; the bot's
    report and the peer's output."""
    server = serve("--flow", str(DIALOGS / f"{flow}.yaml"), *(a for c in context for a in ("--context", c)), "--json",
                   *serve_args)  # fmt: skip
    peer = subprocess.run(
        [sys.executable, str(HERE / "pjsua_peer.py"), f"sip:bot@127.0.0.1:{server.port}", str(recording),
         str(tmp_path / "heard.wav"), str(seconds), *(a for w in answers for a in ("--answer", str(w)))],
        capture_output=True, timeout=seconds + 60, start_new_session=True,
    )  # fmt: skip
    out = server.stop()
    peer_out = peer.stdout.decode(errors="replace") + peer.stderr.decode(errors="replace")
    assert peer.returncode == 0 and "MEDIA ACTIVE" in peer_out, peer_out[-2000:]
    reports = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    assert len(reports) == 1, out
    report: dict[str, Any] = reports[0]
    return report, peer_out


def test_a_pjsua2_caller_speaking_a_recording_completes_the_flow(serve: Any, tmp_path: Path) -> None:
    pytest.importorskip("pjsua2", reason="pjsua2-python is a test dependency (pip install pjsua2-python)")
    answer = read_wav(espeak("yes", tmp_path / "answer.wav"))
    # the greeting and the question take about ten seconds; answering a little before the
    # question ends is a barge-in the bot must take in stride
    recording = tmp_path / "caller.wav"
    write_wav(recording, np.concatenate([np.zeros(16000 * 10, np.int16), answer, np.zeros(16000, np.int16)]))
    with wave.open(str(recording)) as w:
        assert w.getframerate() == 16000
    report, _ = call_the_flow(serve, tmp_path, recording)
    assert report["codec"] in ("PCMU/8000", "PCMA/8000")  # what PJSIP offered first
    answered_or_asked_again(report, after=ANSWER_AT)
    if report["outcome"] == "confirmed":
        assert report["ended_by"] == "local"  # the bot said goodbye and hung up


def answered_or_asked_again(report: dict[str, Any], *, after: float) -> None:
    """The caller's "yes" reached the flow as its next turn, which either confirmed the
    appointment or — pocketsphinx not sure enough of an 8 kHz "yes" (about half the time here;
    recognition accuracy on G.711 is issue 14's open goal) — was not understood and asked
    again, or was heard below the engine's accept threshold and read back ("Did you say
    yep?", which this recording does not answer). Never another branch: a no-match is a
    reprompt, and an unsure answer a question, not a guess."""
    transcript = report["transcript"]
    turn = next(t for t in transcript if t["who"] == "caller" and t["t"] >= after - 1)
    assert report["slots"].get("confirmed") in (True, None), transcript
    if report["outcome"] == "confirmed":
        assert report["slots"]["confirmed"] is True, transcript
        return
    reply = next(t for t in transcript if t["who"] == "bot" and t["t"] >= turn["t"])  # asked again
    if turn.get("understood") is not False:
        assert turn["confidence"] < shipped("pocketsphinx", Band.NARROW).accept, transcript  # a G.711 line
        assert reply["text"] == f"Did you say {turn['text']}?", transcript


def test_a_pjsua2_caller_on_a_noisy_line_barges_in_only_by_speaking(serve: Any, tmp_path: Path) -> None:
    """Hiss, clicks and a knock under the greeting do not cut it; the answer spoken over the
    question does (the barge-in is heard on arrival, decoded from PJSIP's PCMU packets)."""
    pytest.importorskip("pjsua2", reason="pjsua2-python is a test dependency (pip install pjsua2-python)")
    answer = read_wav(espeak("yes", tmp_path / "answer.wav"))
    rng = np.random.default_rng(11)
    line = rng.normal(0, 30, 16000 * 13).astype(np.int16)
    for k in range(14):  # clicks through the greeting
        line[8000 + 8000 * k : 8000 + 8000 * k + 40] = 20000
    knock = (rng.normal(0, 6000, 640) * np.exp(-np.arange(640) / 160)).astype(np.int16)
    line[16000 * 3 : 16000 * 3 + 640] += knock
    at = 16000 * ANSWER_AT
    line[at : at + len(answer)] += answer
    recording = tmp_path / "caller.wav"
    write_wav(recording, line)
    report, _ = call_the_flow(serve, tmp_path, recording)
    transcript = report["transcript"]
    barge_ins = [t for t in transcript if t["who"] == "barge-in"]
    assert [b["text"] for b in barge_ins] == ["speech"], transcript
    assert barge_ins[0]["t"] > ANSWER_AT - 1, transcript  # not on the noise before it
    # the words that cut the prompt are the caller's next turn
    turn = next(t for t in transcript if t["who"] == "caller" and t["t"] >= barge_ins[0]["t"])
    assert turn["t"] - barge_ins[0]["t"] < 3, transcript
    answered_or_asked_again(report, after=barge_ins[0]["t"])
