"""RTP media transport without I/O: packets and RTCP (RFC 3550), the adaptive jitter buffer,
DTMF telephone-events (RFC 4733), the session core with source learning, and a deterministic
network impairment model for tests and benchmarks."""

from __future__ import annotations

from voicebot.rtp.events import DtmfDigit, MediaTimeout, RemoteBye, RemoteReport, RtpEvent, SourceLatched
from voicebot.rtp.jitterbuffer import JitterBuffer, JitterBufferConfig, PlayoutFrame
from voicebot.rtp.packet import RtpExtension, RtpPacket
from voicebot.rtp.session import RtpSender, RtpSession, SessionConfig, SourceFilter

__all__ = [
    "DtmfDigit",
    "JitterBuffer",
    "JitterBufferConfig",
    "MediaTimeout",
    "PlayoutFrame",
    "RemoteBye",
    "RemoteReport",
    "RtpEvent",
    "RtpExtension",
    "RtpPacket",
    "RtpSender",
    "RtpSession",
    "SessionConfig",
    "SourceFilter",
    "SourceLatched",
]
