"""SDP Security Descriptions for media streams (RFC 4568 SDES; RFC 7714 §12 for AEAD_AES_*_GCM).

``a=crypto:<tag> <crypto-suite> inline:<base64 master key || master salt>[|lifetime][|MKI:len]``
carries the key each side will encrypt its SRTP with. The offerer lists one line per suite it
accepts, most preferred first; the answerer picks the first it supports, answers with the same
tag and suite and its own fresh key. Lines with several keys or an MKI are skipped (they are
for rekeying schemes we do not run); a lifetime is accepted (the call ends long before 2^31
packets).

Pure and I/O-free; keys come from ``secrets``. The keys reach the media engine as
:class:`SrtpKeys` inside the negotiated :class:`~voicebot.sip.sdp.MediaParams`.
"""

from __future__ import annotations

import base64
import binascii
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass

from voicebot.errors import ConfigError

__all__ = [
    "DEFAULT_SUITES",
    "POLICIES",
    "SUITES",
    "Crypto",
    "SrtpKeys",
    "answer_crypto",
    "check_policy",
    "check_suites",
    "keys_from",
    "offer_crypto",
]

# suite -> (master key bytes, master salt bytes)
SUITES: dict[str, tuple[int, int]] = {
    "AES_CM_128_HMAC_SHA1_80": (16, 14),
    "AES_CM_128_HMAC_SHA1_32": (16, 14),
    "AEAD_AES_128_GCM": (16, 12),
    "AEAD_AES_256_GCM": (32, 12),
}
DEFAULT_SUITES = ("AES_CM_128_HMAC_SHA1_80", "AES_CM_128_HMAC_SHA1_32", "AEAD_AES_128_GCM")
POLICIES = ("off", "optional", "mandatory")
SECURE_PROFILES = ("RTP/SAVP", "RTP/SAVPF")

_LINE = re.compile(r"^\s*(\d{1,9})\s+([A-Za-z0-9_]+)\s+(\S+)(?:\s+(.*))?$")


def check_policy(policy: str) -> str:
    """``off``, ``optional`` or ``mandatory``; ConfigError otherwise."""
    if policy not in POLICIES:
        raise ConfigError(f"SRTP policy must be one of {', '.join(POLICIES)}, got {policy!r}")
    return policy


def check_suites(suites: Sequence[str]) -> tuple[str, ...]:
    """Validate a user's suite list (names are case-insensitive); ConfigError when bad."""
    out = tuple(s.strip().upper() for s in suites if s.strip())
    bad = [s for s in out if s not in SUITES]
    if not out or bad:
        raise ConfigError(f"unknown SRTP suite {', '.join(bad) or '(none given)'}; use {', '.join(SUITES)}")
    return out


@dataclass(frozen=True, slots=True, kw_only=True)
class Crypto:
    """One ``a=crypto`` line with a single inline key."""

    tag: int
    suite: str
    key: bytes  # master key followed by master salt

    @classmethod
    def new(cls, tag: int, suite: str) -> Crypto:
        key_len, salt_len = SUITES[suite]
        return cls(tag=tag, suite=suite, key=secrets.token_bytes(key_len + salt_len))

    @classmethod
    def parse(cls, value: str) -> Crypto | None:
        """The line's tag, suite and key; None when it is malformed or not one we can use."""
        m = _LINE.match(value)
        if m is None:
            return None
        tag_text, suite, key_params, session_params = m.groups()
        suite = suite.upper()
        if suite not in SUITES or session_params:  # session parameters (KDR, UNENCRYPTED_SRTP...): refuse
            return None
        if ";" in key_params or not key_params.lower().startswith("inline:"):
            return None  # several keys, or a key method other than inline
        parts = key_params[len("inline:") :].split("|")
        if any(p.upper().startswith("MKI") or ":" in p for p in parts[1:]):
            return None
        try:
            key = base64.b64decode(parts[0] + "=" * (-len(parts[0]) % 4), validate=True)
        except (binascii.Error, ValueError):
            return None
        if len(key) != sum(SUITES[suite]):
            return None
        return cls(tag=int(tag_text), suite=suite, key=key)

    def __str__(self) -> str:
        return f"{self.tag} {self.suite} inline:{base64.b64encode(self.key).decode('ascii')}"


@dataclass(frozen=True, slots=True, kw_only=True)
class SrtpKeys:
    """What the media engine needs: the suite, the key we protect with and the one we check with."""

    suite: str
    local: bytes
    remote: bytes

    def __repr__(self) -> str:  # never print keys into logs
        return f"SrtpKeys(suite={self.suite!r})"


def offer_crypto(suites: Sequence[str] = DEFAULT_SUITES) -> list[Crypto]:
    """Our offer: one line per suite, tags 1, 2, 3 ... in order of preference."""
    return [Crypto.new(i + 1, s) for i, s in enumerate(suites)]


def answer_crypto(offered: Sequence[str], suites: Sequence[str] = DEFAULT_SUITES) -> Crypto | None:
    """Our answer to the offered ``a=crypto`` values: the first usable one whose suite we accept,
    with a fresh key of ours; None when none is usable."""
    for value in offered:
        theirs = Crypto.parse(value)
        if theirs is not None and theirs.suite in suites:
            return Crypto.new(theirs.tag, theirs.suite)
    return None


def keys_from(local: Sequence[str], remote: Sequence[str]) -> SrtpKeys | None:
    """The keys of a finished offer/answer: the answer carries one line, and the offer's line
    with the same tag and suite is its partner. None when the two sides share no line."""
    ours = [c for c in (Crypto.parse(v) for v in local) if c is not None]
    for value in remote:
        theirs = Crypto.parse(value)
        if theirs is None:
            continue
        for mine in ours:
            if mine.tag == theirs.tag and mine.suite == theirs.suite:
                return SrtpKeys(suite=mine.suite, local=mine.key, remote=theirs.key)
    return None
