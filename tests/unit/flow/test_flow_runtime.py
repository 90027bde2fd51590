"""The pure runtime: events in, actions out, every step from the table; property tests."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from voicebot.flow import (
    CalleeProfile,
    CallerHangup,
    CallRecord,
    Dtmf,
    EnrollVoice,
    Flow,
    FlowStateError,
    Hangup,
    Listen,
    Say,
    SetSlot,
    SilenceTimeout,
    Transfer,
    TransferResult,
    Utterance,
    VerifyVoice,
    VoiceprintResult,
    Webhook,
    WebhookResult,
    events,
)
from voicebot.flow.runtime import Session

ROOT = Path(__file__).resolve().parents[3]
DIALOGS = sorted((ROOT / "dialogs").glob("*.yaml"))
FLOWS = {p.stem: Flow.load(p) for p in DIALOGS}
TODAY = dt.date(2026, 1, 5)
CTX = {"appointment_date": "2026-01-08", "account_id": "1", "account_last4": "1234", "delivery_date": "2026-01-07",
       "customer_name": "Ann", "customer_id": "c-1"}  # fmt: skip


def start(name: str, **kw: Any) -> tuple[Session, list[Any]]:
    flow = FLOWS[name]
    ctx = {k: v for k, v in CTX.items() if k in flow.slots}
    ctx.update(kw.pop("context", {}))
    s = flow.start(ctx, today=TODAY, **kw)
    return s, s.begin()


def says(actions: list[Any]) -> str:
    return " ".join(a.text for a in actions if isinstance(a, Say))


def test_events_and_actions_are_frozen_kw_only_slotted() -> None:
    classes = [
        events.Utterance,
        events.Dtmf,
        events.SilenceTimeout,
        events.WebhookResult,
        events.TransferResult,
        events.CallerHangup,
        events.Say,
        events.Listen,
        events.Webhook,
        events.Transfer,
        events.Hangup,
        events.SetSlot,
        events.Turn,
    ]
    for cls in classes:
        params = cls.__dataclass_params__  # type: ignore[attr-defined]
        assert params.frozen, cls
        assert hasattr(cls, "__slots__"), cls
        assert all(f.kw_only for f in dataclasses.fields(cls)), cls
    with pytest.raises(TypeError):
        events.Utterance("hi")  # type: ignore[misc]
    u = Utterance(text="hi")
    with pytest.raises(dataclasses.FrozenInstanceError):
        u.text = "x"  # type: ignore[misc]


def test_begin_says_greeting_and_listens_with_grammar() -> None:
    s, acts = start("appointment_reminder", context={"customer_name": "Ann"})
    assert isinstance(acts[0], Say) and acts[0].text.startswith("Hello Ann")
    listen = acts[-1]
    assert isinstance(listen, Listen)
    assert listen.state == "ask_confirm" and listen.timeout_s == 6
    assert listen.grammar is not None and "yes" in listen.grammar and "stop calling me" in listen.grammar
    assert set(listen.dtmf) >= {"1", "2", "3"}
    assert s.waiting == "input" and s.expecting == (Utterance, Dtmf, SilenceTimeout)


def test_free_text_slot_listens_without_grammar() -> None:
    s, _ = start("satisfaction_survey")
    s.handle(Utterance(text="five"))
    acts = s.handle(Utterance(text="speed"))
    listen = acts[-1]
    assert isinstance(listen, Listen) and listen.state == "ask_comment" and listen.grammar is None


def test_full_call_outcome_slots_history() -> None:
    s, _ = start("appointment_reminder")
    acts = s.handle(Utterance(text="yes", confidence=0.9), now=3.0)
    assert SetSlot(name="confirmed", value=True) in acts
    hook = next(a for a in acts if isinstance(a, Webhook))
    assert hook.method == "POST" and hook.body == {"status": "confirmed", "new_date": None, "confirmed": True}
    assert s.waiting == "webhook" and not s.ended
    acts = s.handle(WebhookResult(ok=True, data={}), now=3.5)
    assert isinstance(acts[-1], Hangup) and acts[-1].outcome == "confirmed"
    res = s.result()
    assert res.outcome == "confirmed" and res.slots["confirmed"] is True and res.final_state == "bye_confirmed"
    assert ("caller", "yes") in res.transcript and res.ended_at == 3.5
    assert res.transcript[0][0] == "bot"


def test_input_with_no_table_entry_is_an_error() -> None:
    s, _ = start("appointment_reminder")
    with pytest.raises(FlowStateError):
        s.handle(WebhookResult(ok=True))
    with pytest.raises(FlowStateError):
        s.handle(TransferResult(ok=False))
    s.handle(Utterance(text="yes"))
    with pytest.raises(FlowStateError):
        s.handle(Utterance(text="yes"))  # waiting for the webhook, not listening
    s.handle(WebhookResult(ok=True))
    assert s.ended
    with pytest.raises(FlowStateError):
        s.handle(SilenceTimeout())
    assert s.handle(CallerHangup()) == []  # a hang-up racing the goodbye is fine
    with pytest.raises(FlowStateError):
        s.begin()


def test_handle_before_begin_and_time_backwards() -> None:
    s = FLOWS["appointment_reminder"].start(CTX, today=TODAY)
    with pytest.raises(FlowStateError):
        s.handle(SilenceTimeout())
    s.begin(now=10.0)
    with pytest.raises(FlowStateError):
        s.handle(SilenceTimeout(), now=5.0)


def test_caller_hangup_midway() -> None:
    s, _ = start("satisfaction_survey")
    s.handle(Utterance(text="three"), now=2.0)
    assert s.handle(CallerHangup(), now=4.0) == []
    r = s.result()
    assert r.outcome == "caller_hangup" and r.slots["rating"] == 3 and r.ended_at == 4.0


def test_low_confidence_counts_as_no_match() -> None:
    s, _ = start("appointment_reminder")
    acts = s.handle(Utterance(text="yes", confidence=0.1))
    assert "didn't catch that" in says(acts) and s.state == "ask_confirm"
    assert s.slots["confirmed"] is None


def test_empty_utterance_counts_as_no_input() -> None:
    s, _ = start("appointment_reminder")
    acts = s.handle(Utterance(text="  ...  "))
    assert "Can you come on" in says(acts)


def test_reprompts_escalate_then_limit() -> None:
    s, _ = start("appointment_reminder")
    a1 = s.handle(SilenceTimeout())
    a2 = s.handle(SilenceTimeout())
    a3 = s.handle(SilenceTimeout())
    assert "Say yes or no" in says(a1) and "Please press 1" in says(a2)
    assert isinstance(a3[-1], Hangup) and a3[-1].outcome == "no_input"


def test_repeat_repeats_what_was_said_since_last_listen() -> None:
    s, first = start("appointment_reminder")
    acts = s.handle(Utterance(text="can you repeat"))
    assert says(acts) == says(first)  # the greeting and the question
    assert isinstance(acts[-1], Listen) and s.state == "ask_confirm"


def test_opt_out_marks_do_not_call() -> None:
    s, _ = start("ko_delivery_confirm")
    acts = s.handle(Utterance(text="앞으로 전화하지 마세요"))
    assert acts[-1] == Hangup(outcome="opted_out", do_not_call=True)
    assert s.result().do_not_call


def test_abuse_ends_politely() -> None:
    s, _ = start("appointment_reminder")
    acts = s.handle(Utterance(text="shut up you idiot"))
    assert "end the call" in says(acts) and acts[-1] == Hangup(outcome="abusive")


def test_agent_transfer_and_failure() -> None:
    s, _ = start("appointment_reminder")
    acts = s.handle(Utterance(text="I want an operator"))
    assert Transfer(uri="sip:frontdesk@clinic.example") in acts
    assert s.ended and s.outcome == "transferred" and s.expecting == (TransferResult,)
    acts = s.handle(TransferResult(ok=False, reason="486 Busy Here"))
    assert acts[-1] == Hangup(outcome="transfer_failed") and s.outcome == "transfer_failed"


def test_transfer_success_is_quiet() -> None:
    s, _ = start("appointment_reminder")
    s.handle(Utterance(text="operator"))
    assert s.handle(TransferResult(ok=True)) == [] and s.outcome == "transferred"


def test_dtmf_digits_collect_until_length() -> None:
    s, _ = start("payment_reminder")
    assert s.state == "verify.ask_digits"
    assert s.handle(Dtmf(digit="1")) == []
    assert s.handle(Dtmf(digit="2")) == []
    assert s.handle(Dtmf(digit="3")) == []
    acts = s.handle(Dtmf(digit="4"))
    assert SetSlot(name="spoken_last4", value="1234") in acts
    assert any(isinstance(a, Webhook) and a.method == "GET" and a.url.endswith("/accounts/1") for a in acts)


def test_dtmf_hash_ends_early_and_short_input_is_no_match() -> None:
    s, _ = start("payment_reminder")
    s.handle(Dtmf(digit="1"))
    acts = s.handle(Dtmf(digit="#"))
    assert s.state == "verify.ask_digits" and "last four digits" in says(acts)


def test_webhook_answer_fills_slots_and_bad_type_goes_to_error() -> None:
    s, _ = start("payment_reminder")
    s.handle(Utterance(text="one two three four"))
    acts = s.handle(WebhookResult(ok=True, data={"balance": "42.5", "due_date": "2025-12-20"}))
    assert SetSlot(name="balance", value=42.5) in acts and s.slots["due_date"] == dt.date(2025, 12, 20)
    assert "42.5 dollars" in says(acts)
    s2, _ = start("payment_reminder")
    s2.handle(Dtmf(digit="1"))
    for d in "234":
        s2.handle(Dtmf(digit=d))
    acts = s2.handle(WebhookResult(ok=True, data={"balance": "lots"}))
    assert acts[-1] == Hangup(outcome="system_error")


def test_nested_webhook_paths(write_flow: Callable[..., Path]) -> None:
    p = write_flow(
        """
        flow: t
        slots:
          plan: {type: text}
          first: {type: number}
        start: hook
        states:
          hook:
            webhook:
              url: http://127.0.0.1:1/x
              save: {plan: customer.plan, first: items.0}
            next: bye
            on_error: bye
          bye:
            say: Plan {plan}, first {first}.
            hangup: done
        """
    )
    s = Flow.load(p).start()
    s.begin()
    acts = s.handle(WebhookResult(ok=True, data={"customer": {"plan": "gold"}, "items": [7, 8]}))
    assert says(acts) == "Plan gold, first 7."


def test_profile_drives_branching() -> None:
    prof = CalleeProfile(
        callee="+15550001", records=(CallRecord(flow="appointment_reminder", outcome="no_input", at=1.0),)
    )
    _, acts = start("appointment_reminder", profile=prof)
    assert "We tried to reach you before" in says(acts)
    _, acts = start("appointment_reminder")
    assert "We tried to reach you before" not in says(acts)


def test_context_type_errors_are_reported() -> None:
    from voicebot.flow import FlowError

    with pytest.raises(FlowError, match="appointment_date"):
        FLOWS["appointment_reminder"].start({"appointment_date": "next week"})


def test_max_turns_caps_a_looping_caller(write_flow: Callable[..., Path]) -> None:
    p = write_flow(
        """
        flow: t
        max_turns: 5
        start: ask
        states:
          ask:
            ask: Again?
            reprompt: Again, yes or no?
            on:
              yes: ask
              no: bye
          bye:
            hangup: done
        """
    )
    s = Flow.load(p).start()
    s.begin()
    for _ in range(5):
        s.handle(Utterance(text="yes"))
    acts = s.handle(Utterance(text="yes"))
    assert acts[-1] == Hangup(outcome="max_turns") and s.ended


def test_set_expressions_and_counters(write_flow: Callable[..., Path]) -> None:
    p = write_flow(
        """
        flow: t
        slots:
          tries: {type: number, default: 0}
        start: ask
        states:
          ask:
            ask: Say the password.
            reprompt: The password, please.
            on:
              yes: bye
            no_match: {limit: 1, goto: count}
          count:
            set: {tries: "= tries + 1"}
            next: check
          check:
            branch:
              - if: tries >= 2
                goto: bye
              - else: ask
          bye:
            say: Tries {tries}.
            hangup: done
        """
    )
    s = Flow.load(p).start()
    s.begin()
    s.handle(Utterance(text="banana"))
    acts = s.handle(Utterance(text="banana"))
    assert says(acts) == "Tries 2." and s.slots["tries"] == 2


def test_ssml_prompt(write_flow: Callable[..., Path]) -> None:
    p = write_flow(
        """
        flow: t
        start: s
        states:
          s:
            say: <speak>Hello <break time="300ms"/> there</speak>
            ssml: true
            hangup: done
        """
    )
    s = Flow.load(p).start()
    say = s.begin()[0]
    assert isinstance(say, Say) and say.text == "Hello there" and say.ssml is not None and "<break" in say.ssml


# --- properties ----------------------------------------------------------------------------------

NONSENSE = ["banana", "purple", "the weather", "xyzzy", "%%%", "quantum", "블라", "香蕉"]
caller_event = st.one_of(
    st.builds(SilenceTimeout),
    st.builds(Utterance, text=st.text(max_size=40), confidence=st.floats(0, 1)),
    st.builds(Dtmf, digit=st.sampled_from(list("0123456789*#"))),
)


def drive(flow: Flow, evs: list[Any]) -> Session:
    ctx = {k: v for k, v in CTX.items() if k in flow.slots}
    s = flow.start(ctx, today=TODAY)
    acts = s.begin()
    i = 0
    steps = 0
    while not s.ended:
        steps += 1
        assert steps < 10_000
        assert s.state in flow.states
        if s.waiting == "webhook":
            acts = s.handle(WebhookResult(ok=i % 2 == 0, data={}))
        elif s.waiting == "voice":  # every voiceprint result in turn
            kind = flow.states[s.state].kind
            results = events.VERIFY_RESULTS if kind == "verify_voice" else events.ENROLL_RESULTS
            i += 1
            acts = s.handle(VoiceprintResult(result=results[i % len(results)], score=0.5))
        else:
            assert s.waiting == "input" and flow.states[s.state].kind == "ask"
            ev = evs[i % len(evs)] if evs else SilenceTimeout()
            i += 1
            acts = s.handle(ev)
        for a in acts:
            assert isinstance(a, Say | Listen | Webhook | Transfer | Hangup | SetSlot | VerifyVoice | EnrollVoice)
    return s


def _check_history_follows_table(flow: Flow, s: Session) -> None:
    steps = 0
    for turn in s.history:
        assert turn.state in flow.states
        if "dst" in turn.data:
            steps += 1
            key = (turn.data["src"], turn.data["input"])
            assert key in flow.table, key
            assert turn.data["dst"] in {e.target for e in flow.table[key]}, (key, turn.data["dst"])
    assert steps > 0


@pytest.mark.parametrize("name", sorted(FLOWS))
def test_silent_caller_always_ends_with_an_outcome(name: str) -> None:
    flow = FLOWS[name]
    s = drive(flow, [SilenceTimeout()])
    assert s.ended and s.outcome is not None
    assert s.turns <= flow.meta.max_turns + 1
    _check_history_follows_table(flow, s)


@pytest.mark.parametrize("name", sorted(FLOWS))
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    words=st.lists(
        st.sampled_from(["banana", "purple", "the weather", "xyzzy", "%%%", "quantum", "블라", "香蕉"]),
        min_size=1,
        max_size=6,
    )
)
def test_nonsense_caller_always_ends_with_an_outcome(name: str, words: list[str]) -> None:
    flow = FLOWS[name]
    s = drive(flow, [Utterance(text=w) for w in words])
    assert s.ended and s.outcome is not None
    _check_history_follows_table(flow, s)


@pytest.mark.parametrize("name", sorted(FLOWS))
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(evs=st.lists(caller_event, min_size=1, max_size=30))
def test_any_caller_never_leaves_the_table_and_always_ends(name: str, evs: list[Any]) -> None:
    flow = FLOWS[name]
    s = drive(flow, evs)
    assert s.ended and s.outcome is not None
    assert s.turns <= flow.meta.max_turns + 1
    _check_history_follows_table(flow, s)


def test_malformed_dtmf_event_is_refused() -> None:
    s, _ = start("appointment_reminder")
    with pytest.raises(FlowStateError, match="bad DTMF key"):
        s.handle(Dtmf(digit="12"))
    assert s.state == "ask_confirm" and s.turns == 0
    s.handle(Dtmf(digit="1"))
    assert s.slots["confirmed"] is True


def test_synonyms_per_language(write_flow: Callable[..., Path]) -> None:
    p = write_flow(
        """
        flow: t
        language: ko
        synonyms:
          ko: {예약: [예악, 얘약]}
          en: {appointment: [booking]}
        intents:
          book: [예약 변경]
        start: ask
        states:
          ask:
            ask: 무엇을 도와드릴까요?
            reprompt: 예약 변경이라고 말씀해 주세요.
            on:
              book: bye
          bye:
            hangup: booked
        """
    )
    s = Flow.load(p).start()
    s.begin()
    s.handle(Utterance(text="얘약 변경이요"))  # a misrecognised 예약
    assert s.outcome == "booked"


def test_global_overrides_and_prompts(write_flow: Callable[..., Path]) -> None:
    p = write_flow(
        """
        flow: t
        global:
          agent: human
          abuse: off
        prompts:
          opt_out: Fine, {customer_name}. No more calls.
        slots:
          customer_name: {type: text, default: friend}
        defaults:
          no_match: {limit: 2, goto: human}
        start: ask
        states:
          ask:
            ask: Ready?
            reprompt: Ready, yes or no?
            on:
              yes: bye
          human:
            say: One moment.
            transfer: sip:desk@example.com
          bye:
            hangup: done
        """
    )
    flow = Flow.load(p)
    assert ("ask", "intent:abuse") not in flow.table
    assert flow.table[("ask", "intent:agent")][0].target == "human"
    s = flow.start()
    s.begin()
    acts = s.handle(Utterance(text="shut up"))  # abuse is off: just not understood
    assert s.state == "ask" and "Ready, yes or no?" in says(acts)
    acts = s.handle(Utterance(text="talk to a person"))
    assert Transfer(uri="sip:desk@example.com") in acts
    s2 = flow.start({"customer_name": "Kim"})
    s2.begin()
    acts = s2.handle(Utterance(text="stop calling me"))
    assert says(acts) == "Fine, Kim. No more calls." and s2.do_not_call
    s3 = flow.start()
    s3.begin()
    s3.handle(Utterance(text="banana"))
    acts = s3.handle(Utterance(text="banana"))
    assert Transfer(uri="sip:desk@example.com") in acts


def test_global_intents_can_be_switched_off_per_state(write_flow: Callable[..., Path]) -> None:
    p = write_flow(
        """
        flow: t
        slots:
          note: {type: text}
        start: ask
        states:
          ask:
            ask: Leave a message.
            reprompt: Please leave a message.
            slot: note
            global: false
            next: bye
          bye:
            hangup: done
        """
    )
    s = Flow.load(p).start()
    listen = s.begin()[-1]
    assert isinstance(listen, Listen) and listen.grammar is None
    s.handle(Utterance(text="stop calling me"))
    assert s.outcome == "done" and s.slots["note"] == "stop calling me" and not s.do_not_call


def test_last_listen_lets_an_engine_resume_listening() -> None:
    s, acts = start("payment_reminder")
    assert s.last_listen == acts[-1]
    assert s.handle(Dtmf(digit="1")) == []  # collecting keys: keep listening with the same settings
    assert s.last_listen is not None and s.last_listen.max_digits == 4 and s.last_listen.state == "verify.ask_digits"


def test_slot_values_in_webhook_urls_are_escaped(write_flow: Callable[..., Path]) -> None:
    p = write_flow(
        """
        flow: t
        slots:
          who: {type: text, required: true}
          when: {type: date, required: true}
          ok: {type: yesno, required: true}
        start: hook
        states:
          hook:
            webhook:
              url: https://crm.example/api/{who}?date={when}&ok={ok}
              method: GET
            next: bye
            on_error: bye
          bye:
            hangup: done
        """
    )
    s = Flow.load(p).start({"who": "../admin?x=1 &y", "when": "2026-01-08", "ok": True})
    hook = s.begin()[0]
    assert isinstance(hook, Webhook)
    assert hook.url == "https://crm.example/api/..%2Fadmin%3Fx%3D1%20%26y?date=2026-01-08&ok=true"


def test_hangup_after_transfer_keeps_the_outcome() -> None:
    s, _ = start("appointment_reminder")
    s.handle(Utterance(text="operator"))
    assert s.handle(CallerHangup()) == []
    assert s.outcome == "transferred"
    assert s.handle(TransferResult(ok=False)) == []  # too late to matter: the caller is gone
    assert s.outcome == "transferred"


def test_hangup_while_waiting_for_a_webhook() -> None:
    s, _ = start("appointment_reminder")
    s.handle(Utterance(text="yes"))
    assert s.waiting == "webhook"
    s.handle(CallerHangup())
    assert s.ended and s.outcome == "caller_hangup" and s.slots["confirmed"] is True
    with pytest.raises(FlowStateError):
        s.handle(WebhookResult(ok=True))


def test_next_without_slot_takes_any_other_answer(write_flow: Callable[..., Path]) -> None:
    p = write_flow(
        """
        flow: t
        start: ask
        states:
          ask:
            ask: Say anything, or press any key, to hear your balance.
            reprompt: Say anything to continue.
            on:
              no: bye
            next: balance
          balance:
            say: Your balance is zero.
            hangup: told
          bye:
            hangup: declined
        """
    )
    flow = Flow.load(p)
    for ev in (Utterance(text="go on"), Dtmf(digit="5")):
        s = flow.start()
        s.begin()
        s.handle(ev)
        assert s.outcome == "told"
    s = flow.start()
    s.begin()
    s.handle(Utterance(text="no"))
    assert s.outcome == "declined"
