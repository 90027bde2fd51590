"""A CRM stand-in on loopback for demos and tests: it takes every request a flow's webhooks
send (point them at it with ``--webhook-base`` or :func:`voicebot.flowio.webhook.runner`),
records method, path and JSON body, and answers each with one fixed status and JSON body.

    with StandInCrm(status=503) as crm:      # "the CRM is down": flows take their error paths
        ... voicebot dial ... --webhook-base crm.base
    crm.requests  # [Request(method="POST", path="/api/appointments", body={...}), ...]
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True, slots=True, kw_only=True)
class Request:
    method: str
    path: str
    body: Any = None  # the JSON body (None without one; the raw text if it is not JSON)


class StandInCrm:
    """An HTTP server on 127.0.0.1 (a free port) in a thread of its own; ``base`` is its URL."""

    def __init__(self, *, status: int = 200, answer: dict[str, Any] | None = None) -> None:
        self.status = status
        self.answer = answer or {}
        self.requests: list[Request] = []
        self._lock = threading.Lock()
        crm = self

        class Handler(BaseHTTPRequestHandler):
            def _take(self) -> None:
                size = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(size).decode("utf-8", errors="replace") if size else ""
                crm.record(self.command, self.path, raw)
                data = json.dumps(crm.answer).encode()
                self.send_response(crm.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _take

            def log_message(self, *args: Any) -> None:  # quiet
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, name="stand-in CRM", daemon=True)

    def record(self, method: str, path: str, raw: str) -> None:
        """Keep one request (called from the server's threads)."""
        try:
            body = json.loads(raw) if raw else None
        except json.JSONDecodeError:
            body = raw
        with self._lock:
            self.requests.append(Request(method=method, path=path, body=body))

    def __enter__(self) -> StandInCrm:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()


__all__ = ["Request", "StandInCrm"]
