"""`voicebot dial --flow` against `voicebot serve --persona`: every shipped dialog, two processes.

The bot dials over real SIP/UDP and RTP on loopback, runs the flow with espeak-ng and the
recogniser the flow's language calls for (pocketsphinx for English, Vosk with the packaged
model for Korean; the Chinese flow, with no recogniser installed, by keypad alone), and the
persona answers with its scripted lines (TTS) and keys (RFC 4733). Each persona file states
the outcome its conversation must reach.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.interop.sip.conftest import Served, voicebot_cmd
from tests.procs import free_port
from voicebot.asr.engine import Band
from voicebot.asr.shipped import shipped
from voicebot.flowio.standin import StandInCrm
from voicebot.persona import Persona, plain, verdict

ROOT = Path(__file__).resolve().parents[3]
DIALOGS = ROOT / "dialogs"
SHIPPED = ["appointment_reminder", "payment_reminder", "satisfaction_survey", "ko_delivery_confirm",
           "zh_satisfaction_survey"]


# what each dialog's persona call asks of its CRM (the stand-in answers 503: the CRM is down, so
# every flow takes its webhook error path, as its persona expects)
CRM_REQUESTS = {
    "appointment_reminder": [("POST", "/api/appointments")],
    "payment_reminder": [("GET", "/api/accounts/1")],
    "satisfaction_survey": [("POST", "/api/responses")],
    "ko_delivery_confirm": [],
    "zh_satisfaction_survey": [],
}


@pytest.fixture
def crm() -> Iterator[StandInCrm]:
    """A CRM stand-in on loopback that records each request and answers 503 (it is down)."""
    with StandInCrm(status=503) as stand_in:
        yield stand_in


def dial(*args: str, timeout: float = 150, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(
            voicebot_cmd("dial", *args), capture_output=True, text=True, timeout=timeout, cwd=ROOT, env=env
        )
    except subprocess.TimeoutExpired as exc:  # say where the call stood: its whole live progress
        progress = exc.stderr.decode(errors="replace") if isinstance(exc.stderr, bytes) else exc.stderr
        pytest.fail(f"dial still running after {timeout:.0f} s; its progress:\n{progress}")


@pytest.mark.slow
@pytest.mark.parametrize("name", SHIPPED)
def test_dial_flow_completes_against_its_persona(
    serve: Callable[..., Served], name: str, tmp_path: Path, crm: StandInCrm
) -> None:
    persona_file = DIALOGS / "personas" / f"{name}.persona.yaml"
    persona = Persona.load(persona_file)
    context = tmp_path / "context.json"  # who the callee is, as the dialler's CRM would know
    context.write_text(json.dumps(plain(persona.context)), encoding="utf-8")
    served = serve("--persona", str(persona_file), "--json", user="callee")
    done = dial(served.uri, "--flow", str(DIALOGS / f"{name}.yaml"), "--context-file", str(context), "--json",
                "--webhook-base", crm.base)  # fmt: skip
    # the callee prints its call's record once the work riding on the call is done, which on a
    # busy machine can be after the dialler has exited: stopping it first would cut it off
    served.wait_output(lambda text: any(line.startswith("{") for line in text.splitlines()))
    out = served.stop()
    assert done.returncode == 0, done.stdout + done.stderr + out
    report = json.loads(done.stdout)  # stdout is only JSON
    assert verdict(persona.expect, report) == [], (report["transcript"], out)
    # the flow's webhooks reached the stand-in (the dialog names https://*.example hosts)
    assert [(r.method, r.path) for r in crm.requests] == CRM_REQUESTS[name], crm.requests
    if name == "appointment_reminder":  # the body the dialog writes, filled from the call
        assert crm.requests[0].body["status"] == "cancelled" and crm.requests[0].body["confirmed"] is False
    # the report: SIP codes, durations, codec, RTP statistics, the E-model, a timed transcript
    assert report["answered"] and report["status"] == 200 and 180 in report["progress"]
    assert report["codec"] == "opus/48000/2" and report["duration"] > 1 and report["setup_time"] > 0
    assert report["rtp"]["sent"] > 50 and report["rtp"]["received"] > 50
    assert 1.0 <= report["quality"]["mos"] <= 4.5 and "ie_eff" in report["quality"]
    times = [line["t"] for line in report["transcript"]]
    assert times == sorted(times) and report["transcript"][0]["who"] == "bot"
    # progress went to stderr, one line per event
    assert "answered (opus/48000/2, 20 ms)" in done.stderr and "ended:" in done.stderr
    # every spoken answer the bot replied to carries its latency, split into its parts
    caller = [t for t in report["transcript"] if t["who"] == "caller"]
    timed = [t for t in caller if "latency_ms" in t]
    assert len(timed) >= len(caller) - 1  # the last answer may have no reply (the call ends)
    assert all(t["latency_ms"] > 0 and set(t["latency_breakdown_ms"]) for t in timed)
    assert all(t["confidence"] > 0 for t in caller)
    # serve --json: one JSON object per finished call, one per line, and nothing else on stdout
    lines = [line for line in out.splitlines() if line.startswith("{")]
    assert len(lines) == 1 and json.loads(lines[0])["direction"] == "inbound"
    # a language without a recogniser: the flow ran by keypad alone, and said so
    assert ("runs by keypad alone" in done.stderr) == (name == "zh_satisfaction_survey"), done.stderr
    if name == "satisfaction_survey":
        assert_read_back_below_the_engines_threshold(report["transcript"])


def assert_read_back_below_the_engines_threshold(transcript: list[dict[str, Any]]) -> None:
    """The survey sets no confirm_below: its rating, heard below pocketsphinx's shipped accept
    threshold, is read back ("Did you say 5?"), the persona's ``confirm: yes`` answers it and the
    flow goes on. The persona's espeak-ng "five" over Opus is heard at 0.82 (the same in every
    run measured: the audio is byte-identical), inside the confirm band [0.5, 0.9)."""
    accept = shipped("pocketsphinx", Band.WIDE).accept  # Opus: a wideband line
    lines = [(t["who"], t["text"], t.get("confidence")) for t in transcript if t["who"] in ("bot", "caller")]
    first = next(i for i, (who, _, _) in enumerate(lines) if who == "caller")
    (_, rating, sure), (_, reply, _) = lines[first], lines[first + 1]
    assert rating == "five" and sure is not None, lines
    assert sure < accept, f"'five' heard at {sure}, not below {accept}: nothing to confirm"
    assert reply == "Did you say 5?" and lines[first + 2][:2] == ("caller", "yes"), lines
    assert lines[first + 3][1].startswith("Great! What did you like best"), lines


UNKEYABLE = """
flow: zh_name
language: zh
slots:
  name: {type: text}
start: ask
states:
  ask:
    ask: 请问您贵姓？
    slot: name
    next: bye
  bye:
    say: 谢谢，再见！
    hangup: done
"""


def test_a_flow_no_keypad_can_answer_in_a_language_without_a_recogniser_is_refused_before_dialling(
    tmp_path: Path,
) -> None:
    flow = tmp_path / "zh_name.yaml"
    flow.write_text(UNKEYABLE, encoding="utf-8")
    port = free_port()  # nothing listens: a dial attempt would be a network failure (7), not this
    done = dial(f"sip:x@127.0.0.1:{port}", "--flow", str(flow), timeout=60)
    assert done.returncode == 1, done.stdout + done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "zh" in lines[0] and "--asr-model" in lines[0] and "VOICEBOT_VOSK_MODEL" in lines[0]
    assert "keypad" in lines[0]


@pytest.mark.slow
def test_a_flow_with_voice_states_enrols_the_caller_in_the_encrypted_store(
    serve: Callable[..., Served], tmp_path: Path
) -> None:
    """`dial --flow` with verify_voice / enroll_voice states: the caller has no print yet, is
    verified by keys, and her speech on this call becomes her voiceprint, sealed in --data-dir."""
    keys, data = tmp_path / "keys.json", tmp_path / "data"
    assert subprocess.run(voicebot_cmd("keys", "generate", "-o", str(keys)), capture_output=True).returncode == 0
    persona_file = DIALOGS / "personas" / "voice_verified_account.persona.yaml"
    persona = Persona.load(persona_file)
    context = tmp_path / "context.json"
    context.write_text(json.dumps(plain(persona.context)), encoding="utf-8")
    flow = str(DIALOGS / "voice_verified_account.yaml")
    no_key = {k: v for k, v in os.environ.items() if k not in ("VOICEBOT_KEY_FILE", "VOICEBOT_RECORDING_KEY")}
    refused = dial("sip:x@127.0.0.1:9", "--flow", flow, "--context-file", str(context), timeout=60, env=no_key)
    assert refused.returncode == 2 and "needs a recording key" in refused.stderr  # before dialling
    served = serve("--persona", str(persona_file), user="callee")
    done = dial(served.uri, "--flow", flow, "--context-file", str(context), "--key-file", str(keys),
                "--data-dir", str(data), "--json")  # fmt: skip
    out = served.stop()
    assert done.returncode == 0, done.stdout + done.stderr + out
    report = json.loads(done.stdout)
    assert verdict(persona.expect, report) == [], (report["transcript"], out)
    (sealed,) = [p for p in data.rglob("*") if p.is_file()]
    assert sealed.name == "voiceprint.vbrec" and b"c-1002" not in sealed.read_bytes()
