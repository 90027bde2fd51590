"""The request a webhook state makes, and the slot values its JSON answer gives.

Pure: the session renders a :class:`~voicebot.flow.events.Webhook` action from the state's
:class:`~voicebot.flow.model.WebhookSpec` and, when the engine answers, reads the fields named
by ``save:`` out of the JSON object (``data.balance``, ``items.0.id``).
"""

from __future__ import annotations

import datetime as dt
import urllib.parse
from collections.abc import Callable, Mapping
from typing import Any

from voicebot.flow import expr as ex
from voicebot.flow.events import Webhook
from voicebot.flow.model import Template, WebhookSpec


def request(spec: WebhookSpec, lookup: Callable[[str], Any], language: str, today: dt.date, state: str) -> Webhook:
    """The request, with slot values filled in (escaped in the URL, plain in the JSON body)."""
    body: dict[str, Any] | None = None
    if spec.body is not None:
        body = {}
        for k, v in spec.body:
            if isinstance(v, Template):
                body[k] = v.render(lookup, language)
                continue
            try:
                val = ex.evaluate(v, lookup, today)
            except ex.ExprRuntimeError:
                val = None
            body[k] = val.isoformat() if isinstance(val, dt.date) else val
    return Webhook(
        url=spec.url.render(lookup, language, escape=_url_quote),
        method=spec.method,
        headers=tuple((k, t.render(lookup, language)) for k, t in spec.headers),
        body=body,
        timeout_s=spec.timeout_s,
        state=state,
    )


def pluck(data: Any, path: str) -> Any:
    """The value at a dotted ``path`` of a JSON answer (list items by index), or ``None``."""
    value = data
    for part in path.split("."):
        if isinstance(value, Mapping) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return None
    return value


def _url_quote(value: str) -> str:
    return urllib.parse.quote(value, safe="")
