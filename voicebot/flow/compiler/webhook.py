"""A ``webhook:`` state's request: URL, method, headers, body, timeout and the fields it saves."""

from __future__ import annotations

from typing import Any

from voicebot.flow import expr as ex
from voicebot.flow.compiler.schema import WEBHOOK_KEYS
from voicebot.flow.compiler.templates import expression, template
from voicebot.flow.compiler.unit import Unit
from voicebot.flow.diagnostics import Pos, did_you_mean
from voicebot.flow.model import Template, WebhookSpec


def compile_webhook(u: Unit, v: Any, pos: Pos) -> WebhookSpec | None:
    m = u.r.want_map(v, pos, "'webhook'")
    if m is None:
        return None
    u.r.keys(m, WEBHOOK_KEYS, "in 'webhook'")
    url = u.r.want_str(m.get("url"), m.vpos("url") if "url" in m else m.pos, "'webhook.url'", "write url: https://...")
    if url is None:
        return None
    if not url.startswith(("http://", "https://", "{")):
        u.r.error(
            m.vpos("url"),
            f"webhook url must start with http:// or https://, got '{url}'",
            "e.g. url: https://crm.example.com/api/calls",
        )
    url_t = template(u, url, m.vpos("url"), m.quoted, "url")
    method = str(m.get("method", "POST")).upper()
    if method not in ("GET", "POST", "PUT", "PATCH", "DELETE"):
        u.r.error(m.vpos("method"), f"unknown HTTP method '{method}'", "use GET, POST, PUT, PATCH or DELETE")
    headers: list[tuple[str, Template]] = []
    if "headers" in m:
        hm = u.r.want_map(m["headers"], m.vpos("headers"), "'headers'")
        for k, hv in (hm or {}).items():
            assert hm is not None
            text = u.r.want_str(str(hv) if isinstance(hv, int | float) else hv, hm.vpos(k), f"header '{k}'")
            if text is not None:
                headers.append((k, template(u, text, hm.vpos(k), hm.quoted, k)))
    body: list[tuple[str, Template | ex.Node]] | None = None
    if "body" in m:
        bm = u.r.want_map(m["body"], m.vpos("body"), "'body'")
        body = []
        for k, bv in (bm or {}).items():
            assert bm is not None
            if isinstance(bv, str) and bv.startswith("="):
                node = expression(u, bv[1:], bm.vpos(k).shifted(1), k in bm.quoted, None)
                if node is not None:
                    body.append((k, node))
            elif isinstance(bv, str):
                body.append((k, template(u, bv, bm.vpos(k), bm.quoted, k)))
            elif isinstance(bv, bool | int | float) or bv is None:
                body.append((k, ex.Lit(0, bv)))
            else:
                u.r.error(bm.vpos(k), f"body value '{k}' must be text, a number, true/false or '= expression'")
    timeout = 5.0
    if "timeout" in m:
        timeout = u.r.want_number(m["timeout"], m.vpos("timeout"), "'webhook.timeout'", 0.1, 60) or 5.0
    save: list[tuple[str, str]] = []
    if "save" in m:
        sm = u.r.want_map(m["save"], m.vpos("save"), "'save'")
        for k, path in (sm or {}).items():
            assert sm is not None
            if k not in u.slots:
                u.r.error(sm.kpos(k), f"unknown slot '{k}' in 'save'", did_you_mean(k, u.slots, "slot"))
                continue
            p = u.r.want_str(path, sm.vpos(k), f"'save.{k}'", "write the field of the JSON answer, e.g. data.balance")
            if p:
                save.append((k, p))
                u.slot_writers.add(k)
    return WebhookSpec(
        url=url_t,
        method=method,
        headers=tuple(headers),
        body=tuple(body) if body is not None else None,
        timeout_s=timeout,
        save=tuple(save),
    )
