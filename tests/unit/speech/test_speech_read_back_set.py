"""The speech benchmark hears the reply to a read-back as a call does: with the phrases and
groups the flow runtime listens with in that state, and a yes is what the runtime takes as
one. (It heard the reply with the yes/no phrases alone until 2026-11-30.)"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "benchmarks"))

from _speech_set import LANGUAGES, ROOT, read_backs

from voicebot import Flow
from voicebot.asr.matching import normalize
from voicebot.bot import intent_groups
from voicebot.flow import Listen, Utterance

# per language: how to reach each listening state with an answer heard under accept (read back)
UNSURE = {
    "ko": {"ask_home": [("내일 주세요", 0.6)], "ask_where": [("아니요", 0.99), ("경비실", 0.6)]},
    "en": {"ask_confirm": [("cancel", 0.6)], "confirm_cancel": [("cancel", 0.99), ("yes", 0.6)]},
}
CONTEXT = {"customer_name": "김", "delivery_date": "2026-12-01", "appointment_date": "2026-12-01"}


def listening_after(flow: Flow, answers: list[tuple[str, float]]) -> Listen:
    session = flow.start(dict(CONTEXT), accept_confidence=0.9)
    actions = session.begin()
    for text, confidence in answers:
        actions = session.handle(Utterance(text=text, confidence=confidence))
    return [a for a in actions if isinstance(a, Listen)][-1]


@pytest.mark.parametrize("lang", ["ko", "en"])
def test_a_read_back_is_heard_with_what_the_runtime_listens_for(lang: str) -> None:
    flow = Flow.load(ROOT / LANGUAGES[lang].flow)
    backs = read_backs(lang)
    assert set(backs) == set(LANGUAGES[lang].states)
    for state, back in backs.items():
        listen = listening_after(flow, UNSURE[lang][state])
        assert listen.state == state and listen.grammar is not None
        assert back.phrases == tuple(dict.fromkeys(listen.grammar))
        assert back.groups == intent_groups(flow, state)
        meaning = {normalize(k): v for k, v in back.groups.items()}  # as the recogniser reads its groups
        assert back.yes and all(meaning[normalize(p)] == "yes" for p in back.yes)
    if lang == "ko":  # the parcel's place has no yes of its own: its read-back hears the flow's
        assert {"네", "예", "맞아요"} <= backs["ask_where"].yes and "경비실" in backs["ask_where"].phrases
