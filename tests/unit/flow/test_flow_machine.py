"""``answering_machine:``: compiled into the ``_answer`` state's table entries, checked with one
error per mistake, run by the pure runtime (a DetectMachine action out, AnsweredBy and
MachineRecording in, the verdict into a slot and the call's history), and answered by scripts."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

import pytest

from voicebot.flow import (
    AnsweredBy,
    CallerHangup,
    DetectMachine,
    Flow,
    FlowError,
    FlowStateError,
    Hangup,
    Listen,
    MachineRecording,
    Say,
    SetSlot,
    Utterance,
)
from voicebot.flow import events as ev
from voicebot.flow.scripts import run_scripts
from voicebot.media import amd

FLOW = """
flow: reminder
answering_machine: {on_machine: voicemail, within: 4}
slots:
  name: {type: text, default: there}
start: greet
states:
  greet:
    ask: Hello {name}, can you come tomorrow?
    reprompt: Can you come? Yes or no.
    on: {yes: bye, no: bye}
  voicemail:
    say: Hi {name}, this is the clinic. Please call us back.
    hangup: left_message
  bye:
    say: Goodbye.
    hangup: done
tests:
  - name: a machine gets the message
    answered_by: machine
    context: {name: Ann}
    expect: {outcome: left_message, slots: {answered_by: machine}, says: call us back}
  - name: a person gets the flow
    answered_by: human
    turns: [{caller: "yes", state: bye}]
    expect: {outcome: done, slots: {answered_by: human}}
"""


def test_verdicts_are_the_detectors() -> None:
    assert ev.AMD_VERDICTS == (amd.HUMAN, amd.MACHINE, amd.UNKNOWN)


def test_events_and_action_are_frozen_kw_only_slotted() -> None:
    for cls in (AnsweredBy, MachineRecording, DetectMachine):
        assert cls.__dataclass_params__.frozen and hasattr(cls, "__slots__")  # type: ignore[attr-defined]
        assert all(f.kw_only for f in dataclasses.fields(cls))


def test_compiles_to_the_answer_state_and_a_verdict_slot(write_flow: Callable[..., Path]) -> None:
    flow = Flow.load(write_flow(FLOW))
    spec = flow.answering_machine
    assert spec is not None and spec.within == 4.0 and spec.on_machine == "voicemail"
    table = flow.table
    assert table[("_answer", "answered:human")][0].target == "greet"
    assert table[("_answer", "answered:unknown")][0].target == "greet"
    assert table[("_answer", "machine_recording")][0].target == "voicemail"
    assert ("_answer", "answered:machine") not in table  # a machine waits for its greeting to end
    slot = flow.slots["answered_by"]
    assert slot.type == "enum" and slot.value_names == ev.AMD_VERDICTS


def test_a_machine_is_left_the_message_once_its_greeting_is_over(write_flow: Callable[..., Path]) -> None:
    session = Flow.load(write_flow(FLOW)).start({"name": "Ann"}, detect_machine=True, now=100.0)
    assert session.begin(now=100.0) == [DetectMachine(within=4.0)]
    assert session.expecting == (AnsweredBy,)
    with pytest.raises(FlowStateError):
        session.handle(Utterance(text="hello"), now=101.0)  # nothing is listened to before the verdict
    actions = session.handle(AnsweredBy(verdict="machine", at=2.3, reason="greeting longer than 2 s"), now=102.3)
    assert actions == [SetSlot(name="answered_by", value="machine")]
    assert session.expecting == (MachineRecording,) and not session.ended
    actions = session.handle(MachineRecording(at=6.1, after="beep"), now=106.1)
    assert [type(a) for a in actions] == [Say, Hangup]
    assert isinstance(actions[0], Say) and actions[0].text == "Hi Ann, this is the clinic. Please call us back."
    result = session.result()
    assert result.outcome == "left_message" and result.final_state == "voicemail"
    assert result.slots["answered_by"] == "machine"
    machine = [t for t in result.history if t.who == "machine"]
    assert machine[1].data["verdict"] == "machine" and machine[1].data["reason"] == "greeting longer than 2 s"
    assert machine[2].data["after"] == "beep"
    assert any(t.text == "_answer --machine_recording--> voicemail" for t in result.history)


@pytest.mark.parametrize("verdict", ["human", "unknown"])
def test_a_person_or_nobody_can_tell_starts_the_flow(write_flow: Callable[..., Path], verdict: str) -> None:
    session = Flow.load(write_flow(FLOW)).start(detect_machine=True)
    session.begin(now=0.0)
    actions = session.handle(AnsweredBy(verdict=verdict, at=1.2, reason="short greeting"), now=1.2)
    assert actions[0] == SetSlot(name="answered_by", value=verdict)
    assert [type(a) for a in actions[1:]] == [Say, Listen] and session.state == "greet"
    with pytest.raises(FlowStateError):
        session.handle(MachineRecording(at=3.0, after="silence"))  # only after a machine verdict
    session.handle(Utterance(text="yes"), now=3.0)
    assert session.result().outcome == "done"


def test_without_detection_the_flow_starts_at_once(write_flow: Callable[..., Path]) -> None:
    session = Flow.load(write_flow(FLOW)).start()  # an inbound call, a chat, a test
    assert [type(a) for a in session.begin()] == [Say, Listen]
    with pytest.raises(FlowStateError):
        session.handle(AnsweredBy(verdict="machine"))
    assert session.result().slots["answered_by"] is None


def test_caller_hangup_during_detection_ends_the_call(write_flow: Callable[..., Path]) -> None:
    session = Flow.load(write_flow(FLOW)).start(detect_machine=True)
    session.begin()
    session.handle(AnsweredBy(verdict="machine", at=2.0))
    assert session.handle(CallerHangup()) == []
    assert session.ended and session.result().outcome == "caller_hangup"


def test_a_bad_verdict_is_refused(write_flow: Callable[..., Path]) -> None:
    session = Flow.load(write_flow(FLOW)).start(detect_machine=True)
    session.begin()
    with pytest.raises(FlowStateError, match="'robot' is not one of human, machine, unknown"):
        session.handle(AnsweredBy(verdict="robot"))


def test_scripts_answer_the_detection(write_flow: Callable[..., Path]) -> None:
    flow = Flow.load(write_flow(FLOW))
    reports = run_scripts(flow)
    assert [r.passed for r in reports] == [True, True], [r.failures for r in reports]


def _errors(write_flow: Callable[..., Path], text: str) -> list[str]:
    with pytest.raises(FlowError) as info:
        Flow.load(write_flow(text))
    return [d.message for d in info.value.diagnostics if d.severity == "error"]


def test_an_unknown_state_is_one_clear_error(write_flow: Callable[..., Path]) -> None:
    errors = _errors(write_flow, FLOW.replace("on_machine: voicemail", "on_machine: voicemial"))
    assert errors == ["unknown target state 'voicemial' in 'answering_machine.on_machine'"]


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("{on_machine: voicemail, within: 4}", "{within: 4}", "'answering_machine' needs 'on_machine: <state>'"),
        ("within: 4}", "within: 90}", "'answering_machine.within' must be from 2 to 30, got 90"),
        ("within: 4}", "within: 4, detect: yes}", "unknown key 'detect' in 'answering_machine'"),
        ("answering_machine: {on_machine: voicemail, within: 4}\n", "", "'answered_by' needs a flow that detects"),
        ("answered_by: machine", "answered_by: robot", "'answered_by' must be one of human, machine, unknown"),
        ("  name: {type: text, default: there}", "  name: {type: text, default: there}\n  answered_by: {type: number}",
         "slot 'answered_by' gets the answering-machine verdict"),
    ],
)  # fmt: skip
def test_mistakes_are_reported(write_flow: Callable[..., Path], old: str, new: str, message: str) -> None:
    text = FLOW.replace(old, new, 1)
    assert text != FLOW
    errors = _errors(write_flow, text)
    assert any(e.startswith(message) for e in errors), errors
