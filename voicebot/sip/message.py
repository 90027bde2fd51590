"""SIP messages as objects: requests, responses, their typed header views and their bytes.

Implements RFC 3261 §7 (message format: start line, header fields, body) as data, §20 (the
typed views of Via, From, To, Call-ID, CSeq, Max-Forwards, Expires, Contact, Route and
Record-Route, parsed on demand) and §21 (reason phrases); ``bytes(message)`` serialises one
(Content-Length always rewritten). Reading messages off the wire is
``voicebot.sip.parser``; building UAS responses and fresh identifiers is ``voicebot.sip.build``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any

from voicebot.errors import LocalProtocolError, RemoteProtocolError
from voicebot.sip.headers import (
    CSeq,
    Headers,
    Via,
)
from voicebot.sip.uri import (
    AbsoluteUri,
    NameAddr,
    SipUri,
    TelUri,
    parse_uri,
    split_list,
)

__all__ = [
    "REASON_PHRASES",
    "Message",
    "Request",
    "Response",
    "valid_name_addr",
]

REASON_PHRASES: dict[int, str] = {
    100: "Trying", 180: "Ringing", 181: "Call Is Being Forwarded", 182: "Queued",
    183: "Session Progress", 199: "Early Dialog Terminated",
    200: "OK", 202: "Accepted", 204: "No Notification",
    300: "Multiple Choices", 301: "Moved Permanently", 302: "Moved Temporarily",
    305: "Use Proxy", 380: "Alternative Service",
    400: "Bad Request", 401: "Unauthorized", 402: "Payment Required", 403: "Forbidden",
    404: "Not Found", 405: "Method Not Allowed", 406: "Not Acceptable",
    407: "Proxy Authentication Required", 408: "Request Timeout", 410: "Gone",
    412: "Conditional Request Failed", 413: "Request Entity Too Large",
    414: "Request-URI Too Long", 415: "Unsupported Media Type",
    416: "Unsupported URI Scheme", 417: "Unknown Resource-Priority", 420: "Bad Extension",
    421: "Extension Required", 422: "Session Interval Too Small", 423: "Interval Too Brief",
    428: "Use Identity Header", 429: "Provide Referrer Identity", 430: "Flow Failed",
    433: "Anonymity Disallowed", 436: "Bad Identity-Info", 437: "Unsupported Certificate",
    438: "Invalid Identity Header", 439: "First Hop Lacks Outbound Support",
    440: "Max-Breadth Exceeded", 469: "Bad Info Package", 470: "Consent Needed",
    480: "Temporarily Unavailable", 481: "Call/Transaction Does Not Exist",
    482: "Loop Detected", 483: "Too Many Hops", 484: "Address Incomplete", 485: "Ambiguous",
    486: "Busy Here", 487: "Request Terminated", 488: "Not Acceptable Here",
    489: "Bad Event", 491: "Request Pending", 493: "Undecipherable",
    494: "Security Agreement Required",
    500: "Server Internal Error", 501: "Not Implemented", 502: "Bad Gateway",
    503: "Service Unavailable", 504: "Server Time-out", 505: "Version Not Supported",
    513: "Message Too Large", 555: "Push Notification Service Not Supported",
    580: "Precondition Failure",
    600: "Busy Everywhere", 603: "Decline", 604: "Does Not Exist Anywhere",
    606: "Not Acceptable", 607: "Unwanted", 608: "Rejected",
}

def _parse_call_id(v: str) -> str:
    if not v or " " in v or "\t" in v:
        raise RemoteProtocolError(f"malformed Call-ID {v[:60]!r}", status=400)
    return v


def _parse_max_forwards(v: str) -> int:
    if not v.isdigit() or not v.isascii() or len(v) > 6 or int(v) > 255:
        raise RemoteProtocolError(f"invalid Max-Forwards {v[:20]!r}", status=400)
    return int(v)


def _parse_expires(v: str) -> int:
    if not v.isdigit() or not v.isascii() or len(v) > 10 or int(v) >= 2**32:
        raise RemoteProtocolError(f"invalid Expires {v[:20]!r}", status=400)
    return int(v)


def _list_field(key: str, value: str, fn: Callable[[str], Any]) -> list[Any]:
    """Parse one list-valued header field (Via, Contact, Route, Record-Route)."""
    if "," not in value:
        if not value:
            raise RemoteProtocolError(f"empty {key} header", status=400)
        if key == "contact" and value == "*":
            return []
        return [fn(value)]
    items = split_list(value)
    if not items:
        raise RemoteProtocolError(f"empty {key} header", status=400)
    return [fn(x) for x in items]


# header key -> (cache slot, list-valued?, value parser); the typed views of a message
_FIELDS: dict[str, tuple[str, bool, Callable[[str], Any]]] = {
    "via": ("vias", True, Via.parse),
    "contact": ("contacts", True, NameAddr.parse),
    "route": ("routes", True, NameAddr.parse),
    "record-route": ("record_routes", True, NameAddr.parse),
    "from": ("from", False, NameAddr.parse),
    "to": ("to", False, NameAddr.parse),
    "call-id": ("call_id", False, _parse_call_id),
    "cseq": ("cseq", False, CSeq.parse),
    "max-forwards": ("max_forwards", False, _parse_max_forwards),
    "expires": ("expires", False, _parse_expires),
}
_SLOT_KEY = {slot: key for key, (slot, _, _) in _FIELDS.items()}
_REQUIRED_DISPLAY = {"from": "From", "to": "To", "call_id": "Call-ID", "cseq": "CSeq"}
_LIST_SLOTS = ("vias", "contacts", "routes", "record_routes")

# Cheap validity checks for the common well-formed forms. Each admits only text its field's
# parser accepts (the same sub-patterns as the parser's grammar, narrowed: no IPv6, no URI
# password or headers, no LWS, params without quotes), so parse_all may skip building the view
# of a field that matches; the view is built (and cannot fail) on first access. Anything
# else is parsed in full.
_PORT = r"(?:6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[0-9]{1,4})"
_HOST = r"[A-Za-z0-9_](?:[A-Za-z0-9_\-.]*[A-Za-z0-9_.])?"
_TOK = r"[A-Za-z0-9\-.!%*_+`'~]+"
_PLAIN_PARAMS = r'(?:;[^\s;=,"<>?]+(?:=[^\s;,"<>=]+)?)*'
_PCHARS = r"[A-Za-z0-9\-_.!~*'()\[\]/:&+$%]+"
_VALID_NAME_ADDR = re.compile(
    rf'(?:"[^"\\]*" ?|(?:{_TOK} )+)?'
    rf"<sip:(?:[A-Za-z0-9\-_.!~*'()&=+$,%]+@)?{_HOST}(?::{_PORT})?(?:;{_PCHARS}(?:={_PCHARS})?)*>"
    rf"{_PLAIN_PARAMS}"
)
_VALID_VIA = re.compile(rf"SIP/2\.0/{_TOK} {_HOST}(?::{_PORT})?{_PLAIN_PARAMS}")


def _valid_via(value: str) -> bool:
    return _VALID_VIA.fullmatch(value) is not None and "rport=" not in value.lower()


def valid_name_addr(value: str) -> bool:
    """Whether ``value`` is a name-addr of the common plain form (the parser would accept it)."""
    return _VALID_NAME_ADDR.fullmatch(value) is not None


# header key -> its cheap validity check (see above)
_QUICK_VALID: dict[str, Callable[[str], bool]] = {
    "via": _valid_via,
    "contact": valid_name_addr,
    "route": valid_name_addr,
    "record-route": valid_name_addr,
    "from": valid_name_addr,
    "to": valid_name_addr,
}
_OPTIONAL_SLOTS = ("max_forwards", "expires")


class Message:
    """Common part of Request and Response: headers, body and parsed-on-demand header views.

    The typed views (``vias``, ``from_``, ``cseq`` ...) are parsed on first access and cached
    until ``headers`` changes; a malformed or missing mandatory field raises
    ``RemoteProtocolError(status=400)``. ``parse_all()`` parses every typed field in one pass.
    """

    __slots__ = ("_cache", "_cache_headers", "_cache_rev", "body", "headers", "version")

    headers: Headers
    body: bytes
    version: str
    _cache: dict[str, Any]
    _cache_rev: int
    _cache_headers: Headers | None

    def __init__(self, headers: Headers | Iterable[tuple[str, str]] | None, body: bytes, version: str) -> None:
        self.headers = headers if isinstance(headers, Headers) else Headers(headers or ())
        self.body = body
        self.version = version
        self._cache = {}
        self._cache_rev = -1
        self._cache_headers = None

    def _start_line(self) -> str:  # pragma: no cover - overridden
        raise NotImplementedError

    def _fresh(self) -> dict[str, Any]:
        h = self.headers
        if self._cache_headers is not h or self._cache_rev != h._rev:
            self._cache.clear()
            self._cache_headers = h
            self._cache_rev = h._rev
        return self._cache

    def _field(self, slot: str) -> Any:
        cache = self._fresh()
        try:
            return cache[slot]
        except KeyError:
            pass
        key = _SLOT_KEY[slot]
        _, is_list, fn = _FIELDS[key]
        h = self.headers
        value: Any
        if is_list:
            value = []
            for raw_value in h.get_all_fields(key):
                value.extend(_list_field(key, raw_value, fn))
        else:
            raw = h.get(key)
            if raw is None:
                if slot in _REQUIRED_DISPLAY:
                    raise RemoteProtocolError(f"missing {_REQUIRED_DISPLAY[slot]} header", status=400)
                value = None
            else:
                value = fn(raw)
        cache[slot] = value
        return value

    def parse_all(self) -> None:
        """Parse every typed field (Via, From, To, Call-ID, CSeq, Max-Forwards, Expires,
        Contact, Route, Record-Route) in one pass; raise ``RemoteProtocolError`` on the first
        malformed one. Missing fields are not an error here (``check_request`` checks those)."""
        cache = self._fresh()
        lists: dict[str, list[Any] | None] = {}  # None: valid, some fields left unbuilt
        singles: dict[str, Any] = {}
        unbuilt: set[str] = set()
        fields = _FIELDS
        quick = _QUICK_VALID
        for key, value in zip(self.headers._keys, self.headers._values, strict=True):
            spec = fields.get(key)
            if spec is None:
                continue
            slot = spec[0]
            if slot in cache:  # parsed before (a cached view is always a valid one)
                continue
            check = quick.get(key)
            if spec[1]:
                if check is not None and check(value):
                    lists[slot] = None
                    continue
                items = _list_field(key, value, spec[2])
                if slot not in lists:
                    lists[slot] = items
                else:
                    found = lists[slot]
                    if found is not None:
                        found.extend(items)
            elif slot not in singles and slot not in unbuilt:
                if check is not None and check(value):
                    unbuilt.add(slot)
                else:
                    singles[slot] = spec[2](value)
        for slot in _LIST_SLOTS:
            if slot not in cache:
                built = lists.get(slot, [])
                if built is not None:
                    cache[slot] = built
        for slot in _OPTIONAL_SLOTS:
            if slot not in cache:
                cache[slot] = singles.get(slot)
        cache.update(singles)

    @property
    def vias(self) -> list[Via]:
        """Every Via value in order (parsed)."""
        return self._field("vias")  # type: ignore[no-any-return]

    @property
    def top_via(self) -> Via:
        vias = self.vias
        if not vias:
            raise RemoteProtocolError("missing Via header", status=400)
        return vias[0]

    @property
    def call_id(self) -> str:
        return self._field("call_id")  # type: ignore[no-any-return]

    @property
    def cseq(self) -> CSeq:
        return self._field("cseq")  # type: ignore[no-any-return]

    @property
    def from_(self) -> NameAddr:
        return self._field("from")  # type: ignore[no-any-return]

    @property
    def to(self) -> NameAddr:
        return self._field("to")  # type: ignore[no-any-return]

    @property
    def contacts(self) -> list[NameAddr]:
        """Contact values parsed; empty when absent or ``*`` (see ``contact_star``)."""
        return self._field("contacts")  # type: ignore[no-any-return]

    @property
    def contact_star(self) -> bool:
        """True for ``Contact: *`` (REGISTER remove-all)."""
        return self.headers.get_all("contact") == ["*"]

    @property
    def record_routes(self) -> list[NameAddr]:
        return self._field("record_routes")  # type: ignore[no-any-return]

    @property
    def routes(self) -> list[NameAddr]:
        return self._field("routes")  # type: ignore[no-any-return]

    @property
    def max_forwards(self) -> int | None:
        return self._field("max_forwards")  # type: ignore[no-any-return]

    @property
    def expires(self) -> int | None:
        return self._field("expires")  # type: ignore[no-any-return]

    @property
    def content_type(self) -> str | None:
        """Lowercased media type without parameters, e.g. ``application/sdp``."""
        v = self.headers.get("Content-Type")
        if v is None:
            return None
        return v.split(";", 1)[0].strip().lower()

    def __bytes__(self) -> bytes:
        body = self.body
        start = self._start_line()
        if "\r" in start or "\n" in start:
            raise LocalProtocolError(f"CR or LF in the start line {start[:60]!r}")
        parts = [start]
        cl_done = False
        for name, key, value in zip(self.headers._names, self.headers._keys, self.headers._values, strict=True):
            if key == "content-length":
                if not cl_done:
                    parts.append(f"Content-Length: {len(body)}")
                    cl_done = True
                continue
            parts.append(f"{name}: {value}")
        if not cl_done:
            parts.append(f"Content-Length: {len(body)}")
        parts.append("\r\n")
        return "\r\n".join(parts).encode("utf-8", "surrogateescape") + body


def _same_headers(a: Headers, b: Headers) -> bool:
    """Header equality ignoring Content-Length (``__bytes__`` always rewrites it)."""
    if a == b:
        return True
    fa = [(k, v) for k, v in zip(a._keys, a._values, strict=True) if k != "content-length"]
    fb = [(k, v) for k, v in zip(b._keys, b._values, strict=True) if k != "content-length"]
    return fa == fb


class Request(Message):
    """A SIP request. ``uri`` may be given as text (it is parsed)."""

    __slots__ = ("method", "uri")

    def __init__(
        self,
        method: str,
        uri: SipUri | TelUri | AbsoluteUri | str,
        headers: Headers | Iterable[tuple[str, str]] | None = None,
        body: bytes = b"",
        version: str = "SIP/2.0",
    ) -> None:
        self.method = method
        self.uri = parse_uri(uri) if isinstance(uri, str) else uri
        super().__init__(headers, body, version)

    def _start_line(self) -> str:
        return f"{self.method} {self.uri} {self.version}"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Request):
            return NotImplemented
        return (
            self.method == other.method
            and str(self.uri) == str(other.uri)
            and self.version == other.version
            and _same_headers(self.headers, other.headers)
            and self.body == other.body
        )

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"<Request {self.method} {self.uri}>"


class Response(Message):
    """A SIP response."""

    __slots__ = ("reason", "status")

    def __init__(
        self,
        status: int,
        reason: str | None = None,
        headers: Headers | Iterable[tuple[str, str]] | None = None,
        body: bytes = b"",
        version: str = "SIP/2.0",
    ) -> None:
        self.status = status
        self.reason = REASON_PHRASES.get(status, "") if reason is None else reason
        super().__init__(headers, body, version)

    def _start_line(self) -> str:
        return f"{self.version} {self.status} {self.reason}"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Response):
            return NotImplemented
        return (
            self.status == other.status
            and self.reason == other.reason
            and self.version == other.version
            and _same_headers(self.headers, other.headers)
            and self.body == other.body
        )

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"<Response {self.status} {self.reason}>"
