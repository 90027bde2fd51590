"""Building SIP messages: fresh branches, tags and Call-IDs, and a UAS's responses.

Implements RFC 3261 §8.2.6 (constructing a response: Via, From, To, Call-ID and CSeq
copied, a To tag added, Timestamp echoed in 100) and §8.1.1.7, §19.3 (branch, tag and
Call-ID values with enough randomness to be unique).
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable

from voicebot.errors import LocalProtocolError, RemoteProtocolError
from voicebot.sip.headers import Headers
from voicebot.sip.message import Request, Response, valid_name_addr

__all__ = ["build_response", "new_branch", "new_call_id", "new_tag", "stateless_tag"]


def new_branch() -> str:
    """A fresh RFC 3261 branch: the magic cookie and 96 unpredictable bits."""
    return "z9hG4bK" + secrets.token_urlsafe(12)


def new_tag() -> str:
    """A fresh From/To tag (64 unpredictable bits)."""
    return secrets.token_hex(8)


def stateless_tag(request: Request, key: bytes) -> str:
    """The To tag of a response sent without a transaction (RFC 3261 §8.2.7): the same request
    (a retransmission of it) always gets the same tag, another request another; the secret
    ``key`` (one per user agent) keeps the tags unpredictable."""
    h = request.headers
    vias = h.get_all_fields("Via")
    text = "\n".join((h.get("Call-ID") or "", h.get("From") or "", vias[0] if vias else "", h.get("CSeq") or ""))
    return hashlib.blake2b(text.encode(), key=key, digest_size=8).hexdigest()


def new_call_id(host: str | None = None) -> str:
    """A fresh Call-ID (128 unpredictable bits), ``@host`` appended when given."""
    cid = secrets.token_urlsafe(16)
    return f"{cid}@{host}" if host else cid


def _has_tag(request: Request, to_value: str) -> bool:
    """True when the request's To (``to_value``, its first To field) has a tag value."""
    if valid_name_addr(to_value):
        # what NameAddr.parse(...).tag gives for this form, without building the view
        tag: str | None = None
        for part in to_value[to_value.rindex(">") + 1 :].split(";")[1:]:
            name, sep, value = part.partition("=")
            if name.lower() == "tag":
                tag = value if sep else None
        return tag is not None
    try:
        return request.to.tag is not None
    except RemoteProtocolError:
        return ";tag=" in to_value.replace(" ", "").lower()


def build_response(
    request: Request,
    status: int,
    reason: str | None = None,
    *,
    to_tag: str | None = None,
    headers: Iterable[tuple[str, str]] = (),
    body: bytes = b"",
    content_type: str | None = None,
) -> Response:
    """A response to ``request`` per RFC 3261 §8.2.6: Via fields, From, To, Call-ID and CSeq
    copied; ``to_tag`` added to To when it has no tag; Timestamp echoed in a 100."""
    if not 100 <= status <= 699:
        raise LocalProtocolError(f"invalid status code {status}")
    rh = request.headers
    out = Headers()
    for key, value in zip(rh._keys, rh._values, strict=True):
        if key == "via":
            out._append("Via", "via", value)
    for key, disp in (("from", "From"), ("to", "To"), ("call-id", "Call-ID"), ("cseq", "CSeq")):
        found = rh.get(key)
        if found is None:
            continue
        value = found
        if key == "to" and to_tag is not None and not _has_tag(request, value):
            value = f"{value};tag={to_tag}"
        out._append(disp, key, value)
    if status == 100:
        ts = rh.get("timestamp")
        if ts is not None:
            out._append("Timestamp", "timestamp", ts)
    for name, value in headers:
        out.add(name, value)
    if content_type is not None:
        out.set("Content-Type", content_type)
    resp = Response(status, reason, out, body)
    return resp
