"""The library's top-level names (DESIGN.md, "Library API") resolve, lazily."""

from __future__ import annotations

import subprocess
import sys

import pytest

import voicebot


def test_top_level_names_resolve_to_the_real_classes() -> None:
    from voicebot.agent import UserAgent
    from voicebot.flow import Flow

    assert voicebot.UserAgent is UserAgent
    assert voicebot.Flow is Flow
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        _ = voicebot.Nope  # type: ignore[attr-defined]


def test_import_voicebot_does_not_load_the_sip_stack_or_speech() -> None:
    code = "import sys, voicebot; print(sorted(m for m in sys.modules if m.startswith(('voicebot.', 'vosk'))))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
