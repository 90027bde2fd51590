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


def test_outbound_bot_runs_a_flow_against_its_callee() -> None:
    out = _run("outbound_bot.py")
    assert "outcome cancelled" in out and "'booking_status': 'cancelled'" in out
    assert "DigitPressed" in out and "CallerSaid yes" in out
    assert "200 local BYE" in out and "opus/48000/2" in out and "MOS " in out


def test_inbound_ivr_answers_in_its_own_task_and_logs_the_choice() -> None:
    out = _run("inbound_ivr.py")
    assert "test call ended: remote BYE" in out
    assert "IVR log: ['sip:caller@127.0.0.1:" in out and ": opening hours']" in out


def test_custom_logic_reads_keys_and_a_spoken_answer() -> None:
    assert "PIN check: confirmed: 4711" in _run("custom_logic.py")


def test_crm_webhook_reaches_the_local_http_server() -> None:
    out = _run("crm_webhook.py")
    assert "outcome promised, balance 42.5" in out  # the CRM's balance reached the flow
    assert "CRM got GET /api/accounts/7" in out
    assert "CRM got POST /api/accounts/7/promises {'date': '" in out and "'amount': 42.5}" in out
