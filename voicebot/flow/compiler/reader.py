"""Reading a YAML flow with diagnostics: typed getters that report what is wrong and go on.

:class:`Reader` is the compiler's :class:`~voicebot.flow.diagnostics.Reporter` plus the checks
every section needs: a mapping, text, a number in range, true/false, text or a list of texts,
and only known keys. Each getter reports a problem at the value's position and returns
``None`` (or nothing), so one pass finds every mistake in a file.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from voicebot.flow.coerce import kind_name
from voicebot.flow.diagnostics import Pos, Reporter, did_you_mean
from voicebot.flow.yamlsrc import YList, YMap


class Reader(Reporter):
    """A reporter that also reads values of the expected kind."""

    def keys(self, m: YMap, allowed: Iterable[str], where: str, other: Mapping[str, str] | None = None) -> None:
        allowed = tuple(allowed)
        for k in m:
            if k in allowed:
                continue
            if other and k in other:
                self.error(m.kpos(k), f"'{k}' is not allowed {where}", other[k])
                continue
            self.error(m.kpos(k), f"unknown key '{k}' {where}", did_you_mean(k, allowed))

    def short_form(self, v: Any, pos: Pos, key: str, kinds: tuple[type, ...]) -> Any:
        """``v`` itself, or ``{key: v}`` when ``v`` is written in the short form (a value of one of
        ``kinds``): ``comment: text`` for ``comment: {type: text}``."""
        if not isinstance(v, kinds):
            return v
        m = YMap(pos)
        m[key] = v
        m.val_pos[key] = pos
        return m

    def want_map(self, v: Any, pos: Pos, what: str) -> YMap | None:
        if isinstance(v, YMap):
            return v
        self.error(pos, f"{what} must be a mapping, got {kind_name(v)}", "write 'key: value' lines indented below it")
        return None

    def want_str(self, v: Any, pos: Pos, what: str, hint: str = "") -> str | None:
        if isinstance(v, str) and v.strip():
            return v
        self.error(pos, f"{what} must be text, got {kind_name(v)}", hint)
        return None

    def want_number(self, v: Any, pos: Pos, what: str, lo: float, hi: float) -> float | None:
        if isinstance(v, bool) or not isinstance(v, int | float):
            self.error(pos, f"{what} must be a number, got {kind_name(v)}", f"write a number from {lo:g} to {hi:g}")
            return None
        if not lo <= v <= hi:
            self.error(pos, f"{what} must be from {lo:g} to {hi:g}, got {v:g}")
            return None
        return float(v)

    def want_bool(self, v: Any, pos: Pos, what: str) -> bool | None:
        if isinstance(v, bool):
            return v
        hint = "write true or false" + (" (yes/no are read as text)" if v in ("yes", "no", "on", "off") else "")
        self.error(pos, f"{what} must be true or false, got {kind_name(v)}", hint)
        return None

    def texts(self, v: Any, pos: Pos, what: str) -> list[tuple[str, Pos]]:
        """A string or a list of strings (with positions)."""
        if isinstance(v, str):
            return [(v, pos)]
        if isinstance(v, YList):
            out = []
            for i, item in enumerate(v):
                if isinstance(item, str) and item.strip():
                    out.append((item, v.ipos(i)))
                else:
                    self.error(v.ipos(i), f"{what} items must be text, got {kind_name(item)}")
            return out
        self.error(pos, f"{what} must be text or a list of texts, got {kind_name(v)}")
        return []
