"""SRTP and SRTCP (RFC 3711; RFC 7714 AEAD-GCM) through libsrtp, via pylibsrtp.

:class:`SrtpContext` holds the two libsrtp sessions of one stream: outbound (our key) and
inbound (the peer's key, any SSRC). ``protect`` / ``unprotect`` work on whole datagrams;
``unprotect`` returns None for a packet that fails authentication or is a replay (libsrtp's
replay window, 128 packets by default, refuses a packet index it has already accepted), and
counts why. No hand-written crypto: libsrtp does it all. I/O-free: the media driver calls it
where it sends and receives.
"""

from __future__ import annotations

from typing import Protocol

import pylibsrtp

from voicebot.errors import DependencyError

__all__ = ["SrtpContext", "context_for"]

_PROFILES = {
    "AES_CM_128_HMAC_SHA1_80": pylibsrtp.Policy.SRTP_PROFILE_AES128_CM_SHA1_80,
    "AES_CM_128_HMAC_SHA1_32": pylibsrtp.Policy.SRTP_PROFILE_AES128_CM_SHA1_32,
    "AEAD_AES_128_GCM": pylibsrtp.Policy.SRTP_PROFILE_AEAD_AES_128_GCM,
    "AEAD_AES_256_GCM": pylibsrtp.Policy.SRTP_PROFILE_AEAD_AES_256_GCM,
}


class Keys(Protocol):
    """What :class:`SrtpContext` reads (``voicebot.sip.sdes.SrtpKeys`` fits)."""

    @property
    def suite(self) -> str: ...
    @property
    def local(self) -> bytes: ...
    @property
    def remote(self) -> bytes: ...


def _session(key: bytes, profile: int, ssrc_type: int) -> pylibsrtp.Session:
    policy = pylibsrtp.Policy(key=key, ssrc_type=ssrc_type, srtp_profile=profile)
    try:
        return pylibsrtp.Session(policy)
    except pylibsrtp.Error as exc:  # e.g. a libsrtp built without the AES-GCM ciphers
        raise DependencyError(f"libsrtp cannot run this SRTP suite: {exc}") from exc


class SrtpContext:
    """Protect what we send with our key, check and decrypt what arrives with the peer's."""

    def __init__(self, keys: Keys) -> None:
        profile = _PROFILES.get(keys.suite)
        if profile is None:
            raise DependencyError(f"SRTP suite {keys.suite} is not supported by this libsrtp binding")
        self.suite = keys.suite
        self._keys = (keys.local, keys.remote)
        self._out = _session(keys.local, profile, pylibsrtp.Policy.SSRC_ANY_OUTBOUND)
        self._in = _session(keys.remote, profile, pylibsrtp.Policy.SSRC_ANY_INBOUND)
        self.rejected = 0  # failed authentication or malformed
        self.replayed = 0  # refused by the replay window

    def same_keys(self, keys: Keys) -> bool:
        return keys.suite == self.suite and (keys.local, keys.remote) == self._keys

    def protect(self, packet: bytes) -> bytes:
        return self._out.protect(packet)

    def protect_rtcp(self, packet: bytes) -> bytes:
        return self._out.protect_rtcp(packet)

    def unprotect(self, packet: bytes) -> bytes | None:
        try:
            return self._in.unprotect(packet)
        except pylibsrtp.Error as exc:
            self._count(exc)
            return None

    def unprotect_rtcp(self, packet: bytes) -> bytes | None:
        try:
            return self._in.unprotect_rtcp(packet)
        except pylibsrtp.Error as exc:
            self._count(exc)
            return None

    def _count(self, exc: pylibsrtp.Error) -> None:
        if "replay" in str(exc).lower():
            self.replayed += 1
        else:
            self.rejected += 1


def context_for(keys: Keys | None, current: SrtpContext | None) -> SrtpContext | None:
    """The context for newly negotiated ``keys``: the current one when they did not change
    (a re-INVITE that kept them), a fresh one when they did, None for plain RTP."""
    if keys is None:
        return None
    if current is not None and current.same_keys(keys):
        return current
    return SrtpContext(keys)
