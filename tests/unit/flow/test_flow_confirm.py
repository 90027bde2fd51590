"""Confirm or reprompt when recognition confidence is low: a wrong accept is worse than a reprompt.

Below ``min_confidence`` an answer is not understood (reprompt); below ``confirm_below`` the bot
asks "Did you say ...?" and acts only on a confident yes. Both are flow-wide (``asr:``) with a
per-state override.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from voicebot.bot import intent_groups
from voicebot.flow import Dtmf, Flow, Listen, Say, SilenceTimeout, Utterance

FLOW = """
flow: t
asr: {min_confidence: 0.3, confirm_below: 0.6}
slots:
  n: {type: number, min: 1, max: 99}
intents:
  cancel:
    phrases: [cancel, cancel it]
    dtmf: "2"
  keep:
    phrases: [keep it, keep]
start: ask
states:
  ask:
    ask: Keep or cancel your order?
    reprompt: Say keep or cancel.
    on: {cancel: cancelled, keep: how_many}
  how_many:
    ask: How many?
    reprompt: How many, from 1 to 99?
    slot: n
    next: done
    confirm_below: 0.8
  cancelled:
    hangup: cancelled
  done:
    say: You want {n}.
    hangup: kept
"""


@pytest.fixture
def flow(write_flow: Callable[..., Path]) -> Flow:
    return Flow.load(write_flow(FLOW))


def said(actions: list[object]) -> str:
    return " ".join(a.text for a in actions if isinstance(a, Say))


def test_an_unsure_intent_is_confirmed_before_the_flow_acts(flow: Flow) -> None:
    s = flow.start()
    s.begin()
    acts = s.handle(Utterance(text="cancel", confidence=0.5))
    assert said(acts) == "Did you say cancel?" and s.state == "ask" and not s.ended
    listen = [a for a in acts if isinstance(a, Listen)][-1]
    assert listen.grammar is not None and "yes" in listen.grammar and "cancel" in listen.grammar
    s.handle(Utterance(text="yes", confidence=0.9))
    assert s.outcome == "cancelled"
    assert ("ask", "unsure") in flow.table and flow.table[("ask", "unsure")][0].target == "ask"


def test_a_read_backs_yes_phrases_are_one_meaning_to_the_recogniser(flow: Flow) -> None:
    """The state has no yes or no of its own; its read-back listens for the confirmation's
    phrases beside its own, and the recogniser is told they mean yes and no, not a dozen
    rival answers (it weighs a meaning's phrases together)."""
    s = flow.start()
    s.begin()
    listen = [a for a in s.handle(Utterance(text="cancel", confidence=0.5)) if isinstance(a, Listen)][-1]
    groups = intent_groups(flow, listen.state)
    assert listen.grammar is not None and groups is not None
    yes_no = {groups[p] for p in ("yes", "yeah", "correct", "no", "nope") if p in listen.grammar}
    assert yes_no == {"yes", "no"}
    assert groups["cancel it"] == "cancel" and groups["keep"] == "keep"  # the state's own still its own


def test_no_means_the_bot_misheard_and_reprompts(flow: Flow) -> None:
    s = flow.start()
    s.begin()
    s.handle(Utterance(text="cancel", confidence=0.5))
    acts = s.handle(Utterance(text="no"))
    assert said(acts) == "Say keep or cancel." and s.state == "ask" and not s.ended


def test_an_unsure_yes_to_the_question_is_not_enough(flow: Flow) -> None:
    s = flow.start()
    s.begin()
    s.handle(Utterance(text="cancel", confidence=0.5))
    acts = s.handle(Utterance(text="yes", confidence=0.5))
    assert said(acts) == "Say keep or cancel." and not s.ended


def test_another_answer_to_the_question_is_taken_as_the_answer(flow: Flow) -> None:
    s = flow.start()
    s.begin()
    s.handle(Utterance(text="cancel", confidence=0.5))
    s.handle(Utterance(text="keep it", confidence=0.95))
    assert s.state == "how_many"


def test_below_min_confidence_is_a_reprompt_without_a_question(flow: Flow) -> None:
    s = flow.start()
    s.begin()
    acts = s.handle(Utterance(text="cancel", confidence=0.2))
    assert said(acts) == "Say keep or cancel." and s.state == "ask"


def test_what_the_recogniser_did_not_match_is_a_reprompt_whatever_its_text(flow: Flow) -> None:
    """A grammar recogniser's no-match still carries the text it decoded (pocketsphinx decodes
    everything as some phrase): the flow must not act on that text."""
    s = flow.start()
    s.begin()
    acts = s.handle(Utterance(text="cancel", confidence=0.02, understood=False))
    assert said(acts) == "Say keep or cancel." and s.state == "ask" and not s.ended
    assert ("caller", "cancel") in s.result().transcript  # what was heard stays in the transcript
    s.handle(Utterance(text="cancel", confidence=0.5))  # and an unsure answer is asked about
    acts = s.handle(Utterance(text="yes", confidence=0.9, understood=False))  # a "yes" not matched
    assert said(acts) == "Say keep or cancel." and not s.ended


def test_a_confident_answer_is_acted_on_at_once(flow: Flow) -> None:
    s = flow.start()
    s.begin()
    s.handle(Utterance(text="cancel", confidence=0.7))
    assert s.outcome == "cancelled"


def test_a_state_sets_its_own_threshold_and_values_are_read_back(flow: Flow) -> None:
    s = flow.start()
    s.begin()
    s.handle(Utterance(text="keep"))
    acts = s.handle(Utterance(text="twelve", confidence=0.7))  # above the flow's 0.6, below the state's 0.8
    assert said(acts) == "Did you say 12?" and s.slots["n"] is None
    s.handle(Utterance(text="yes"))
    assert s.slots["n"] == 12 and s.outcome == "kept"


def test_keys_answer_the_question_too(flow: Flow) -> None:
    s = flow.start()
    s.begin()
    s.handle(Utterance(text="cancel", confidence=0.5))
    s.handle(Dtmf(digit="1"))  # yes
    assert s.outcome == "cancelled"
    s2 = flow.start()
    s2.begin()
    s2.handle(Utterance(text="cancel", confidence=0.5))
    s2.handle(Dtmf(digit="2"))  # no (here, while confirming; 'cancel' otherwise)
    assert s2.state == "ask" and not s2.ended


def test_silence_after_the_question_is_a_no_input_reprompt(flow: Flow) -> None:
    s = flow.start()
    s.begin()
    s.handle(Utterance(text="cancel", confidence=0.5))
    acts = s.handle(SilenceTimeout())
    assert said(acts) == "Say keep or cancel." and s.state == "ask"
    s.handle(Utterance(text="yes"))  # the unsure answer was forgotten: 'yes' means nothing here
    assert not s.ended


def test_the_question_can_be_reworded_per_flow(write_flow: Callable[..., Path]) -> None:
    p = write_flow(FLOW + "prompts:\n  confirm: Sorry, was that {answer}?\n")
    s = Flow.load(p).start()
    s.begin()
    assert said(s.handle(Utterance(text="cancel", confidence=0.5))) == "Sorry, was that cancel?"


def unset(text: str) -> str:
    """FLOW with no ``confirm_below`` anywhere: the listening engine's threshold applies."""
    return text.replace(", confirm_below: 0.6", "").replace("    confirm_below: 0.8\n", "")


def test_without_confirm_below_an_answer_below_the_engines_accept_threshold_is_read_back(
    write_flow: Callable[..., Path],
) -> None:
    flow = Flow.load(write_flow(unset(FLOW)))
    assert flow.compiled.confirmation is not None and ("ask", "unsure") in flow.table
    s = flow.start(accept_confidence=0.9)  # e.g. pocketsphinx's shipped accept threshold
    s.begin()
    acts = s.handle(Utterance(text="cancel", confidence=0.54))
    assert said(acts) == "Did you say cancel?" and not s.ended
    s.handle(Utterance(text="yes", confidence=0.93))
    assert s.outcome == "cancelled"
    s = flow.start(accept_confidence=0.9)
    s.begin()
    s.handle(Utterance(text="cancel", confidence=0.9))  # at the threshold: taken at once
    assert s.outcome == "cancelled"


def test_without_an_engine_nothing_is_read_back_but_where_the_flow_says(write_flow: Callable[..., Path]) -> None:
    """No recogniser (typed text, the flow's own scripts): no accept threshold to borrow."""
    s = Flow.load(write_flow(unset(FLOW))).start()
    s.begin()
    s.handle(Utterance(text="cancel", confidence=0.4))
    assert s.outcome == "cancelled"


@pytest.mark.parametrize("where", ["flow", "state"])
def test_an_explicit_confirm_below_wins_over_the_engine_and_0_switches_it_off(
    write_flow: Callable[..., Path], where: str
) -> None:
    text = unset(FLOW)
    if where == "flow":
        text = text.replace("asr: {min_confidence: 0.3}", "asr: {min_confidence: 0.3, confirm_below: 0}")
    else:
        on = "    on: {cancel: cancelled, keep: how_many}\n"
        text = text.replace(on, on + "    confirm_below: 0\n")
    flow = Flow.load(write_flow(text))
    assert ("ask", "unsure") not in flow.table
    s = flow.start(accept_confidence=0.9)
    s.begin()
    s.handle(Utterance(text="keep", confidence=0.55))  # 'ask' confirms nothing: on at once
    assert s.state == "how_many"
    acts = s.handle(Utterance(text="twelve", confidence=0.7))
    if where == "flow":  # the flow-wide 0 holds in every state
        assert s.slots["n"] == 12 and s.outcome == "kept"
    else:  # the other state still borrows the engine's 0.9
        assert said(acts) == "Did you say 12?" and s.slots["n"] is None


def test_confirm_below_engine_says_the_default_out_loud(write_flow: Callable[..., Path]) -> None:
    flow = Flow.load(write_flow(FLOW.replace("confirm_below: 0.8", "confirm_below: engine")))
    s = flow.start(accept_confidence=0.75)
    s.begin()
    s.handle(Utterance(text="keep"))
    assert said(s.handle(Utterance(text="twelve", confidence=0.7))) == "Did you say 12?"  # 0.7 < 0.75
    assert s.confirm_below(flow.states["how_many"]) == 0.75
    assert s.confirm_below(flow.states["ask"]) == 0.6  # the flow's asr: value, not the engine's


def test_confirm_below_must_be_a_number_or_engine(write_flow: Callable[..., Path]) -> None:
    texts = [d.text() for d in Flow.check(write_flow(FLOW.replace("confirm_below: 0.8", "confirm_below: always")))]
    assert any("'confirm_below' must be a number or 'engine', got 'always'" in t for t in texts), texts


def test_free_speech_is_not_read_back_by_default(write_flow: Callable[..., Path]) -> None:
    """The engines' confidences are calibrated on grammar answers: a free-speech state (a
    text slot) borrows no accept threshold."""
    n = "  n: {type: number, min: 1, max: 99}"
    text = unset(FLOW).replace(n, n + "\n  note: {type: text}").replace("You want {n}.", "We noted {note}.")
    text = text.replace("    slot: n\n    next: done", "    slot: note\n    next: done")
    flow = Flow.load(write_flow(text))
    assert ("how_many", "unsure") not in flow.table and ("ask", "unsure") in flow.table
    s = flow.start(accept_confidence=0.9)
    s.begin()
    s.handle(Utterance(text="keep"))
    s.handle(Utterance(text="leave it at the door", confidence=0.3))
    assert s.outcome == "kept" and s.slots["note"] == "leave it at the door"


def test_keys_are_never_read_back(write_flow: Callable[..., Path]) -> None:
    s = Flow.load(write_flow(unset(FLOW))).start(accept_confidence=0.9)
    s.begin()
    acts = s.handle(Dtmf(digit="2"))  # cancel by key: a key has no confidence to doubt
    assert "Did you say" not in said(acts) and s.outcome == "cancelled"


def test_the_reply_to_the_question_is_not_read_back_again(write_flow: Callable[..., Path]) -> None:
    """A yes below the threshold is a no-match (a reprompt), never "Did you say yes?"."""
    s = Flow.load(write_flow(unset(FLOW))).start(accept_confidence=0.9)
    s.begin()
    s.handle(Utterance(text="cancel", confidence=0.6))
    acts = s.handle(Utterance(text="yes", confidence=0.7))
    assert said(acts) == "Say keep or cancel." and s.state == "ask" and not s.ended
    acts = s.handle(Utterance(text="cancel", confidence=0.6))  # read back again: a new answer
    assert said(acts) == "Did you say cancel?"
    s.handle(Utterance(text="yes", confidence=0.95))
    assert s.outcome == "cancelled"


def test_no_goes_back_to_the_question_without_the_no_match_words(write_flow: Callable[..., Path]) -> None:
    reprompt = "    reprompt: Say keep or cancel.\n"
    no_match = "    no_match: {say: That is not one of the choices., limit: 2, goto: cancelled}\n"
    text = unset(FLOW).replace(reprompt, reprompt + no_match)
    s = Flow.load(write_flow(text)).start(accept_confidence=0.9)
    s.begin()
    s.handle(Utterance(text="cancel", confidence=0.6))
    acts = s.handle(Utterance(text="no", confidence=0.95))
    assert said(acts) == "Say keep or cancel." and s.state == "ask"
    assert any(t.text == "not confirmed: cancel" for t in s.history)
    s.handle(Utterance(text="cancel", confidence=0.6))
    s.handle(Dtmf(digit="2"))  # no, by key: the second no-match reaches the limit
    assert s.outcome == "cancelled" and s.result().final_state == "cancelled"


def test_confirm_below_not_above_min_confidence_is_a_warning(write_flow: Callable[..., Path]) -> None:
    p = write_flow(FLOW.replace("    confirm_below: 0.8\n", "    confirm_below: 0.2\n"))
    texts = [d.text() for d in Flow.check(p)]
    assert any("confirm_below (0.2) is not above min_confidence (0.3), so nothing is confirmed" in t for t in texts)


def test_a_read_backs_yes_is_taken_at_the_engines_own_threshold_for_it(write_flow: Callable[..., Path]) -> None:
    """The engine's threshold for a yes to "Did you say ...?" (fitted apart from its accept
    threshold): a yes between the two confirms, a yes below it is a no-match (a reprompt)."""
    flow = Flow.load(write_flow(unset(FLOW)))
    s = flow.start(accept_confidence=0.9, confirm_confidence=0.8)
    s.begin()
    assert s.confirm_yes_at(flow.states["ask"]) == 0.8
    s.handle(Utterance(text="cancel", confidence=0.6))
    s.handle(Utterance(text="yes", confidence=0.85))  # under accept, over the yes's own threshold
    assert s.outcome == "cancelled"
    assert any(t.text == "confirmed: cancel" for t in s.history)
    s = flow.start(accept_confidence=0.9, confirm_confidence=0.8)
    s.begin()
    s.handle(Utterance(text="cancel", confidence=0.6))
    acts = s.handle(Utterance(text="yes", confidence=0.75))
    assert said(acts) == "Say keep or cancel." and s.state == "ask" and not s.ended
    # the answer itself is still read back below accept, not below the yes's threshold
    acts = s.handle(Utterance(text="cancel", confidence=0.85))
    assert said(acts) == "Did you say cancel?" and not s.ended


def test_a_state_with_its_own_confirm_below_takes_a_yes_at_that(flow: Flow) -> None:
    """FLOW sets confirm_below (0.6 flow-wide, 0.8 in how_many): a yes there must be as sure
    as an answer taken at once, whatever the engine's threshold for a yes."""
    s = flow.start(accept_confidence=0.9, confirm_confidence=0.5)
    s.begin()
    assert s.confirm_yes_at(flow.states["ask"]) == 0.6
    assert s.confirm_yes_at(flow.states["how_many"]) == 0.8
    s.handle(Utterance(text="keep", confidence=0.9))
    s.handle(Utterance(text="twelve", confidence=0.7))
    acts = s.handle(Utterance(text="yes", confidence=0.7))  # over the engine's 0.5, under the state's 0.8
    assert said(acts) == "How many, from 1 to 99?" and s.slots["n"] is None
    s.handle(Utterance(text="twelve", confidence=0.7))
    s.handle(Utterance(text="yes", confidence=0.8))
    assert s.slots["n"] == 12 and s.outcome == "kept"


def test_without_a_threshold_for_the_yes_it_is_taken_at_accept(write_flow: Callable[..., Path]) -> None:
    s = Flow.load(write_flow(unset(FLOW))).start(accept_confidence=0.9)
    s.begin()
    s.handle(Utterance(text="cancel", confidence=0.6))
    acts = s.handle(Utterance(text="yes", confidence=0.85))
    assert said(acts) == "Say keep or cancel." and not s.ended


@pytest.mark.parametrize("yes_at", [-0.1, 0.95])
def test_a_yes_threshold_outside_0_to_accept_is_refused(write_flow: Callable[..., Path], yes_at: float) -> None:
    with pytest.raises(ValueError, match="confirm_confidence"):
        Flow.load(write_flow(unset(FLOW))).start(accept_confidence=0.9, confirm_confidence=yes_at)
