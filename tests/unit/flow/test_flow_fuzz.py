"""The compiler never crashes: any YAML gives diagnostics (or a flow), never an exception."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from voicebot.flow import Flow
from voicebot.flow.compiler.schema import ALL_STATE_KEYS, SLOT_KEYS, TOP_KEYS

NAMES = st.sampled_from(["a", "b", "bye", "ask", "yes", "no", "n", "x.y", "1", "on", "agent", "_opt_out"])
KEYS = st.sampled_from(sorted(set(TOP_KEYS) | set(ALL_STATE_KEYS) | set(SLOT_KEYS) | {"if", "goto", "else", "url"}))
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 100),
    st.floats(allow_nan=False, allow_infinity=False, width=32),
    NAMES,
    st.sampled_from(["{n}", "{nope}", "= n + 1", "= (", "n > 1 and", "sip:a@b", "http://x/{n}", "yesno", "number"]),
    st.text(max_size=12),
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.one_of(KEYS, NAMES), inner, max_size=5),
    ),
    max_leaves=25,
)
STATE = st.dictionaries(KEYS, VALUES, max_size=5)
FLOW = st.fixed_dictionaries(
    {},
    optional={
        "flow": NAMES,
        "language": st.sampled_from(["en", "ko", "zh", "fr", 3]),
        "start": NAMES,
        "slots": st.dictionaries(NAMES, st.one_of(VALUES, st.dictionaries(KEYS, VALUES, max_size=3)), max_size=3),
        "intents": st.dictionaries(NAMES, VALUES, max_size=3),
        "global": st.dictionaries(NAMES, VALUES, max_size=2),
        "states": st.dictionaries(NAMES, STATE, max_size=5),
        "tests": VALUES,
        "include": VALUES,
        "defaults": VALUES,
        "asr": VALUES,
    },
)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(doc=FLOW)
def test_compiler_never_crashes(doc: dict[str, Any]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        p = Path(tmp) / "f.yaml"
        p.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
        diags = Flow.check(p)
        for d in diags:
            assert d.line >= 1 and d.col >= 1 and d.message
        if not any(d.is_error for d in diags):
            Flow.load(p).start().begin()


@settings(max_examples=100, deadline=None)
@given(text=st.text(max_size=200))
def test_any_text_file_gives_diagnostics(text: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        p = Path(tmp) / "f.yaml"
        p.write_text(text, encoding="utf-8")
        diags = Flow.check(p)
        assert any(d.is_error for d in diags)


ROOT = Path(__file__).resolve().parents[3]
DIALOGS = sorted((ROOT / "dialogs").glob("*.yaml"))


def _plain(path: Path) -> Any:
    from voicebot.flow.diagnostics import Reporter
    from voicebot.flow.yamlsrc import load_file, plain

    return plain(load_file(path, Reporter()))


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix] if prefix else []
    if isinstance(node, dict):
        for k, v in node.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _paths(v, (*prefix, i))
    return out


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_mutated_dialogs_never_crash_the_compiler(data: st.DataObject) -> None:
    path = data.draw(st.sampled_from(DIALOGS))
    doc = _plain(path)
    for _ in range(data.draw(st.integers(1, 3))):
        paths = _paths(doc)
        target = data.draw(st.sampled_from(paths))
        parent = doc
        for k in target[:-1]:
            parent = parent[k]
        if data.draw(st.booleans()) and isinstance(parent, dict):
            del parent[target[-1]]
        else:
            parent[target[-1]] = data.draw(VALUES)
    with tempfile.TemporaryDirectory() as tmp:
        p = Path(tmp) / path.name
        (Path(tmp) / "common").mkdir()
        for sub in (ROOT / "dialogs" / "common").glob("*.yaml"):
            (Path(tmp) / "common" / sub.name).write_text(sub.read_text(encoding="utf-8"), encoding="utf-8")
        p.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")
        diags = Flow.check(p)
        for d in diags:
            assert d.line >= 1 and d.col >= 1 and d.message
        if not any(d.is_error for d in diags):
            flow = Flow.load(p)
            from voicebot.flow.scripts import run_scripts

            run_scripts(flow)  # may fail expectations, must not crash
