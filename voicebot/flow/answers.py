"""What a caller's answer means in an ask state, before the session acts on it.

An utterance is understood as one of the state's intents (its own ones win ties against the
global ones), as a value for the state's slot (a number, digits, a date, free text), or, in a
state with only ``next:``, as any answer at all. Keys collected into a slot become its value
the same way (a date keyed as month and day). Pure functions of the compiled state.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from voicebot.flow.model import Slot, State
from voicebot.flow.slots import date_from_keys, extract_date, extract_digits, extract_number, spoken


@dataclass(frozen=True, slots=True, kw_only=True)
class Heard:
    """An answer understood: an intent, a value for the state's slot, or (neither) any answer.
    ``said`` is how the bot reads it back when it asks "Did you say ...?"."""

    intent: str | None = None
    value: Any = None
    said: str = ""
    score: float = 1.0  # how well the words matched the intent's phrase


def understand(st: State, slot: Slot | None, text: str, language: str, today: dt.date, goes_on: bool) -> Heard | None:
    """The meaning of ``text`` in ask state ``st`` (``None``: not understood). ``goes_on``: the
    state has a ``next:`` without a slot, so any answer leads on."""
    match = st.intents.match(text) if st.intents is not None else None
    if match is not None:
        local = st.intents is not None and match.intent in st.intents.local
        if local or slot is None or slot.type in ("yesno", "enum") or match.score >= 0.8:
            return Heard(intent=match.intent, said=match.phrase, score=match.score)
    if slot is not None:
        value = slot_value(slot, text, language, today)
        return None if value is None else Heard(value=value, said=spoken(value, language))
    return Heard(said=text.strip()) if goes_on else None


def slot_value(slot: Slot, text: str, language: str, today: dt.date) -> Any:
    """A value for a number, digits, date or text slot out of what was said (``None``: none found)."""
    if slot.type == "number":
        return extract_number(text, language)
    if slot.type == "digits":
        return extract_digits(text)
    if slot.type == "date":
        return extract_date(text, language, today)
    if slot.type == "text":
        return text.strip() or None
    return None


def keyed_value(slot: Slot, keys: str, today: dt.date) -> Any:
    """A value for a slot out of keys collected for it (``None``: they make no value)."""
    if slot.type == "date":
        return date_from_keys(keys, today)
    return keys or None
