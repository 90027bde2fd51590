"""UAS request checks (RFC 3261 §8.2) and response sanity checks, giving the RFC 4475 verdicts.

``check_request`` runs, in the order of RFC 3261 §8.2, the checks a user agent server makes
before a request reaches a transaction user:

1. syntax of the fields every request needs (§8.1.1: To, From, Call-ID, CSeq, Via; Max-Forwards
   when present; Contact, Route, Record-Route when present), at most one field of each
   single-value header (§7.3.1, RFC 4475 §3.3.8), CSeq method equal to the request method
   (§8.1.1.5, RFC 4475 §3.1.2.17-18) -> 400;
2. method inspection (§8.2.1) -> 405 (a known method we do not allow) or 501 (an unknown
   method), both with Allow;
3. Request-URI scheme (§8.2.2.1) -> 416;
4. Require (§8.2.2.3) -> 420 with Unsupported (not for ACK or CANCEL);
5. content processing (§8.2.3) -> 415 with Accept, Accept-Encoding and Accept-Language;
6. for INVITE, an Accept that excludes application/sdp (RFC 4475 §3.3.15) -> 406.

It returns the response to send, or None. A response to ACK must never be sent (§17.1.1.3):
callers drop an ACK for which this function returns a response. ``check_response`` raises
``RemoteProtocolError`` for a response whose mandatory fields are broken (RFC 4475
§3.1.2.5/§3.1.2.19: such responses are dropped).
"""

from __future__ import annotations

from collections.abc import Collection

from voicebot.errors import RemoteProtocolError
from voicebot.sip.build import build_response, new_tag
from voicebot.sip.headers import DISPLAY_NAMES, canonical_name
from voicebot.sip.message import Request, Response

__all__ = [
    "DEFAULT_ACCEPTED_TYPES",
    "DEFAULT_SUPPORTED",
    "KNOWN_METHODS",
    "SINGLE_VALUE_HEADERS",
    "check_request",
    "check_response",
]

KNOWN_METHODS = frozenset(
    ["INVITE", "ACK", "BYE", "CANCEL", "OPTIONS", "REGISTER", "PRACK", "UPDATE", "INFO",
     "REFER", "NOTIFY", "SUBSCRIBE", "MESSAGE", "PUBLISH"]
)
"""Methods defined by RFC 3261 and its extensions: not allowed -> 405; anything else -> 501."""

DEFAULT_SUPPORTED = ("100rel", "timer", "replaces", "norefersub")
DEFAULT_ACCEPTED_TYPES = (
    "application/sdp", "application/dtmf-relay", "message/sipfrag", "multipart/mixed",
)

SINGLE_VALUE_HEADERS = tuple(
    canonical_name(n)
    for n in (
        "To", "From", "Call-ID", "CSeq", "Max-Forwards", "Content-Type", "Content-Length",
        "Expires", "Min-Expires", "Content-Disposition", "MIME-Version", "Session-Expires",
        "Min-SE", "RSeq", "RAck", "Event", "Refer-To", "Subscription-State", "Date",
        "Timestamp", "Reply-To",
    )
)


_SINGLE = frozenset(SINGLE_VALUE_HEADERS)


def _reply(
    req: Request, status: int, reason: str | None = None, headers: list[tuple[str, str]] | None = None
) -> Response:
    to_tag = None
    try:
        if req.to.tag is None:
            to_tag = new_tag()
    except RemoteProtocolError:
        pass
    return build_response(req, status, reason, to_tag=to_tag, headers=headers or [])


def _bad_request(req: Request, why: str) -> Response:
    # the reason phrase carries the cause (RFC 3261 §21.4.1 allows it); keep it short and safe
    detail = "".join(c if " " <= c < "\x7f" else "?" for c in why)[:100]
    return _reply(req, 400, f"Bad Request ({detail})")


def _syntax_error(req: Request) -> str | None:
    h = req.headers
    keys = h._keys
    singles = [k for k in keys if k in _SINGLE]
    if len(singles) != len(set(singles)):
        dup = next(k for i, k in enumerate(singles) if k in singles[:i])
        return f"more than one {DISPLAY_NAMES.get(dup, dup)} header"
    for key in ("to", "from", "call-id", "cseq", "via"):
        if key not in keys:
            return f"missing {DISPLAY_NAMES[key]}"
    try:
        req.parse_all()
        cseq = req.cseq
    except RemoteProtocolError as e:
        return str(e)
    if cseq.method != req.method:
        return f"CSeq method {cseq.method} differs from request method"
    if req.body and "content-type" not in keys:
        return "body without Content-Type"
    return None


def _accepts_sdp(accept_values: list[str]) -> bool:
    for v in accept_values:
        media = v.split(";", 1)[0].strip().lower()
        if media in ("application/sdp", "application/*", "*/*"):
            return True
    return False


def check_request(
    req: Request,
    *,
    allowed_methods: Collection[str],
    supported: Collection[str] = DEFAULT_SUPPORTED,
    accepted_types: Collection[str] = DEFAULT_ACCEPTED_TYPES,
    uri_schemes: Collection[str] = ("sip", "sips", "tel"),
) -> Response | None:
    """The error response a UAS sends for ``req``, or None when it may proceed (see module doc)."""
    why = _syntax_error(req)
    if why is not None:
        return _bad_request(req, why)

    method = req.method
    if method not in allowed_methods:
        status = 405 if method in KNOWN_METHODS else 501
        return _reply(req, status, headers=[("Allow", ", ".join(allowed_methods))])

    if req.uri.scheme not in uri_schemes:
        return _reply(req, 416)

    keys = req.headers._keys
    if "require" in keys and method not in ("ACK", "CANCEL"):
        supported_l = {s.lower() for s in supported}
        unknown = [t for t in req.headers.get_all("Require") if t.lower() not in supported_l]
        if unknown:
            return _reply(req, 420, headers=[("Unsupported", ", ".join(unknown))])

    if method != "CANCEL":
        bad_type = False
        if req.body:
            ctype = req.content_type
            bad_type = ctype is not None and ctype not in accepted_types
        if bad_type or (
            "content-encoding" in keys
            and any(e.lower() != "identity" for e in req.headers.get_all("Content-Encoding"))
        ):
            return _reply(
                req,
                415,
                headers=[
                    ("Accept", ", ".join(accepted_types)),
                    ("Accept-Encoding", "identity"),
                    ("Accept-Language", "en"),
                ],
            )

    if method == "INVITE" and "accept" in keys and not _accepts_sdp(req.headers.get_all("Accept")):
        return _reply(req, 406, headers=[("Accept", "application/sdp")])
    return None


def check_response(resp: Response) -> None:
    """Raise ``RemoteProtocolError`` when a response's mandatory fields are missing or broken."""
    h = resp.headers
    for key in ("to", "from", "call-id", "cseq"):
        n = h.count(key)
        if n != 1:
            raise RemoteProtocolError(f"response has {n} {key} headers", status=400)
    if "via" not in h._keys:
        raise RemoteProtocolError("response without Via", status=400)
    resp.parse_all()
