"""``voicebot flow`` through the real command line (a subprocess), with real Graphviz."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
DIALOGS = sorted((ROOT / "dialogs").glob("*.yaml"))
BROKEN = ROOT / "tests" / "data" / "flows_broken"


def vb(*args: str, stdin: str | None = None, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "voicebot", "flow", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
        check=False,
    )


def test_check_all_dialogs() -> None:
    r = vb("check", *map(str, DIALOGS))
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"{len(DIALOGS)} files checked: 0 errors, 0 warnings" in r.stderr


def test_check_broken_prints_position_and_exits_1() -> None:
    r = vb("check", "tests/data/flows_broken/unknown_target.yaml")
    assert r.returncode == 1
    assert (
        "tests/data/flows_broken/unknown_target.yaml:9:12: error: unknown target state 'confrim' in 'on.yes'; "
        "did you mean 'confirm'?" in r.stdout.splitlines()
    )


def test_check_json() -> None:
    r = vb("check", "--json", "tests/data/flows_broken/template_slot.yaml", "dialogs/appointment_reminder.yaml")
    assert r.returncode == 1
    out = json.loads(r.stdout)
    assert out["ok"] is False and out["errors"] == 1
    d = next(x for x in out["diagnostics"] if x["severity"] == "error")
    assert (d["line"], d["col"], d["severity"]) == (8, 17, "error") and "nmae" in d["message"]


def test_check_strict_fails_on_warnings(tmp_path: Path) -> None:
    p = tmp_path / "w.yaml"
    p.write_text("flow: w\nstart: a\nstates:\n  a:\n    ask: Ok?\n    on: {yes: b}\n  b:\n    hangup: done\n")
    assert vb("check", str(p)).returncode == 0
    r = vb("check", "--strict", str(p))
    assert r.returncode == 1 and "warning: ask state 'a' has no 'reprompt'" in r.stdout


def test_bad_arguments_exit_2() -> None:
    r = vb("check", "no/such/file.yaml")
    assert r.returncode == 2 and r.stderr.strip() == "voicebot flow check: no such file: no/such/file.yaml"
    r = vb("graph", "dialogs/appointment_reminder.yaml", "-o", "x.jpeg")
    assert r.returncode == 2 and "unknown output format 'jpeg'" in r.stderr
    r = vb("chat", "dialogs/appointment_reminder.yaml", "--set", "nonsense")
    assert r.returncode == 2 and "SLOT=VALUE" in r.stderr
    r = vb("chat", "dialogs/appointment_reminder.yaml", "--set", "nope=1")
    assert r.returncode == 2 and "unknown slot 'nope'" in r.stderr
    r = vb("nonsense-subcommand")
    assert r.returncode == 2


def test_test_command_runs_every_dialog() -> None:
    r = vb("test", *map(str, DIALOGS))
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.count("PASS ") >= 5 * 4 and "FAIL" not in r.stdout
    assert "appointment_reminder.yaml: 18/18 states visited by its scripts" in r.stdout


def test_test_command_json_and_failure(tmp_path: Path) -> None:
    p = tmp_path / "f.yaml"
    p.write_text(
        "flow: f\nstart: a\nstates:\n  a:\n    ask: Ok?\n    reprompt: Ok, yes or no?\n"
        "    on: {yes: b, no: c}\n  b:\n    hangup: good\n  c:\n    hangup: bad\n"
        "tests:\n  - name: wrong\n    turns:\n      - caller: no\n        state: b\n    expect: {outcome: good}\n"
    )
    r = vb("test", str(p))
    assert r.returncode == 1
    assert f"{p}:15:9: script 'wrong' turn 1: expected state 'b', the flow is in 'c'" in r.stdout
    r = vb("test", "--json", str(p))
    out = json.loads(r.stdout)
    assert out["ok"] is False and out["files"][0]["scripts"][0]["passed"] is False
    assert out["files"][0]["coverage"] == {"states": 3, "visited": 2, "not_visited": ["b"]}


def test_test_command_sibling_script_file(tmp_path: Path) -> None:
    (tmp_path / "g.yaml").write_text(
        "flow: g\nstart: a\nstates:\n  a:\n    ask: Ok?\n    reprompt: Ok?\n    on: {yes: b}\n  b:\n    hangup: good\n"
    )
    (tmp_path / "g.tests.yaml").write_text("tests:\n  - name: yes\n    turns: [yes]\n    expect: {outcome: good}\n")
    r = vb("test", str(tmp_path / "g.yaml"))
    assert r.returncode == 0 and "PASS" in r.stdout


def test_test_without_scripts_fails(tmp_path: Path) -> None:
    p = tmp_path / "n.yaml"
    p.write_text("flow: n\nstart: a\nstates:\n  a:\n    hangup: done\n")
    r = vb("test", str(p))
    assert r.returncode == 1 and "no conversation scripts" in r.stderr


def test_chat_from_a_pipe() -> None:
    r = vb(
        "chat",
        "dialogs/appointment_reminder.yaml",
        "--set",
        "customer_name=Ann",
        "--set",
        "appointment_date=2026-12-03",
        "--today",
        "2026-11-26",
        stdin="what was that\n/dtmf 3\nnext friday\n",
    )
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert "bot: Hello Ann" in out and "you> /dtmf 3" in out
    assert "moved to Friday, December 4" in out
    assert "outcome: rescheduled" in out


def test_chat_json_korean_and_eof_hangs_up() -> None:
    r = vb(
        "chat", "dialogs/ko_delivery_confirm.yaml", "--json", "--set", "delivery_date=2026-01-07", stdin="/silence\n"
    )
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)  # stdout is the JSON result alone
    assert data["outcome"] == "caller_hangup" and data["transcript"][0][0] == "bot"
    assert "bot: " in r.stderr and "you> /silence" in r.stderr  # the conversation went to stderr


def test_chat_commands() -> None:
    r = vb(
        "chat",
        "dialogs/satisfaction_survey.yaml",
        stdin="/help\n/state\n/dtmf x\n/bogus\n4\n/slots\n/hangup\n",
    )
    assert r.returncode == 0
    assert "note" not in r.stdout
    assert "state: ask_rating" in r.stdout and "/dtmf takes keys" in r.stdout and "unknown command /bogus" in r.stdout
    assert '"rating": 4' in r.stdout and "outcome: caller_hangup" in r.stdout


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz 'dot' not installed (Debian package 'graphviz')")
@pytest.mark.parametrize("fmt", ["svg", "png"])
def test_graph_through_graphviz(tmp_path: Path, fmt: str) -> None:
    out = tmp_path / f"g.{fmt}"
    r = vb("graph", "dialogs/payment_reminder.yaml", "-o", str(out))
    assert r.returncode == 0, r.stderr
    data = out.read_bytes()
    if fmt == "png":
        assert data[:8] == b"\x89PNG\r\n\x1a\n"
    else:
        text = data.decode()
        assert "<svg" in text and "verify.ask_digits" in text and "bye_promise" in text


def test_graph_dot_and_mermaid(tmp_path: Path) -> None:
    r = vb("graph", "dialogs/zh_satisfaction_survey.yaml", "-o", "-")
    assert r.returncode == 0 and r.stdout.startswith('digraph "zh_satisfaction_survey"')
    assert '"ask_score" -> "ask_solved"' in r.stdout
    # the DOT text is valid for Graphviz itself
    if shutil.which("dot"):
        chk = subprocess.run(
            ["dot", "-Tcanon"], input=r.stdout, capture_output=True, text=True, timeout=60, check=False
        )
        assert chk.returncode == 0, chk.stderr
    mmd = tmp_path / "g.mmd"
    r = vb("graph", "dialogs/appointment_reminder.yaml", "-o", str(mmd))
    text = mmd.read_text()
    assert r.returncode == 0 and text.startswith("flowchart TD") and 's_ask_confirm -->|"yes"| s_save_confirmed' in text


def test_graph_of_broken_flow_fails() -> None:
    r = vb("graph", "tests/data/flows_broken/dead_end.yaml", "-o", "-")
    assert r.returncode == 1 and "dead end" in r.stderr


def test_directories_and_sibling_script_files_expand(tmp_path: Path) -> None:
    (tmp_path / "g.yaml").write_text(
        "flow: g\nstart: a\nstates:\n  a:\n    ask: Ok?\n    reprompt: Ok?\n    on: {yes: b}\n  b:\n    hangup: good\n"
    )
    (tmp_path / "g.tests.yaml").write_text("tests:\n  - name: yes\n    turns: [yes]\n    expect: {outcome: good}\n")
    r = vb("check", str(tmp_path))
    assert r.returncode == 0 and "1 file checked" in r.stderr
    r = vb("test", str(tmp_path), str(tmp_path / "g.tests.yaml"))
    assert r.returncode == 0 and r.stdout.count("PASS") == 1


def test_chat_refuses_a_call_without_its_required_context() -> None:
    r = vb("chat", "dialogs/payment_reminder.yaml", stdin="")
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr.strip() == (
        "voicebot flow chat: the flow needs context: account_id (digits), account_last4 (digits); "
        "add --set account_id=... --set account_last4=..."
    )


def test_chat_says_the_appointment_date_it_was_given() -> None:
    r = vb("chat", "dialogs/appointment_reminder.yaml", "--set", "appointment_date=2026-01-08", stdin="yes\n")
    assert r.returncode == 0, r.stderr
    assert "You are booked for Thursday, January 8 at the usual time." in r.stdout


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz 'dot' not installed (Debian package 'graphviz')")
def test_graph_svg_to_stdout() -> None:
    r = vb("graph", "dialogs/zh_satisfaction_survey.yaml", "-o", "-", "--format", "svg")
    assert r.returncode == 0 and "<svg" in r.stdout and "ask_score" in r.stdout


def test_graph_compact_leaves_out_builtins() -> None:
    full = vb("graph", "dialogs/payment_reminder.yaml", "-o", "-").stdout
    compact = vb("graph", "dialogs/payment_reminder.yaml", "--compact", "-o", "-").stdout
    assert '"_opt_out"' in full and '"_opt_out"' not in compact
    assert 'subgraph "cluster_verify"' in compact and '"lookup" -> "check_balance"' in compact


def test_check_dtmf_only_reports_what_a_keypad_cannot_answer(tmp_path: Path) -> None:
    p = tmp_path / "talk.yaml"
    p.write_text(
        "flow: talk\nslots:\n  note: {type: text}\nstart: ask\nstates:\n"
        "  ask:\n    ask: Tell me.\n    reprompt: Tell me anything.\n    slot: note\n    next: bye\n"
        "  bye:\n    hangup: done\n",
        encoding="utf-8",
    )
    assert vb("check", str(p)).returncode == 0
    r = vb("check", "--dtmf-only", str(p))
    assert r.returncode == 1
    assert f"{p}:6:3: error: ask state 'ask' fills text slot 'note', which a keypad cannot enter" in r.stdout
    ok = vb("check", "--dtmf-only", "dialogs/")
    assert ok.returncode == 0 and "0 errors" in ok.stderr


def test_chat_dtmf_only_offers_keys_and_takes_them() -> None:
    r = vb(
        "chat",
        "dialogs/ko_delivery_confirm.yaml",
        "--set",
        "delivery_date=2026-01-07",
        "--today",
        "2026-01-05",
        "--dtmf-only",
        stdin="hello\n3\n0109\n",
    )
    assert r.returncode == 0, r.stderr
    assert "네는 1번, 아니요는 2번, 다른 날은 3번 눌러 주세요." in r.stdout
    assert "keypad only: type keys" in r.stdout  # 'hello' is not a key
    assert "outcome: rescheduled" in r.stdout and '"new_date": "2026-01-09"' in r.stdout
