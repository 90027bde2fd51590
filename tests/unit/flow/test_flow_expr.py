"""The branch/set expression language: parsing, static types, evaluation, and its safety."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from voicebot.flow import expr as ex

SCOPE = ex.Scope(
    types={"n": ex.NUMBER, "name": ex.STR, "ok": ex.BOOL, "when": ex.DATE, "color": ex.STR, "profile.calls": ex.NUMBER},
    enum_values={"color": ("red", "green")},
)
TODAY = dt.date(2026, 1, 5)


def run(src: str, **values: Any) -> Any:
    node = ex.parse(src)
    ex.check(node, SCOPE)
    return ex.evaluate(node, lambda k: values.get(k.replace(".", "_")), TODAY)


@pytest.mark.parametrize(
    ("src", "values", "want"),
    [
        ("1 + 2 * 3", {}, 7),
        ("(1 + 2) * 3", {}, 9),
        ("-n + 10", {"n": 4}, 6),
        ("n > 3 and ok", {"n": 4, "ok": True}, True),
        ("n > 3 and ok", {"n": 4, "ok": False}, False),
        ("not ok or n == 1", {"ok": True, "n": 1}, True),
        ("color in ['red', 'green']", {"color": "red"}, True),
        ("color not in ['red']", {"color": "green"}, True),
        ("lower(name) == 'ann'", {"name": "ANN"}, True),
        ("len(name) >= 3", {"name": "Bob"}, True),
        ("is_set(name)", {"name": None}, False),
        ("is_set(name)", {"name": "x"}, True),
        ("days_until(when)", {"when": dt.date(2026, 1, 8)}, 3),
        ("max(n, 10) % 7", {"n": 3}, 3),
        ("n < 5", {"n": None}, False),
        ("name == null", {"name": None}, True),
        ("profile.calls >= 2", {"profile_calls": 2}, True),
        ("'a' + name", {"name": "b"}, "ab"),
        ("round(2.6)", {}, 3),
        ("n != 1.5", {"n": 1.5}, False),
    ],
)
def test_evaluates(src: str, values: dict[str, Any], want: Any) -> None:
    assert run(src, **values) == want


@pytest.mark.parametrize(
    ("src", "msg", "offset"),
    [
        ("n = 3", "'=' is not a comparison", 2),
        ("n > ", "unexpected end of expression", 4),
        ("n && ok", "unknown operator '&'", 2),
        ("ok == 'yes'", "cannot compare bool with text", 3),
        ("color == 'gren'", "'gren' is not a value of enum slot 'color'", 9),
        ("nn > 1", "unknown slot 'nn'", 0),
        ("__import__('os')", "unknown function '__import__'", 0),
        ("open('x')", "unknown function 'open'", 0),
        ("name.__class__", "unknown slot 'name.__class__'", 0),
        ("'abc", "unterminated string", 0),
        ("n > 1 n", "unexpected 'n'", 6),
        ("len(n)", "len() needs text or a list, got number", 0),
        ("name - 1", "'-' needs numbers, got text and number", 5),
        ("ok < 1", "cannot order bool against number with '<'", 3),
        ("len()", "len() takes 1 argument(s), got 0", 0),
        ("", "empty expression", 0),
        ("n ; 1", "unexpected character ';'", 2),
    ],
)
def test_reports_errors_with_offsets(src: str, msg: str, offset: int) -> None:
    with pytest.raises(ex.ExprError) as info:
        ex.check(ex.parse(src), SCOPE)
    assert info.value.message == msg
    assert info.value.offset == offset


def test_nesting_is_capped() -> None:
    with pytest.raises(ex.ExprError, match="nested too deeply"):
        ex.parse("(" * 200 + "1" + ")" * 200)
    with pytest.raises(ex.ExprError, match="longer than"):
        ex.parse("1 + " * 1000 + "1")


def test_runtime_errors_are_contained() -> None:
    node = ex.parse("10 / n")
    with pytest.raises(ex.ExprRuntimeError):
        ex.evaluate(node, lambda k: 0, TODAY)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=60))
def test_parser_never_crashes_on_any_text(src: str) -> None:
    try:
        node = ex.parse(src)
        ex.check(node, SCOPE)
    except ex.ExprError as e:
        assert 0 <= e.offset <= len(src)
