"""Reading SIP messages off the wire: datagrams and stream framing.

Implements RFC 3261 §7 (start line, header fields, folding, body), §7.5 and §18.3 (framing:
Content-Length, required on stream transports, CRLFs between messages ignored; over UDP bytes
after Content-Length are discarded and a missing Content-Length means "to the end of the
datagram"). RFC 4475 §3.1.1.8 (trailing octets) and the RFC 4475 invalid messages (start-line
LWS, negative or multiple Content-Length, version 505) are handled here; the remaining
per-request checks are in ``voicebot.sip.validate``.

Input is capped (``MAX_MESSAGE_SIZE``, ``MAX_HEADERS``). Only ``RemoteProtocolError`` (as
``SipParseError``) leaves the parser on bad input.
"""

from __future__ import annotations

import re

from voicebot.errors import RemoteProtocolError
from voicebot.sip.headers import COMPACT_FORMS, DISPLAY_NAMES, Headers
from voicebot.sip.message import Request, Response
from voicebot.sip.uri import _TOKEN_RE, AbsoluteUri, SipUri, TelUri, parse_uri

__all__ = ["MAX_HEADERS", "MAX_MESSAGE_SIZE", "SipParseError", "StreamParser", "parse_message"]

MAX_MESSAGE_SIZE = 65535
"""Largest message accepted (UDP datagram limit; also the cap per message on streams)."""
MAX_HEADERS = 256
"""Most header fields (lines after unfolding) one message may carry."""

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
        self.push(data)
        out: list[Request | Response | SipParseError] = []
        while (item := self.next_item()) is not None:
            out.append(item)
        return out

    def push(self, data: bytes) -> None:
        """Take ``data`` in without framing anything yet (:meth:`next_item` does, one at a time)."""
        if self._broken is None:
            self._buf += data

    def next_item(self) -> Request | Response | SipParseError | None:
        """The next complete message or error of what was pushed, in stream order; None when
        more bytes are needed (or framing was lost: its error was the last item). Lets a
        reader hand messages on a few at a time instead of a whole read at once."""
        if self._broken is not None:
            return None
        try:
            return self._next()
        except SipParseError as e:
            return e

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
