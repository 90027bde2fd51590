"""CRM webhooks: each final result is POSTed as JSON with an HMAC-SHA256 signature.

``X-Voicebot-Signature: sha256=<hex>`` is the HMAC-SHA256 of the exact body bytes under the
campaign's webhook secret (no header without a secret); ``X-Voicebot-Delivery`` is the outbox
row id, the same on every retry, so a CRM can drop duplicates. A 2xx answer marks the row
delivered; anything else is retried with backoff (1 s, 2 s, 4 s ... at most 5 minutes).
"""

from __future__ import annotations

import hashlib
import hmac
import urllib.error
import urllib.request

from voicebot.campaign.outbox import Delivery

SIGNATURE_HEADER = "X-Voicebot-Signature"
DELIVERY_HEADER = "X-Voicebot-Delivery"
MAX_DELAY_S = 300.0


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify(secret: str, body: bytes, signature: str) -> bool:
    """What a receiver does: recompute and compare in constant time."""
    return hmac.compare_digest(sign(secret, body), signature)


def retry_delay(tries: int) -> float:
    """Delay after the ``tries``-th failed delivery (1-based)."""
    return min(2.0 ** max(tries - 1, 0), MAX_DELAY_S)


def post(d: Delivery, timeout: float = 10.0) -> str | None:
    """Send one delivery (blocking; run it in a thread). None when the CRM took it, else why not."""
    headers = {"Content-Type": "application/json", "User-Agent": "voicebot-campaign/0.1", DELIVERY_HEADER: str(d.id)}
    if d.secret:
        headers[SIGNATURE_HEADER] = sign(d.secret, d.body)
    req = urllib.request.Request(d.url, data=d.body, method="POST", headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            resp.read(1 << 16)
            status = int(resp.status)
    except urllib.error.HTTPError as exc:
        exc.close()
        return f"HTTP {exc.code} {exc.reason}"
    except (urllib.error.URLError, TimeoutError, OSError, ValueError) as exc:
        return f"{type(exc).__name__}: {getattr(exc, 'reason', exc)}"
    return None if 200 <= status < 300 else f"HTTP {status}"
