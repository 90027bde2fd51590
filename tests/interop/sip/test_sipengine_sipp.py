"""SIPp against voicebot: built-in uac/uas scenarios and scenario files (tests/interop/sip/scenarios)."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.interop.sip.conftest import SCENARIOS_DIR, Served, run_sipp, sipp_background, voicebot_cmd
from tests.procs import free_port

pytestmark = pytest.mark.interop


def sipp_uac(scenario: str, served: Served, tmp_path: Path, *extra: str) -> list[str]:
    sn = ["-sn", "uac"] if scenario == "uac" else ["-sf", str(SCENARIOS_DIR / scenario)]
    return [
        *sn,
        f"127.0.0.1:{served.port}",
        "-i",
        "127.0.0.1",
        "-p",
        str(free_port()),
        "-s",
        served.user,
        "-m",
        "1",
        "-l",
        "1",
        "-mi",
        "127.0.0.1",
        *extra,
    ]


def test_sipp_builtin_uac_calls_serve(serve: Callable[..., Served], tmp_path: Path) -> None:
    served = serve()
    run = run_sipp(sipp_uac("uac", served, tmp_path, "-m", "3", "-l", "3", "-d", "300"), tmp_path)
    assert run.returncode == 0, run.output + run.errors
    out = served.stop()
    assert out.count("ended by remote (remote BYE)") == 3


def test_dial_calls_sipp_builtin_uas(tmp_path: Path) -> None:
    port = free_port()
    with sipp_background(["-sn", "uas", "-i", "127.0.0.1", "-p", str(port), "-m", "1"], tmp_path) as sipp:
        done = subprocess.run(
            voicebot_cmd("dial", f"sip:service@127.0.0.1:{port}", "--hangup-after", "0.5", "--json"),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        result = json.loads(done.stdout.strip().splitlines()[-1])
        assert result["answered"] and result["ended_by"] == "local"
        assert sipp.wait(20) == 0


def test_sipp_digest_challenge(serve: Callable[..., Served], tmp_path: Path) -> None:
    served = serve("--auth-user", "alice", "--auth-password", "secret", "--auth-algorithms", "MD5")
    run = run_sipp(sipp_uac("uac_auth.xml", served, tmp_path), tmp_path)
    assert run.returncode == 0, run.output + run.errors
    assert "(user alice)" in served.stop()


def test_sipp_wrong_password_is_refused(serve: Callable[..., Served], tmp_path: Path) -> None:
    served = serve("--auth-user", "alice", "--auth-password", "other", "--auth-algorithms", "MD5")
    run = run_sipp(sipp_uac("uac_auth.xml", served, tmp_path), tmp_path, timeout=20)
    assert run.returncode != 0
    assert "call 1" not in served.stop()


def test_sipp_cancel_while_ringing(serve: Callable[..., Served], tmp_path: Path) -> None:
    served = serve("--answer-after", "10")
    run = run_sipp(sipp_uac("uac_cancel.xml", served, tmp_path), tmp_path)
    assert run.returncode == 0, run.output + run.errors
    assert "cancelled before answer" in served.stop()


def test_sipp_hold_and_resume_by_reinvite(serve: Callable[..., Served], tmp_path: Path) -> None:
    served = serve()
    run = run_sipp(sipp_uac("uac_hold.xml", served, tmp_path), tmp_path)
    assert run.returncode == 0, run.output + run.errors
    assert "ended by remote (remote BYE)" in served.stop()


def test_sipp_requires_100rel_and_prack(serve: Callable[..., Served], tmp_path: Path) -> None:
    served = serve()
    run = run_sipp(sipp_uac("uac_prack.xml", served, tmp_path), tmp_path)
    assert run.returncode == 0, run.output + run.errors
    assert "ended by remote (remote BYE)" in served.stop()


def test_serve_hangs_up_on_sipp(serve: Callable[..., Served], tmp_path: Path) -> None:
    served = serve("--hangup-after", "0.5")
    run = run_sipp(sipp_uac("uac_recv_bye.xml", served, tmp_path), tmp_path)
    assert run.returncode == 0, run.output + run.errors
    assert "ended by local (local BYE)" in served.stop()


def test_sipp_transfers_serve_by_refer(serve: Callable[..., Served], tmp_path: Path) -> None:
    served = serve("--hangup-after", "3")
    run = run_sipp(sipp_uac("uac_refer.xml", served, tmp_path), tmp_path)
    assert run.returncode == 0, run.output + run.errors
    out = served.stop()
    # the transfer target is serve itself: a second call arrives from voicebot
    assert "call 2 from sip:bot@" in out


def test_dial_hung_up_by_sipp(tmp_path: Path) -> None:
    port = free_port()
    args = ["-sf", str(SCENARIOS_DIR / "uas_bye.xml"), "-i", "127.0.0.1", "-p", str(port), "-m", "1"]
    with sipp_background(args, tmp_path) as sipp:
        done = subprocess.run(
            voicebot_cmd("dial", f"sip:service@127.0.0.1:{port}", "--json"),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        result = json.loads(done.stdout.strip().splitlines()[-1])
        assert result["answered"] and result["ended_by"] == "remote"
        assert sipp.wait(20) == 0


def test_sipp_builtin_uac_over_tcp(serve: Callable[..., Served], tmp_path: Path) -> None:
    served = serve()
    run = run_sipp(sipp_uac("uac", served, tmp_path, "-t", "t1", "-d", "200"), tmp_path)
    assert run.returncode == 0, run.output + run.errors
    assert "ended by remote (remote BYE)" in served.stop()


def test_dial_pracks_a_reliable_180_from_sipp(tmp_path: Path) -> None:
    port = free_port()
    args = ["-sf", str(SCENARIOS_DIR / "uas_prack.xml"), "-i", "127.0.0.1", "-p", str(port), "-m", "1"]
    with sipp_background(args, tmp_path) as sipp:
        done = subprocess.run(
            voicebot_cmd("dial", f"sip:service@127.0.0.1:{port}", "--hangup-after", "0.3", "--json"),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        assert sipp.wait(20) == 0
