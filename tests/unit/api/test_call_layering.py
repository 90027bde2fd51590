"""The call engine's seams (issue 9): one direction between agent and call, no private reach-ins.

``voicebot.agent`` drives the SIP core and hands events to calls; ``voicebot.call`` (with its
voice and progress events) never imports the agent back. Nothing in the call engine or the
commands that use it touches another object's private members.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
CALL_SIDE = ["voicebot/call.py", "voicebot/voice.py", "voicebot/progress.py", "voicebot/bot.py"]
ENGINE = [
    "voicebot/agent.py",
    *CALL_SIDE,
    "voicebot/media/stream.py",
    "voicebot/commands/sip.py",
    "voicebot/commands/demo.py",
]


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def private_reach_ins(source: str) -> list[str]:
    """``obj._name`` where ``obj`` is not ``self``/``cls`` (dunders allowed; type annotations,
    such as ``argparse._SubParsersAction`` in every command's ``register``, are not calls)."""
    tree = ast.parse(source)
    in_annotations = {
        id(sub)
        for node in ast.walk(tree)
        for ann in (getattr(node, "annotation", None), getattr(node, "returns", None))
        if ann is not None
        for sub in ast.walk(ann)
    }
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Attribute) or id(node) in in_annotations:
            continue
        name = node.attr
        if not name.startswith("_") or (name.startswith("__") and name.endswith("__")):
            continue
        owner = node.value
        if isinstance(owner, ast.Name) and owner.id in ("self", "cls"):
            continue
        found.append(f"line {node.lineno}: {ast.unparse(node)}")
    return found


def test_the_call_side_never_imports_the_agent() -> None:
    for rel in CALL_SIDE:
        imported = _imports(ROOT / rel)
        assert not {n for n in imported if n == "voicebot.agent" or n.startswith("voicebot.agent.")}, rel


def test_the_agent_imports_the_call() -> None:
    assert "voicebot.call" in _imports(ROOT / "voicebot/agent.py")


def test_no_private_members_reached_across_objects() -> None:
    bad = {rel: private_reach_ins((ROOT / rel).read_text(encoding="utf-8")) for rel in ENGINE}
    assert not {rel: found for rel, found in bad.items() if found}


def test_the_private_member_check_finds_a_reach_in() -> None:
    code = "call._finish(1)\nself._ok()\nx.__class__\ndef f(a: argparse._X) -> None: ...\n"
    assert private_reach_ins(code) == ["line 1: call._finish"]
