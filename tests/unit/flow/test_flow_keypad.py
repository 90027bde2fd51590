"""Keypad-only operation (``flow.start(context, dtmf_only=True)``): every ask state's choices get
keys, the prompt says them in the flow's language, and what a keypad cannot answer is said at
compile time."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import pytest

from voicebot.flow import Dtmf, Flow, FlowError, Listen, Say, Utterance
from voicebot.flow.keywords import menu

ROOT = Path(__file__).resolve().parents[3]
TODAY = dt.date(2026, 1, 5)


def said(actions: list[object]) -> list[str]:
    return [a.text for a in actions if isinstance(a, Say)]


def listen(actions: list[object]) -> Listen:
    found = [a for a in actions if isinstance(a, Listen)]
    assert found, actions
    return found[-1]


def test_choices_keep_the_flows_keys_and_the_rest_are_assigned_in_order() -> None:
    flow = Flow.load(ROOT / "dialogs" / "appointment_reminder.yaml")
    s = flow.start({"appointment_date": "2026-01-08"}, today=TODAY, dtmf_only=True)
    acts = s.begin()
    # yes 1, cancel 2, reschedule 3 come from the flow; 'no' has no key there and gets the next free one
    assert said(acts)[-1] == "Press 1 for yes, 2 for cancel, 3 for reschedule, 4 for no."
    lst = listen(acts)
    assert lst.dtmf_only and lst.grammar is None and set(lst.dtmf) == {"1", "2", "3", "4"}
    s.handle(Dtmf(digit="4"))
    assert s.state == "offer_reschedule" and s.slots["confirmed"] is False


def test_without_the_option_nothing_changes() -> None:
    flow = Flow.load(ROOT / "dialogs" / "appointment_reminder.yaml")
    s = flow.start({"appointment_date": "2026-01-08"}, today=TODAY)
    acts = s.begin()
    assert not any("Press 1" in t for t in said(acts))
    lst = listen(acts)
    assert not lst.dtmf_only and lst.grammar and set(lst.dtmf) == {"1", "2", "3"}
    s.handle(Dtmf(digit="4"))
    assert s.state == "ask_confirm"  # 4 means nothing here outside keypad mode: a no-match


def test_a_date_is_keyed_as_month_and_day() -> None:
    flow = Flow.load(ROOT / "dialogs" / "appointment_reminder.yaml")
    s = flow.start({"appointment_date": "2026-01-08"}, today=TODAY, dtmf_only=True)
    s.begin()
    acts = s.handle(Dtmf(digit="3"))
    assert s.state == "ask_new_date"
    assert said(acts)[-1].startswith("Key in the month and day as four digits")
    assert listen(acts).max_digits == 4
    for d in "011":
        assert s.handle(Dtmf(digit=d)) == []  # still collecting
    s.handle(Dtmf(digit="0"))  # January 10
    assert s.slots["new_date"] == dt.date(2026, 1, 10)


def test_a_keyed_date_that_does_not_exist_is_a_no_match() -> None:
    flow = Flow.load(ROOT / "dialogs" / "appointment_reminder.yaml")
    s = flow.start({"appointment_date": "2026-01-08"}, today=TODAY, dtmf_only=True)
    s.begin()
    s.handle(Dtmf(digit="3"))
    acts: list[object] = []
    for d in "1340":
        acts = list(s.handle(Dtmf(digit=d)))
    assert s.state == "ask_new_date" and s.slots.get("new_date") is None
    assert said(acts)[-1].startswith("Key in the month and day")  # the reprompt says the keys again


@pytest.mark.parametrize(
    ("path", "ctx", "first"),
    [
        (
            "ko_delivery_confirm.yaml",
            {"delivery_date": "2026-01-07"},
            "네는 1번, 아니요는 2번, 다른 날은 3번 눌러 주세요.",
        ),
        ("zh_satisfaction_survey.yaml", {}, "请按1到5之间的数字键。"),
        ("satisfaction_survey.yaml", {}, "Press a key from 1 to 5."),
        ("payment_reminder.yaml", {"account_id": "1", "account_last4": "1234"}, "Key in the 4 digits."),
    ],
)
def test_the_prompt_says_the_keys_in_the_flows_language(path: str, ctx: dict[str, str], first: str) -> None:
    s = Flow.load(ROOT / "dialogs" / path).start(ctx, today=TODAY, dtmf_only=True)
    assert said(s.begin())[-1] == first


def test_menus_in_each_language() -> None:
    items = [("1", "네"), ("2", "상담원"), ("#", "건너뛰기")]
    assert menu(items, "ko") == "네는 1번, 상담원은 2번, 건너뛰기는 우물 정자 눌러 주세요."
    assert menu([("1", "是"), ("*", "人工")], "zh") == "是请按1，人工请按星号键。"
    assert menu([("1", "yes"), ("#", "skip")], "en") == "Press 1 for yes, pound for skip."


def test_a_text_slot_with_no_other_choice_cannot_run_by_keypad(write_flow: Callable[..., Path]) -> None:
    p = write_flow(
        """
        flow: t
        slots:
          comment: {type: text}
        start: ask
        states:
          ask:
            ask: Tell us anything.
            reprompt: Anything at all?
            slot: comment
            next: bye
          bye:
            say: Thanks, you said {comment}.
            hangup: done
        """
    )
    assert Flow.check(p) == []  # the flow itself is fine
    problems = [d.text() for d in Flow.check(p, dtmf_only=True)]
    assert problems == [
        "6:3: error: ask state 'ask' fills text slot 'comment', which a keypad cannot enter, and offers no other "
        "choice; add an 'on:' choice such as skip (it gets a key), or keep this question for callers who speak"
    ]
    flow = Flow.load(p)
    flow.start().begin()  # by voice it runs
    with pytest.raises(FlowError) as info:
        flow.start(dtmf_only=True)
    assert "which a keypad cannot enter" in str(info.value)


def test_too_many_choices_for_a_keypad(write_flow: Callable[..., Path]) -> None:
    values = ", ".join(f"v{i}" for i in range(11))
    p = write_flow(
        f"""
        flow: t
        slots:
          pick: {{type: enum, values: [{values}]}}
        start: ask
        states:
          ask:
            ask: Pick one.
            reprompt: Pick one of them.
            slot: pick
            next: bye
          bye:
            hangup: done
        """
    )
    flow = Flow.load(p)
    assert [d.message for d in flow.keypad_problems] == ["ask state 'ask' has more choices than a keypad has keys"]
    keys = [k for k, _ in flow.states["ask"].keypad.keys]  # type: ignore[union-attr]
    assert keys == list("1234567890")


def test_a_state_that_takes_any_answer_takes_any_key(write_flow: Callable[..., Path]) -> None:
    p = write_flow(
        """
        flow: t
        start: ask
        states:
          ask:
            ask: Say anything when you are ready.
            reprompt: Ready?
            next: bye
          bye:
            hangup: done
        """
    )
    s = Flow.load(p).start(dtmf_only=True)
    assert said(s.begin())[-1] == "Press any key to go on."
    s.handle(Dtmf(digit="7"))
    assert s.outcome == "done"


def test_keyed_global_intents_still_work_by_keypad() -> None:
    flow = Flow.load(ROOT / "dialogs" / "payment_reminder.yaml")
    ask_pay = flow.states["ask_pay"].keypad
    assert ask_pay is not None and ("0", "agent") in ask_pay.keys
    assert "agent" not in (ask_pay.prompt.source if ask_pay.prompt else "")  # not offered, but it works


def test_speech_still_works_in_keypad_mode() -> None:
    # an engine may still hear the caller; the flow does not refuse what it understands
    flow = Flow.load(ROOT / "dialogs" / "appointment_reminder.yaml")
    s = flow.start({"appointment_date": "2026-01-08"}, today=TODAY, dtmf_only=True)
    s.begin()
    s.handle(Utterance(text="yes"))
    assert s.slots["confirmed"] is True
