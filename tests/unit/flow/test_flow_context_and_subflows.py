"""What a flow needs and gives: required context slots, sub-flows checked on their own, and a
mistake reported once (its cause) rather than with every consequence."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import pytest

from voicebot.flow import Flow, FlowError, Say
from voicebot.flow.scripts import run_scripts

ROOT = Path(__file__).resolve().parents[3]
APPOINTMENT = ROOT / "dialogs" / "appointment_reminder.yaml"
VERIFY = ROOT / "dialogs" / "common" / "verify_identity.yaml"


def texts(path: Path) -> list[str]:
    return [d.text() for d in Flow.check(path)]


# --- one typo, one error -----------------------------------------------------------------------


def test_a_typo_in_next_is_one_error_not_a_cascade(tmp_path: Path) -> None:
    text = APPOINTMENT.read_text(encoding="utf-8").replace("    next: check_profile", "    next: chek_profile")
    p = tmp_path / "typo.yaml"
    p.write_text(text, encoding="utf-8")
    assert texts(p) == ["41:11: error: unknown target state 'chek_profile' in 'next'; did you mean 'check_profile'?"]


def test_a_typo_in_a_branch_does_not_make_its_targets_endless(write_flow: Callable[..., Path]) -> None:
    p = write_flow(
        """
        flow: t
        start: ask
        states:
          ask:
            ask: Ready?
            reprompt: Ready, yes or no?
            on: {yes: later, no: bye}
          later:
            say: Fine.
            next: byee
          bye:
            hangup: done
        """
    )
    assert texts(p) == ["10:11: error: unknown target state 'byee' in 'next'; did you mean 'bye'?"]


def test_graph_errors_unrelated_to_a_broken_target_are_still_reported(write_flow: Callable[..., Path]) -> None:
    p = write_flow(
        """
        flow: t
        start: ask
        states:
          ask:
            ask: Ready?
            reprompt: Ready, yes or no?
            on: {yes: bye, no: bye}
          orphan:
            say: Nobody comes here.
            next: nowhere
          bye:
            hangup: done
        """
    )
    got = texts(p)
    unreachable = "8:3: error: unreachable state 'orphan': no transition leads here"
    assert any(t.startswith(unreachable) for t in got), got
    assert any("unknown target state 'nowhere'" in t for t in got)


# --- required context ---------------------------------------------------------------------------


def test_a_slot_used_but_never_given_a_value_is_an_error(write_flow: Callable[..., Path]) -> None:
    p = write_flow(
        """
        flow: t
        slots:
          when: {type: date}
        start: hi
        states:
          hi:
            say: See you on {when}.
            hangup: done
        """
    )
    assert texts(p) == [
        "3:3: error: slot 'when' is used (line 7) but never gets a value: no state fills it and it has no default; "
        "add required: true if the call's context gives it (flow.start(context), flow chat --set), or a default"
    ]


def test_required_and_default_together_are_refused(write_flow: Callable[..., Path]) -> None:
    p = write_flow(
        """
        flow: t
        slots:
          when: {type: date, required: true, default: 2026-01-08}
        start: hi
        states:
          hi:
            say: See you on {when}.
            hangup: done
        """
    )
    assert any(t.startswith("3:22: error: slot 'when' is required and has a default") for t in texts(p))


def test_start_refuses_a_call_without_a_required_value() -> None:
    flow = Flow.load(APPOINTMENT)
    assert flow.context_slots == ("appointment_date",)
    for ctx in ({"customer_name": "Ann"}, {"appointment_date": None}, {"appointment_date": ""}):
        with pytest.raises(FlowError) as info:
            flow.start(ctx)
        (d,) = info.value.diagnostics
        assert d.message == "the call's context has no value for required slot 'appointment_date'"
        assert d.hint == "give appointment_date: a date as YYYY-MM-DD" and d.line == 17


def test_the_date_the_context_gives_is_spoken() -> None:
    # the README's library example once said "You are booked for  at the usual time"
    s = Flow.load(APPOINTMENT).start(
        {"customer_name": "Ann", "appointment_date": "2026-01-08"}, today=dt.date(2026, 1, 5)
    )
    said = " ".join(a.text for a in s.begin() if isinstance(a, Say))
    assert "You are booked for Thursday, January 8 at the usual time." in said


def test_a_script_must_give_the_required_context(write_flow: Callable[..., Path]) -> None:
    p = write_flow(
        """
        flow: t
        slots:
          when: {type: date, required: true}
        start: hi
        states:
          hi:
            say: See you on {when}.
            hangup: done
        tests:
          - name: forgot it
            turns: []
            expect: {outcome: done}
        """
    )
    assert (
        "10:5: error: script 'forgot it' gives no context value for required slot 'when'; "
        "add when: <a date as YYYY-MM-DD> under the script's context:"
    ) in texts(p)


# --- sub-flows on their own ---------------------------------------------------------------------


def test_a_subflow_file_checks_cleanly_on_its_own() -> None:
    assert Flow.check(VERIFY) == []
    flow = Flow.load(VERIFY)
    assert flow.context_slots == ("account_last4",)
    assert {flow.states["ok"].outcome, flow.states["failed"].outcome} == {"verified", "not_verified"}


def test_a_subflow_on_its_own_runs_its_scripts() -> None:
    flow = Flow.load(VERIFY)
    reports = run_scripts(flow)
    assert len(reports) >= 2 and all(r.passed for r in reports), [f for r in reports for f in r.failures]


def test_a_flow_that_returns_without_declaring_returns_is_still_an_error() -> None:
    assert texts(ROOT / "tests" / "data" / "flows_broken" / "subflow_return.yaml") == [
        "6:5: error: 'return' is only allowed in a subflow; use hangup: <outcome> or next: <state> here"
    ]


def test_return_labels_are_checked_against_returns(write_flow: Callable[..., Path]) -> None:
    write_flow(
        """
        flow: sub
        returns: [done]
        start: ask
        states:
          ask:
            ask: Ready?
            reprompt: Ready, yes or no?
            on: {yes: ok, no: nope}
          ok:
            return: done
          nope:
            return: dnoe
        """,
        "sub.yaml",
    )
    p = write_flow(
        """
        flow: main
        start: call
        states:
          call:
            subflow: sub.yaml
            on: {done: bye, failed: bye}
          bye:
            hangup: finished
        """
    )
    got = texts(p)
    assert any(
        t.endswith("error: return label 'dnoe' is not among the sub-flow's returns: done; did you mean 'done'?")
        for t in got
    ), got
    assert any("the subflow never returns 'failed' (it returns: done)" in t for t in got), got
