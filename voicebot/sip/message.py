"""SIP messages: parsing, serialisation, stream framing and response construction.

Implements RFC 3261 §7 (message format: start line, header fields, folding, body), §7.5 and
§18.3 (framing: Content-Length, required on stream transports, CRLFs between messages
ignored; over UDP bytes after Content-Length are discarded and a missing Content-Length
means "to the end of the datagram"), §8.2.6 (constructing a UAS response: Via, From, To,
Call-ID, CSeq copied, a To tag added, Timestamp echoed in 100), §20 (header fields) and §21
(reason phrases). RFC 4475 §3.1.1.8 (trailing octets) and the RFC 4475 invalid messages
(start-line LWS, negative or multiple Content-Length, version 505) are handled here;
the remaining per-request checks are in ``voicebot.sip.validate``.

Input is capped (``MAX_MESSAGE_SIZE``, ``MAX_HEADERS``). Only ``RemoteProtocolError``
(as ``SipParseError``) leaves the parser on bad input.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Iterable
from typing import Any

from voicebot.errors import LocalProtocolError, RemoteProtocolError
from voicebot.sip.headers import (
    COMPACT_FORMS,
    DISPLAY_NAMES,
    CSeq,
    Headers,
    Via,
)
from voicebot.sip.uri import (
    _TOKEN_RE,
    AbsoluteUri,
    NameAddr,
    SipUri,
    TelUri,
    parse_uri,
    split_list,
)

__all__ = [
    "MAX_HEADERS",
    "MAX_MESSAGE_SIZE",
    "REASON_PHRASES",
    "Message",
    "Request",
    "Response",
    "SipParseError",
    "StreamParser",
    "build_response",
    "new_branch",
    "new_call_id",
    "new_tag",
    "parse_message",
]

MAX_MESSAGE_SIZE = 65535
"""Largest message accepted (UDP datagram limit; also the cap per message on streams)."""
MAX_HEADERS = 256
"""Most header fields (lines after unfolding) one message may carry."""

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

_VERSION_RE = re.compile(r"SIP/[0-9]+\.[0-9]+", re.I)
_FOLD_RE = re.compile(r"\r\n[ \t]+")


class SipParseError(RemoteProtocolError):
    """A message that cannot be accepted. ``request`` is a best-effort view of it (start line
    and headers as far as they could be read) so a server can still answer with
    ``build_response(err.request, err.status)``; None when not even that was possible or the
    message was a response. ``messages``: see ``StreamParser.feed``."""

    def __init__(self, message: str, *, status: int = 400, request: Request | None = None) -> None:
        super().__init__(message, status=status)
        self.request = request
        # StreamParser.feed: the good messages completed in the same call
        self.messages: list[Request | Response] = []


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


def _valid_name_addr(value: str) -> bool:
    return _VALID_NAME_ADDR.fullmatch(value) is not None


# header key -> its cheap validity check (see above)
_QUICK_VALID: dict[str, Callable[[str], bool]] = {
    "via": _valid_via,
    "contact": _valid_name_addr,
    "route": _valid_name_addr,
    "record-route": _valid_name_addr,
    "from": _valid_name_addr,
    "to": _valid_name_addr,
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


# --------------------------------------------------------------------------- parsing


# one header line: found at each LF; applied only once every CR is known to start a CRLF, so
# ".*" (anything but LF) runs to the line's CR, fast in the regex engine, and gives that CR back
_HEADER_RE = re.compile(r"\n([^:\r\n]*):[ \t]*(.*)(?:\r|\Z)")
# exact header-name spelling -> (canonical display name, lowercased full key); bounded
_NAME_INFO: dict[str, tuple[str, str]] = {}
_NAME_INFO_MAX = 2048


def _name_info(name: str) -> tuple[str, str] | None:
    """Display name and key for a header name as received, or None when it is not a token."""
    stripped = name.rstrip(" \t")
    if _TOKEN_RE.fullmatch(stripped) is None:
        return None
    lname = stripped.lower()
    key = COMPACT_FORMS.get(lname, lname)
    info = (DISPLAY_NAMES.get(key, stripped), key)
    if len(_NAME_INFO) < _NAME_INFO_MAX:
        _NAME_INFO[name] = info
    return info


def _parse_head(head_bytes: bytes) -> tuple[Request | Response, int | None]:
    """Parse start line and header fields; return the message (empty body) and Content-Length."""
    try:
        head = head_bytes.decode("utf-8", "surrogateescape")
    except UnicodeError:  # pragma: no cover - surrogateescape never fails
        raise SipParseError("undecodable header section") from None
    if "\r\n " in head or "\r\n\t" in head:
        eol0 = head.find("\r\n")
        if head[eol0 + 2 : eol0 + 3] in (" ", "\t"):
            raise SipParseError("the start line cannot be folded")
        head = _FOLD_RE.sub(" ", head)
    n_lines = head.count("\r\n")
    if head.count("\r") != n_lines or head.count("\n") != n_lines:
        raise SipParseError("bare CR or LF in the header section")
    if n_lines > MAX_HEADERS:
        raise SipParseError(f"more than {MAX_HEADERS} header fields", status=513)
    eol = head.find("\r\n")
    first = head if eol < 0 else head[:eol]

    # header fields first, so a bad start line still yields a best-effort request
    headers = Headers()
    names = headers._names
    keys = headers._keys
    values = headers._values
    content_length: int | None = None
    cl_count = 0
    header_error: str | None = None
    pairs = _HEADER_RE.findall(head, eol + 1) if eol >= 0 else []
    if len(pairs) != n_lines:
        pairs = []
        for line in head.split("\r\n")[1:]:
            colon = line.find(":")
            if colon <= 0:
                header_error = header_error or f"malformed header line {line[:60]!r}"
                continue
            pairs.append((line[:colon], line[colon + 1 :].lstrip(" \t")))
    info_get = _NAME_INFO.get
    for name, value in pairs:
        info = info_get(name)
        if info is None:
            info = _name_info(name)
            if info is None:
                header_error = header_error or f"invalid header name {name[:60]!r}"
                continue
        if value and value[-1] in " \t":
            value = value.rstrip(" \t")
        key = info[1]
        if key == "content-length":
            cl_count += 1
            if not value.isdigit() or not value.isascii() or len(value) > 9:
                header_error = header_error or f"invalid Content-Length {value[:20]!r}"
                continue
            content_length = int(value)
        names.append(info[0])
        keys.append(key)
        values.append(value)

    msg: Request | Response
    if first.startswith("SIP/") or first[:4].upper() == "SIP/":
        parts = first.split(" ", 2)
        if len(parts) < 2:
            raise SipParseError(f"malformed status line {first[:60]!r}")
        version = parts[0]
        if version.upper() != "SIP/2.0":
            if _VERSION_RE.fullmatch(version):
                raise SipParseError(f"unsupported SIP version {version!r}", status=505)
            raise SipParseError(f"malformed status line {first[:60]!r}")
        code = parts[1]
        if len(code) != 3 or not code.isdigit() or not code.isascii() or not (100 <= int(code) <= 699):
            raise SipParseError(f"invalid status code {code[:20]!r}")
        msg = Response(int(code), parts[2] if len(parts) == 3 else "", headers, b"", "SIP/2.0")
        if header_error is not None:
            raise SipParseError(header_error)
    else:
        parts = first.split(" ")
        if len(parts) != 3 and first.endswith(" "):
            parts = first.rstrip(" ").split(" ")  # RFC 4475 §3.1.2.10: tolerate trailing SP
        if len(parts) != 3 or not parts[0] or _TOKEN_RE.fullmatch(parts[0]) is None:
            partial = None
            if parts and parts[0] and _TOKEN_RE.fullmatch(parts[0]):
                partial = Request(parts[0], AbsoluteUri("", " ".join(parts[1:-1])), headers)
            raise SipParseError(f"malformed request line {first[:80]!r}", request=partial)
        method, uri_text, version = parts
        try:
            uri: SipUri | TelUri | AbsoluteUri = parse_uri(uri_text)
        except RemoteProtocolError as e:
            partial = Request(method, AbsoluteUri("", uri_text), headers)
            raise SipParseError(f"invalid Request-URI: {e}", request=partial) from None
        msg = Request(method, uri, headers, b"", "SIP/2.0")
        if header_error is not None:
            raise SipParseError(header_error, request=msg)
        if version != "SIP/2.0" and version.upper() != "SIP/2.0":
            if _VERSION_RE.fullmatch(version):
                msg.version = version
                raise SipParseError(f"unsupported SIP version {version!r}", status=505, request=msg)
            raise SipParseError(f"malformed SIP version {version[:20]!r}", request=msg)
    if cl_count > 1:
        raise SipParseError(
            "several Content-Length header fields",
            request=msg if isinstance(msg, Request) else None,
        )
    return msg, content_length


def parse_message(data: bytes) -> Request | Response:
    """Parse one SIP message received as a datagram (RFC 3261 §18.3).

    Leading CRLFs are skipped; bytes beyond Content-Length are ignored; without
    Content-Length the body runs to the end of the datagram. Raises ``SipParseError``
    (a ``RemoteProtocolError``) with ``status`` 400, 505 or 513.
    """
    if len(data) > MAX_MESSAGE_SIZE:
        raise SipParseError(f"message larger than {MAX_MESSAGE_SIZE} bytes", status=513)
    start = 0
    while data.startswith(b"\r\n", start):
        start += 2
    end = data.find(b"\r\n\r\n", start)
    if end < 0:
        raise SipParseError("no empty line after the header section" if data[start:] else "empty message")
    msg, content_length = _parse_head(data[start:end])
    body_start = end + 4
    if content_length is None:
        msg.body = data[body_start:]
    else:
        if body_start + content_length > len(data):
            raise SipParseError(
                f"Content-Length {content_length} exceeds the {len(data) - body_start} body bytes received",
                request=msg if isinstance(msg, Request) else None,
            )
        msg.body = data[body_start : body_start + content_length]
    return msg


class StreamParser:
    """Frames SIP messages on a stream transport (TCP/TLS) by Content-Length (RFC 3261 §18.3).

    Any chunking works, down to one byte at a time. ``events(data)`` never raises: it returns
    the complete messages and the errors (``SipParseError``) in stream order. A message whose
    framing cannot be known (no or bad Content-Length, oversize) breaks the stream: its error
    is the last item, ``broken`` becomes True (later data is ignored, ``feed`` raises the
    error again), and the connection should be closed. A message
    that is framed correctly but otherwise invalid is consumed and reported, and parsing goes
    on (its ``request`` attribute lets a server answer it).

    ``feed(data)`` returns only the messages and raises the first error; the messages
    completed in the same call (before and after the error) are on ``error.messages`` so
    nothing is lost.
    """

    def __init__(self, max_message_size: int = MAX_MESSAGE_SIZE) -> None:
        self._buf = bytearray()
        self._max = max_message_size
        self._broken: SipParseError | None = None
        # parsed head (or the error it gave), body start offset, body length
        self._head: tuple[Request | Response | SipParseError, int, int] | None = None
        self._scan = 0  # where the search for the end of the header section resumes

    @property
    def buffered(self) -> int:
        """Bytes received but not yet part of a complete message."""
        return len(self._buf)

    @property
    def broken(self) -> bool:
        """True once framing was lost; the connection should be closed."""
        return self._broken is not None

    def events(self, data: bytes) -> list[Request | Response | SipParseError]:
        if self._broken is not None:
            return []  # the breaking error was already reported
        self._buf += data
        out: list[Request | Response | SipParseError] = []
        while True:
            try:
                msg = self._next()
            except SipParseError as e:
                out.append(e)
                if self._broken is not None:
                    return out
                continue
            if msg is None:
                return out
            out.append(msg)

    def feed(self, data: bytes) -> list[Request | Response]:
        if self._broken is not None:
            raise self._broken
        items = self.events(data)
        msgs = [m for m in items if not isinstance(m, SipParseError)]
        for item in items:
            if isinstance(item, SipParseError):
                item.messages = msgs
                raise item
        return msgs

    def _fail(self, err: SipParseError) -> SipParseError:
        self._broken = err
        self._buf.clear()
        self._head = None
        return err

    def _next(self) -> Request | Response | None:
        buf = self._buf
        if self._head is None:
            # RFC 3261 §7.5: CRLFs before a start line are ignored (also keep-alives)
            skip = 0
            while buf.startswith(b"\r\n", skip):
                skip += 2
            if skip:
                del buf[:skip]
                self._scan = 0
            end = buf.find(b"\r\n\r\n", self._scan)
            if end < 0:
                if len(buf) > self._max:
                    raise self._fail(SipParseError("header section too large", status=513))
                self._scan = max(0, len(buf) - 3)  # resume there: byte-wise feeding stays linear
                return None
            self._scan = 0
            if end + 4 > self._max:
                raise self._fail(SipParseError("header section too large", status=513))
            head = bytes(buf[:end])
            try:
                msg, length = _parse_head(head)
            except SipParseError as e:
                cl = _sniff_content_length(head)
                if cl is None:
                    raise self._fail(e) from None
                if end + 4 + cl > self._max:
                    raise self._fail(e) from None
                self._head = (e, end + 4, cl)
            else:
                if length is None:
                    raise self._fail(
                        SipParseError(
                            "Content-Length is required on stream transports",
                            request=msg if isinstance(msg, Request) else None,
                        )
                    )
                if end + 4 + length > self._max:
                    raise self._fail(SipParseError("message too large", status=513))
                self._head = (msg, end + 4, length)
        item, body_start, length = self._head
        if len(buf) < body_start + length:
            return None
        body = bytes(buf[body_start : body_start + length])
        del buf[: body_start + length]
        self._head = None
        if isinstance(item, SipParseError):
            raise item
        item.body = body
        return item


def _sniff_content_length(head: bytes) -> int | None:
    """Content-Length of a header section that failed to parse, when unambiguous."""
    found: list[int] = []
    for line in head.split(b"\r\n")[1:]:
        name, sep, value = line.partition(b":")
        if sep and name.strip(b" \t").lower() in (b"content-length", b"l"):
            v = value.strip(b" \t")
            if not v.isdigit() or len(v) > 9:
                return None
            found.append(int(v))
    return found[0] if len(found) == 1 else None


# --------------------------------------------------------------------------- building


def new_branch() -> str:
    """A fresh RFC 3261 branch: the magic cookie and 96 unpredictable bits."""
    return "z9hG4bK" + secrets.token_urlsafe(12)


def new_tag() -> str:
    """A fresh From/To tag (64 unpredictable bits)."""
    return secrets.token_hex(8)


def new_call_id(host: str | None = None) -> str:
    """A fresh Call-ID (128 unpredictable bits), ``@host`` appended when given."""
    cid = secrets.token_urlsafe(16)
    return f"{cid}@{host}" if host else cid


def _has_tag(request: Request, to_value: str) -> bool:
    """True when the request's To (``to_value``, its first To field) has a tag value."""
    if _VALID_NAME_ADDR.fullmatch(to_value) is not None:
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
