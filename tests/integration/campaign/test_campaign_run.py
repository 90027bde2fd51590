"""A whole campaign through the real path: ``voicebot campaign create/run`` processes dialling
real callees over SIP/RTP, a flow run by the bot on every answered call, a number put on the
do-not-call list mid-run, the runner killed with SIGKILL while calls are up, and a second run
that finishes the campaign."""

from __future__ import annotations

import json
import os
import signal
import time
from collections import Counter
from pathlib import Path
from typing import Any

from tests.integration.campaign.callees import Callees
from tests.integration.campaign.conftest import FLOW, KEY_ENV, cli, open_with_key, voicebot, voicebot_popen, write_csv
from voicebot.campaign import campaigns

TOTAL = 56


def build_contacts(callees: Callees, tmp: Path) -> tuple[Path, dict[str, str], str]:
    """56 rows: 54 callees of six kinds (4 reached through the trunk) and 2 bad rows."""
    answers, busy, never = callees.answers(), callees.busy(), callees.never_answers()
    rejects, down = callees.rejects(403), callees.unreachable()
    optout = callees.opts_out()
    callees.wait_ready()
    plan = [("answers", answers, 12), ("busy", busy, 12), ("never", never, 8), ("rejects", rejects, 12),
            ("down", down, 4), ("optout", optout, 2)]
    rows: list[dict[str, str]] = []
    group: dict[str, str] = {}
    n = 0
    for kind, hostport, count in plan:
        for _ in range(count):
            n += 1
            number = f"+3361{n:07d}"
            rows.append({"phone": f"sip:{number}@{hostport}", "name": f"{kind}{n}", "timezone": "Europe/Paris"})
            group[number] = kind
    for i in range(4):  # national numbers with --region FR, dialled as sip:<E.164>@<trunk>
        rows.append({"phone": f"06 12 00 00 {i:02d}", "name": f"trunk{i}", "timezone": ""})
        group[f"+336120000{i:02d}"] = "answers"
    rows.insert(20, {"phone": "12", "name": "bad number", "timezone": ""})
    rows.insert(30, {"phone": "+33611111111", "name": "bad zone", "timezone": "Mars/Olympus"})
    return write_csv(tmp / "contacts.csv", rows), group, answers


def results(db_path: str, name: str) -> list[dict[str, Any]]:
    with open_with_key(db_path) as db:
        return campaigns.results(db, campaigns.get(db, name).id)


def wait_for(check: Any, timeout: float, what: str, proc: Any = None) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"the runner ended (rc {proc.returncode}) before {what}")
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def test_campaign_against_real_callees_survives_kill_and_honours_dnc(callees: Callees, tmp_path: Path) -> None:
    csv_path, group, trunk = build_contacts(callees, tmp_path)
    db = str(tmp_path / "campaign.db")
    created = voicebot("campaign", "create", "spring", "--flow", str(FLOW), "--contacts", str(csv_path),
                       "--trunk", f"sip:{trunk}", "--region", "FR", "--caller-id", "sip:clinic@127.0.0.1",
                       "--window", "00:00-00:00", "--concurrency", "6", "--cps", "10", "--max-attempts", "2",
                       "--retry-after", "2s", "--ring-timeout", "1.5", "--json", db=db, env=KEY_ENV)
    assert created.returncode == 0, created.stderr
    summary = json.loads(created.stdout)
    assert summary["contacts"] == TOTAL
    assert {i["line"] for i in summary["invalid"]} == {22, 32}  # reported by line (header is line 1)

    log = tmp_path / "run1.log"
    runner = voicebot_popen("campaign", "run", "spring", "--no-progress", db=db, log=log, env=KEY_ENV)
    try:
        # a number put on the do-not-call list mid-run, after its first (busy) attempt
        def busy_waiting_retry() -> dict[str, Any] | None:
            return next((r for r in results(db, "spring") if group.get(r["phone"]) == "busy"
                         and r["status"] == "pending" and r["attempt_count"] == 1
                         and r["attempts"][0]["state"] == "ended"), None)

        victim = wait_for(busy_waiting_retry, 60, "a busy contact waiting for its retry", runner)
        late = next(r for r in reversed(results(db, "spring")) if r["status"] == "pending")  # not dialled yet
        assert not late["attempts"]
        for phone in (victim["phone"], late["phone"]):
            added = cli("dnc", "add", phone, db=db)
            assert added.returncode == 0, added.stderr
        dnc_added_at = time.time()

        def calls_up() -> list[dict[str, Any]]:
            up = [a for r in results(db, "spring") for a in r["attempts"] if a["state"] == "dialling"]
            return up if len(up) >= 2 else []

        wait_for(calls_up, 60, "two calls in flight", runner)
        os.kill(runner.pid, signal.SIGKILL)
    finally:
        runner.wait(10)  # reaped: the next run sees the process is gone
    assert runner.returncode == -signal.SIGKILL, log.read_text()
    interrupted = {(r["contact_id"], a["number"]) for r in results(db, "spring") for a in r["attempts"]
                   if a["state"] == "dialling"}
    assert interrupted

    second = voicebot("campaign", "run", "spring", "--no-progress", "--json", db=db, timeout=240, env=KEY_ENV)
    assert second.returncode == 0, second.stdout + second.stderr
    assert json.loads(second.stdout)["recovered"] == len(interrupted)

    rows = results(db, "spring")
    by_phone = {r["phone"]: r for r in rows}
    assert len(rows) == TOTAL and len(by_phone) == TOTAL
    # one final status each; never more than --max-attempts; every attempt recorded and counted
    assert Counter(r["status"] for r in rows).keys() <= {"done", "failed", "dnc", "invalid"}
    for r in rows:
        assert r["attempt_count"] == len(r["attempts"]) <= 2, r
        assert [a["number"] for a in r["attempts"]] == list(range(1, len(r["attempts"]) + 1))
        assert all(a["state"] in ("ended", "interrupted") for a in r["attempts"])
    states = {(r["contact_id"], a["number"]): a["state"] for r in rows for a in r["attempts"]}
    assert {states[k] for k in interrupted} == {"interrupted"}

    # the numbers put on the do-not-call list were not dialled again, or at all
    v, never = by_phone[victim["phone"]], by_phone[late["phone"]]
    assert (v["status"], v["attempt_count"], never["status"], never["attempt_count"]) == ("dnc", 1, "dnc", 0)
    assert all(a["queued_at"] < dnc_added_at for a in v["attempts"])

    # every kind of callee ends as its rules say
    def of(kind: str) -> list[dict[str, Any]]:
        return [by_phone[p] for p, k in group.items() if k == kind and p not in (victim["phone"], late["phone"])]

    for r in of("answers"):
        assert (r["status"], r["outcome"]) == ("done", "caller_hangup"), r
        answered = r["attempts"][-1]
        assert answered["sip_status"] == 200 and answered["talk_s"] > 0.5 and answered["ended_by"] == "remote"
        assert answered["codec"] and answered["mos"] is not None
        assert answered["rtp"]["inbound-rtp"]["packetsReceived"] > 0
        assert any(t["who"] == "bot" for t in r["transcript"])
    for kind, outcome, sip in (("busy", "busy", 486), ("never", "no_answer", 487), ("down", "network", None)):
        for r in of(kind):
            assert (r["status"], r["outcome"], r["attempt_count"]) == ("failed", outcome, 2), r
            assert r["attempts"][-1]["sip_status"] == sip
    for r in of("rejects"):
        assert (r["status"], r["outcome"]) == ("failed", "rejected") and r["attempts"][-1]["sip_status"] == 403
        assert sum(a["state"] == "ended" for a in r["attempts"]) == 1  # a rejection is never retried
    for r in of("optout"):
        assert (r["status"], r["outcome"]) == ("done", "opted_out"), r
        assert any(t["who"] == "caller" and "stop calling" in t["text"] for t in r["transcript"])
    listed = voicebot("dnc", "list", "--json", db=db, env=KEY_ENV)
    dnc_numbers = {e["phone"] for e in json.loads(listed.stdout)}
    assert dnc_numbers == {victim["phone"], late["phone"], *(r["phone"] for r in of("optout"))}
    assert {by_phone["12"]["status"], by_phone["+33611111111"]["status"]} == {"invalid"}

    # what the user gets: export (both formats), status and the HTML report
    out_json, out_csv, report = tmp_path / "r.json", tmp_path / "r.csv", tmp_path / "report.html"
    assert voicebot("campaign", "export", "spring", "-o", str(out_json), db=db, env=KEY_ENV).returncode == 0
    exported = json.loads(out_json.read_text())
    assert len(exported) == TOTAL
    assert set(exported[0]) == {"contact_id", "phone", "name", "status", "outcome", "note", "attempts", "slots"}
    assert set(exported[0]["attempts"][0]) == {"started_at", "sip_status", "outcome", "duration_s"}
    assert voicebot("campaign", "export", "spring", "-o", str(out_csv), db=db, env=KEY_ENV).returncode == 0
    assert len(out_csv.read_text().splitlines()) == TOTAL + 1
    status = json.loads(voicebot("campaign", "status", "spring", "--json", db=db, env=KEY_ENV).stdout)
    assert status["final"] == TOTAL and status["in_flight"] == 0
    assert voicebot("campaign", "report", "spring", "-o", str(report), db=db, env=KEY_ENV).returncode == 0
    html = report.read_text()
    assert html.count("data:image/png;base64,iVBOR") == 6  # six charts, PNG each

    # created with a key and without --plain, so what the calls said is sealed in the file: the
    # bot's greeting with each person's name and the opted-out callees' words, read above
    # through the key, appear nowhere in the raw SQLite files
    assert status["transcripts"] == "encrypted"
    spoken = [t["text"] for r in rows for t in r["transcript"]]
    greeting = next(t for t in spoken if t.startswith("Hi answers"))
    raw = b"".join(Path(db + s).read_bytes() for s in ("", "-wal", "-journal") if Path(db + s).exists())
    for said in (greeting, "short test call", "stop calling"):
        assert said.encode() not in raw, said
