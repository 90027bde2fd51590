"""Prompt templates (``{slot}`` placeholders) and expressions (``=`` values, ``if:`` conditions).

Both record which slots they read, for the context and unused-slot checks.
"""

from __future__ import annotations

from typing import Any

from voicebot.flow import expr as ex
from voicebot.flow.compiler.schema import PROFILE_FIELDS
from voicebot.flow.compiler.unit import Unit
from voicebot.flow.diagnostics import Pos, did_you_mean
from voicebot.flow.model import Template


def template(u: Unit, text: str, pos: Pos, quoted: Any = None, key: Any = None) -> Template:
    parts: list[tuple[bool, str]] = []
    buf: list[str] = []
    i = 0
    off = 1 if (quoted is not None and key in quoted) else 0
    n = len(text)
    while i < n:
        c = text[i]
        if c == "{" and i + 1 < n and text[i + 1] == "{":
            buf.append("{")
            i += 2
            continue
        if c == "}" and i + 1 < n and text[i + 1] == "}":
            buf.append("}")
            i += 2
            continue
        if c == "{":
            j = text.find("}", i)
            if j < 0:
                u.r.error(pos.shifted(i + off), "unclosed '{' in prompt", "write {slot} or {{ for a brace")
                break
            name = text[i + 1 : j].strip()
            if name not in u.scope.types:
                u.r.error(
                    pos.shifted(i + off),
                    f"unknown slot '{name}' in prompt",
                    did_you_mean(
                        name,
                        [n for n in u.scope.types if not n.startswith("profile.")] + list(PROFILE_FIELDS),
                        "slot",
                    ),
                )
            else:
                u.slot_readers.setdefault(name, pos.shifted(i + off))
            if buf:
                parts.append((False, "".join(buf)))
                buf = []
            parts.append((True, name))
            i = j + 1
            continue
        if c == "}":
            u.r.error(pos.shifted(i + off), "unmatched '}' in prompt", "write }} for a literal brace")
        buf.append(c)
        i += 1
    if buf:
        parts.append((False, "".join(buf)))
    if len(text) > 600:
        u.r.warning(pos, f"prompt is {len(text)} characters long", "callers lose track after ~2 sentences")
    return Template(source=text, parts=tuple(parts))


def expression(u: Unit, text: str, pos: Pos, quoted: bool, want: str | None) -> ex.Node | None:
    off = 1 if quoted else 0
    try:
        node = ex.parse(text)
        typ = ex.check(node, u.scope)
    except ex.ExprError as e:
        u.r.error(pos.shifted(e.offset + off), e.message, e.hint)
        return None
    for nm in ex.names_in(node):
        u.slot_readers.setdefault(nm.dotted, pos)
    if want is not None and typ not in (want, ex.ANY, ex.NULL) and want != ex.BOOL:
        u.r.error(pos, f"expression gives {typ} but the slot is {want}", "")
        return None
    return node
