"""Real peers for the flow integration tests: redis-server and a loopback HTTP server."""

from __future__ import annotations

import contextlib
import json
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from tests.procs import free_port


@pytest.fixture
def redis_url() -> Iterator[str]:
    exe = shutil.which("redis-server")
    if exe is None:
        pytest.skip("redis-server not installed (Debian package 'redis-server'; `make setup` installs it)")
    port = free_port()
    tmp = tempfile.mkdtemp(prefix="voicebot-redis-")
    proc = subprocess.Popen(
        [exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", tmp],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        import redis

        client = redis.Redis(host="127.0.0.1", port=port)
        for _ in range(200):
            try:
                if client.ping():
                    break
            except redis.exceptions.ConnectionError:
                time.sleep(0.02)
        else:
            pytest.fail("redis-server did not start")
        client.close()
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        shutil.rmtree(tmp, ignore_errors=True)


class Recorder(BaseHTTPRequestHandler):
    """Answers by path: /ok echoes the JSON body, /account returns a balance, /fail is a 500,
    /slow sleeps past the client's timeout, /text answers plain text."""

    requests: list[dict[str, Any]]

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _body(self) -> Any:
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n) if n else b""
        return json.loads(raw) if raw else None

    def _send(self, status: int, payload: bytes, ctype: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def _handle(self) -> None:
        body = self._body()
        self.server.requests.append(  # type: ignore[attr-defined]
            {"method": self.command, "path": self.path, "body": body, "headers": dict(self.headers)}
        )
        if self.path.startswith("/ok"):
            self._send(200, json.dumps({"echo": body, "status": "saved"}).encode())
        elif self.path.startswith("/account"):
            self._send(200, json.dumps({"balance": 99.5, "due_date": "2025-12-20"}).encode())
        elif self.path.startswith("/fail"):
            self._send(500, b'{"error": "boom"}')
        elif self.path.startswith("/slow"):
            time.sleep(1.5)
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                self._send(200, b"{}")  # the client has usually given up, as the test wants
        elif self.path.startswith("/text"):
            self._send(200, b"hello", "text/plain")
        else:
            self._send(404, b"{}")

    do_GET = _handle
    do_POST = _handle
    do_PUT = _handle


@pytest.fixture
def http_server() -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    server.requests = []  # type: ignore[attr-defined]
    server.daemon_threads = True
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        t.join(timeout=5)
