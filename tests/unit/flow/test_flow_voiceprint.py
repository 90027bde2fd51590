"""``verify_voice`` and ``enroll_voice`` states: compiled into the table, checked with one error
per mistake, run by the pure runtime (an action out, a VoiceprintResult in, the score into a
slot, the result in the call's history), answered by conversation scripts and by `flow chat`."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

import pytest

from voicebot.flow import EnrollVoice, Flow, FlowStateError, Utterance, VerifyVoice, VoiceprintResult
from voicebot.flow import events as ev
from voicebot.flow.scripts import run_scripts
from voicebot.voiceprint import verify as vp

SAY_SCORE = "Recognised, {customer_id}, score {voice_score}."
FLOW = """
flow: check
slots:
  customer_id: {type: text, required: true}
  spoken: {type: text}
start: talk
states:
  talk:
    ask: Tell me your name and town.
    slot: spoken
    next: check
  check:
    verify_voice: {id: "{customer_id}", min_seconds: 2.5}
    on: {match: ok, no_match: nope}
  ok:
    say: Recognised, {customer_id}, score {voice_score}.
    next: keep
  keep:
    enroll_voice: {id: "{customer_id}"}
    next: done
  nope:
    hangup: not_matched
  done:
    hangup: matched
"""


def test_the_results_match_the_voiceprint_package() -> None:
    assert ev.VERIFY_RESULTS == vp.VERIFY_RESULTS and ev.ENROLL_RESULTS == vp.ENROLL_RESULTS


def test_actions_and_result_are_frozen_kw_only_slotted() -> None:
    for cls in (VerifyVoice, EnrollVoice, VoiceprintResult):
        assert cls.__dataclass_params__.frozen and hasattr(cls, "__slots__")  # type: ignore[attr-defined]
        assert all(f.kw_only for f in dataclasses.fields(cls))


def test_compiles_to_table_entries_with_defaults(write_flow: Callable[..., Path]) -> None:
    flow = Flow.load(write_flow(FLOW))
    table = flow.compiled.table
    assert table[("check", "voice:match")][0].target == "ok"
    assert table[("check", "voice:not_enough_speech")][0].target == "nope"  # defaults to no_match's target
    assert table[("check", "voice:not_enrolled")][0].target == "nope"
    assert {k for s, k in table if s == "keep"} == {"voice:enrolled", "voice:not_enough_speech", "voice:failed"}
    assert flow.slots["voice_score"].type == "number"  # declared for the flow
    assert flow.states["check"].voice is not None and flow.states["check"].voice.min_seconds == 2.5
    assert flow.states["keep"].voice is not None and flow.states["keep"].voice.min_seconds == 3.0


def test_runtime_asks_scores_and_branches(write_flow: Callable[..., Path]) -> None:
    flow = Flow.load(write_flow(FLOW))
    s = flow.start({"customer_id": "c-7"})
    s.begin(now=0.0)
    acts = s.handle(Utterance(text="Ann from Springfield"), now=1.0)
    assert acts[-1] == VerifyVoice(id="c-7", min_seconds=2.5, state="check") and s.expecting == (VoiceprintResult,)
    with pytest.raises(FlowStateError, match="which is not listening"):
        s.handle(Utterance(text="hello"), now=1.5)
    with pytest.raises(FlowStateError, match="cannot take result 'enrolled'"):
        s.handle(VoiceprintResult(result="enrolled"), now=1.5)
    acts = s.handle(VoiceprintResult(result="match", score=0.912345, seconds=3.1), now=2.0)
    says = " ".join(a.text for a in acts if isinstance(a, ev.Say))
    assert "score 0.9123" in says and s.slots["voice_score"] == pytest.approx(0.9123)
    assert acts[-1] == EnrollVoice(id="c-7", min_seconds=3.0, state="keep")
    s.handle(VoiceprintResult(result="failed", error="disk full"), now=3.0)
    result = s.result()
    assert result.outcome == "matched" and result.slots["voice_score"] == pytest.approx(0.9123)
    turns = [t for t in result.history if t.who == "voiceprint"]
    assert [t.data.get("result") for t in turns] == [None, "match", None, "failed"]
    assert turns[1].data["score"] == pytest.approx(0.9123) and turns[3].data["error"] == "disk full"


def test_a_result_out_of_turn_is_refused(write_flow: Callable[..., Path]) -> None:
    s = Flow.load(write_flow(FLOW)).start({"customer_id": "c-7"})
    s.begin(now=0.0)
    with pytest.raises(FlowStateError, match="asked for no voiceprint"):
        s.handle(VoiceprintResult(result="match", score=0.9), now=1.0)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("on: {match: ok, no_match: nope}", "on: {match: ok}"), "says nowhere to go on 'no_match'"),
        (
            ("on: {match: ok, no_match: nope}", "on: {match: ok, no_match: nope, maybe: ok}"),
            "verify_voice has no result 'maybe'",
        ),
        (("on: {match: ok, no_match: nope}", "on: {match: ok, no_match: nowhere}"), "unknown target state 'nowhere'"),
        (("    on: {match: ok, no_match: nope}\n", ""), "verify_voice state 'check' has no 'on'"),
        (('{id: "{customer_id}", min_seconds: 2.5}', "{min_seconds: 2.5}"), "'verify_voice' has no 'id'"),
        (("min_seconds: 2.5}", "min_seconds: 99}"), "'verify_voice.min_seconds' must be from 0.5 to 60"),
        (
            ("min_seconds: 2.5}", "min_seconds: 2.5, score: spoken}", SAY_SCORE, "Recognised."),
            "must be a number, not text",
        ),
        (
            ("min_seconds: 2.5}", "min_seconds: 2.5, score: nothing}", SAY_SCORE, "Recognised."),
            "unknown slot 'nothing' in 'score'",
        ),
        (('{id: "{customer_id}"}', '{id: "{custmer_id}"}'), "unknown slot 'custmer_id'"),
        (("    next: done\n  nope", "  nope"), "enroll_voice state 'keep' has no 'next'"),
        (('{id: "{customer_id}"}', '{id: "{customer_id}", when: now}'), "unknown key 'when' in 'enroll_voice'"),
    ],
)
def test_mistakes_get_one_error_each(write_flow: Callable[..., Path], change: tuple[str, ...], message: str) -> None:
    text = FLOW
    for old, new in zip(change[::2], change[1::2], strict=True):
        assert old in text
        text = text.replace(old, new, 1)
    diags = [d for d in Flow.check(write_flow(text)) if d.is_error]
    assert len(diags) == 1, diags
    assert message in diags[0].message, diags[0]


SCRIPTED = (
    FLOW
    + """
tests:
  - name: matched
    context: {customer_id: c-7}
    voices: {check: {result: match, score: 0.88}, keep: enrolled}
    turns:
      - caller: Ann from Springfield
        says: score 0.88
    expect: {outcome: matched, slots: {voice_score: 0.88}}
  - name: silent caller
    context: {customer_id: c-7}
    voices: {check: not_enough_speech}
    turns:
      - caller: hm
    expect: {outcome: not_matched}
"""
)


def test_scripts_answer_voice_states(write_flow: Callable[..., Path]) -> None:
    reports = run_scripts(Flow.load(write_flow(SCRIPTED)))
    assert [r.passed for r in reports] == [True, True], [r.failures for r in reports]


def test_a_script_must_answer_every_voice_state_it_reaches(write_flow: Callable[..., Path]) -> None:
    text = SCRIPTED.replace("    voices: {check: not_enough_speech}\n", "")
    reports = run_scripts(Flow.load(write_flow(text)))
    assert reports[1].passed is False
    assert any("gives no voices: answer for 'check'" in f for f in reports[1].failures)


@pytest.mark.parametrize(
    ("voices", "message"),
    [
        ("{check: enrolled}", "a verify_voice state answers one of match, no_match"),
        ("{talk: match}", "'talk' is not a verify_voice or enroll_voice state"),
        ("{check: {result: match, score: 3}}", "'score' must be from -1 to 1"),
        ("[check]", "'voices' maps a verify_voice or enroll_voice state"),
    ],
)
def test_scripted_answers_are_checked(write_flow: Callable[..., Path], voices: str, message: str) -> None:
    text = SCRIPTED.replace("{check: {result: match, score: 0.88}, keep: enrolled}", voices)
    errors = [d.message for d in Flow.check(write_flow(text)) if d.is_error]
    assert any(message in m for m in errors), errors


def test_flow_chat_answers_voice_states_with_the_voice_option(write_flow: Callable[..., Path]) -> None:
    import subprocess
    import sys

    path = str(write_flow(FLOW))

    def chat(*extra: str) -> subprocess.CompletedProcess[str]:
        cmd = [sys.executable, "-m", "voicebot", "flow", "chat", path, "--set", "customer_id=c-7", *extra]
        return subprocess.run(cmd, input="Ann from Springfield\n", capture_output=True, text=True, timeout=60)

    matched = chat("--voice", "match:0.9")
    assert matched.returncode == 0 and "(verify voice of 'c-7' -> match, score 0.9; --voice chooses)" in matched.stdout
    assert "outcome: matched" in matched.stdout and '"voice_score": 0.9' in matched.stdout
    silent = chat()  # a chat has no audio: not enough speech, which goes where no_match goes
    assert "-> not_enough_speech" in silent.stdout and "outcome: not_matched" in silent.stdout
    bad = chat("--voice", "match:7")
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "--voice needs RESULT[:SCORE]" in bad.stderr
