"""Slot values from outside the caller's speech: YAML literals, call context, webhook answers.

:func:`coerce` is the one conversion of a value to a slot's type. The compiler uses it to check
defaults, ``set:`` literals and script contexts; the runtime uses it on context values, computed
assignments and webhook fields. :func:`kind_name` names a value's YAML kind for messages.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from voicebot.flow.diagnostics import did_you_mean
from voicebot.flow.model import Slot

_INTEGER = re.compile(r"-?\d+")


def kind_name(v: Any) -> str:
    """What a YAML value is, in words: ``a number``, ``text``, ``a list``..."""
    if isinstance(v, bool):
        return "true/false"
    if isinstance(v, int | float):
        return "a number"
    if isinstance(v, str):
        return "text"
    if isinstance(v, list):
        return "a list"
    if isinstance(v, dict):
        return "a mapping"
    return "null"


def describe(slot: Slot) -> str:
    """What a value of the slot looks like, for messages: ``a date as YYYY-MM-DD``..."""
    if slot.type == "enum":
        return "one of " + ", ".join(slot.value_names)
    return {
        "yesno": "true or false",
        "number": "a number",
        "digits": "digits",
        "date": "a date as YYYY-MM-DD",
    }.get(slot.type, "text")


def coerce(slot: Slot, value: Any, today: dt.date) -> Any:
    """Convert a value from YAML, a context or a webhook answer to the slot's type."""
    if value is None:
        return None
    t = slot.type
    if t == "yesno":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false", "yes", "no"):
            return value.lower() in ("true", "yes")
        raise ValueError(f"expected true or false, got {value!r}")
    if t == "number":
        if isinstance(value, bool):
            raise ValueError(f"expected a number, got {value!r}")
        if isinstance(value, int | float):
            v: float | int = value
        else:
            try:
                v = int(str(value)) if _INTEGER.fullmatch(str(value).strip()) else float(str(value))
            except ValueError:
                raise ValueError(f"expected a number, got {value!r}") from None
        if slot.min is not None and v < slot.min:
            raise ValueError(f"{v} is below the minimum {slot.min:g}")
        if slot.max is not None and v > slot.max:
            raise ValueError(f"{v} is above the maximum {slot.max:g}")
        return v
    if t == "digits":
        s = str(value) if isinstance(value, int | str) and not isinstance(value, bool) else None
        if s is None or not s.isdigit():
            raise ValueError(f"expected digits, got {value!r}")
        if slot.min_length is not None and len(s) < slot.min_length:
            raise ValueError(f"expected at least {slot.min_length} digits, got {len(s)}")
        if slot.max_length is not None and len(s) > slot.max_length:
            raise ValueError(f"expected at most {slot.max_length} digits, got {len(s)}")
        return s
    if t == "date":
        if isinstance(value, dt.datetime):
            return value.date()
        if isinstance(value, dt.date):
            return value
        try:
            return dt.date.fromisoformat(str(value))
        except ValueError:
            raise ValueError(f"expected a date as YYYY-MM-DD, got {value!r}") from None
    if t == "enum":
        s = str(value)
        if s not in slot.value_names:
            close = did_you_mean(s, slot.value_names)
            raise ValueError(f"'{s}' is not one of {', '.join(slot.value_names)} ({close})")
        return s
    if isinstance(value, dict | list):
        raise ValueError(f"expected text, got {kind_name(value)}")
    return str(value) if not isinstance(value, bool) else ("true" if value else "false")
