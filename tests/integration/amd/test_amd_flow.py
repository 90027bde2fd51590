"""Answering-machine detection reaches the flow: `voicebot dial --flow` calls `voicebot serve
--persona` over real SIP/UDP and RTP on loopback (espeak-ng speaks both sides). A voicemail
(long greeting, then a beep) gets the flow's voicemail message after the beep; a person who
says "Hello?" gets the flow as written. Verdict and reason are in the report and the progress."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path

from tests.interop.sip.conftest import Served, voicebot_cmd
from voicebot.persona import Persona, verdict

ROOT = Path(__file__).resolve().parents[3]
FLOW = ROOT / "dialogs" / "prescription_ready.yaml"
VOICEMAIL = ROOT / "dialogs" / "personas" / "prescription_ready.persona.yaml"
PERSON = Path(__file__).with_name("person.persona.yaml")


def call(serve: Callable[..., Served], persona_file: Path) -> tuple[Persona, dict[str, object], str]:
    persona = Persona.load(persona_file)
    served = serve("--persona", str(persona_file), user="callee")
    done = subprocess.run(
        voicebot_cmd("dial", served.uri, "--flow", str(FLOW), "--context", "customer_name=Ann", "--json"),
        capture_output=True, text=True, timeout=90, cwd=ROOT,
    )  # fmt: skip
    out = served.stop()
    assert done.returncode == 0, done.stdout + done.stderr + out
    report = json.loads(done.stdout)
    assert verdict(persona.expect, report) == [], (report["transcript"], done.stderr, out)
    return persona, report, done.stderr


def test_voicemail_gets_the_message_after_the_beep(serve: Callable[..., Served]) -> None:
    _, report, progress = call(serve, VOICEMAIL)
    assert report["outcome"] == "left_message" and report["slots"]["answered_by"] == "machine"
    lines = report["transcript"]
    assert isinstance(lines, list)
    amd = [(line["who"], line["text"]) for line in lines if line["who"] == "amd"]
    assert amd == [("amd", "machine"), ("amd", "beep"), ("amd", "greeting over")], lines
    said = [line for line in lines if line["who"] == "bot"]
    over = next(line for line in lines if line["text"] == "greeting over")
    assert over["detail"] == "beep"
    # the bot kept quiet through the greeting and spoke once, the message, after the beep
    assert len(said) == 1 and "prescription is ready" in said[0]["text"] and said[0]["t"] >= over["t"]
    assert "amd: machine (" in progress and "amd: greeting over (beep)" in progress


def test_a_person_gets_the_flow(serve: Callable[..., Served]) -> None:
    _, report, progress = call(serve, PERSON)
    assert report["outcome"] == "held" and report["slots"]["answered_by"] == "human"
    lines = report["transcript"]
    assert isinstance(lines, list)
    first = lines[0]
    assert first["who"] == "amd" and first["text"] == "human" and "greeting" in first["detail"]
    assert lines[1]["who"] == "bot" and lines[1]["t"] >= first["t"]  # the flow began once it was known
    assert "amd: human (" in progress
