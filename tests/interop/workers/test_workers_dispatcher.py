"""``voicebot serve --workers 2``: Kamailio's dispatcher in front of two worker processes,
driven by SIPp. New calls are spread over the workers, in-dialog requests reach the worker
that holds the dialog (with and without Record-Route), a killed worker is skipped and
restarted, and full workers answer 503 with Retry-After."""

from __future__ import annotations

import os
import re
import signal
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.interop.sip.conftest import sipp_background
from tests.interop.workers.conftest import SCENARIOS, Workers, run_sipp
from tests.procs import free_port

pytestmark = pytest.mark.interop

FLOOD = Path(__file__).resolve().parents[2] / "integration" / "capacity" / "scenarios" / "flood_503.xml"


# Kamailio reads UDP with several processes, so a worker's 180 and the 200 sent right after it
# may leave the dispatcher in the other order (seen once in CI: the 180 arrived during the
# scenario's pause after the ACK). A UAC discards a provisional response after the final one
# (RFC 3261 17.1.1.2); SIPp aborts the call on it unless told to carry on, as here.
LATE_1XX_IS_NOT_FATAL = ("-default_behaviors", "all,-abortunexp")


def sipp(tmp_path: Path, target: str, *args: str, timeout: float = 60.0) -> str:
    argv = [*args, target, "-s", "bot", "-i", "127.0.0.1", "-nostdin", *LATE_1XX_IS_NOT_FATAL]
    run = run_sipp(argv, tmp_path, timeout)
    assert run.returncode == 0, run.output[-3000:] + run.errors[-3000:]
    return run.output


def successful(output: str) -> int:
    m = re.search(r"Successful call\s*\|\s*\d+\s*\|\s*(\d+)", output)
    return int(m.group(1)) if m else -1


def test_calls_are_spread_and_in_dialog_requests_reach_their_worker(
    workers: Callable[..., Workers], tmp_path: Path
) -> None:
    w = workers("--echo")
    # SIPp's built-in UAC ignores Record-Route: its BYE comes to Kamailio by Request-URI and is
    # sent to the worker its Call-ID went to; the scenario honours Record-Route (Route headers)
    out = sipp(tmp_path, w.target, "-sn", "uac", "-m", "12", "-r", "20", "-d", "300")
    assert successful(out) == 12
    out = sipp(tmp_path, w.target, "-sf", str(SCENARIOS / "uac_rr.xml"), "-m", "12", "-r", "20", "-d", "300")
    assert successful(out) == 12
    stats = w.stop()
    calls = [s["calls"] for s in stats]
    assert sum(calls) == 24 and min(calls) >= 8, calls  # round robin over both workers
    assert all(s["loop"] == "uvloop" and s["gc_frozen"] > 0 for s in stats)


def test_a_killed_worker_is_skipped_and_restarted(workers: Callable[..., Workers], tmp_path: Path) -> None:
    w = workers("--echo")
    first, second = w.worker_pids()
    os.kill(first, signal.SIGKILL)
    # calls keep succeeding: the dispatcher's probe (or the first unanswered INVITE) marks the
    # dead worker inactive and the other worker takes its calls
    out = sipp(tmp_path, w.target, "-sn", "uac", "-m", "10", "-r", "10", "-d", "200")
    assert successful(out) == 10
    w.wait_for("worker 1 is back")
    assert "worker 1 exited with code -9" in w.output()
    restarted = [p for p in w.worker_pids() if p not in (first, second)]
    assert len(restarted) == 1
    # once it answers the dispatcher's OPTIONS probe again, it takes new calls again
    time.sleep(2.5)  # two probe intervals: the dispatcher has seen it up
    out = sipp(tmp_path, w.target, "-sn", "uac", "-m", "10", "-r", "20", "-d", "200")
    assert successful(out) == 10
    stats = w.stop()
    assert stats[0]["calls"] >= 3, stats[0]["calls"]  # the restarted worker wrote these


def test_full_workers_answer_503_with_retry_after(workers: Callable[..., Workers], tmp_path: Path) -> None:
    w = workers("--echo", "--max-calls", "1")
    # three calls at once, each held 3 s: two workers take one each, the third gets 503 from
    # the dispatcher after both refused it, and the scenario checks its Retry-After header
    out = sipp(tmp_path, w.target, "-sf", str(SCENARIOS / "uac_rr.xml"), "-m", "3", "-r", "50", "-l", "3",
               "-d", "3000")  # fmt: skip
    assert successful(out) == 3
    got_503 = re.search(r"^\s*503 <-+\s+(\d+)", out, re.M)
    assert got_503 is not None and int(got_503.group(1)) == 1, out[-2500:]
    stats = w.stop()
    assert [s["calls"] for s in stats] == [1, 1]  # the refused call never reached either handler


def test_a_flood_at_full_workers_is_refused_by_the_dispatcher_alone(
    workers: Callable[..., Workers], tmp_path: Path
) -> None:
    """Each worker takes at most its --max-calls: the dispatcher counts the calls it gave each
    worker (call load dispatching), so with both full it answers a flood of INVITEs 503 with
    Retry-After itself, and not one of them costs a worker anything. When the live calls end
    (their BYEs pass the dispatcher), the slots are free again."""
    w = workers("--echo", "--max-calls", "2")
    live, flood = 4, 300
    calls = tmp_path / "live"
    calls.mkdir()
    with sipp_background(["-sf", str(SCENARIOS / "uac_rr.xml"), w.target, "-s", "bot", "-i", "127.0.0.1",
                          "-p", str(free_port()), "-m", str(live), "-l", str(live), "-r", "50", "-d", "6000",
                          "-trace_stat", "-stf", str(calls / "stats.csv"), "-fd", "1",
                          *LATE_1XX_IS_NOT_FATAL], calls) as callers:  # fmt: skip
        time.sleep(2.0)  # the live calls are up: two on each worker
        burst = tmp_path / "flood"
        burst.mkdir()
        got = run_sipp(["-sf", str(FLOOD), w.target, "-s", "bot", "-i", "127.0.0.1", "-p", str(free_port()),
                        "-m", str(flood), "-l", str(flood), "-r", "300", "-nostdin"], burst, 60)  # fmt: skip
        assert got.returncode == 0, got.output[-3000:] + got.errors[-2000:]
        assert successful(got.output) == flood  # each its 503 with Retry-After
        callers.wait(30)
    assert callers.returncode == 0, (calls / "stats.csv").read_text()[-2000:]
    out = sipp(tmp_path, w.target, "-sf", str(SCENARIOS / "uac_rr.xml"), "-m", "1", "-d", "200")
    assert successful(out) == 1 and not re.search(r"^\s*503 <-+\s+[1-9]", out, re.M), out[-2500:]
    stats = w.stop()
    assert sum(s["calls"] for s in stats) == live + 1  # the live calls and the one after
    assert [s["calls"] >= 2 for s in stats] == [True, True]  # the least-loaded worker took each
    assert [s["refused_full"] for s in stats] == [0, 0]  # no flooded INVITE reached a worker


def test_a_killed_workers_calls_free_their_slots_when_the_callers_hang_up(
    workers: Callable[..., Workers], tmp_path: Path
) -> None:
    """The dispatcher counts each worker's calls by Call-ID. When a worker dies mid-call, its
    callers' BYEs still pass the dispatcher and give the slots back, so the restarted worker
    takes its full --max-calls again (not only after the entries expire hours later)."""
    w = workers("--echo", "--max-calls", "2")
    live = tmp_path / "live"
    live.mkdir()
    with sipp_background(["-sf", str(SCENARIOS / "uac_rr.xml"), w.target, "-s", "bot", "-i", "127.0.0.1",
                          "-p", str(free_port()), "-m", "4", "-l", "4", "-r", "50", "-d", "5000",
                          *LATE_1XX_IS_NOT_FATAL], live) as callers:  # fmt: skip
        time.sleep(2.0)  # four calls up: both workers full
        os.kill(w.worker_pids()[0], signal.SIGKILL)
        callers.wait(40)  # each caller hangs up; the dead worker's two BYEs get no 200
    w.wait_for("worker 1 is back")
    time.sleep(2.5)  # two probe intervals: the dispatcher has seen it up
    again = tmp_path / "again"
    again.mkdir()
    out = sipp(again, w.target, "-sf", str(SCENARIOS / "uac_rr.xml"), "-m", "4", "-l", "4", "-r", "50", "-d", "2000")
    assert successful(out) == 4 and not re.search(r"^\s*503 <-+\s+[1-9]", out, re.M), out[-2500:]
    stats = w.stop()
    assert stats[0]["calls"] == 2 and stats[0]["refused_full"] == 0  # the restarted worker took two
