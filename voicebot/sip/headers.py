"""SIP header fields: an ordered case-insensitive multi-map, Via and CSeq.

Implements RFC 3261 §7.3 (header field format: case-insensitive names, compact forms, repeated
fields equal to one comma-separated list for list-valued headers), §7.3.3 and the IANA
compact-form registry, §20.42 Via (sent-protocol with LWS around '/', sent-by, via-params;
RFC 3581 rport; RFC 5118 IPv6 references in sent-by and received), and §20.16 CSeq
(32-bit sequence number below 2**31, method token).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from voicebot.errors import LocalProtocolError, RemoteProtocolError
from voicebot.sip.uri import _TOKEN_RE, _check_host, _format_params, ipv6_text, parse_header_params, split_list

__all__ = ["COMPACT_FORMS", "LIST_HEADERS", "CSeq", "Headers", "Via", "canonical_name"]

# IANA "Header Fields" registry compact forms (RFC 3261 §7.3.3 and later RFCs).
COMPACT_FORMS: dict[str, str] = {
    "a": "accept-contact",
    "b": "referred-by",
    "c": "content-type",
    "d": "request-disposition",
    "e": "content-encoding",
    "f": "from",
    "i": "call-id",
    "j": "reject-contact",
    "k": "supported",
    "l": "content-length",
    "m": "contact",
    "n": "identity-info",
    "o": "event",
    "r": "refer-to",
    "s": "subject",
    "t": "to",
    "u": "allow-events",
    "v": "via",
    "x": "session-expires",
    "y": "identity",
}

# Canonical spelling used when a message is serialised.
_DISPLAY_NAMES = [
    "Accept", "Accept-Contact", "Accept-Encoding", "Accept-Language", "Alert-Info", "Allow",
    "Allow-Events", "Authentication-Info", "Authorization", "Call-ID", "Call-Info", "Contact",
    "Content-Disposition", "Content-Encoding", "Content-Language", "Content-Length",
    "Content-Type", "CSeq", "Date", "Error-Info", "Event", "Expires", "From", "History-Info",
    "Identity", "Identity-Info", "In-Reply-To", "Max-Forwards", "MIME-Version", "Min-Expires",
    "Min-SE", "Organization", "P-Asserted-Identity", "P-Preferred-Identity", "Path", "Priority",
    "Privacy", "Proxy-Authenticate", "Proxy-Authorization", "Proxy-Require", "RAck", "Reason",
    "Record-Route", "Refer-To", "Referred-By", "Reject-Contact", "Replaces", "Reply-To",
    "Request-Disposition", "Require", "Retry-After", "Route", "RSeq", "Server", "Service-Route",
    "Session-Expires", "SIP-ETag", "SIP-If-Match", "Subject", "Subscription-State", "Supported",
    "Timestamp", "To", "Unsupported", "User-Agent", "Via", "Warning", "WWW-Authenticate",
]
DISPLAY_NAMES: dict[str, str] = {n.lower(): n for n in _DISPLAY_NAMES}

# Headers whose grammar is a comma-separated list (get_all splits them).
LIST_HEADERS = frozenset(
    [
        "accept", "accept-contact", "accept-encoding", "accept-language", "alert-info", "allow",
        "allow-events", "call-info", "contact", "content-encoding", "content-language",
        "error-info", "history-info", "in-reply-to", "p-asserted-identity",
        "p-preferred-identity", "path", "proxy-require", "reason", "record-route",
        "reject-contact", "request-disposition", "require", "route", "security-client",
        "security-server", "security-verify", "service-route", "supported", "unsupported",
        "via", "warning",
    ]
)


def canonical_name(name: str) -> str:
    """Lowercased full header name (compact forms expanded)."""
    key = name.lower()
    return COMPACT_FORMS.get(key, key)


# header name as given to add/set/prepend -> (display name, key); names already checked; bounded
_CHECKED_NAMES: dict[str, tuple[str, str]] = {}
_CHECKED_NAMES_MAX = 1024


class Headers:
    """Ordered, case-insensitive header multi-map; compact names map to their full names.

    Each stored field keeps its value as received (folding removed). ``get_all`` splits
    list-valued headers at commas outside quotes and ``<...>``.
    """

    __slots__ = ("_keys", "_names", "_rev", "_values")

    def __init__(self, items: Iterable[tuple[str, str]] = ()) -> None:
        self._names: list[str] = []
        self._keys: list[str] = []
        self._values: list[str] = []
        self._rev = 0
        for name, value in items:
            self.add(name, value)

    # internal fast path used by the parser: name already validated, key canonical
    def _append(self, name: str, key: str, value: str) -> None:
        self._names.append(name)
        self._keys.append(key)
        self._values.append(value)

    @staticmethod
    def _check(name: str, value: str) -> tuple[str, str]:
        if "\r" in value or "\n" in value:
            if _TOKEN_RE.fullmatch(name) is None:
                raise LocalProtocolError(f"invalid header name {name!r}")
            raise LocalProtocolError(f"header {name} value contains CR or LF")
        info = _CHECKED_NAMES.get(name)
        if info is not None:
            return info
        if _TOKEN_RE.fullmatch(name) is None:
            raise LocalProtocolError(f"invalid header name {name!r}")
        key = canonical_name(name)
        info = (DISPLAY_NAMES.get(key, name), key)
        if len(_CHECKED_NAMES) < _CHECKED_NAMES_MAX:
            _CHECKED_NAMES[name] = info
        return info

    def get(self, name: str, default: str | None = None) -> str | None:
        """First value of ``name`` (the whole field, not split), or ``default``."""
        key = name.lower()
        key = COMPACT_FORMS.get(key, key)
        try:
            return self._values[self._keys.index(key)]
        except ValueError:
            return default

    def get_all(self, name: str) -> list[str]:
        """Every value of ``name`` in order; list-valued headers are split at commas."""
        key = name.lower()
        key = COMPACT_FORMS.get(key, key)
        keys = self._keys
        if key not in keys:
            return []
        values = [v for k, v in zip(keys, self._values, strict=True) if k == key]
        if key in LIST_HEADERS:
            out: list[str] = []
            for v in values:
                out.extend(split_list(v))
            return out
        return values

    def get_all_fields(self, name: str) -> list[str]:
        """Every field value of ``name`` as received, one per header line (no list split)."""
        key = name.lower()
        key = COMPACT_FORMS.get(key, key)
        return [v for k, v in zip(self._keys, self._values, strict=True) if k == key]

    def count(self, name: str) -> int:
        """Number of header fields (lines) named ``name``."""
        return self._keys.count(canonical_name(name))

    def add(self, name: str, value: str) -> None:
        display, key = self._check(name, value)
        self._names.append(display)
        self._keys.append(key)
        self._values.append(value)
        self._rev += 1

    def set(self, name: str, value: str) -> None:
        """Replace every field named ``name`` by one, where the first was (else at the end)."""
        display, key = self._check(name, value)
        try:
            first = self._keys.index(key)
        except ValueError:
            self.add(name, value)
            return
        self._names[first] = display
        self._values[first] = value
        for i in range(len(self._keys) - 1, first, -1):
            if self._keys[i] == key:
                del self._keys[i], self._names[i], self._values[i]
        self._rev += 1

    def replace_first(self, name: str, value: str) -> None:
        """Replace the first field named ``name`` in place (added at the end when there is none)."""
        _display, key = self._check(name, value)
        try:
            first = self._keys.index(key)
        except ValueError:
            self.add(name, value)
            return
        self._values[first] = value
        self._rev += 1

    def remove(self, name: str) -> None:
        key = canonical_name(name)
        for i in range(len(self._keys) - 1, -1, -1):
            if self._keys[i] == key:
                del self._keys[i], self._names[i], self._values[i]
        self._rev += 1

    def prepend(self, name: str, value: str) -> None:
        """Insert a field before all others (e.g. a proxy's Via)."""
        display, key = self._check(name, value)
        self._names.insert(0, display)
        self._keys.insert(0, key)
        self._values.insert(0, value)
        self._rev += 1

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and canonical_name(name) in self._keys

    def items(self) -> list[tuple[str, str]]:
        """``(name, value)`` pairs in order; names in canonical spelling."""
        return list(zip(self._names, self._values, strict=True))

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(self.items())

    def __len__(self) -> int:
        return len(self._keys)

    def copy(self) -> Headers:
        h = Headers()
        h._names = self._names.copy()
        h._keys = self._keys.copy()
        h._values = self._values.copy()
        return h

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Headers):
            return NotImplemented
        return self._keys == other._keys and self._values == other._values

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Headers({self.items()!r})"


_VIA_RE = re.compile(
    r"[ \t]*([A-Za-z0-9\-.!%*_+`'~]+)[ \t]*/[ \t]*([A-Za-z0-9\-.!%*_+`'~]+)[ \t]*/[ \t]*"
    r"([A-Za-z0-9\-.!%*_+`'~]+)[ \t]+(\[[^\]]*\]|[^\s:;\[]+)(?:[ \t]*:[ \t]*([0-9]{1,5}))?"
)

# the common form, no LWS inside sent-protocol, a host _check_host accepts as it stands;
# anything else takes the full _VIA_RE path
_VIA_FAST_RE = re.compile(
    r"SIP/2\.0/([A-Za-z0-9\-.!%*_+`'~]+) ([A-Za-z0-9_](?:[A-Za-z0-9_\-.]*[A-Za-z0-9_.])?)"
    r"(?::([0-9]{1,5}))?(?=;|\Z)"
)


@dataclass(slots=True)
class Via:
    """One via-parm: ``SIP/2.0/UDP host[:port];branch=...;received=...;rport``."""

    transport: str
    host: str
    port: int | None = None
    params: dict[str, str | None] = field(default_factory=dict)
    protocol: str = "SIP/2.0"

    @classmethod
    def parse(cls, text: str) -> Via:
        f = _VIA_FAST_RE.match(text)
        if f is not None:  # SIP/2.0/transport host[:port] with a plain hostname or IPv4 host
            transport, host, port_text = f.groups()
            port = None
            if port_text is not None:
                port = int(port_text)
                if port > 65535:
                    raise RemoteProtocolError(f"Via port out of range: {text[:60]!r}", status=400)
            params = parse_header_params(text, f.end())
            rport = params.get("rport", "")
            if rport and not (rport.isdigit() and rport.isascii() and len(rport) <= 5 and int(rport) <= 65535):
                raise RemoteProtocolError(f"invalid rport in Via {text[:60]!r}", status=400)
            return cls(transport.upper(), host, port, params, "SIP/2.0")
        m = _VIA_RE.match(text)
        if m is None:
            raise RemoteProtocolError(f"malformed Via {text[:60]!r}", status=400)
        name, version, transport, host, port_text = m.groups()
        if name.upper() != "SIP":
            raise RemoteProtocolError(f"Via protocol is not SIP: {text[:60]!r}", status=400)
        _check_host(host)
        port = None
        if port_text is not None:
            port = int(port_text)
            if port > 65535:
                raise RemoteProtocolError(f"Via port out of range: {text[:60]!r}", status=400)
        params = parse_header_params(text, m.end())
        rport = params.get("rport", "")
        if rport and not (rport.isdigit() and rport.isascii() and len(rport) <= 5 and int(rport) <= 65535):
            raise RemoteProtocolError(f"invalid rport in Via {text[:60]!r}", status=400)
        return cls(transport.upper(), host, port, params, f"{name.upper()}/{version}")

    def __str__(self) -> str:
        sent_by = self.host if self.port is None else f"{self.host}:{self.port}"
        return f"{self.protocol}/{self.transport} {sent_by}{_format_params(self.params)}"

    @property
    def branch(self) -> str | None:
        return self.params.get("branch")

    @property
    def received(self) -> str | None:
        """The ``received`` address without IPv6 brackets (RFC 5118 §4.5 allows both forms)."""
        r = self.params.get("received")
        if r and r.startswith("[") and r.endswith("]"):
            return r[1:-1]
        return r

    @property
    def rport(self) -> int | None:
        """The numeric ``rport`` value filled in by a server (RFC 3581), or None."""
        r = self.params.get("rport")
        return int(r) if r else None

    @property
    def wants_rport(self) -> bool:
        """True when the ``rport`` parameter is present (with or without a value)."""
        return "rport" in self.params

    @property
    def bare_host(self) -> str:
        h = self.host
        return ipv6_text(h[1:-1]) if h.startswith("[") else h


_CSEQ_FAST_RE = re.compile(r"([0-9]{1,9}) ([A-Za-z0-9\-.!%*_+`'~]+)")


@dataclass(frozen=True, slots=True)
class CSeq:
    """``CSeq: 1*DIGIT LWS Method`` (RFC 3261 §20.16, number below 2**31)."""

    seq: int
    method: str

    @classmethod
    def parse(cls, text: str) -> CSeq:
        f = _CSEQ_FAST_RE.fullmatch(text)
        if f is not None:  # below 2**31 by its length; the method a token
            return cls(int(f.group(1)), f.group(2))
        parts = text.split()
        if len(parts) != 2 or not parts[0].isdigit() or not parts[0].isascii():
            raise RemoteProtocolError(f"malformed CSeq {text[:60]!r}", status=400)
        if len(parts[0]) > 12 or int(parts[0]) >= 2**31:
            raise RemoteProtocolError(f"CSeq number too large: {text[:60]!r}", status=400)
        if _TOKEN_RE.fullmatch(parts[1]) is None:
            raise RemoteProtocolError(f"invalid CSeq method {text[:60]!r}", status=400)
        return cls(int(parts[0]), parts[1])

    def __str__(self) -> str:
        return f"{self.seq} {self.method}"
