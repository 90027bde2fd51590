"""``voicebot dial --calls M --workers N``: N worker processes each place their share of the
calls, here into SIPp's UAS; every call is answered and the calls came from N SIP ports."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.interop.sip import peers
from tests.procs import free_port
from voicebot.workers.outbound import shares

pytestmark = pytest.mark.interop


def test_shares_differ_by_at_most_one() -> None:
    assert shares(10, 3) == [4, 3, 3] and shares(2, 4) == [1, 1, 0, 0] and sum(shares(1001, 8)) == 1001


def test_bulk_calls_are_split_over_worker_processes(tmp_path: Path) -> None:
    port = free_port()
    uas = subprocess.Popen(
        peers.sipp_cmd("-sn", "uas", "-i", "127.0.0.1", "-p", str(port), "-nostdin", "-trace_msg",
                       "-message_file", str(tmp_path / "uas.log")),
        cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, preexec_fn=peers.die_with_parent,
    )  # fmt: skip
    try:
        done = subprocess.run(
            [sys.executable, "-m", "voicebot", "dial", f"sip:bob@127.0.0.1:{port}", "--calls", "10", "--workers", "2",
             "--concurrency", "4", "--hangup-after", "0.3", "--no-media", "--json"],
            capture_output=True, text=True, timeout=90,
        )  # fmt: skip
    finally:
        peers.stop_process(uas)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    summary = json.loads(done.stdout.strip().splitlines()[-1])["summary"]
    assert summary["calls"] == summary["answered"] == 10 and summary["workers"] == 2
    log = (tmp_path / "uas.log").read_text()
    invites = re.findall(r"^INVITE .*?\n(?:.*\n)*?Via: SIP/2.0/UDP 127\.0\.0\.1:(\d+)", log, re.M)
    assert len(set(invites)) == 2 and len(invites) >= 10  # two processes, one SIP port each
