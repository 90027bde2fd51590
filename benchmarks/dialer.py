"""Dialer overhead: contacts claimed and dialled per second, against calls rejected at once.

Every contact's call is answered ``403 Forbidden`` by ``voicebot serve --reject 403`` (a
final rejection: one attempt each), so the time is the dialer's — the claim transaction
(window, do-not-call list, daily cap, a line), the INVITE/403/ACK exchange, and the finish
transaction (call record, sealed as campaigns keep it by default; next status; webhook outbox) —
not a conversation's. Runs
``voicebot campaign run`` processes on:

* SQLite with one worker and with two,
* PostgreSQL (a throwaway server, fsync on) with one worker and with two,

and sets each beside the time of one INVITE/486 round trip measured in the same run from a
user agent in this process. The runners' and the callee's CPU seconds are reported, to show
the callee is not the bottleneck.

Writes benchmarks/results/dialer.json. Run: ``.venv/bin/python benchmarks/dialer.py``
(``DIALER_CONTACTS`` sets the campaign size, default 300).
"""

from __future__ import annotations

import asyncio
import csv
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import write_results  # noqa: E402

from tests.pgserver import postgres_server  # noqa: E402
from tests.procs import free_port  # noqa: E402
from voicebot.campaign import campaigns  # noqa: E402
from voicebot.privacy import Keyring  # noqa: E402
from voicebot.privacy.fields import FieldSealer  # noqa: E402
from voicebot.privacy.keys import ENV_KEY  # noqa: E402
from voicebot.store import open_db  # noqa: E402

CONTACTS = int(os.environ.get("DIALER_CONTACTS", "300"))
CONCURRENCY = 8
ROUND_TRIPS = 50


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def start_callee(args: list[str], log: Path) -> tuple[subprocess.Popen[bytes], str]:
    """``voicebot serve`` logging to a file (a pipe nobody reads would fill and stop it)."""
    port = free_port()
    with log.open("wb") as fh:
        proc = subprocess.Popen([sys.executable, "-m", "voicebot", "serve", "--listen", f"127.0.0.1:{port}", *args],
                                stdout=fh, stderr=subprocess.STDOUT, cwd=ROOT)
    deadline = time.monotonic() + 30
    while "listening on" not in log.read_text(errors="replace"):
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"voicebot serve did not start: {log.read_text(errors='replace')}")
        time.sleep(0.05)
    return proc, f"127.0.0.1:{port}"


async def round_trips(hostport: str) -> list[float]:
    """INVITE -> 486 (-> ACK) from a user agent, one call after the other."""
    from voicebot.agent import UserAgent

    times = []
    async with UserAgent("127.0.0.1:0") as ua:
        for _ in range(ROUND_TRIPS):
            t0 = time.perf_counter()
            call = await ua.dial(f"sip:x@{hostport}")
            result = await call.finished
            times.append(time.perf_counter() - t0)
            assert result.status == 486, result
    return times


# campaigns seal each call's record (transcript, slots, CRM message) by default: measured so,
# with a key made for the run
KEYED = {**os.environ, ENV_KEY: secrets.token_hex(32)}


def campaign(db: str, name: str, hostport: str, tmp: Path) -> None:
    path = tmp / f"{name}.csv"
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["phone", "timezone"])
        for i in range(CONTACTS):
            w.writerow([f"sip:+3361{i:07d}@{hostport}", "UTC"])
    subprocess.run([sys.executable, "-m", "voicebot", "campaign", "create", name, "--db", db, "--flow",
                    str(ROOT / "tests/integration/campaign/campaign_flow.yaml"), "--contacts", str(path),
                    "--window", "00:00-00:00", "--cps", "0", "--concurrency", str(CONCURRENCY), "--max-attempts",
                    "1", "--daily-cap", str(10 * CONTACTS)], check=True, capture_output=True, cwd=ROOT, env=KEYED)


def run_workers(db: str, name: str, workers: int) -> dict[str, Any]:
    procs = [subprocess.Popen([sys.executable, "-m", "voicebot", "campaign", "run", name, "--db", db, "--no-progress",
                               "--json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT, env=KEYED)
             for _ in range(workers)]
    cpu = 0.0
    for p in procs:
        _, status, usage = os.wait4(p.pid, 0)
        p.returncode = os.waitstatus_to_exitcode(status)
        cpu += usage.ru_utime + usage.ru_stime
        if p.returncode != 0:
            raise RuntimeError(f"campaign run failed: {p.stderr.read().decode() if p.stderr else ''}")
    with open_db(db) as store:
        store.content = FieldSealer(Keyring.from_env_key(KEYED[ENV_KEY]))
        rows = campaigns.results(store, campaigns.get(store, name).id)
    attempts = [a for r in rows for a in r["attempts"]]
    assert len(attempts) == CONTACTS and all(a["sip_status"] == 403 for a in attempts)
    assert all(a["ended_at"] is not None for a in attempts)
    first = min(a["queued_at"] for a in attempts)
    last = max(a["ended_at"] for a in attempts)
    span = last - first
    return {
        "workers": workers,
        "contacts": CONTACTS,
        "seconds": round(span, 3),
        "contacts_per_s": round(CONTACTS / span, 1),
        "ms_per_contact": round(1000 * span / CONTACTS, 2),
        "workers_that_dialled": len({a["worker"] for a in attempts}),
        "runner_cpu_s_incl_startup": round(cpu, 2),
    }


def main() -> None:
    results: dict[str, Any] = {"contacts": CONTACTS, "concurrency": CONCURRENCY,
                               "load_average_1m_before": round(os.getloadavg()[0], 2)}
    with tempfile.TemporaryDirectory(prefix="voicebot-dialer-") as tmp:
        busy, busy_at = start_callee(["--reject", "486", "--no-media"], Path(tmp) / "busy.log")
        reject, reject_at = start_callee(["--reject", "403", "--no-media"], Path(tmp) / "reject.log")
        try:
            rt = asyncio.run(round_trips(busy_at))
            results["invite_486_round_trip_ms"] = {"median": round(1000 * statistics.median(rt), 2),
                                                   "min": round(1000 * min(rt), 2)}
            cpu0 = cpu_seconds(reject.pid)
            runs = []
            for workers in (1, 2):
                db = str(Path(tmp) / f"sqlite{workers}.db")
                campaign(db, "bench", reject_at, Path(tmp))
                runs.append({"store": "sqlite", **run_workers(db, "bench", workers)})
            with postgres_server(durable=True) as url:
                for workers in (1, 2):
                    name = f"bench{workers}"
                    campaign(url, name, reject_at, Path(tmp))
                    runs.append({"store": "postgresql", **run_workers(url, name, workers)})
            results["callee_cpu_s"] = round(cpu_seconds(reject.pid) - cpu0, 2)
        finally:
            for p in (busy, reject):
                p.terminate()
                p.wait()
    median_rt = results["invite_486_round_trip_ms"]["median"]
    for r in runs:
        r["per_contact_over_round_trip"] = round(r["ms_per_contact"] / median_rt, 2)
    results["runs"] = runs
    results["load_average_1m_after"] = round(os.getloadavg()[0], 2)  # the machine is shared
    path = write_results("dialer", results)
    print(f"INVITE/486 round trip: median {median_rt} ms (min {results['invite_486_round_trip_ms']['min']} ms)")
    head = ("store", "workers", "contacts/s", "ms/contact", "÷ round trip", "runner CPU s")
    print(f"{head[0]:<11} {head[1]:>7} {head[2]:>10} {head[3]:>10} {head[4]:>12} {head[5]:>12}")
    for r in runs:
        print(f"{r['store']:<11} {r['workers']:>7} {r['contacts_per_s']:>10} {r['ms_per_contact']:>10} "
              f"{r['per_contact_over_round_trip']:>12} {r['runner_cpu_s_incl_startup']:>12}")
    print(f"callee (voicebot serve --reject 403) CPU: {results['callee_cpu_s']} s over all runs; load average "
          f"{results['load_average_1m_before']} -> {results['load_average_1m_after']}; results in {path}")


if __name__ == "__main__":
    main()
