"""Conversation scripts: run a flow's written test conversations without a phone.

A script gives caller turns (what the caller says, keys, or silence) and what must follow each
turn (the state the flow is in, words the bot said, slot values, the outcome). Webhook states
are answered from the script's ``webhooks:`` (``{ok: true, data: {...}}`` per state; by default
``ok: true`` with no data); ``verify_voice`` / ``enroll_voice`` states from its ``voices:``
(``{result: match, score: 0.8}`` per state; a state the script does not answer is a failure,
since no default result would be honest). Pure: no I/O.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from voicebot.flow.context import CalleeProfile, CallRecord
from voicebot.flow.diagnostics import FlowError
from voicebot.flow.events import (
    Action,
    AnsweredBy,
    CallerHangup,
    Dtmf,
    MachineRecording,
    Say,
    SilenceTimeout,
    TransferResult,
    Utterance,
    VoiceprintResult,
    WebhookResult,
)
from voicebot.flow.flow import Flow
from voicebot.flow.model import Script
from voicebot.flow.runtime import FlowStateError, Session

SCRIPT_TODAY = dt.date(2026, 1, 5)  # a Monday; scripts set 'today:' to choose another


@dataclass(slots=True)
class ScriptReport:
    name: str
    passed: bool
    failures: list[str] = field(default_factory=list)
    transcript: list[str] = field(default_factory=list)
    outcome: str | None = None
    visited: set[str] = field(default_factory=set)


def _same(expected: Any, actual: Any) -> bool:
    if isinstance(actual, dt.date):
        return str(expected) == actual.isoformat()
    if isinstance(expected, bool) or isinstance(actual, bool):
        return expected is actual
    if isinstance(expected, int | float) and isinstance(actual, int | float):
        return float(expected) == float(actual)
    return str(expected) == str(actual)


def _texts(actions: list[Action]) -> str:
    return " ".join(a.text for a in actions if isinstance(a, Say))


def _check(where: str, spec: Mapping[str, Any], session: Session, said: str, fails: list[str]) -> None:
    if "state" in spec and session.state != spec["state"]:
        fails.append(f"{where}: expected state '{spec['state']}', the flow is in '{session.state}'")
    if "outcome" in spec and session.outcome != spec["outcome"]:
        fails.append(f"{where}: expected outcome '{spec['outcome']}', got '{session.outcome}'")
    if "ended" in spec and session.ended != bool(spec["ended"]):
        fails.append(f"{where}: expected ended={spec['ended']}, got {session.ended}")
    if "do_not_call" in spec and session.do_not_call != bool(spec["do_not_call"]):
        fails.append(f"{where}: expected do_not_call={spec['do_not_call']}, got {session.do_not_call}")
    says = spec.get("says")
    if says is not None:
        for s in [says] if isinstance(says, str) else list(says):
            if str(s).casefold() not in said.casefold():
                fails.append(f"{where}: expected the bot to say '{s}', it said: '{said}'")
    for k, v in (spec.get("slots") or {}).items():
        if not _same(v, session.slots.get(k)):
            fails.append(f"{where}: expected slot {k} = {v!r}, got {session.slots.get(k)!r}")


def run_script(flow: Flow, script: Script) -> ScriptReport:
    """Play one script against ``flow``; the report lists every failed expectation."""
    fails: list[str] = []
    lines: list[str] = []
    today = script.today or SCRIPT_TODAY
    profile = None
    if script.profile is not None:
        p = script.profile
        last = p.get("last_outcome")
        raw_calls = p.get("calls")
        ok_calls = isinstance(raw_calls, int | float) and not isinstance(raw_calls, bool)
        calls = int(raw_calls) if ok_calls else (1 if last else 0)  # type: ignore[arg-type]
        records = (CallRecord(flow=flow.name, outcome=str(last), at=0.0),) if last else ()
        profile = CalleeProfile(records=records, total_calls=calls, do_not_call=bool(p.get("do_not_call", False)))
    try:
        session = flow.start(
            script.context,
            today=today,
            profile=profile,
            dtmf_only=script.dtmf_only,
            detect_machine=script.answered_by is not None,
            accept_confidence=script.accept_confidence,
        )
    except FlowError as exc:
        where = f"{script.pos}: script '{script.name}'"
        return ScriptReport(name=script.name, passed=False, failures=[f"{where}: the flow cannot start: {exc}"])
    actions = session.begin()
    if script.answered_by is not None:  # who answered, and a machine's greeting over at once
        lines.append(f"answered by: {script.answered_by}")
        actions = session.handle(AnsweredBy(verdict=script.answered_by, reason="scripted"))
        if script.answered_by == "machine":
            actions += session.handle(MachineRecording(after="scripted"))
    all_said: list[str] = []

    def settle(acts: list[Action]) -> list[Action]:
        out = list(acts)
        guard = 0
        while session.waiting in ("webhook", "voice") and guard < 50:
            guard += 1
            if session.waiting == "voice":
                voice = script.voices.get(session.state)
                if voice is None:
                    fails.append(f"{script.pos}: script '{script.name}' gives no voices: answer for '{session.state}'")
                    break
                score, seconds = voice.get("score"), voice.get("seconds")
                out += session.handle(VoiceprintResult(
                    result=str(voice["result"]),
                    score=float(score) if isinstance(score, int | float) else None,
                    seconds=float(seconds) if isinstance(seconds, int | float) else 0.0,
                ))  # fmt: skip
                continue
            spec = script.webhooks.get(session.state)
            spec = spec if isinstance(spec, Mapping) else {}
            data = spec.get("data")
            status = spec.get("status")
            out += session.handle(
                WebhookResult(
                    ok=bool(spec.get("ok", True)),
                    data=data if isinstance(data, Mapping) else {},
                    status=status if isinstance(status, int) else None,
                )
            )
        return out

    actions = settle(actions)
    for a in actions:
        if isinstance(a, Say):
            lines.append(f"bot: {a.text}")
    all_said.append(_texts(actions))
    for i, turn in enumerate(script.turns):
        pos = script.turn_pos[i] if i < len(script.turn_pos) else script.pos
        where = f"{pos}: script '{script.name}' turn {i + 1}"
        events: list[Any] = []
        if "caller" in turn:
            events.append(Utterance(text=str(turn["caller"]), confidence=float(turn.get("confidence", 1.0))))
            lines.append(f"caller: {turn['caller']}")
        elif "dtmf" in turn:
            events.extend(Dtmf(digit=d) for d in str(turn["dtmf"]))
            lines.append(f"caller: [dtmf {turn['dtmf']}]")
        elif turn.get("silence"):
            events.append(SilenceTimeout())
            lines.append("caller: [silence]")
        elif turn.get("hangup"):
            events.append(CallerHangup())
            lines.append("caller: [hangs up]")
        elif turn.get("transfer_fails"):
            events.append(TransferResult(ok=False, reason="busy"))
            lines.append("[transfer failed]")
        acts: list[Action] = []
        for ev in events:
            if session.ended and not isinstance(ev, CallerHangup | TransferResult):
                fails.append(f"{where}: the call already ended (outcome {session.outcome}) before this turn")
                break
            try:
                acts += settle(session.handle(ev))
            except FlowStateError as exc:
                fails.append(f"{where}: the flow cannot take this input here: {exc}")
                break
        for a in acts:
            if isinstance(a, Say):
                lines.append(f"bot: {a.text}")
        if events:
            said = _texts(acts)
            all_said.append(said)
        else:
            said = all_said[-1]  # a turn that only checks looks at what the bot said last
        _check(where, turn, session, said, fails)
    where = f"{script.pos}: script '{script.name}'"
    _check(where, script.expect, session, " ".join(all_said), fails)
    if "outcome" in script.expect and not session.ended:
        fails.append(f"{where}: the script ended while the call is still in '{session.state}'")
    visited = {t.state for t in session.history} | {str(t.data["dst"]) for t in session.history if "dst" in t.data}
    return ScriptReport(
        name=script.name, passed=not fails, failures=fails, transcript=lines, outcome=session.outcome, visited=visited
    )


def run_scripts(flow: Flow) -> list[ScriptReport]:
    return [run_script(flow, s) for s in flow.scripts]


def unvisited_states(flow: Flow, reports: list[ScriptReport]) -> list[str]:
    """The flow's own states that no script reached (built-in states are not counted)."""
    seen: set[str] = set()
    for r in reports:
        seen |= r.visited
    return sorted(n for n, st in flow.states.items() if not st.builtin and n not in seen)
