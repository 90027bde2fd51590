"""DESIGN.md rule 1 and the layer rule: protocol cores do no I/O, lower layers never import higher."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

IO_FREE = ["voicebot/sip", "voicebot/rtp", "voicebot/flow", "codecs/voicebot_codecs"]
FORBIDDEN_IO = {"socket", "asyncio", "selectors", "socketserver"}
# package -> packages it must never import
LAYER_RULES = {
    "codecs/voicebot_codecs": {"voicebot"},
    "voicebot/sip": {"voicebot.flow", "voicebot.campaign", "voicebot.asr", "voicebot.tts", "voicebot.call"},
    "voicebot/rtp": {"voicebot.flow", "voicebot.campaign", "voicebot.sip", "voicebot.call"},
    "voicebot/flow": {"voicebot.sip", "voicebot.rtp", "voicebot.transport", "voicebot.campaign"},
}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def _files(rel: str) -> list[Path]:
    return sorted((ROOT / rel).rglob("*.py"))


@pytest.mark.parametrize("rel", IO_FREE)
def test_protocol_cores_do_no_io(rel: str) -> None:
    bad = []
    for f in _files(rel):
        for name in _imports(f):
            if name.split(".")[0] in FORBIDDEN_IO:
                bad.append(f"{f.relative_to(ROOT)} imports {name}")
    assert not bad, "protocol code must stay I/O-free:\n" + "\n".join(bad)


@pytest.mark.parametrize("rel", sorted(LAYER_RULES))
def test_lower_layers_never_import_higher(rel: str) -> None:
    bad = []
    for f in _files(rel):
        for name in _imports(f):
            for banned in LAYER_RULES[rel]:
                if name == banned or name.startswith(banned + "."):
                    bad.append(f"{f.relative_to(ROOT)} imports {name}")
    assert not bad, "layer rule broken:\n" + "\n".join(bad)


def test_layer_rule_detects_a_violation(tmp_path: Path) -> None:
    f = tmp_path / "x.py"
    f.write_text("import socket\nfrom voicebot.flow import runtime\n")
    assert _imports(f) == {"socket", "voicebot.flow"}


def test_stdlib_codecs_not_shadowed() -> None:
    import codecs

    assert codecs.lookup("utf-8").name == "utf-8"
