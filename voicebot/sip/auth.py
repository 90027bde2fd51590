"""HTTP Digest authentication for SIP, client and server side.

Implements RFC 7616 (Digest: MD5, SHA-256, SHA-512-256 and their -sess variants, qop=auth and
auth-int, nonce counts, cnonce, opaque, stale, userhash §3.4.4), RFC 8760 (the SHA-2
algorithms in SIP; one WWW-Authenticate/Proxy-Authenticate value per algorithm, most
preferred first) and the RFC 2617 / RFC 2069 compatible forms (MD5 default, no qop), as used
by RFC 3261 §22 for 401 and 407 challenges.

The server is I/O-free: time is passed in (``now``) and is only used to age nonces. Nonces
are self-authenticating (HMAC over issue time and randomness), so a challenge keeps no state
(it can be sent statelessly, like Kamailio's ``sl``). Each nonce is good for one request
within its lifetime: the nonces that were used are remembered until they expire (a bounded
table; when it overflows, every nonce issued before the forgotten ones counts as stale), so a
replayed answer, or a second request on the same nonce, gets a fresh ``stale=TRUE``
challenge and is never accepted.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import struct
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from voicebot.errors import LocalProtocolError, RemoteProtocolError

__all__ = [
    "ALGORITHMS",
    "Challenge",
    "Credentials",
    "DigestClient",
    "DigestServer",
    "VerifyResult",
    "best_per_realm",
    "digest_response",
    "parse_challenges",
]

_HASHES: dict[str, Callable[[bytes], str]] = {
    "MD5": lambda b: hashlib.md5(b).hexdigest(),
    "SHA-256": lambda b: hashlib.sha256(b).hexdigest(),
    "SHA-512-256": lambda b: hashlib.new("sha512_256", b).hexdigest(),
}
# strength order, strongest first
ALGORITHMS = (
    "SHA-512-256", "SHA-512-256-sess", "SHA-256", "SHA-256-sess", "MD5", "MD5-sess",
)
_STRENGTH = {a.upper(): i for i, a in enumerate(ALGORITHMS)}

_PARAM_RE = re.compile(
    r'\s*([A-Za-z0-9\-_.!%*+`\'~]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^\s,"]*)\s*(?:,|$)', re.S
)


def _bad(msg: str) -> RemoteProtocolError:
    return RemoteProtocolError(msg, status=400)


def _unq(v: str) -> str:
    if len(v) >= 2 and v[0] == '"' and v[-1] == '"':
        return re.sub(r"\\(.)", r"\1", v[1:-1], flags=re.S)
    return v


def _q(v: str) -> str:
    return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _parse_auth_params(text: str) -> tuple[str, dict[str, str]]:
    """``scheme 1#auth-param`` -> (scheme, {lowercased name: unquoted value})."""
    text = text.strip()
    scheme, _, rest = text.partition(" ")
    if not scheme or not re.fullmatch(r"[A-Za-z0-9\-_.!%*+`'~]+", scheme):
        raise _bad(f"malformed authentication scheme in {text[:60]!r}")
    params: dict[str, str] = {}
    pos = 0
    rest = rest.strip()
    while pos < len(rest):
        m = _PARAM_RE.match(rest, pos)
        if m is None:
            raise _bad(f"malformed authentication parameter near {rest[pos:pos + 40]!r}")
        params[m.group(1).lower()] = _unq(m.group(2))
        pos = m.end()
    return scheme, params


def _hash_for(algorithm: str) -> Callable[[bytes], str]:
    base = algorithm.upper().removesuffix("-SESS")
    fn = _HASHES.get(base)
    if fn is None:
        raise LocalProtocolError(f"unsupported digest algorithm {algorithm!r}")
    return fn


@dataclass
class Challenge:
    """One Digest challenge (a WWW-Authenticate or Proxy-Authenticate value)."""

    realm: str
    nonce: str
    algorithm: str = "MD5"
    qop: list[str] = field(default_factory=list)
    opaque: str | None = None
    stale: bool = False
    scheme: str = "Digest"
    domain: str | None = None
    userhash: bool = False

    @classmethod
    def parse(cls, value: str) -> Challenge:
        scheme, p = _parse_auth_params(value)
        if "realm" not in p or "nonce" not in p:
            raise _bad("digest challenge without realm or nonce")
        return cls(
            realm=p["realm"],
            nonce=p["nonce"],
            algorithm=p.get("algorithm", "MD5"),
            qop=[q.strip().lower() for q in p.get("qop", "").split(",") if q.strip()],
            opaque=p.get("opaque"),
            stale=p.get("stale", "").lower() == "true",
            scheme=scheme,
            domain=p.get("domain"),
            userhash=p.get("userhash", "").lower() == "true",
        )

    @property
    def supported(self) -> bool:
        return self.scheme.lower() == "digest" and self.algorithm.upper() in _STRENGTH

    def __str__(self) -> str:
        parts = [f"realm={_q(self.realm)}"]
        if self.domain is not None:
            parts.append(f"domain={_q(self.domain)}")
        parts.append(f"nonce={_q(self.nonce)}")
        if self.opaque is not None:
            parts.append(f"opaque={_q(self.opaque)}")
        if self.stale:
            parts.append("stale=TRUE")
        parts.append(f"algorithm={self.algorithm}")
        if self.qop:
            parts.append(f"qop={_q(','.join(self.qop))}")
        if self.userhash:
            parts.append("userhash=true")
        return f"{self.scheme} " + ", ".join(parts)


def parse_challenges(values: Sequence[str]) -> list[Challenge]:
    """Supported Digest challenges from header values, strongest algorithm first.

    Equal-strength challenges keep the server's order (RFC 8760 §2.4: the topmost supported
    one is preferred). Unparseable or unsupported values are skipped.
    """
    out: list[Challenge] = []
    for v in values:
        try:
            c = Challenge.parse(v)
        except RemoteProtocolError:
            continue
        if c.supported:
            out.append(c)
    out.sort(key=lambda c: _STRENGTH[c.algorithm.upper()])
    return out


def best_per_realm(values: Sequence[str]) -> list[Challenge]:
    """The strongest supported challenge of each realm (RFC 3261 §22.3: a request challenged
    by several proxies answers every realm), in the order the realms first appear."""
    chosen: dict[str, Challenge] = {}
    order: list[str] = []
    for c in parse_challenges(values):
        if c.realm not in chosen:
            chosen[c.realm] = c
    for v in values:
        try:
            realm = Challenge.parse(v).realm
        except RemoteProtocolError:
            continue
        if realm in chosen and realm not in order:
            order.append(realm)
    return [chosen[r] for r in order]


def digest_response(
    *,
    algorithm: str,
    username: str,
    realm: str,
    password: str,
    method: str,
    uri: str,
    nonce: str,
    nc: str | None = None,
    cnonce: str | None = None,
    qop: str | None = None,
    body: bytes = b"",
    ha1: str | None = None,
) -> str:
    """The ``response`` value of RFC 7616 §3.4.1 (``qop`` None gives the RFC 2069 form)."""
    h = _hash_for(algorithm)
    if ha1 is None:
        ha1 = h(f"{username}:{realm}:{password}".encode("utf-8", "surrogateescape"))
    if algorithm.upper().endswith("-SESS"):
        ha1 = h(f"{ha1}:{nonce}:{cnonce}".encode("utf-8", "surrogateescape"))
    a2 = f"{method}:{uri}"
    if qop == "auth-int":
        a2 += ":" + h(body)
    ha2 = h(a2.encode("utf-8", "surrogateescape"))
    if qop:
        return h(f"{ha1}:{nonce}:{nc}:{cnonce}:{qop}:{ha2}".encode("utf-8", "surrogateescape"))
    return h(f"{ha1}:{nonce}:{ha2}".encode("utf-8", "surrogateescape"))


class DigestClient:
    """Answers Digest challenges for one identity; counts ``nc`` per nonce."""

    def __init__(self, username: str, password: str) -> None:
        self.username = username
        self.password = password
        self._nc: dict[str, int] = {}

    def authorization(
        self,
        challenge: Challenge,
        method: str,
        uri: str,
        body: bytes = b"",
        *,
        cnonce: str | None = None,
    ) -> str:
        """The Authorization / Proxy-Authorization value answering ``challenge``."""
        if not challenge.supported:
            raise LocalProtocolError(f"unsupported challenge {challenge.scheme} {challenge.algorithm}")
        if "auth" in challenge.qop:
            qop: str | None = "auth"
        elif "auth-int" in challenge.qop:
            qop = "auth-int"
        elif challenge.qop:
            raise LocalProtocolError(f"no supported qop in {challenge.qop}")
        else:
            qop = None
        nc_text: str | None = None
        if qop is not None or challenge.algorithm.upper().endswith("-SESS"):
            cnonce = cnonce or secrets.token_hex(16)
        if qop is not None:
            n = self._nc.get(challenge.nonce, 0) + 1
            if len(self._nc) > 64 and challenge.nonce not in self._nc:
                self._nc.clear()
            self._nc[challenge.nonce] = n
            nc_text = f"{n:08x}"
        h = _hash_for(challenge.algorithm)
        username = self.username
        if challenge.userhash:
            username = h(f"{self.username}:{challenge.realm}".encode("utf-8", "surrogateescape"))
        response = digest_response(
            algorithm=challenge.algorithm,
            username=self.username,
            realm=challenge.realm,
            password=self.password,
            method=method,
            uri=uri,
            nonce=challenge.nonce,
            nc=nc_text,
            cnonce=cnonce,
            qop=qop,
            body=body,
        )
        parts = [
            f"username={_q(username)}",
            f"realm={_q(challenge.realm)}",
            f"nonce={_q(challenge.nonce)}",
            f"uri={_q(uri)}",
            f"response={_q(response)}",
            f"algorithm={challenge.algorithm}",
        ]
        if cnonce is not None:
            parts.append(f"cnonce={_q(cnonce)}")
        if challenge.opaque is not None:
            parts.append(f"opaque={_q(challenge.opaque)}")
        if qop is not None:
            parts.append(f"qop={qop}")
            parts.append(f"nc={nc_text}")
        if challenge.userhash:
            parts.append("userhash=true")
        return "Digest " + ", ".join(parts)


@dataclass(frozen=True)
class Credentials:
    """A parsed Authorization / Proxy-Authorization Digest value."""

    scheme: str
    params: dict[str, str]

    @classmethod
    def parse(cls, value: str) -> Credentials:
        scheme, params = _parse_auth_params(value)
        return cls(scheme, params)

    def get(self, name: str) -> str | None:
        return self.params.get(name)


@dataclass(frozen=True)
class VerifyResult:
    """Outcome of ``DigestServer.check``: ``username`` when valid, else ``reason``;
    ``stale`` means the credentials were right but the nonce expired (re-challenge with
    stale=TRUE)."""

    username: str | None
    stale: bool = False
    reason: str = ""


_UNKNOWN_TIME = 0xFFFFFFFFFFFFFFFF


class DigestServer:
    """Issues Digest challenges and verifies answers for a fixed set of identities."""

    def __init__(
        self,
        realm: str,
        credentials: Mapping[str, str],
        *,
        algorithms: Sequence[str] = ("SHA-256", "MD5"),
        nonce_secret: bytes | None = None,
        nonce_lifetime: float = 300.0,
        max_nonces: int = 4096,
        opaque: str | None = None,
    ) -> None:
        for a in algorithms:
            if a.upper() not in _STRENGTH:
                raise LocalProtocolError(f"unsupported digest algorithm {a!r}")
        self.realm = realm
        self._credentials = dict(credentials)
        self.algorithms = sorted(algorithms, key=lambda a: _STRENGTH[a.upper()])
        self._secret = nonce_secret or secrets.token_bytes(32)
        self.nonce_lifetime = nonce_lifetime
        self._max = max_nonces
        self.opaque = opaque
        self._used: OrderedDict[str, float] = OrderedDict()  # nonce -> issue time (or first use)
        self._floor = float("-inf")  # nonces issued at or before this were forgotten: stale
        self._timeless: set[str] = set()  # used nonces that carry no issue time
        self._timeless_forgotten = False

    def _new_nonce(self, now: float | None) -> str:
        stamp = _UNKNOWN_TIME if now is None else max(0, int(now * 1000))
        body = struct.pack(">Q", stamp) + secrets.token_bytes(12)
        mac = hmac.new(self._secret, body, hashlib.sha256).digest()[:16]
        return base64.urlsafe_b64encode(body + mac).decode().rstrip("=")

    def _nonce_time(self, nonce: str) -> float | bool | None:
        """Issue time (seconds), None when issued without a time, False when forged."""
        try:
            raw = base64.urlsafe_b64decode(nonce + "=" * (-len(nonce) % 4))
        except (ValueError, TypeError):
            return False
        if len(raw) != 36:
            return False
        body, mac = raw[:20], raw[20:]
        if not hmac.compare_digest(mac, hmac.new(self._secret, body, hashlib.sha256).digest()[:16]):
            return False
        (stamp,) = struct.unpack(">Q", body[:8])
        return None if stamp == _UNKNOWN_TIME else stamp / 1000.0

    def challenge_headers(self, stale: bool = False, *, now: float | None = None) -> list[str]:
        """WWW-Authenticate (or Proxy-Authenticate) values, one per algorithm, strongest first.

        Pass ``now`` so the nonce ages from its issue; without it the nonce ages from its
        first use."""
        nonce = self._new_nonce(now)
        return [
            str(
                Challenge(
                    realm=self.realm,
                    nonce=nonce,
                    algorithm=a,
                    qop=["auth"],
                    opaque=self.opaque,
                    stale=stale,
                )
            )
            for a in self.algorithms
        ]

    def verify(
        self, method: str, uri: str, authorization_header_value: str, now: float, body: bytes = b""
    ) -> str | None:
        """The authenticated username, or None (see ``check`` for why)."""
        return self.check(method, uri, authorization_header_value, now, body).username

    def check(
        self, method: str, uri: str, authorization_header_value: str, now: float, body: bytes = b""
    ) -> VerifyResult:
        try:
            cred = Credentials.parse(authorization_header_value)
        except RemoteProtocolError as e:
            return VerifyResult(None, reason=str(e))
        p = cred.params
        if cred.scheme.lower() != "digest":
            return VerifyResult(None, reason="not a Digest answer")
        algorithm = p.get("algorithm", "MD5")
        if algorithm.upper() not in {a.upper() for a in self.algorithms}:
            return VerifyResult(None, reason=f"algorithm {algorithm} not offered")
        if p.get("realm") != self.realm:
            return VerifyResult(None, reason="wrong realm")
        nonce = p.get("nonce", "")
        issued = self._nonce_time(nonce)
        if issued is False:
            return VerifyResult(None, reason="nonce not issued here")
        if p.get("uri") != uri:
            return VerifyResult(None, reason="digest uri differs from the request")
        qop = p.get("qop")
        nc_text = p.get("nc", "")
        cnonce = p.get("cnonce")
        if qop not in ("auth", "auth-int") or not cnonce:
            return VerifyResult(None, reason="qop=auth with cnonce required")
        if not re.fullmatch(r"[0-9a-fA-F]{8}", nc_text):
            return VerifyResult(None, reason="malformed nc")
        h = _hash_for(algorithm)
        username = p.get("username", "")
        if p.get("userhash", "").lower() == "true":
            match = [
                u for u in self._credentials if h(f"{u}:{self.realm}".encode("utf-8", "surrogateescape")) == username
            ]
            username = match[0] if match else ""
        password = self._credentials.get(username)
        if password is None:
            return VerifyResult(None, reason="unknown user")
        expected = digest_response(
            algorithm=algorithm,
            username=username,
            realm=self.realm,
            password=password,
            method=method,
            uri=uri,
            nonce=nonce,
            nc=nc_text,
            cnonce=cnonce,
            qop=qop,
            body=body,
        )
        if not hmac.compare_digest(expected, p.get("response", "").lower()):
            return VerifyResult(None, reason="wrong response")
        return self._use_nonce(nonce, issued, now, username)

    def _use_nonce(self, nonce: str, issued: float | None, now: float, username: str) -> VerifyResult:
        """Right credentials: accept once per nonce within its lifetime, else ask again (stale)."""
        used = self._used
        horizon = now - self.nonce_lifetime
        while used and next(iter(used.values())) < horizon:
            used.popitem(last=False)  # expired anyway: remembering them is no longer needed
        if nonce in used or nonce in self._timeless:
            return VerifyResult(None, stale=True, reason="nonce already used")
        if issued is None:
            # issued without a time: good for one use, remembered until the table overflows
            if self._timeless_forgotten:
                return VerifyResult(None, stale=True, reason="nonce no longer tracked")
            self._timeless.add(nonce)
            if len(self._timeless) > self._max:
                self._timeless.clear()
                self._timeless_forgotten = True
            return VerifyResult(username)
        if issued <= self._floor:
            return VerifyResult(None, stale=True, reason="nonce no longer tracked")
        if now - issued > self.nonce_lifetime:
            return VerifyResult(None, stale=True, reason="nonce expired")
        used[nonce] = issued
        while len(used) > self._max:
            _, forgotten = used.popitem(last=False)
            self._floor = max(self._floor, forgotten)
        return VerifyResult(username)
