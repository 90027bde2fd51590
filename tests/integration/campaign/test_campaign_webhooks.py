"""The CRM webhook outbox against a local HTTP server that is down at first, then comes up:
every final result arrives once, signed, and nothing is lost meanwhile."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from tests.integration.campaign.callees import Callees
from tests.integration.campaign.conftest import FLOW, KEY_ENV, voicebot, voicebot_popen, write_csv
from tests.procs import free_port
from voicebot.campaign.webhooks import DELIVERY_HEADER, SIGNATURE_HEADER, verify
from voicebot.store import open_db

SECRET = "s3cret-for-the-crm"


class Crm(ThreadingHTTPServer):
    def __init__(self, port: int) -> None:
        self.received: list[tuple[dict[str, str], bytes]] = []
        super().__init__(("127.0.0.1", port), _Handler)


class _Handler(BaseHTTPRequestHandler):
    server: Crm

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.received.append((dict(self.headers.items()), body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


def outbox_rows(db: str) -> list[tuple[int, int, Any]]:
    with open_db(db) as store, store.read() as tx:
        return [(int(i), int(t), d) for i, t, d in tx.all("SELECT id, tries, delivered_at FROM outbox ORDER BY id")]


def test_results_wait_in_the_outbox_while_the_crm_is_down(callees: Callees, tmp_path: Path) -> None:
    rejects = callees.rejects(404)
    callees.wait_ready()
    port = free_port(host="127.0.0.1")
    db = str(tmp_path / "hooks.db")
    rows = [{"phone": f"sip:+3361{i:07d}@{rejects}", "name": f"person {i}", "account": f"A-{i}"} for i in range(6)]
    created = voicebot("campaign", "create", "hooks", "--flow", str(FLOW), "--contacts",
                       str(write_csv(tmp_path / "c.csv", rows)), "--window", "00:00-00:00", "--cps", "0",
                       "--webhook", f"http://127.0.0.1:{port}/crm", "--webhook-secret", SECRET, db=db,
                       env=KEY_ENV)
    assert created.returncode == 0, created.stderr
    log = tmp_path / "run.log"
    runner = voicebot_popen("campaign", "run", "hooks", "--no-progress", "--drain-timeout", "2m", db=db, log=log,
                            env=KEY_ENV)
    crm: Crm | None = None
    try:
        deadline = time.monotonic() + 60
        while not (len(outbox_rows(db)) == 6 and min(t for _, t, _ in outbox_rows(db)) >= 2):
            assert time.monotonic() < deadline and runner.poll() is None, log.read_text()
            time.sleep(0.2)  # every result has failed to go out at least twice: the CRM is down
        assert all(d is None for _, _, d in outbox_rows(db))
        crm = Crm(port)
        threading.Thread(target=crm.serve_forever, daemon=True).start()
        assert runner.wait(120) == 0, log.read_text()
    finally:
        if runner.poll() is None:
            runner.kill()
            runner.wait()
        if crm is not None:
            crm.shutdown()
            crm.server_close()

    assert crm is not None and all(d is not None for _, _, d in outbox_rows(db))
    deliveries = {h[DELIVERY_HEADER]: (h, body) for h, body in crm.received}
    assert len(crm.received) == len(deliveries) == 6  # each result once
    names = set()
    for headers, body in deliveries.values():
        assert verify(SECRET, body, headers[SIGNATURE_HEADER])
        assert not verify("another secret", body, headers[SIGNATURE_HEADER])
        result = json.loads(body)
        assert (result["event"], result["campaign"], result["status"], result["outcome"]) == (
            "contact.final", "hooks", "failed", "rejected")
        assert result["attempts"][0]["sip_status"] == 404 and result["fields"]["account"].startswith("A-")
        names.add(result["name"])
    assert names == {f"person {i}" for i in range(6)}
