"""SIP, SIPS and tel URIs, name-addr and the shared lexical helpers of the SIP grammar.

Implements RFC 3261 §19.1 (SIP and SIPS URI components), §20.10/§20.20/§20.39 name-addr and
addr-spec forms of Contact/From/To, §25.1 (token, quoted-string, quoted-pair, generic-param),
RFC 3966 tel URIs (number and parameters, kept as text), RFC 3986 absolute URIs for any other
scheme (kept verbatim), and RFC 5118 IPv6 references (``[2001:db8::1]``, validated; a bare
IPv6 address as a SIP host is rejected).

Values are kept as they appear on the wire (escapes are not decoded, quoted parameter
values keep their quotes) so ``str(parse(x))`` re-creates an equivalent text. Parameter names
are case-insensitive and stored lowercased. Every malformed input raises
``RemoteProtocolError(status=400)``.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from urllib.parse import unquote

from voicebot.errors import RemoteProtocolError

__all__ = [
    "AbsoluteUri",
    "NameAddr",
    "SipUri",
    "TelUri",
    "Uri",
    "ipv6_text",
    "parse_header_params",
    "parse_uri",
    "quote_string",
    "split_list",
]

# RFC 3261 §25.1: token = 1*(alphanum / "-" / "." / "!" / "%" / "*" / "_" / "+" / "`" / "'" / "~")
TOKEN_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.!%*_+`'~")
_TOKEN_RE = re.compile(r"[A-Za-z0-9\-.!%*_+`'~]+")
_SCHEME_RE = re.compile(r"[A-Za-z][A-Za-z0-9+\-.]*")
# hostname / IPv4address (IPv6 references are checked with the ipaddress module)
_HOSTNAME_RE = re.compile(r"[A-Za-z0-9_](?:[A-Za-z0-9_\-.]*[A-Za-z0-9_.])?")
# user / password: unreserved, escaped and user-unreserved characters; '#' and a '%' that is
# not an escape are tolerated because deployed phones send them.
_USER_RE = re.compile(r"[A-Za-z0-9\-_.!~*'()&=+$,;?/%#]+")
_PASSWORD_RE = re.compile(r"[A-Za-z0-9\-_.!~*'()&=+$,%]*")
_URI_PARAM_RE = re.compile(r"[A-Za-z0-9\-_.!~*'()\[\]/:&+$%]+")
_PCHAR = r"[A-Za-z0-9\-_.!~*'()\[\]/:&+$%]"
# RFC 3261 §25.1 SIP-URI / SIPS-URI in one pass (IPv6 references are checked afterwards)
_SIP_URI_RE = re.compile(
    r"([sS][iI][pP][sS]?):"
    r"(?:([A-Za-z0-9\-_.!~*'()&=+$,;?/%#]+)(?::([A-Za-z0-9\-_.!~*'()&=+$,%]*))?@)?"
    r"(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_](?:[A-Za-z0-9_\-.]*[A-Za-z0-9_.])?)"
    r"(?::([0-9]{1,5}))?"
    rf"((?:;{_PCHAR}+(?:={_PCHAR}+)?)*)"
    r"(?:\?(.*))?",
    re.S,
)
_HEADER_PART_RE = re.compile(r"[A-Za-z0-9\-_.!~*'()\[\]/?:+$%]*")
# a header parameter: ; name [= value]; value = token / host / quoted-string (RFC 3261 §25.1
# generic-param). Values are allowed ':' '[' ']' '/' '=' so IPv6 received= values and other
# deployed forms pass; quoted strings may hold any octet via quoted-pair.
_HPARAM_RE = re.compile(
    r'[ \t]*;[ \t]*([^\s;=,"<>?]+)(?:[ \t]*=[ \t]*("(?:[^"\\]|\\.)*"|[^\s;,"<>]+))?[ \t]*',
    re.S,
)
# [ "display" | tokens ] <URI>, the common name-addr shape, in one regex
# (no lazy quantifier before "<": that would be quadratic on long runs of spaces)
_NAME_ADDR_FAST = re.compile(r'(?:[ \t]*"((?:[^"\\]|\\.)*)"[ \t]*|([^"<]*))<([^<>\s"]+)>', re.S)
_BAD_URI_CHAR = re.compile(r'[\x00-\x20<>"\x7f]')
_SIMPLE_PARAMS_RE = re.compile(r'(?:;[^\s;=,"<>?]+(?:=[^\s;,"<>=]+)?)+')
_QUOTED_RE = re.compile(r'"((?:[^"\\]|\\.)*)"', re.S)
_UNESCAPE_RE = re.compile(r"\\(.)", re.S)
_NEEDS_ESCAPE_RE = re.compile(r'[\x00-\x08\x0b\x0c\x0e-\x1f\x7f"\\]')


def _bad(message: str) -> RemoteProtocolError:
    return RemoteProtocolError(message, status=400)


def quote_string(text: str) -> str:
    """Make a quoted-string; CR and LF (which no quoted-pair may carry) become spaces."""
    if "\r" in text or "\n" in text:
        text = text.replace("\r", " ").replace("\n", " ")
    return '"' + _NEEDS_ESCAPE_RE.sub(lambda m: "\\" + m.group(0), text) + '"'


def split_list(value: str) -> list[str]:
    """Split a comma-separated header value; commas inside quotes or <...> do not split.

    Empty elements are dropped; every element is stripped of surrounding whitespace.
    """
    if '"' not in value and "<" not in value:
        if "," not in value:
            v = value.strip()
            return [v] if v else []
        return [p for p in (x.strip() for x in value.split(",")) if p]
    out: list[str] = []
    start = 0
    i = 0
    n = len(value)
    while i < n:
        c = value[i]
        if c == '"':
            i += 1
            while i < n:
                c2 = value[i]
                if c2 == "\\":
                    i += 2
                    continue
                if c2 == '"':
                    break
                i += 1
            i += 1
        elif c == "<":
            j = value.find(">", i)
            i = n if j < 0 else j + 1
        elif c == ",":
            out.append(value[start:i])
            i += 1
            start = i
        else:
            i += 1
    out.append(value[start:])
    return [p for p in (x.strip() for x in out) if p]


def parse_header_params(text: str, pos: int = 0) -> dict[str, str | None]:
    """Parse ``*( SEMI generic-param )`` from ``text[pos:]`` (LWS allowed around ';' and '=').

    Names are lowercased; values are kept as on the wire (quoted strings keep their quotes).
    """
    params: dict[str, str | None] = {}
    n = len(text)
    if pos >= n:
        return params
    if _SIMPLE_PARAMS_RE.fullmatch(text, pos) is not None:  # no LWS, no quotes: split
        for part in text[pos + 1 :].split(";"):
            name, sep, value = part.partition("=")
            params[name.lower()] = value if sep else None
        return params
    match = _HPARAM_RE.match
    while pos < n:
        m = match(text, pos)
        if m is None:
            if text[pos:].strip(" \t") == "":
                break
            raise _bad(f"malformed parameter near {text[pos:pos + 40]!r}")
        params[m.group(1).lower()] = m.group(2)
        pos = m.end()
    return params


def _format_params(params: dict[str, str | None]) -> str:
    return "".join(f";{k}" if v is None else f";{k}={v}" for k, v in params.items())


# RFC 3261's IPv6address ABNF (from RFC 2373) also derives "hexseq ':::' IPv4address";
# RFC 5118 §4.10 asks receivers to tolerate that form as the "::" address it means.
_ABNF_BUG_RE = re.compile(r"([0-9A-Fa-f:]*[0-9A-Fa-f]):::([0-9]{1,3}(?:\.[0-9]{1,3}){3})")


def ipv6_text(address: str) -> str:
    """An IPv6 address as written in a SIP host (no brackets), RFC 5118 §4.10 quirk repaired."""
    if ":::" in address:
        m = _ABNF_BUG_RE.fullmatch(address)
        if m is not None:
            return f"{m.group(1)}::{m.group(2)}"
    return address


def _check_host(host: str) -> None:
    if host.startswith("["):
        if not host.endswith("]"):
            raise _bad(f"unterminated IPv6 reference {host!r}")
        try:
            ipaddress.IPv6Address(ipv6_text(host[1:-1]))
        except ValueError:
            raise _bad(f"invalid IPv6 reference {host!r}") from None
    elif _HOSTNAME_RE.fullmatch(host) is None:
        raise _bad(f"invalid host {host!r}")


_STRICT_URI_PARAMS = frozenset(["user", "ttl", "method", "maddr", "transport"])


def _unesc(text: str) -> str:
    return unquote(text, errors="surrogateescape") if "%" in text else text


def _unescape(text: str | None) -> str | None:
    return None if text is None else _unesc(text)


def _host_key(host: str) -> str:
    if host.startswith("["):
        try:
            return "[" + ipaddress.IPv6Address(ipv6_text(host[1:-1])).compressed + "]"
        except ValueError:
            return host.lower()
    return host.lower()


@dataclass(slots=True)
class SipUri:
    """A ``sip:`` or ``sips:`` URI (RFC 3261 §19.1.1). ``host`` keeps IPv6 brackets."""

    scheme: str
    user: str | None
    password: str | None
    host: str
    port: int | None = None
    params: dict[str, str | None] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def parse(cls, text: str) -> SipUri:
        m = _SIP_URI_RE.fullmatch(text)
        if m is None:
            raise _bad(f"invalid SIP URI {text[:60]!r}")
        scheme, user, password, host, port_text, ptext, htext = m.groups()
        if host[0] == "[":
            _check_host(host)
        port = None
        if port_text is not None:
            port = int(port_text)
            if port > 65535:
                raise _bad(f"port out of range in {text[:60]!r}")
        params: dict[str, str | None] = {}
        if ptext:
            for part in ptext[1:].split(";"):
                pname, sep, pvalue = part.partition("=")
                params[pname.lower()] = pvalue if sep else None
        headers: dict[str, str] = {}
        if htext is not None:
            for part in htext.split("&"):
                hname, sep, hvalue = part.partition("=")
                if not hname or not sep or _HEADER_PART_RE.fullmatch(hname) is None or (
                    _HEADER_PART_RE.fullmatch(hvalue) is None
                ):
                    raise _bad(f"invalid URI header in {text[:60]!r}")
                headers[hname] = hvalue
        return cls(scheme.lower(), user, password, host, port, params, headers)

    def __str__(self) -> str:
        out = [self.scheme, ":"]
        if self.user is not None:
            out.append(self.user)
            if self.password is not None:
                out.append(":" + self.password)
            out.append("@")
        out.append(self.host)
        if self.port is not None:
            out.append(f":{self.port}")
        if self.params:
            out.append(_format_params(self.params))
        if self.headers:
            out.append("?" + "&".join(f"{k}={v}" for k, v in self.headers.items()))
        return "".join(out)

    def equivalent(self, other: object) -> bool:
        """URI comparison of RFC 3261 §19.1.4 (escapes decoded, host case-insensitive,
        user/ttl/method/maddr/transport parameters must match when either side has them,
        other parameters only when both have them, URI headers must all match)."""
        if not isinstance(other, SipUri) or self.scheme != other.scheme:
            return False
        if _unescape(self.user) != _unescape(other.user):
            return False
        if _unescape(self.password) != _unescape(other.password):
            return False
        if _host_key(self.host) != _host_key(other.host) or self.port != other.port:
            return False
        a = {k: (v or "") for k, v in ((_unesc(k).lower(), v) for k, v in self.params.items())}
        b = {k: (v or "") for k, v in ((_unesc(k).lower(), v) for k, v in other.params.items())}
        for name in set(a) | set(b):
            if name in _STRICT_URI_PARAMS or (name in a and name in b):
                if name not in a or name not in b:
                    return False
                if _unesc(a[name]).lower() != _unesc(b[name]).lower():
                    return False
        ha = {_unesc(k).lower(): _unesc(v) for k, v in self.headers.items()}
        hb = {_unesc(k).lower(): _unesc(v) for k, v in other.headers.items()}
        return ha == hb

    @property
    def transport(self) -> str | None:
        """The ``transport`` parameter, lowercased; None when absent (caller picks a default)."""
        t = self.params.get("transport")
        return t.lower() if t else None

    @property
    def bare_host(self) -> str:
        """The host without IPv6 brackets (what a socket address needs)."""
        h = self.host
        return ipv6_text(h[1:-1]) if h.startswith("[") else h


@dataclass(slots=True)
class TelUri:
    """A ``tel:`` URI (RFC 3966): the number (global ``+...`` or local) and its parameters."""

    number: str
    params: dict[str, str | None] = field(default_factory=dict)

    @classmethod
    def parse(cls, text: str) -> TelUri:
        if text[:4].lower() != "tel:":
            raise _bad(f"not a tel URI: {text[:60]!r}")
        number, sep, rest = text[4:].partition(";")
        if not number or re.fullmatch(r"\+?[0-9A-Fa-f*#.()\-]+", number) is None:
            raise _bad(f"invalid telephone number in {text[:60]!r}")
        params: dict[str, str | None] = {}
        if sep:
            for part in rest.split(";"):
                pname, psep, pvalue = part.partition("=")
                if _URI_PARAM_RE.fullmatch(pname) is None or (psep and _URI_PARAM_RE.fullmatch(pvalue) is None):
                    raise _bad(f"invalid tel URI parameter in {text[:60]!r}")
                params[pname.lower()] = pvalue if psep else None
        return cls(number, params)

    def __str__(self) -> str:
        return "tel:" + self.number + _format_params(self.params)

    @property
    def scheme(self) -> str:
        return "tel"


@dataclass(slots=True)
class AbsoluteUri:
    """A URI of any other scheme (``http:``, ``urn:``, ``mailto:`` ...), kept verbatim."""

    scheme: str
    text: str

    @classmethod
    def parse(cls, text: str) -> AbsoluteUri:
        colon = text.find(":")
        if colon <= 0 or _SCHEME_RE.fullmatch(text[:colon]) is None or colon == len(text) - 1:
            raise _bad(f"not a URI: {text[:60]!r}")
        if _BAD_URI_CHAR.search(text) is not None:
            raise _bad(f"invalid character in URI {text[:60]!r}")
        return cls(text[:colon].lower(), text)

    def __str__(self) -> str:
        return self.text


Uri = SipUri | TelUri | AbsoluteUri


def parse_uri(text: str) -> SipUri | TelUri | AbsoluteUri:
    """Parse any URI a SIP message can carry: SIP/SIPS, tel, or another absolute URI."""
    lower4 = text[:5].lower()
    if lower4.startswith("sip:") or lower4 == "sips:":
        return SipUri.parse(text)  # its grammar admits no space, control, '<', '>' or '"'
    if lower4.startswith("tel:"):
        return TelUri.parse(text)
    return AbsoluteUri.parse(text)


@dataclass(slots=True)
class NameAddr:
    """``[display-name] <URI> *(;param)`` or ``addr-spec *(;param)`` (From, To, Contact, Route...).

    ``display`` is the decoded display name (quotes and quoted-pairs removed) or None.
    ``__str__`` always writes the ``<>`` form with a quoted display name.
    """

    display: str | None
    uri: SipUri | TelUri | AbsoluteUri
    params: dict[str, str | None] = field(default_factory=dict)

    @property
    def tag(self) -> str | None:
        return self.params.get("tag")

    @classmethod
    def parse(cls, text: str) -> NameAddr:
        m = _NAME_ADDR_FAST.match(text)
        if m is not None:
            quoted, tokens, uri_text = m.groups()
            if quoted is not None:
                disp: str | None = _UNESCAPE_RE.sub(r"\1", quoted) if "\\" in quoted else quoted
            elif tokens:
                words = tokens.split()
                for w in words:
                    if _TOKEN_RE.fullmatch(w) is None:
                        raise _bad(f"display name must be tokens or quoted: {tokens[:60]!r}")
                disp = " ".join(words) or None
            else:
                disp = None
            end = m.end()
            params = parse_header_params(text, end) if end < len(text) else {}
            if uri_text[:4] == "sip:":  # the common scheme, as parse_uri would dispatch it
                return cls(disp, SipUri.parse(uri_text), params)
            return cls(disp, parse_uri(uri_text), params)
        s = text.strip(" \t")
        display: str | None = None
        if not s:
            raise _bad("empty address")
        if s[0] == '"':
            m = _QUOTED_RE.match(s)
            if m is None:
                raise _bad(f"unterminated quoted display name in {s[:60]!r}")
            raw = m.group(1)
            display = _UNESCAPE_RE.sub(r"\1", raw) if "\\" in raw else raw
            lt = m.end()
            while lt < len(s) and s[lt] in " \t":
                lt += 1
            if lt >= len(s) or s[lt] != "<":
                raise _bad(f"display name without <URI> in {s[:60]!r}")
        else:
            lt = s.find("<")
            if lt > 0:
                words = s[:lt].split()
                for w in words:
                    if _TOKEN_RE.fullmatch(w) is None:
                        raise _bad(f"display name must be tokens or quoted: {s[:lt]!r}")
                display = " ".join(words) or None
        if lt >= 0:
            gt = s.find(">", lt)
            if gt < 0:
                raise _bad(f"missing '>' in {s[:60]!r}")
            uri = parse_uri(s[lt + 1 : gt])
            params = parse_header_params(s, gt + 1)
        else:
            semi = s.find(";")
            uri_text = s if semi < 0 else s[:semi].rstrip(" \t")
            uri = parse_uri(uri_text)
            params = parse_header_params(s, semi) if semi >= 0 else {}
        return cls(display, uri, params)

    def __str__(self) -> str:
        head = f"{quote_string(self.display)} <{self.uri}>" if self.display else f"<{self.uri}>"
        return head + _format_params(self.params) if self.params else head
