"""A read-back's "네" on a μ-law line, heard by Vosk with the packaged Korean model: the flow
takes it at the engine's own threshold for a yes to a read-back, not at the answer's.

Every turn is espeak-ng Korean through the G.711 μ-law telephone channel, heard by a
recogniser opened for a narrowband line with the grammar and intents of the flow's ``Listen``
(as ``VoiceBot`` opens one per turn), and handed to the flow as the bot hands it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from tests.sim.channel import telephone_channel
from voicebot import Flow
from voicebot.asr.engine import Band, recognize_pcm
from voicebot.asr.vosk_engine import VoskEngine
from voicebot.bot import accept_confidence, confirm_confidence, intent_groups
from voicebot.flow import Listen, Say, Session, Utterance

Speak = Callable[..., np.ndarray]
FLOW = Path(__file__).resolve().parents[3] / "dialogs" / "ko_delivery_confirm.yaml"


def listened(actions: list[object]) -> Listen:
    return [a for a in actions if isinstance(a, Listen)][-1]


def heard(engine: VoskEngine, flow: Flow, listen: Listen, audio: np.ndarray) -> Utterance:
    """The caller's turn as the bot hears it on a narrowband line: a named phrase at its
    confidence."""
    assert listen.grammar is not None
    rec = engine.recognizer(list(listen.grammar), groups=intent_groups(flow, listen.state), band=Band.NARROW)
    try:
        match = recognize_pcm(rec, audio).match
    finally:
        rec.close()
    assert match is not None and match.phrase is not None, match
    return Utterance(text=match.phrase, confidence=match.confidence)


def read_back(engine: VoskEngine, flow: Flow, speak: Speak, yes_at: float | None) -> tuple[Session, Utterance]:
    """At ask_home the caller says "내일 주세요" (tomorrow, please), heard on μ-law under the
    narrowband accept threshold: the bot asks "내일 주세요, 맞습니까?". Returns the session
    and how the caller's "네" to that is heard."""
    session = flow.start(
        {"delivery_date": "2026-12-01"},
        accept_confidence=accept_confidence(engine, Band.NARROW),
        confirm_confidence=yes_at,
    )
    listen = listened(session.begin())
    answer = heard(engine, flow, listen, telephone_channel(speak("내일 주세요", "ko"))[0])
    assert answer.text == "내일 주세요" and answer.confidence < engine.accept_on(Band.NARROW), answer
    actions = session.handle(answer)
    assert any(isinstance(a, Say) and "내일 주세요" in a.text for a in actions), actions
    # a man's voice, fast: scored under the accept threshold
    yes = heard(engine, flow, listened(actions), telephone_channel(speak("네", "ko+m1", rate=210))[0])
    return session, yes


def test_a_yes_under_accept_confirms_at_the_engines_threshold_for_it(vosk_engine: VoskEngine, speak: Speak) -> None:
    flow = Flow.load(FLOW)
    yes_at = confirm_confidence(vosk_engine, Band.NARROW)
    assert yes_at is not None
    session, yes = read_back(vosk_engine, flow, speak, yes_at)
    assert yes.text == "네" and yes_at <= yes.confidence < vosk_engine.accept_on(Band.NARROW), yes
    session.handle(yes)
    assert session.state == "ask_date", [t.text for t in session.history]
    assert any(t.text == "confirmed: 내일 주세요" for t in session.history)


def test_the_same_yes_taken_at_accept_was_a_reprompt(vosk_engine: VoskEngine, speak: Speak) -> None:
    """The rule before the yes had its own threshold: the same "네" must be as sure as an
    answer taken at once, and is not."""
    session, yes = read_back(vosk_engine, Flow.load(FLOW), speak, None)
    actions = session.handle(yes)
    assert session.state == "ask_home" and session.slots["home"] is None
    assert any(isinstance(a, Say) and "네, 아니면 아니요" in a.text for a in actions), actions


@pytest.mark.parametrize("band", [Band.NARROW, Band.WIDE, None])
def test_the_engine_takes_a_read_backs_yes_at_no_more_than_accept(vosk_engine: VoskEngine, band: Band | None) -> None:
    assert vosk_engine.policies[band or Band.WIDE].floor <= vosk_engine.confirm_on(band) <= vosk_engine.accept_on(band)


def test_a_read_back_where_the_state_has_no_yes_hears_the_flows_yes_as_one_meaning(
    vosk_engine: VoskEngine, speak: Speak
) -> None:
    """Where to leave the parcel has no yes or no of its own: its read-back ("경비실, 맞습니까?")
    listens for the flow's yes and no beside the state's places. The caller's "네" on μ-law must
    not come back with "예" as its rival, as when the recogniser weighed each way of saying yes
    as a meaning of its own (``intent_groups`` did not carry the flow's answers)."""
    flow = Flow.load(FLOW)
    session = flow.start({"delivery_date": "2026-12-01"}, accept_confidence=accept_confidence(vosk_engine, Band.NARROW))
    session.begin()
    session.handle(Utterance(text="아니요", confidence=0.99))
    listen = listened(session.handle(Utterance(text="경비실", confidence=0.6)))
    assert listen.state == "ask_where" and listen.grammar is not None and "네" in listen.grammar
    groups = intent_groups(flow, listen.state)
    yes = {p for p in listen.grammar if groups is not None and groups.get(p) == "yes"}
    assert {"네", "예", "맞아요"} <= yes
    rec = vosk_engine.recognizer(list(listen.grammar), groups=groups, band=Band.NARROW)
    try:
        match = recognize_pcm(rec, telephone_channel(speak("네", "ko"))[0]).match
    finally:
        rec.close()
    assert match is not None and match.phrase == "네", match
    assert match.runner_up not in yes, match
    session.handle(Utterance(text=match.phrase, confidence=match.confidence))
    assert any(t.text == "confirmed: 경비실" for t in session.history), [t.text for t in session.history]
