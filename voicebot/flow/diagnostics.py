"""Compiler diagnostics: every problem in a flow file has a position, a message and a fix.

A :class:`Diagnostic` prints as ``file:line:column: severity: message`` followed by
``; hint`` when the compiler knows what to write instead. :class:`FlowError` carries the
whole list so a caller (the CLI, an editor plugin) can show every problem at once.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from voicebot.errors import ConfigError

ERROR = "error"
WARNING = "warning"


@dataclass(frozen=True, slots=True, kw_only=True)
class Pos:
    """A 1-based position in a source file."""

    file: str
    line: int
    col: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"

    def shifted(self, cols: int) -> Pos:
        return Pos(file=self.file, line=self.line, col=self.col + cols)


@dataclass(frozen=True, slots=True, kw_only=True)
class Diagnostic:
    """One problem found in a flow: where, how bad, what is wrong and what to write instead."""

    file: str
    line: int
    col: int
    severity: str
    message: str
    hint: str = ""

    @property
    def is_error(self) -> bool:
        return self.severity == ERROR

    def text(self) -> str:
        """The message without the file name: ``line:col: severity: message; hint``."""
        tail = f"; {self.hint}" if self.hint else ""
        return f"{self.line}:{self.col}: {self.severity}: {self.message}{tail}"

    def __str__(self) -> str:
        return f"{self.file}:{self.text()}"

    def as_dict(self) -> dict[str, object]:
        return {
            "file": self.file,
            "line": self.line,
            "col": self.col,
            "severity": self.severity,
            "message": self.message,
            "hint": self.hint,
        }


class FlowError(ConfigError):
    """A flow file has errors. ``diagnostics`` lists all of them (warnings included)."""

    def __init__(self, diagnostics: Sequence[Diagnostic]) -> None:
        self.diagnostics: list[Diagnostic] = list(diagnostics)
        errors = [d for d in self.diagnostics if d.is_error]
        shown = errors or list(self.diagnostics)
        head = str(shown[0]) if shown else "invalid flow"
        more = f" (and {len(errors) - 1} more errors)" if len(errors) > 1 else ""
        super().__init__(head + more)


class Reporter:
    """Collects diagnostics while the compiler walks a flow."""

    def __init__(self) -> None:
        self.items: list[Diagnostic] = []

    def error(self, pos: Pos, message: str, hint: str = "") -> None:
        self.items.append(
            Diagnostic(file=pos.file, line=pos.line, col=pos.col, severity=ERROR, message=message, hint=hint)
        )

    def warning(self, pos: Pos, message: str, hint: str = "") -> None:
        self.items.append(
            Diagnostic(file=pos.file, line=pos.line, col=pos.col, severity=WARNING, message=message, hint=hint)
        )

    @property
    def has_errors(self) -> bool:
        return any(d.is_error for d in self.items)

    def sorted(self) -> list[Diagnostic]:
        seen: set[tuple[object, ...]] = set()
        out: list[Diagnostic] = []
        for d in sorted(self.items, key=lambda d: (d.file, d.line, d.col, d.severity, d.message)):
            key = (d.file, d.line, d.col, d.severity, d.message)
            if key not in seen:
                seen.add(key)
                out.append(d)
        return out


def did_you_mean(word: str, choices: Iterable[str], what: str = "") -> str:
    """A hint naming the closest choice, or listing the valid ones when nothing is close."""
    options = sorted(set(choices))
    close = difflib.get_close_matches(word, options, n=1, cutoff=0.6)
    if close:
        return f"did you mean '{close[0]}'?"
    if not options:
        return f"no {what} is defined" if what else ""
    listed = ", ".join(options[:12]) + (", ..." if len(options) > 12 else "")
    return f"expected one of: {listed}"
