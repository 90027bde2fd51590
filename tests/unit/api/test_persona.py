"""Persona files: what they may say, the errors they get, and the verdict on a call."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from voicebot.errors import ConfigError
from voicebot.persona import Persona, verdict

ROOT = Path(__file__).resolve().parents[3]


PERSONAS = sorted((ROOT / "dialogs" / "personas").glob("*.persona.yaml"))


def test_every_shipped_dialog_has_a_persona() -> None:
    flows = {p.stem for p in (ROOT / "dialogs").glob("*.yaml")}
    assert flows and flows == {p.name.removesuffix(".persona.yaml") for p in PERSONAS}


@pytest.mark.parametrize("path", PERSONAS, ids=lambda p: p.name)
def test_every_shipped_persona_loads_and_states_its_outcome(path: Path) -> None:
    persona = Persona.load(path)
    assert persona.turns and persona.expect.get("outcome")


def test_the_campaign_callees_are_expressible() -> None:
    busy = Persona.parse({"persona": "busy", "answer": {"reject": 486}})
    unanswered = Persona.parse({"persona": "away", "answer": {"never": True}})
    machine = Persona.parse(
        {
            "persona": "voicemail",
            "answer": {"after": 4},
            "greeting": "Hi, you have reached Ann. Please leave a message after the tone.",
            "turns": [{"tone": 1000, "wait": False}],
        }
    )
    opt_out = Persona.parse({"persona": "opt out", "greeting": "Hello?", "turns": ["please stop calling me"]})
    assert busy.reject == 486 and unanswered.never_answer and machine.answer_after == 4
    assert machine.turns[0].action == "tone" and not machine.turns[0].wait
    assert opt_out.turns[0].action == "say" and opt_out.texts() == ["Hello?", "please stop calling me"]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"turns": [{"say": "yes", "dtmf": "1"}]}, "exactly one of"),
        ({"turns": [{"dtmf": "12x"}]}, "dtmf digits"),
        ({"turns": [{"shout": "yes"}]}, "unknown key 'shout'"),
        ({"answer": {"reject": 200}}, "300-699"),
        ({"answer": {"after": -1}}, ">= 0"),
        ({"bogus": 1}, "unknown key 'bogus'"),
        ({"end": "later"}, "'end'"),
    ],
)
def test_mistakes_get_one_line_errors(data: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        Persona.parse(data, where="p.yaml")


def test_verdict_checks_outcome_slots_and_path_in_order() -> None:
    expect = {"outcome": "cancelled", "slots": {"day": dt.date(2026, 1, 8)}, "path": ["greet", "confirm", "bye"]}
    report = {"outcome": "cancelled", "slots": {"day": "2026-01-08"}, "path": ["greet", "ask", "confirm", "x", "bye"]}
    assert verdict(expect, report) == []
    assert verdict(expect, {**report, "path": ["greet", "bye", "confirm"]})  # wrong order
    assert verdict(expect, {**report, "outcome": "confirmed"})
    assert verdict(expect, {**report, "slots": {"day": "2026-01-09"}})


def test_confirm_yes_answers_read_backs_in_the_personas_language() -> None:
    """``confirm: yes`` (YAML's true) replies with the language's yes; the persona listens for
    the built-in read-back of each of its lines ("Did you say five?", "네, 맞습니까?")."""
    en = Persona.parse({"persona": "p", "confirm": True, "turns": ["five", {"dtmf": "1"}, "the staff"]})
    assert en.confirm == "yes" and en.read_backs() == ["did you say five", "did you say the staff"]
    assert "yes" in en.texts()  # rendered before the first call like every other line
    ko = Persona.parse({"persona": "p", "language": "ko", "confirm": True, "turns": ["네"]})
    assert ko.confirm == "네" and ko.read_backs() == ["네 맞습니까"]
    own = Persona.parse(
        {"persona": "p", "confirm": {"say": "yes it was", "question": "Sorry, was that {answer}?"}, "turns": ["four"]}
    )
    assert own.confirm == "yes it was" and own.read_backs() == ["sorry was that four"]
    off = Persona.parse({"persona": "p", "confirm": False, "turns": ["five"]})
    assert off.confirm is None and off.read_backs() == []


@pytest.mark.parametrize(
    ("confirm", "message"),
    [
        ({"say": "yes", "when": "always"}, "unknown key 'when'"),
        ({"say": ""}, "say needs the reply as text"),
        ({"say": "yes", "question": "Is that right?"}, "question must be the read-back with {answer}"),
        (3, "give yes, the reply's text"),
    ],
)
def test_confirm_mistakes_get_one_line_errors(confirm: object, message: str) -> None:
    with pytest.raises(ConfigError, match="confirm") as err:
        Persona.parse({"persona": "p", "confirm": confirm, "turns": ["five"]})
    assert message in str(err.value) and "\n" not in str(err.value)
