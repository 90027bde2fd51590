"""Every example in examples/ runs as documented and does what its docstring says."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def _run(name: str, *args: str) -> str:
    out = subprocess.run(
        [sys.executable, str(ROOT / "examples" / name), *args], capture_output=True, text=True, timeout=180
    )
    assert out.returncode == 0, out.stdout + out.stderr
    return out.stdout


def test_check_and_chat_flow() -> None:
    out = _run("check_and_chat_flow.py")
    assert "appointment_reminder: " in out
    assert "caller: yes that works" in out
    assert "look forward to seeing you" in out
    assert "outcome confirmed" in out and "'booking_status': 'confirmed'" in out


def test_loopback_call() -> None:
    out = _run("loopback_call.py")
    assert "bot heard -> speech: yes" in out
    assert "call ended: remote BYE" in out
