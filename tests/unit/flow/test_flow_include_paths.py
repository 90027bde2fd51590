"""A flow naming an include or a sub-flow that cannot be a file path (a NUL byte, a name longer
than the system allows) gets a diagnostic at that line, never a crash (found by the fuzz test)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from voicebot.flow import Flow

BASE = {"flow": "f", "start": "a", "language": "en"}
STATES = {"a": {"say": "hello", "end": "done"}}


def check(tmp_path: Path, doc: dict[str, Any]) -> list[str]:
    path = tmp_path / "f.yaml"
    path.write_text(yaml.safe_dump(doc))
    return [str(d) for d in Flow.check(path)]


@pytest.mark.parametrize(
    ("doc", "expected"),
    [
        ({**BASE, "states": STATES, "include": "\x00"}, "include is not a file path: '\\x00'"),
        ({**BASE, "states": STATES, "include": "a" * 5000}, "File name too long"),
        ({**BASE, "states": {"a": {"subflow": "x\x00y"}}}, "subflow is not a file path: 'x\\x00y'"),
        ({**BASE, "states": {"a": {"subflow": "b" * 5000}}}, "File name too long"),
    ],
    ids=["include-nul", "include-too-long", "subflow-nul", "subflow-too-long"],
)
def test_a_name_that_cannot_be_a_path_is_a_diagnostic(tmp_path: Path, doc: dict[str, Any], expected: str) -> None:
    diags = check(tmp_path, doc)
    assert any(expected in d and "error" in d for d in diags), diags
