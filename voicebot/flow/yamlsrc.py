"""YAML loading that remembers where every key and value came from.

PyYAML's composer gives nodes with start marks; this module turns that node tree into plain
``dict``/``list`` subclasses (:class:`YMap`, :class:`YList`) that carry 1-based positions of
each key and value, so the compiler can say ``file:line:column`` for any mistake.

Scalars follow YAML 1.2 core rules rather than PyYAML's YAML 1.1 ones: only ``true``/``false``
are booleans and only ``null``/``~``/empty are null, so intent names such as ``yes``, ``no``,
``on`` and ``off`` stay strings (the "Norway problem"), and ``1:30`` stays text. Duplicate keys,
which PyYAML silently overwrites, are reported.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from voicebot.flow.diagnostics import Pos, Reporter

MAX_FILE_BYTES = 1_000_000
MAX_NODES = 50_000

_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when available: same marks, faster
_INT = re.compile(r"[-+]?[0-9]+\Z")
_FLOAT = re.compile(r"[-+]?(?:[0-9]+\.[0-9]*|\.[0-9]+|[0-9]+)(?:[eE][-+]?[0-9]+)?\Z")


class YMap(dict[str, Any]):
    """A mapping from a YAML file with the positions of its keys and values."""

    def __init__(self, pos: Pos) -> None:
        super().__init__()
        self.pos = pos
        self.key_pos: dict[str, Pos] = {}
        self.val_pos: dict[str, Pos] = {}
        self.quoted: set[str] = set()

    def kpos(self, key: str) -> Pos:
        return self.key_pos.get(key, self.pos)

    def vpos(self, key: str) -> Pos:
        return self.val_pos.get(key, self.kpos(key))


class YList(list[Any]):
    """A sequence from a YAML file with the positions of its items."""

    def __init__(self, pos: Pos) -> None:
        super().__init__()
        self.pos = pos
        self.item_pos: list[Pos] = []
        self.quoted: set[int] = set()

    def ipos(self, index: int) -> Pos:
        return self.item_pos[index] if 0 <= index < len(self.item_pos) else self.pos


def _pos(file: str, mark: Any) -> Pos:
    return Pos(file=file, line=int(mark.line) + 1, col=int(mark.column) + 1)


def scalar_value(node: yaml.ScalarNode) -> Any:
    """Resolve a scalar the YAML 1.2 core-schema way (see module docstring)."""
    text = str(node.value)
    if node.style is not None and node.style != "":
        return text  # quoted or block scalar: always a string
    low = text.lower()
    if text in ("", "~") or low == "null":
        return None
    if low == "true":
        return True
    if low == "false":
        return False
    if _INT.match(text):
        return int(text)
    if _FLOAT.match(text):
        return float(text)
    return text


class _Builder:
    def __init__(self, file: str, report: Reporter) -> None:
        self.file = file
        self.report = report
        self.count = 0

    def build(self, node: yaml.Node) -> Any:
        self.count += 1
        if self.count > MAX_NODES:
            raise _TooBig
        if isinstance(node, yaml.MappingNode):
            out = YMap(_pos(self.file, node.start_mark))
            for knode, vnode in node.value:
                kpos = _pos(self.file, knode.start_mark)
                if not isinstance(knode, yaml.ScalarNode):
                    self.report.error(kpos, "a key must be a plain name, not a list or mapping")
                    continue
                key = str(knode.value)
                if key == "<<":
                    self.report.error(kpos, "YAML merge keys ('<<') are not supported", "use 'include:' to share parts")
                    continue
                if key in out:
                    first = out.key_pos[key]
                    self.report.error(
                        kpos,
                        f"duplicate key '{key}' (first defined at line {first.line})",
                        "remove one of them or rename it",
                    )
                    continue
                out[key] = self.build(vnode)
                out.key_pos[key] = kpos
                out.val_pos[key] = _pos(self.file, vnode.start_mark)
                if isinstance(vnode, yaml.ScalarNode) and vnode.style not in (None, ""):
                    out.quoted.add(key)
            return out
        if isinstance(node, yaml.SequenceNode):
            seq = YList(_pos(self.file, node.start_mark))
            for i, item in enumerate(node.value):
                seq.append(self.build(item))
                seq.item_pos.append(_pos(self.file, item.start_mark))
                if isinstance(item, yaml.ScalarNode) and item.style not in (None, ""):
                    seq.quoted.add(i)
            return seq
        assert isinstance(node, yaml.ScalarNode)
        return scalar_value(node)


class _TooBig(Exception):
    pass


def load_text(text: str, file: str, report: Reporter) -> Any:
    """Parse YAML text into located values; syntax errors go to ``report`` and give ``None``."""
    try:
        node = yaml.compose(text, Loader=_LOADER)
    except RecursionError:
        report.error(Pos(file=file, line=1, col=1), "YAML nested too deeply", "flatten the structure")
        return None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        pos = _pos(file, mark) if mark is not None else Pos(file=file, line=1, col=1)
        problem = exc.problem or exc.context or "invalid YAML"
        if exc.context_mark is not None and exc.problem_mark is not None and exc.context:
            problem += f" ({exc.context} at line {exc.context_mark.line + 1})"
        report.error(pos, f"YAML syntax error: {problem}", "check indentation, colons and quotes here")
        return None
    except yaml.YAMLError as exc:
        report.error(Pos(file=file, line=1, col=1), f"YAML error: {exc}")
        return None
    if node is None:
        return None
    try:
        return _Builder(file, report).build(node)
    except RecursionError:
        report.error(Pos(file=file, line=1, col=1), "YAML nested too deeply", "flatten the structure")
        return None
    except _TooBig:
        report.error(Pos(file=file, line=1, col=1), f"flow file too large (more than {MAX_NODES} YAML nodes)")
        return None


def load_file(path: Path, report: Reporter, shown: str | None = None) -> Any:
    """Read and parse a flow file; problems (missing, too big, not UTF-8) go to ``report``."""
    name = shown if shown is not None else str(path)
    start = Pos(file=name, line=1, col=1)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        report.error(start, f"file not found: {path}")
        return None
    except OSError as exc:
        report.error(start, f"cannot read {path}: {exc.strerror or exc}")
        return None
    if len(data) > MAX_FILE_BYTES:
        report.error(start, f"flow file too large ({len(data)} bytes, limit {MAX_FILE_BYTES})")
        return None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        report.error(start, f"file is not UTF-8 (byte {exc.start})", "save it as UTF-8")
        return None
    return load_text(text, name, report)


def plain(v: Any) -> Any:
    """A loaded value as plain ``dict``/``list`` (positions dropped)."""
    if isinstance(v, dict):
        return {k: plain(x) for k, x in v.items()}
    if isinstance(v, list):
        return [plain(x) for x in v]
    return v
