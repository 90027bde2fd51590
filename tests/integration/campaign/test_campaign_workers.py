"""Several ``campaign run`` processes at once: two workers sharing one campaign on PostgreSQL,
and two campaigns sharing one caller ID's daily cap."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from tests.integration.campaign.callees import Callees
from tests.integration.campaign.conftest import FLOW, KEY_ENV, open_with_key, voicebot, voicebot_popen, write_csv
from voicebot.campaign import campaigns
from voicebot.store import open_db


def _create(name: str, db: str, csv_path: Path, *extra: str) -> None:
    done = voicebot("campaign", "create", name, "--flow", str(FLOW), "--contacts", str(csv_path),
                    "--window", "00:00-00:00", "--cps", "0", "--retry-after", "1s", "--ring-timeout", "2", *extra,
                    db=db, env=KEY_ENV)
    assert done.returncode == 0, done.stderr


def test_two_workers_on_postgresql_share_one_campaign(callees: Callees, pg_url: str, tmp_path: Path) -> None:
    # every call rings a while first, so the campaign lasts longer than the gap between the two
    # workers' start-ups: with instant refusals the first worker had taken 56 of 60 calls
    # before the second claimed its first contact
    rejects, busy, answers = callees.rejects(404, ring=0.4), callees.busy(ring=0.4), callees.answers(talk=1.0)
    callees.wait_ready()
    kinds = ["rejects"] * 36 + ["busy"] * 10 + ["answers"] * 4
    where = {"rejects": rejects, "busy": busy, "answers": answers}
    rows = [{"phone": f"sip:+3361{i:07d}@{where[k]}", "timezone": "UTC"} for i, k in enumerate(kinds)]
    _create("shared", pg_url, write_csv(tmp_path / "c.csv", rows), "--concurrency", "4", "--max-attempts", "2")

    workers = [voicebot_popen("campaign", "run", "shared", *flags, db=pg_url, log=tmp_path / f"w{i}.log",
                              env=KEY_ENV)
               for i, flags in ((1, ["--no-progress", "--json"]), (2, []))]  # the second shows its progress bar
    for i, w in enumerate(workers, 1):
        assert w.wait(180) == 0, (tmp_path / f"w{i}.log").read_text()
    shown = (tmp_path / "w2.log").read_text()
    assert "campaign shared" in shown and "50/50" in shown, shown

    with open_with_key(pg_url) as db:
        results = campaigns.results(db, campaigns.get(db, "shared").id)
        with db.read() as tx:  # as PostgreSQL holds them: sealed by default, the key opened them above
            stored = [v for row in tx.all("SELECT slots_json, transcript_json FROM attempt_content") for v in row]
    said = [t["text"] for r in results for t in r["transcript"]]
    assert len(stored) == 2 * sum(len(r["attempts"]) for r in results) and any("short test call" in t for t in said)
    assert all(v.startswith("sealed:") and "short test call" not in v for v in stored)
    assert len(results) == 50 and all(r["status"] in ("done", "failed") for r in results)
    expected = {"rejects": 1, "busy": 2, "answers": 1}  # no contact claimed twice, none skipped
    for r, kind in zip(results, kinds, strict=True):
        assert len(r["attempts"]) == expected[kind], r
        assert [a["number"] for a in r["attempts"]] == list(range(1, expected[kind] + 1))
    by_worker = Counter(a["worker"] for r in results for a in r["attempts"])
    assert len(by_worker) == 2 and min(by_worker.values()) >= 5, by_worker  # both shared the work


def test_daily_cap_holds_across_campaigns_and_processes(callees: Callees, tmp_path: Path) -> None:
    rejects = callees.rejects(403)
    callees.wait_ready()
    db = str(tmp_path / "cap.db")
    for name, base in (("north", 0), ("south", 100)):
        rows = [{"phone": f"sip:+3361{base + i:07d}@{rejects}", "timezone": "UTC"} for i in range(12)]
        _create(name, db, write_csv(tmp_path / f"{name}.csv", rows), "--caller-id", "sip:shop@127.0.0.1",
                "--daily-cap", "9", "--timezone", "UTC", "--concurrency", "3", "--plain")
    runs = [voicebot_popen("campaign", "run", name, "--until", "idle", "--no-progress", "--json", db=db,
                           log=tmp_path / f"{name}.log") for name in ("north", "south")]
    for proc, name in zip(runs, ("north", "south"), strict=True):
        assert proc.wait(120) == 3, (tmp_path / f"{name}.log").read_text()  # stopped with contacts waiting
    with open_db(db) as store:
        counts = [campaigns.counts(store, campaigns.get(store, n).id) for n in ("north", "south")]
    assert sum(c["attempts"] for c in counts) == 9  # the cap, exactly, across both campaigns
    assert sum(c["status"]["capped"] for c in counts) == 24 - 9
    status = json.loads(voicebot("campaign", "status", "north", "--json", db=db).stdout)
    assert status["status"]["capped"] == counts[0]["status"]["capped"]
