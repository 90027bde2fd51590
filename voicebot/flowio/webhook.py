"""Carry out a flow's :class:`~voicebot.flow.events.Webhook` action over HTTP (RFC 9110).

``execute(action)`` sends the request with the action's timeout and answers with the
:class:`~voicebot.flow.events.WebhookResult` to feed back into the session: ``ok`` for a 2xx
answer, ``data`` the JSON object it carried (a non-object JSON value is wrapped as
``{"value": ...}``; an empty or non-JSON body gives ``{}``). Timeouts, refused connections and
non-2xx answers give ``ok=False`` with ``status``/``error`` set; nothing raises. Answers larger
than 1 MiB are refused. ``execute_async`` runs the same in a worker thread.

A *base* sends every webhook of a flow somewhere else than the host its URL names — a staging
CRM, or a local stand-in in a test or a demo: ``rebase`` keeps the URL's path and query and
takes the base's scheme, host and port (and path prefix). ``runner(base)`` is the webhook
runner :class:`~voicebot.bot.VoiceBot` uses; with no base given it reads ``$VOICEBOT_WEBHOOK_BASE``
(``voicebot dial/serve --webhook-base`` set it per run).
"""

from __future__ import annotations

import asyncio
import json
import os
import urllib.error
import urllib.request
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from voicebot.flow.events import Webhook, WebhookResult

MAX_RESPONSE_BYTES = 1 << 20
USER_AGENT = "voicebot-flow/0.1"
BASE_ENV = "VOICEBOT_WEBHOOK_BASE"  # where every flow webhook goes instead of its URL's host

WebhookRunner = Callable[[Webhook], Awaitable[WebhookResult]]


def check_base(text: str) -> str:
    """``text`` if it is a usable base (an http(s) URL with a host, no query or fragment)."""
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        raise ValueError(f"not an http(s) base URL (scheme://host[:port][/path]): {text!r}")
    return text


def rebase(url: str, base: str) -> str:
    """``url`` sent to ``base``: base's scheme, host, port and path, then url's path and query."""
    u, b = urlsplit(url), urlsplit(base)
    return urlunsplit((b.scheme, b.netloc, b.path.rstrip("/") + (u.path or "/"), u.query, u.fragment))


def runner(base: str | None = None) -> WebhookRunner:
    """Real HTTP in a worker thread, to ``base`` (default: ``$VOICEBOT_WEBHOOK_BASE``) when
    one is set; a base that is no URL fails each webhook with that reason (the flow's error path)."""
    chosen = base if base is not None else os.environ.get(BASE_ENV) or None
    problem = None
    if chosen is not None:
        try:
            check_base(chosen)
        except ValueError as exc:
            problem = str(exc)

    async def run(action: Webhook) -> WebhookResult:
        if problem is not None:
            return WebhookResult(ok=False, error=f"{BASE_ENV if base is None else 'webhook base'}: {problem}")
        return await execute_async(action if chosen is None else replace(action, url=rebase(action.url, chosen)))

    return run


def _decode(raw: bytes) -> dict[str, Any]:
    if not raw.strip():
        return {}
    try:
        value = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        return {}
    return value if isinstance(value, dict) else {"value": value}


def execute(action: Webhook) -> WebhookResult:
    """Perform the HTTP request described by ``action``; never raises for network trouble."""
    if not action.url.startswith(("http://", "https://")):
        return WebhookResult(ok=False, error=f"not an http(s) URL: {action.url!r}")
    data: bytes | None = None
    headers = {"User-Agent": USER_AGENT, "Accept": "application/json"}
    headers.update(dict(action.headers))
    if action.body is not None and action.method != "GET":
        data = json.dumps(dict(action.body), ensure_ascii=False, default=str).encode("utf-8")
        headers.setdefault("Content-Type", "application/json")
    req = urllib.request.Request(action.url, data=data, method=action.method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=action.timeout_s) as resp:
            raw = resp.read(MAX_RESPONSE_BYTES + 1)
            status = int(resp.status)
    except urllib.error.HTTPError as exc:
        body = exc.read(MAX_RESPONSE_BYTES) if exc.fp is not None else b""
        exc.close()
        return WebhookResult(ok=False, status=exc.code, data=_decode(body), error=f"HTTP {exc.code} {exc.reason}")
    except (urllib.error.URLError, TimeoutError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        return WebhookResult(ok=False, error=f"{type(exc).__name__}: {reason}")
    if len(raw) > MAX_RESPONSE_BYTES:
        return WebhookResult(ok=False, status=status, error=f"answer larger than {MAX_RESPONSE_BYTES} bytes")
    return WebhookResult(ok=200 <= status < 300, status=status, data=_decode(raw))


async def execute_async(action: Webhook) -> WebhookResult:
    """:func:`execute` in a worker thread, so the event loop never blocks."""
    return await asyncio.to_thread(execute, action)
