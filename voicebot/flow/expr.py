"""A small, safe expression language for ``branch`` conditions and ``set`` values.

Hand-written tokenizer and precedence-climbing parser; nothing is ever passed to ``eval``.

Grammar (lowest to highest precedence)::

    expr    := or
    or      := and ('or' and)*
    and     := not ('and' not)*
    not     := 'not' not | compare
    compare := sum (('=='|'!='|'<'|'<='|'>'|'>='|'in'|'not in') sum)?
    sum     := product (('+'|'-') product)*
    product := unary (('*'|'/'|'%') unary)*
    unary   := '-' unary | atom
    atom    := NUMBER | STRING | 'true' | 'false' | 'null' | NAME('.'NAME)* | NAME '(' args ')'
             | '[' args ']' | '(' expr ')'

Names are slots (``confirmed``) or profile fields (``profile.calls``). Functions: ``len``,
``lower``, ``upper``, ``is_set``, ``days_until``, ``min``, ``max``, ``round``. Types are checked
at compile time against slot types, and enum comparisons against the enum's values.
"""

from __future__ import annotations

import datetime as dt
import difflib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

BOOL, NUMBER, STR, DATE, LIST, NULL, ANY = "bool", "number", "text", "date", "list", "null", "any"

MAX_EXPR_CHARS = 2000
MAX_DEPTH = 50


class ExprError(Exception):
    """A syntax or type error at ``offset`` (0-based character index into the expression)."""

    def __init__(self, message: str, offset: int, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.offset = offset
        self.hint = hint


class ExprRuntimeError(Exception):
    """Evaluation failed (e.g. division by zero); the runtime treats the condition as false."""


@dataclass(frozen=True, slots=True)
class Tok:
    kind: str  # num, str, name, op, end
    text: str
    value: Any
    offset: int


_OPS2 = ("==", "!=", "<=", ">=")
_OPS1 = "<>+-*/%()[],."
_DIGITS = "0123456789"
_KEYWORDS = {"and", "or", "not", "in", "true", "false", "null"}


def tokenize(src: str) -> list[Tok]:
    toks: list[Tok] = []
    i = 0
    n = len(src)
    while i < n:
        c = src[i]
        if c.isspace():
            i += 1
            continue
        if c in _DIGITS or (c == "." and i + 1 < n and src[i + 1] in _DIGITS):
            j = i
            seen_dot = False
            while j < n and (src[j] in _DIGITS or (src[j] == "." and not seen_dot)):
                if src[j] == ".":
                    if j + 1 >= n or src[j + 1] not in _DIGITS:
                        break
                    seen_dot = True
                j += 1
            text = src[i:j]
            toks.append(Tok("num", text, float(text) if seen_dot else int(text), i))
            i = j
            continue
        if c in "'\"":
            j = i + 1
            buf: list[str] = []
            while j < n and src[j] != c:
                if src[j] == "\\" and j + 1 < n:
                    buf.append(src[j + 1])
                    j += 2
                    continue
                buf.append(src[j])
                j += 1
            if j >= n:
                raise ExprError("unterminated string", i, f"close it with {c}")
            toks.append(Tok("str", src[i : j + 1], "".join(buf), i))
            i = j + 1
            continue
        if c.isalpha() or c == "_":
            j = i
            while j < n and (src[j].isalpha() or src[j] in _DIGITS or src[j] == "_"):
                j += 1
            word = src[i:j]
            toks.append(Tok("op" if word in _KEYWORDS else "name", word, word, i))
            i = j
            continue
        two = src[i : i + 2]
        if two in _OPS2:
            toks.append(Tok("op", two, two, i))
            i += 2
            continue
        if c == "=":
            raise ExprError("'=' is not a comparison", i, "write '==' to compare")
        if c == "&" or c == "|":
            raise ExprError(f"unknown operator '{c}'", i, "write 'and' / 'or'")
        if c == "!":
            raise ExprError("unknown operator '!'", i, "write 'not' or '!='")
        if c in _OPS1:
            toks.append(Tok("op", c, c, i))
            i += 1
            continue
        raise ExprError(f"unexpected character {c!r}", i)
    toks.append(Tok("end", "", None, n))
    return toks


# --- AST -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Node:
    offset: int


@dataclass(frozen=True, slots=True)
class Lit(Node):
    value: Any


@dataclass(frozen=True, slots=True)
class Name(Node):
    parts: tuple[str, ...]

    @property
    def dotted(self) -> str:
        return ".".join(self.parts)


@dataclass(frozen=True, slots=True)
class Unary(Node):
    op: str
    operand: Node


@dataclass(frozen=True, slots=True)
class Binary(Node):
    op: str
    left: Node
    right: Node


@dataclass(frozen=True, slots=True)
class CallF(Node):
    func: str
    args: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class ListLit(Node):
    items: tuple[Node, ...]


FUNCTIONS: dict[str, tuple[int, int]] = {
    "len": (1, 1),
    "lower": (1, 1),
    "upper": (1, 1),
    "is_set": (1, 1),
    "days_until": (1, 1),
    "min": (1, 8),
    "max": (1, 8),
    "round": (1, 1),
}


class _Parser:
    def __init__(self, src: str) -> None:
        self.toks = tokenize(src)
        self.i = 0
        self.depth = 0

    def peek(self) -> Tok:
        return self.toks[self.i]

    def next(self) -> Tok:
        t = self.toks[self.i]
        self.i += 1
        return t

    def accept(self, text: str) -> bool:
        t = self.peek()
        if t.kind == "op" and t.text == text:
            self.i += 1
            return True
        return False

    def expect(self, text: str) -> Tok:
        t = self.peek()
        if t.kind == "op" and t.text == text:
            self.i += 1
            return t
        raise ExprError(f"expected '{text}' but found {_describe(t)}", t.offset)

    def parse(self) -> Node:
        node = self.or_()
        t = self.peek()
        if t.kind != "end":
            raise ExprError(f"unexpected {_describe(t)}", t.offset, "join conditions with 'and' / 'or'")
        return node

    def _deeper(self, offset: int) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise ExprError("expression nested too deeply", offset)

    def or_(self) -> Node:
        left = self.and_()
        while True:
            t = self.peek()
            if not self.accept("or"):
                return left
            left = Binary(t.offset, "or", left, self.and_())

    def and_(self) -> Node:
        left = self.not_()
        while True:
            t = self.peek()
            if not self.accept("and"):
                return left
            left = Binary(t.offset, "and", left, self.not_())

    def not_(self) -> Node:
        t = self.peek()
        if self.accept("not"):
            self._deeper(t.offset)
            node = Unary(t.offset, "not", self.not_())
            self.depth -= 1
            return node
        return self.compare()

    def compare(self) -> Node:
        left = self.sum_()
        t = self.peek()
        if t.kind == "op" and t.text in ("==", "!=", "<", "<=", ">", ">=", "in"):
            self.i += 1
            return Binary(t.offset, t.text, left, self.sum_())
        if t.kind == "op" and t.text == "not":
            nxt = self.toks[self.i + 1]
            if nxt.kind == "op" and nxt.text == "in":
                self.i += 2
                return Binary(t.offset, "not in", left, self.sum_())
        return left

    def sum_(self) -> Node:
        left = self.product()
        while True:
            t = self.peek()
            if t.kind == "op" and t.text in ("+", "-"):
                self.i += 1
                left = Binary(t.offset, t.text, left, self.product())
            else:
                return left

    def product(self) -> Node:
        left = self.unary()
        while True:
            t = self.peek()
            if t.kind == "op" and t.text in ("*", "/", "%"):
                self.i += 1
                left = Binary(t.offset, t.text, left, self.unary())
            else:
                return left

    def unary(self) -> Node:
        t = self.peek()
        if self.accept("-"):
            self._deeper(t.offset)
            node = Unary(t.offset, "-", self.unary())
            self.depth -= 1
            return node
        return self.atom()

    def args(self, close: str) -> tuple[Node, ...]:
        items: list[Node] = []
        if self.accept(close):
            return ()
        while True:
            items.append(self.or_())
            if self.accept(close):
                return tuple(items)
            self.expect(",")

    def atom(self) -> Node:
        t = self.next()
        if t.kind == "num" or t.kind == "str":
            return Lit(t.offset, t.value)
        if t.kind == "op" and t.text in ("true", "false", "null"):
            return Lit(t.offset, {"true": True, "false": False, "null": None}[t.text])
        if t.kind == "op" and t.text == "(":
            self._deeper(t.offset)
            node = self.or_()
            self.expect(")")
            self.depth -= 1
            return node
        if t.kind == "op" and t.text == "[":
            self._deeper(t.offset)
            node = ListLit(t.offset, self.args("]"))
            self.depth -= 1
            return node
        if t.kind == "name":
            if self.accept("("):
                if t.text not in FUNCTIONS:
                    close = difflib.get_close_matches(t.text, FUNCTIONS, n=1)
                    hint = f"did you mean '{close[0]}'?" if close else "functions: " + ", ".join(FUNCTIONS)
                    raise ExprError(f"unknown function '{t.text}'", t.offset, hint)
                self._deeper(t.offset)
                args = self.args(")")
                self.depth -= 1
                lo, hi = FUNCTIONS[t.text]
                if not lo <= len(args) <= hi:
                    want = str(lo) if lo == hi else f"{lo} to {hi}"
                    raise ExprError(f"{t.text}() takes {want} argument(s), got {len(args)}", t.offset)
                return CallF(t.offset, t.text, args)
            parts = [t.text]
            while self.accept("."):
                nt = self.next()
                if nt.kind != "name":
                    raise ExprError(f"expected a field name after '.', found {_describe(nt)}", nt.offset)
                parts.append(nt.text)
            return Name(t.offset, tuple(parts))
        raise ExprError(f"unexpected {_describe(t)}", t.offset, "expected a value, slot name or '('")


def _describe(t: Tok) -> str:
    return "end of expression" if t.kind == "end" else f"'{t.text}'"


def parse(src: str) -> Node:
    """Parse an expression; raises :class:`ExprError` with the offset of the problem."""
    if len(src) > MAX_EXPR_CHARS:
        raise ExprError(f"expression longer than {MAX_EXPR_CHARS} characters", 0)
    if not src.strip():
        raise ExprError("empty expression", 0, "write a condition such as: confirmed == true")
    return _Parser(src).parse()


# --- static type check ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Scope:
    """What names mean in expressions: ``types`` maps dotted name -> type; enum values by name."""

    types: Mapping[str, str]
    enum_values: Mapping[str, tuple[str, ...]]


def _ok(a: str, b: str) -> bool:
    return a == b or ANY in (a, b) or NULL in (a, b)


def check(node: Node, scope: Scope) -> str:
    """Type-check ``node``; returns its type or raises :class:`ExprError`."""
    if isinstance(node, Lit):
        v = node.value
        if v is None:
            return NULL
        if isinstance(v, bool):
            return BOOL
        if isinstance(v, int | float):
            return NUMBER
        return STR
    if isinstance(node, ListLit):
        for item in node.items:
            check(item, scope)
        return LIST
    if isinstance(node, Name):
        name = node.dotted
        if name not in scope.types:
            close = difflib.get_close_matches(name, list(scope.types), n=1)
            hint = f"did you mean '{close[0]}'?" if close else "declare it under 'slots:'"
            raise ExprError(f"unknown slot '{name}'", node.offset, hint)
        return scope.types[name]
    if isinstance(node, Unary):
        t = check(node.operand, scope)
        if node.op == "-" and not _ok(t, NUMBER):
            raise ExprError(f"'-' needs a number, got {t}", node.offset)
        return BOOL if node.op == "not" else NUMBER
    if isinstance(node, CallF):
        types = [check(a, scope) for a in node.args]
        f = node.func
        if f == "is_set":
            if not isinstance(node.args[0], Name):
                raise ExprError("is_set() takes a slot name", node.offset, "write is_set(slot)")
            return BOOL
        if f == "len":
            if not (_ok(types[0], STR) or _ok(types[0], LIST)):
                raise ExprError(f"len() needs text or a list, got {types[0]}", node.offset)
            return NUMBER
        if f in ("lower", "upper"):
            if not _ok(types[0], STR):
                raise ExprError(f"{f}() needs text, got {types[0]}", node.offset)
            return STR
        if f == "days_until":
            if not _ok(types[0], DATE):
                raise ExprError(f"days_until() needs a date slot, got {types[0]}", node.offset)
            return NUMBER
        for t in types:
            if not _ok(t, NUMBER):
                raise ExprError(f"{f}() needs numbers, got {t}", node.offset)
        return NUMBER
    assert isinstance(node, Binary)
    lt = check(node.left, scope)
    rt = check(node.right, scope)
    op = node.op
    if op in ("and", "or"):
        return BOOL
    if op in ("==", "!="):
        if not _ok(lt, rt):
            raise ExprError(f"cannot compare {lt} with {rt}", node.offset, _compare_hint(lt, rt))
        _check_enum(node.left, node.right, scope)
        _check_enum(node.right, node.left, scope)
        return BOOL
    if op in ("<", "<=", ">", ">="):
        if not _ok(lt, rt) or lt in (BOOL, LIST) or rt in (BOOL, LIST):
            raise ExprError(f"cannot order {lt} against {rt} with '{op}'", node.offset, _compare_hint(lt, rt))
        return BOOL
    if op in ("in", "not in"):
        if not (_ok(rt, LIST) or _ok(rt, STR)):
            raise ExprError(f"'{op}' needs a list or text on the right, got {rt}", node.offset)
        if isinstance(node.right, ListLit):
            for item in node.right.items:
                _check_enum(node.left, item, scope)
        return BOOL
    if op == "+" and _ok(lt, STR) and _ok(rt, STR) and STR in (lt, rt):
        return STR
    if not (_ok(lt, NUMBER) and _ok(rt, NUMBER)):
        raise ExprError(f"'{op}' needs numbers, got {lt} and {rt}", node.offset)
    return NUMBER


def _compare_hint(lt: str, rt: str) -> str:
    if BOOL in (lt, rt):
        return "yes/no slots compare with true or false"
    if STR in (lt, rt):
        return "quote text values, e.g. rating == 'good'"
    return ""


def _check_enum(name: Node, other: Node, scope: Scope) -> None:
    if isinstance(name, Name) and isinstance(other, Lit) and isinstance(other.value, str):
        values = scope.enum_values.get(name.dotted)
        if values is not None and other.value not in values:
            close = difflib.get_close_matches(other.value, values, n=1)
            hint = f"did you mean '{close[0]}'?" if close else "values: " + ", ".join(values)
            raise ExprError(f"'{other.value}' is not a value of enum slot '{name.dotted}'", other.offset, hint)


# --- evaluation -------------------------------------------------------------------------------


def evaluate(node: Node, lookup: Callable[[str], Any], today: dt.date) -> Any:
    """Evaluate a checked expression. ``lookup`` maps a dotted name to its value (or None)."""
    if isinstance(node, Lit):
        return node.value
    if isinstance(node, ListLit):
        return [evaluate(i, lookup, today) for i in node.items]
    if isinstance(node, Name):
        return lookup(node.dotted)
    if isinstance(node, Unary):
        v = evaluate(node.operand, lookup, today)
        if node.op == "not":
            return not _truthy(v)
        if not isinstance(v, int | float) or isinstance(v, bool):
            raise ExprRuntimeError(f"'-' applied to {v!r}")
        return -v
    if isinstance(node, CallF):
        if node.func == "is_set":
            arg = node.args[0]
            assert isinstance(arg, Name)
            return lookup(arg.dotted) not in (None, "")
        args = [evaluate(a, lookup, today) for a in node.args]
        try:
            return _call(node.func, args, today)
        except (TypeError, ValueError) as exc:
            raise ExprRuntimeError(f"{node.func}(): {exc}") from None
    assert isinstance(node, Binary)
    if node.op == "and":
        return _truthy(evaluate(node.left, lookup, today)) and _truthy(evaluate(node.right, lookup, today))
    if node.op == "or":
        return _truthy(evaluate(node.left, lookup, today)) or _truthy(evaluate(node.right, lookup, today))
    a = evaluate(node.left, lookup, today)
    b = evaluate(node.right, lookup, today)
    return _binary(node.op, a, b)


def _truthy(v: Any) -> bool:
    return v not in (None, False, 0, "", [])


def _call(func: str, args: list[Any], today: dt.date) -> Any:
    if any(a is None for a in args):
        return None
    if func == "len":
        return len(args[0])
    if func == "lower":
        return str(args[0]).lower()
    if func == "upper":
        return str(args[0]).upper()
    if func == "days_until":
        d = args[0]
        if not isinstance(d, dt.date):
            raise ValueError(f"not a date: {d!r}")
        return (d - today).days
    if func == "min":
        return min(args)
    if func == "max":
        return max(args)
    if func == "round":
        return round(args[0])
    raise ValueError(f"unknown function {func}")


def _binary(op: str, a: Any, b: Any) -> Any:
    if op == "==":
        return bool(a == b)
    if op == "!=":
        return bool(a != b)
    if op in ("in", "not in"):
        if b is None or a is None:
            return op == "not in"
        try:
            found = a in b
        except TypeError as exc:
            raise ExprRuntimeError(str(exc)) from None
        return found if op == "in" else not found
    if a is None or b is None:
        if op in ("<", "<=", ">", ">="):
            return False
        return None
    try:
        if op == "<":
            return bool(a < b)
        if op == "<=":
            return bool(a <= b)
        if op == ">":
            return bool(a > b)
        if op == ">=":
            return bool(a >= b)
        if op == "+":
            if isinstance(a, str) or isinstance(b, str):
                return f"{a}{b}"
            return a + b
        if op == "-":
            return a - b
        if op == "*":
            return a * b
        if op == "/":
            return a / b
        if op == "%":
            return a % b
    except (TypeError, ZeroDivisionError) as exc:
        raise ExprRuntimeError(f"{a!r} {op} {b!r}: {exc}") from None
    raise ExprRuntimeError(f"unknown operator {op}")


def names_in(node: Node) -> list[Name]:
    """Every name referenced by ``node`` (for 'slot used but never set' warnings)."""
    out: list[Name] = []
    stack = [node]
    while stack:
        n = stack.pop()
        if isinstance(n, Name):
            out.append(n)
        elif isinstance(n, Unary):
            stack.append(n.operand)
        elif isinstance(n, Binary):
            stack.extend((n.left, n.right))
        elif isinstance(n, CallF):
            stack.extend(n.args)
        elif isinstance(n, ListLit):
            stack.extend(n.items)
    return out
