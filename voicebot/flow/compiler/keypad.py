"""Every ask state by keypad alone: the keys its choices get and the prompt that says them.

Compiled for every flow, used when a call runs keypad-only (``flow.start(context,
dtmf_only=True)``: no recogniser for the language, or the caller's choice). A state's choices
are its ``on:`` intents in the order written, then yes/no for a yes/no slot and the values of
an enum slot. A choice keeps the key the flow gives it (the intent's ``dtmf:`` or the state's
``dtmf:`` map); the others get the free keys 1-9, 0 in order. Digits, number and date slots
are keyed digit by digit (a date as month and day, ``0314``). A text slot cannot be keyed:
that is a problem when the state offers no keyed choice besides it (an error, the caller
could never answer), and worth a warning otherwise. Problems are kept apart from the flow's
diagnostics: they only matter under the option (``voicebot flow check --dtmf-only``).
"""

from __future__ import annotations

from collections.abc import Mapping

from voicebot.flow import keywords
from voicebot.flow.compiler.unit import Unit
from voicebot.flow.diagnostics import Pos
from voicebot.flow.model import Keypad, Slot, Template
from voicebot.flow.slots import spoken

FREE_KEYS = "1234567890"
KEY_ORDER = "1234567890*#ABCD"


def compile_keypad(
    u: Unit,
    full: str,
    pos: Pos,
    slot: Slot | None,
    choices: list[str],
    dtmf: Mapping[str, str],
    max_digits: int,
    goes_on: bool,
) -> Keypad:
    """The keypad form of one ask state. ``choices``: its own intents in order; ``dtmf``: the
    keys the flow gives (own and global intents; digit keys already removed where the slot
    takes digits); ``goes_on``: the state has a ``next:``."""
    digits = _digits(slot, max_digits)
    keyed = {intent: key for key, intent in dtmf.items()}
    used = set(dtmf)
    menu: list[tuple[str, str]] = []  # key -> intent, for the choices the prompt offers
    for choice in choices:
        key = keyed.get(choice)
        if key is None and not digits:
            key = next((k for k in FREE_KEYS if k not in used), None)
            if key is None:
                u.keypad.error(pos, f"ask state '{full}' has more choices than a keypad has keys", "offer at most 10")
                continue
            used.add(key)
        if key is not None:
            menu.append((key, choice))
    menu.sort(key=lambda kv: KEY_ORDER.index(kv[0]))
    labelled = [(key, _label(u, slot, choice)) for key, choice in menu]
    spoken: list[str] = []
    if digits:
        spoken.append(_entry(slot, digits, u.language))
    elif slot is None and not choices and goes_on:
        spoken.append(keywords.entry("any", u.language))
    if menu:
        spoken.append(keywords.menu(labelled, u.language))
    if slot is not None and slot.type == "text":
        if menu:
            u.keypad.warning(
                pos,
                f"ask state '{full}' fills text slot '{slot.name}', which a keypad cannot enter",
                "by keypad the caller can only choose: " + ", ".join(f"{k} {label}" for k, label in labelled),
            )
        else:
            u.keypad.error(
                pos,
                f"ask state '{full}' fills text slot '{slot.name}', which a keypad cannot enter, "
                "and offers no other choice",
                "add an 'on:' choice such as skip (it gets a key), or keep this question for callers who speak",
            )
    menu_keys = {k for k, _ in menu}
    keys = [(k, i) for k, i in menu] + sorted((k, i) for k, i in dtmf.items() if k not in menu_keys)
    text = " ".join(spoken)
    return Keypad(
        keys=tuple(keys),
        digits=digits,
        prompt=Template(source=text, parts=((False, text),)) if text else None,
    )


def _digits(slot: Slot | None, max_digits: int) -> int:
    if slot is None:
        return 0
    if slot.type in ("digits", "number"):
        return max_digits
    return 4 if slot.type == "date" else 0  # a date is keyed as month and day: 0314


def _entry(slot: Slot | None, digits: int, language: str) -> str:
    assert slot is not None
    if slot.type == "digits" and slot.min_length is not None and slot.min_length == slot.max_length:
        return keywords.entry("digits_fixed", language, n=digits)
    if slot.type == "number" and digits == 1:  # one key fills it: a number from 0 to 9
        lo = max(0, int(slot.min)) if slot.min is not None else 0
        hi = min(9, int(slot.max)) if slot.max is not None else 9
        return keywords.entry("range", language, lo=lo, hi=hi)
    return keywords.entry(slot.type, language)


def _label(u: Unit, slot: Slot | None, choice: str) -> str:
    """How a choice is named in the menu: yes and no as the flow's language says them, other
    choices by their first phrase."""
    if choice in ("yes", "no"):
        return spoken(choice == "yes", u.language)
    if slot is not None and slot.type == "enum" and choice in slot.value_names:
        phrases = dict(slot.values)[choice]
    else:
        phrases = u.intent_phrases.get(choice, ())
    return phrases[0] if phrases else choice.replace("_", " ")
