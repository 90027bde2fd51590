"""RTP data packets: RFC 3550 §5.1 (fixed header), §5.3.1 (header extension), §5.1 padding,
and RFC 5761 §4 (telling RTP from RTCP when both share a port).

``RtpPacket.parse(data)`` / ``bytes(packet)`` are a round-trip pair. A datagram that breaks
the header rules raises :class:`voicebot.errors.RemoteProtocolError`; callers count and drop it.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from voicebot.errors import LocalProtocolError, RemoteProtocolError

RTP_VERSION = 2
MAX_PACKET_SIZE = 8192
"""Largest RTP/RTCP datagram accepted (input sizes are capped, DESIGN.md rule 5)."""

_HEADER = struct.Struct("!BBHII")
_PLAIN = struct.Struct("!xBHII")  # the fixed header after its first octet: M/PT, sequence, timestamp, SSRC
_PLAIN_B0 = RTP_VERSION << 6  # version 2, no padding, no extension, no CSRC
HEADER_SIZE = _HEADER.size


@dataclass(frozen=True, slots=True, kw_only=True)
class RtpExtension:
    """A header extension (RFC 3550 §5.3.1): 16-bit profile-defined value and 32-bit-aligned data."""

    profile: int
    data: bytes = b""


@dataclass(frozen=True, slots=True, kw_only=True)
class RtpPacket:
    """One RTP packet. ``padding`` is the number of padding octets (including the count octet)."""

    payload_type: int
    sequence_number: int
    timestamp: int
    ssrc: int
    payload: bytes = b""
    marker: bool = False
    csrc: tuple[int, ...] = ()
    extension: RtpExtension | None = None
    padding: int = 0

    @classmethod
    def parse(cls, data: bytes) -> RtpPacket:
        """Parse one RTP datagram (RFC 3550 §5.1, validity checks of §A.1)."""
        n = len(data)
        if n > MAX_PACKET_SIZE:
            raise RemoteProtocolError(f"RTP packet of {n} bytes exceeds {MAX_PACKET_SIZE}")
        if n < _HEADER.size:
            raise RemoteProtocolError(f"RTP packet too short ({n} bytes)")
        b0, b1, seq, ts, ssrc = _HEADER.unpack_from(data, 0)
        if b0 >> 6 != RTP_VERSION:
            raise RemoteProtocolError(f"RTP version {b0 >> 6} is not 2")
        pt = b1 & 0x7F
        if 72 <= pt <= 76:
            raise RemoteProtocolError(f"payload type {pt} collides with RTCP (RFC 5761 §4)")
        cc = b0 & 0x0F
        pos = _HEADER.size + 4 * cc
        if pos > n:
            raise RemoteProtocolError("RTP CSRC list runs past the end of the packet")
        csrc = struct.unpack_from(f"!{cc}I", data, _HEADER.size) if cc else ()
        extension: RtpExtension | None = None
        if b0 & 0x10:
            if pos + 4 > n:
                raise RemoteProtocolError("RTP header extension truncated")
            profile, words = struct.unpack_from("!HH", data, pos)
            end = pos + 4 + 4 * words
            if end > n:
                raise RemoteProtocolError("RTP header extension length runs past the packet")
            extension = RtpExtension(profile=profile, data=bytes(data[pos + 4 : end]))
            pos = end
        end = n
        padding = 0
        if b0 & 0x20:
            padding = data[-1]
            if padding == 0 or pos + padding > n:
                raise RemoteProtocolError(f"bad RTP padding count {padding}")
            end = n - padding
        return cls(
            payload_type=pt,
            sequence_number=seq,
            timestamp=ts,
            ssrc=ssrc,
            payload=bytes(data[pos:end]),
            marker=bool(b1 & 0x80),
            csrc=tuple(csrc),
            extension=extension,
            padding=padding,
        )

    def __bytes__(self) -> bytes:
        if not 0 <= self.payload_type <= 127:
            raise LocalProtocolError(f"payload type {self.payload_type} out of range 0..127")
        if len(self.csrc) > 15:
            raise LocalProtocolError("at most 15 CSRC identifiers fit in an RTP header")
        if not 0 <= self.padding <= 255:
            raise LocalProtocolError(f"padding {self.padding} out of range 0..255")
        b0 = RTP_VERSION << 6 | len(self.csrc)
        if self.padding:
            b0 |= 0x20
        if self.extension is not None:
            b0 |= 0x10
        b1 = self.payload_type | (0x80 if self.marker else 0)
        parts = [
            _HEADER.pack(
                b0,
                b1,
                self.sequence_number & 0xFFFF,
                self.timestamp & 0xFFFFFFFF,
                self.ssrc & 0xFFFFFFFF,
            )
        ]
        if self.csrc:
            parts.append(struct.pack(f"!{len(self.csrc)}I", *self.csrc))
        if self.extension is not None:
            data = self.extension.data
            if len(data) % 4:
                raise LocalProtocolError("RTP header extension data must be a multiple of 4 bytes")
            parts.append(struct.pack("!HH", self.extension.profile, len(data) // 4))
            parts.append(data)
        parts.append(self.payload)
        if self.padding:
            parts.append(bytes(self.padding - 1) + bytes([self.padding]))
        return b"".join(parts)


def plain_header(data: bytes) -> tuple[int, int, int, int] | None:
    """(payload type, sequence number, timestamp, SSRC) of an RTP datagram with the bare
    12-octet header (no CSRC, extension or padding: what telephone audio carries; its payload
    is ``data[HEADER_SIZE:]``), or None when the datagram needs :meth:`RtpPacket.parse`. The
    marker bit is dropped; the payload type may be one RTCP uses (RFC 5761 §4): compare it
    with the negotiated one. Builds no packet object, for the per-packet fast paths."""
    if len(data) < HEADER_SIZE or data[0] != _PLAIN_B0 or len(data) > MAX_PACKET_SIZE:
        return None
    b1, seq, ts, ssrc = _PLAIN.unpack_from(data)
    return b1 & 0x7F, seq, ts, ssrc


def pack_header(payload_type: int, marker: bool, sequence_number: int, timestamp: int, ssrc: int) -> bytes:
    """The bare 12-octet RTP header (version 2, no CSRC, extension or padding); the payload follows it."""
    return _HEADER.pack(_PLAIN_B0, payload_type | (0x80 if marker else 0), sequence_number, timestamp, ssrc)


def is_rtcp(data: bytes) -> bool:
    """RFC 5761 §4: on a shared port, packet types 192..223 in the second octet are RTCP."""
    return len(data) >= 2 and 192 <= data[1] <= 223


def seq_distance(a: int, b: int) -> int:
    """Signed shortest distance from 16-bit sequence number ``a`` to ``b`` (RFC 3550 §A.1)."""
    d = (b - a) & 0xFFFF
    return d - 0x10000 if d >= 0x8000 else d


class Unwrapper:
    """Extends a wrapping counter (16-bit sequence or 32-bit timestamp) to a monotone int."""

    __slots__ = ("_bits", "_half", "_last", "_mod")

    def __init__(self, bits: int) -> None:
        self._bits = bits
        self._mod = 1 << bits
        self._half = 1 << (bits - 1)
        self._last: int | None = None

    def unwrap(self, value: int) -> int:
        if self._last is None:
            self._last = value
            return value
        diff = (value - self._last) & (self._mod - 1)
        if diff >= self._half:
            diff -= self._mod
        out = self._last + diff
        if diff > 0:
            self._last = out
        return out

    def reset(self) -> None:
        self._last = None
