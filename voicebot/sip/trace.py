"""Message traces: what the core put on the wire or took from it, as frozen records the driver
drains with ``UserAgentCore.traces_to_send()`` (only while ``tracing`` is on). The driver's
``--trace`` output and any metrics read these; the core formats no text for them.
"""

from __future__ import annotations

from dataclasses import dataclass

from voicebot.sip.transaction import TransportAddress


@dataclass(frozen=True, slots=True, kw_only=True)
class MessageTrace:
    """One SIP message sent or received, with what the core could read of it."""

    direction: str  # "sent" / "received"
    peer: TransportAddress  # where it went / came from
    data: bytes  # the message as on the wire (a stream-framed message: as the framer rebuilt it)
    at: float  # the ``now`` the core was given when it sent or received it
    start_line: str | None = None  # "INVITE sip:bob@host SIP/2.0" / "SIP/2.0 200 OK"
    call_id: str | None = None
    cseq: str | None = None  # "1 INVITE"

    @property
    def transport(self) -> str:
        return self.peer.transport

    @property
    def size(self) -> int:
        return len(self.data)


_CALL_ID = (b"call-id", b"i")


def trace_of(direction: str, peer: TransportAddress, data: bytes, at: float) -> MessageTrace:
    """The trace of ``data``: its start line, Call-ID and CSeq read off the header lines (no
    parse; a message too broken to parse still has a start line to show)."""
    head = data.split(b"\r\n\r\n", 1)[0].split(b"\r\n")
    start = head[0].decode("utf-8", "replace").strip() or None
    call_id = cseq = None
    for line in head[1:]:
        name, sep, value = line.partition(b":")
        if not sep:
            continue
        key = name.strip().lower()
        if call_id is None and key in _CALL_ID:
            call_id = value.strip().decode("utf-8", "replace")
        elif cseq is None and key == b"cseq":
            cseq = value.strip().decode("utf-8", "replace")
    return MessageTrace(direction=direction, peer=peer, data=data, at=at, start_line=start, call_id=call_id, cseq=cseq)
