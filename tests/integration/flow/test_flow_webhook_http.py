"""The webhook executor against a real HTTP server on loopback, driven by real flows."""

from __future__ import annotations

import textwrap
from http.server import ThreadingHTTPServer
from pathlib import Path

from voicebot.flow import Flow, Hangup, Say, Webhook
from voicebot.flowio.webhook import execute


def _url(server: ThreadingHTTPServer, path: str) -> str:
    return f"http://127.0.0.1:{server.server_address[1]}{path}"


def test_post_json_roundtrip(http_server: ThreadingHTTPServer) -> None:
    res = execute(Webhook(url=_url(http_server, "/ok"), body={"a": 1, "name": "김"}, headers=(("X-Token", "t"),)))
    assert res.ok and res.status == 200 and res.data == {"echo": {"a": 1, "name": "김"}, "status": "saved"}
    req = http_server.requests[-1]  # type: ignore[attr-defined]
    assert req["method"] == "POST" and req["headers"]["X-Token"] == "t"
    assert req["headers"]["Content-Type"] == "application/json"


def test_get_has_no_body(http_server: ThreadingHTTPServer) -> None:
    res = execute(Webhook(url=_url(http_server, "/account/1"), method="GET", body={"ignored": True}))
    assert res.ok and res.data == {"balance": 99.5, "due_date": "2025-12-20"}
    assert http_server.requests[-1]["body"] is None  # type: ignore[attr-defined]


def test_failures_never_raise(http_server: ThreadingHTTPServer) -> None:
    bad = execute(Webhook(url=_url(http_server, "/fail")))
    assert not bad.ok and bad.status == 500 and bad.data == {"error": "boom"}
    missing = execute(Webhook(url=_url(http_server, "/nothing")))
    assert not missing.ok and missing.status == 404
    slow = execute(Webhook(url=_url(http_server, "/slow"), timeout_s=0.2))
    assert not slow.ok and slow.status is None and "timed out" in slow.error.lower()
    text = execute(Webhook(url=_url(http_server, "/text")))
    assert text.ok and text.data == {}
    scheme = execute(Webhook(url="file:///etc/passwd"))
    assert not scheme.ok and "http" in scheme.error


def test_connection_refused() -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    res = execute(Webhook(url=f"http://127.0.0.1:{port}/x", timeout_s=2))
    assert not res.ok and res.error


def _flow(tmp_path: Path, base: str) -> Flow:
    p = tmp_path / "hook.yaml"
    p.write_text(
        textwrap.dedent(
            f"""
            flow: crm
            slots:
              account: {{type: digits, required: true}}
              balance: {{type: number}}
            start: lookup
            states:
              lookup:
                webhook:
                  url: {base}/account/{{account}}
                  method: GET
                  timeout: 2
                  save: {{balance: balance}}
                next: report
                on_error: sorry
              report:
                say: You owe {{balance}} dollars.
                next: save
              save:
                webhook:
                  url: {base}/fail
                  body: {{account: "{{account}}", paid: false}}
                next: bye
                on_error: sorry
              sorry:
                say: Our system is down.
                hangup: system_error
              bye:
                hangup: done
            """
        ),
        encoding="utf-8",
    )
    return Flow.load(p)


def test_flow_drives_real_http(tmp_path: Path, http_server: ThreadingHTTPServer) -> None:
    base = f"http://127.0.0.1:{http_server.server_address[1]}"
    flow = _flow(tmp_path, base)
    s = flow.start({"account": "0042"})
    actions = s.begin()
    spoken: list[str] = []
    for _ in range(10):
        hooks = [a for a in actions if isinstance(a, Webhook)]
        spoken += [a.text for a in actions if isinstance(a, Say)]
        if not hooks:
            break
        actions = s.handle(execute(hooks[0]))
    assert "You owe 99.5 dollars." in spoken and "Our system is down." in spoken
    assert isinstance(actions[-1], Hangup) and s.outcome == "system_error"
    reqs = http_server.requests  # type: ignore[attr-defined]
    assert [r["path"] for r in reqs] == ["/account/0042", "/fail"]
    assert reqs[1]["body"] == {"account": "0042", "paid": False}


def test_refused_webhook_takes_on_error(tmp_path: Path) -> None:
    flow = _flow(tmp_path, "http://127.0.0.1:9")
    s = flow.start({"account": "1"})
    hook = s.begin()[0]
    assert isinstance(hook, Webhook)
    s.handle(execute(hook))
    assert s.outcome == "system_error"
