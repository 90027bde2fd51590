"""RTCP: RFC 3550 §6.4.1 (SR), §6.4.2 (RR), §6.5 (SDES), §6.6 (BYE), §6.1 compound packets,
§A.2 header validity checks, §6.3 / §A.7 transmission interval, §4 NTP timestamps.

Every packet type is a frozen dataclass with ``parse``/``__bytes__``; ``parse_compound``
splits a datagram and ``serialize_compound`` joins packets. Packet types this module does not
model (APP, feedback, XR) are kept as :class:`RtcpUnknown` so nothing is lost.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Sequence
from dataclasses import dataclass, field

from voicebot.errors import LocalProtocolError, RemoteProtocolError
from voicebot.rtp.packet import MAX_PACKET_SIZE

PT_SR = 200
PT_RR = 201
PT_SDES = 202
PT_BYE = 203

SDES_CNAME = 1

NTP_EPOCH_OFFSET = 2_208_988_800
"""Seconds from 1900-01-01 (NTP era 0) to 1970-01-01 (Unix epoch)."""

_BLOCK = struct.Struct("!IIIIII")


def ntp_from_unix(t: float) -> int:
    """64-bit NTP timestamp (RFC 3550 §4) for Unix time ``t`` (seconds)."""
    secs = math.floor(t)
    frac = int((t - secs) * (1 << 32)) & 0xFFFFFFFF
    return ((secs + NTP_EPOCH_OFFSET) & 0xFFFFFFFF) << 32 | frac


def ntp_middle(ntp: int) -> int:
    """The middle 32 bits of an NTP timestamp, used for LSR and RTT (RFC 3550 §6.4.1)."""
    return (ntp >> 16) & 0xFFFFFFFF


@dataclass(frozen=True, slots=True, kw_only=True)
class ReportBlock:
    """One reception report block (RFC 3550 §6.4.1)."""

    ssrc: int
    fraction_lost: int  # 8-bit fixed point, lost/expected * 256
    cumulative_lost: int  # signed 24-bit
    highest_sequence: int  # extended highest sequence number received
    jitter: int  # interarrival jitter, RTP timestamp units
    lsr: int = 0  # middle 32 bits of the last SR's NTP timestamp
    dlsr: int = 0  # delay since that SR, units of 1/65536 s

    def pack(self) -> bytes:
        lost = max(-0x800000, min(0x7FFFFF, self.cumulative_lost)) & 0xFFFFFF
        return _BLOCK.pack(
            self.ssrc & 0xFFFFFFFF,
            (self.fraction_lost & 0xFF) << 24 | lost,
            self.highest_sequence & 0xFFFFFFFF,
            self.jitter & 0xFFFFFFFF,
            self.lsr & 0xFFFFFFFF,
            self.dlsr & 0xFFFFFFFF,
        )

    @classmethod
    def unpack(cls, data: bytes, offset: int) -> ReportBlock:
        ssrc, lost_word, highest, jitter, lsr, dlsr = _BLOCK.unpack_from(data, offset)
        lost = lost_word & 0xFFFFFF
        if lost & 0x800000:
            lost -= 0x1000000
        return cls(
            ssrc=ssrc,
            fraction_lost=lost_word >> 24,
            cumulative_lost=lost,
            highest_sequence=highest,
            jitter=jitter,
            lsr=lsr,
            dlsr=dlsr,
        )


def _header(count: int, pt: int, body_len: int) -> bytes:
    if body_len % 4:
        raise LocalProtocolError("RTCP packet body must be 32-bit aligned")
    if not 0 <= count <= 31:
        raise LocalProtocolError(f"RTCP count {count} out of range 0..31")
    return struct.pack("!BBH", 0x80 | count, pt, body_len // 4)


@dataclass(frozen=True, slots=True, kw_only=True)
class SenderReport:
    """SR (RFC 3550 §6.4.1)."""

    ssrc: int
    ntp_timestamp: int
    rtp_timestamp: int
    packet_count: int
    octet_count: int
    reports: tuple[ReportBlock, ...] = ()

    def __bytes__(self) -> bytes:
        body = struct.pack(
            "!IQIII",
            self.ssrc & 0xFFFFFFFF,
            self.ntp_timestamp & 0xFFFFFFFFFFFFFFFF,
            self.rtp_timestamp & 0xFFFFFFFF,
            self.packet_count & 0xFFFFFFFF,
            self.octet_count & 0xFFFFFFFF,
        ) + b"".join(r.pack() for r in self.reports)
        return _header(len(self.reports), PT_SR, len(body)) + body

    @classmethod
    def parse_body(cls, count: int, body: bytes) -> SenderReport:
        if len(body) < 24 + 24 * count:
            raise RemoteProtocolError("RTCP SR shorter than its report count")
        ssrc, ntp, rtp_ts, pc, oc = struct.unpack_from("!IQIII", body, 0)
        blocks = tuple(ReportBlock.unpack(body, 24 + 24 * i) for i in range(count))
        return cls(
            ssrc=ssrc,
            ntp_timestamp=ntp,
            rtp_timestamp=rtp_ts,
            packet_count=pc,
            octet_count=oc,
            reports=blocks,
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class ReceiverReport:
    """RR (RFC 3550 §6.4.2)."""

    ssrc: int
    reports: tuple[ReportBlock, ...] = ()

    def __bytes__(self) -> bytes:
        body = struct.pack("!I", self.ssrc & 0xFFFFFFFF) + b"".join(r.pack() for r in self.reports)
        return _header(len(self.reports), PT_RR, len(body)) + body

    @classmethod
    def parse_body(cls, count: int, body: bytes) -> ReceiverReport:
        if len(body) < 4 + 24 * count:
            raise RemoteProtocolError("RTCP RR shorter than its report count")
        (ssrc,) = struct.unpack_from("!I", body, 0)
        return cls(ssrc=ssrc, reports=tuple(ReportBlock.unpack(body, 4 + 24 * i) for i in range(count)))


@dataclass(frozen=True, slots=True, kw_only=True)
class SdesChunk:
    """One SDES chunk: an SSRC and its (type, text) items (RFC 3550 §6.5)."""

    ssrc: int
    items: tuple[tuple[int, bytes], ...] = ()

    def pack(self) -> bytes:
        out = bytearray(struct.pack("!I", self.ssrc & 0xFFFFFFFF))
        for kind, text in self.items:
            if not 1 <= kind <= 255 or len(text) > 255:
                raise LocalProtocolError("SDES item type must be 1..255 and text at most 255 bytes")
            out += bytes([kind, len(text)]) + text
        out += b"\x00"
        out += bytes(-len(out) % 4)
        return bytes(out)


@dataclass(frozen=True, slots=True, kw_only=True)
class SourceDescription:
    """SDES (RFC 3550 §6.5)."""

    chunks: tuple[SdesChunk, ...] = ()

    def __bytes__(self) -> bytes:
        body = b"".join(c.pack() for c in self.chunks)
        return _header(len(self.chunks), PT_SDES, len(body)) + body

    def cname(self, ssrc: int) -> str | None:
        for chunk in self.chunks:
            if chunk.ssrc == ssrc:
                for kind, text in chunk.items:
                    if kind == SDES_CNAME:
                        return text.decode("utf-8", "replace")
        return None

    @classmethod
    def parse_body(cls, count: int, body: bytes) -> SourceDescription:
        chunks = []
        pos = 0
        for _ in range(count):
            if pos + 4 > len(body):
                raise RemoteProtocolError("RTCP SDES chunk truncated")
            (ssrc,) = struct.unpack_from("!I", body, pos)
            pos += 4
            items: list[tuple[int, bytes]] = []
            while True:
                if pos >= len(body):
                    raise RemoteProtocolError("RTCP SDES item list not terminated")
                kind = body[pos]
                if kind == 0:
                    pos += 1
                    pos += -pos % 4
                    break
                if pos + 2 > len(body) or pos + 2 + body[pos + 1] > len(body):
                    raise RemoteProtocolError("RTCP SDES item truncated")
                length = body[pos + 1]
                items.append((kind, bytes(body[pos + 2 : pos + 2 + length])))
                pos += 2 + length
            chunks.append(SdesChunk(ssrc=ssrc, items=tuple(items)))
        return cls(chunks=tuple(chunks))


@dataclass(frozen=True, slots=True, kw_only=True)
class Goodbye:
    """BYE (RFC 3550 §6.6)."""

    ssrcs: tuple[int, ...]
    reason: str = ""

    def __bytes__(self) -> bytes:
        body = bytearray(b"".join(struct.pack("!I", s & 0xFFFFFFFF) for s in self.ssrcs))
        if self.reason:
            text = self.reason.encode("utf-8")[:255]
            body += bytes([len(text)]) + text
            body += bytes(-len(body) % 4)
        return _header(len(self.ssrcs), PT_BYE, len(body)) + bytes(body)

    @classmethod
    def parse_body(cls, count: int, body: bytes) -> Goodbye:
        if len(body) < 4 * count:
            raise RemoteProtocolError("RTCP BYE shorter than its source count")
        ssrcs = struct.unpack_from(f"!{count}I", body, 0) if count else ()
        reason = ""
        pos = 4 * count
        if pos < len(body):
            length = body[pos]
            if pos + 1 + length > len(body):
                raise RemoteProtocolError("RTCP BYE reason truncated")
            reason = body[pos + 1 : pos + 1 + length].decode("utf-8", "replace")
        return cls(ssrcs=tuple(ssrcs), reason=reason)


@dataclass(frozen=True, slots=True, kw_only=True)
class RtcpUnknown:
    """A packet type this module does not interpret (APP, RTPFB, PSFB, XR ...), kept verbatim."""

    packet_type: int
    count: int
    body: bytes = field(default=b"")

    def __bytes__(self) -> bytes:
        return _header(self.count, self.packet_type, len(self.body)) + self.body


RtcpPacket = SenderReport | ReceiverReport | SourceDescription | Goodbye | RtcpUnknown


def parse_compound(data: bytes) -> list[RtcpPacket]:
    """Split and parse a compound RTCP datagram, applying the checks of RFC 3550 §A.2."""
    if len(data) > MAX_PACKET_SIZE:
        raise RemoteProtocolError(f"RTCP packet of {len(data)} bytes exceeds {MAX_PACKET_SIZE}")
    if len(data) < 4:
        raise RemoteProtocolError("RTCP packet too short")
    out: list[RtcpPacket] = []
    pos = 0
    while pos < len(data):
        if pos + 4 > len(data):
            raise RemoteProtocolError("RTCP header truncated")
        b0, pt, words = struct.unpack_from("!BBH", data, pos)
        if b0 >> 6 != 2:
            raise RemoteProtocolError(f"RTCP version {b0 >> 6} is not 2")
        end = pos + 4 + 4 * words
        if end > len(data):
            raise RemoteProtocolError("RTCP length field runs past the datagram")
        body = bytes(data[pos + 4 : end])
        if b0 & 0x20:
            if end != len(data):
                raise RemoteProtocolError("RTCP padding is only allowed on the last packet")
            pad = body[-1] if body else 0
            if pad == 0 or pad > len(body):
                raise RemoteProtocolError("bad RTCP padding count")
            body = body[:-pad]
        count = b0 & 0x1F
        packet: RtcpPacket
        if pt == PT_SR:
            packet = SenderReport.parse_body(count, body)
        elif pt == PT_RR:
            packet = ReceiverReport.parse_body(count, body)
        elif pt == PT_SDES:
            packet = SourceDescription.parse_body(count, body)
        elif pt == PT_BYE:
            packet = Goodbye.parse_body(count, body)
        elif 192 <= pt <= 223:
            packet = RtcpUnknown(packet_type=pt, count=count, body=body)
        else:
            raise RemoteProtocolError(f"RTCP packet type {pt} out of range")
        if not out and pt not in (PT_SR, PT_RR) and len(data) > end:
            # §6.1: a compound packet starts with SR or RR (RFC 5506 reduced size is single).
            raise RemoteProtocolError("compound RTCP packet does not start with SR or RR")
        out.append(packet)
        pos = end
    return out


def serialize_compound(packets: Sequence[RtcpPacket]) -> bytes:
    return b"".join(bytes(p) for p in packets)


def rtcp_interval(
    *,
    members: int,
    senders: int,
    rtcp_bw: float,
    we_sent: bool,
    avg_rtcp_size: float,
    initial: bool,
    random_value: float,
) -> float:
    """The randomized RTCP transmission interval of RFC 3550 §6.3.1 / §A.7, in seconds.

    ``rtcp_bw`` is the RTCP bandwidth in octets per second (5% of the session bandwidth);
    ``random_value`` in [0, 1) is supplied by the caller so the function stays deterministic.
    """
    rtcp_min_time = 2.5 if initial else 5.0
    n = members
    if senders <= members * 0.25:
        if we_sent:
            rtcp_bw *= 0.25
            n = senders
        else:
            rtcp_bw *= 0.75
            n = members - senders
    t = avg_rtcp_size * max(n, 1) / rtcp_bw if rtcp_bw > 0 else rtcp_min_time
    t = max(t, rtcp_min_time)
    t *= random_value + 0.5
    return t / (math.e - 1.5)  # compensation for timer reconsideration (§A.7)
