"""UDP sockets for RTP and RTCP (RFC 3550 §11: RTP on an even port, RTCP on the next odd one).

The only RTP socket code. An :class:`RtpTransport` binds the pair and, each time the loop
says a socket is readable, reads every datagram queued on it (``recvmsg`` until it would
block), handing each to ``on_rtp(data, addr, arrival)`` or ``on_rtcp(data, addr, arrival)``;
RTCP that arrives on the RTP port (RFC 5761 rtcp-mux) is passed to ``on_rtcp`` as well.
``arrival`` is the kernel's receive time in the loop's clock (``SO_TIMESTAMPNS``), so packets
that waited while this process was not scheduled keep their true arrival times. Sends go
straight to the socket (a datagram the kernel cannot take now is dropped and counted: late
media is worthless). Nothing a peer sends can raise out of here: callback errors are logged.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
from collections.abc import Callable

from voicebot.errors import ConfigError
from voicebot.rtp.packet import is_rtcp
from voicebot.transport.buffers import (
    ANCILLARY_SPACE,
    arrival_time,
    enable_timestamps,
    realtime_offset,
    size_receive_buffer,
)

log = logging.getLogger(__name__)

Address = tuple[str, int]
DatagramCallback = Callable[[bytes, Address, float], None]

_RCVBUF = 1 << 18
_MAX_DATAGRAM = 2048
_READS_PER_WAKEUP = 64  # then let other sockets and the media clock have the loop


def _family(host: str) -> socket.AddressFamily:
    try:
        return socket.AF_INET6 if ipaddress.ip_address(host).version == 6 else socket.AF_INET
    except ValueError as exc:
        raise ConfigError(f"RTP needs a literal IP address to bind to, got {host!r}") from exc


def _bind_pair(host: str, port: int) -> tuple[socket.socket, socket.socket]:
    family = _family(host)
    attempts = 1 if port else 64
    last: OSError | None = None
    for _ in range(attempts):
        rtp = socket.socket(family, socket.SOCK_DGRAM)
        rtcp: socket.socket | None = None
        try:
            rtp.bind((host, port))
            got = rtp.getsockname()[1]
            if got % 2:
                raise OSError(f"odd port {got}")
            rtcp = socket.socket(family, socket.SOCK_DGRAM)
            rtcp.bind((host, got + 1))
        except OSError as exc:
            last = exc
            rtp.close()
            if rtcp is not None:
                rtcp.close()
            continue
        for s in (rtp, rtcp):
            s.setblocking(False)
            enable_timestamps(s)
        size_receive_buffer(rtp, _RCVBUF)
        return rtp, rtcp
    if port:
        raise ConfigError(f"cannot bind RTP to {host}:{port} and RTCP to port {port + 1}: {last}")
    raise ConfigError(f"no free even RTP port pair on {host}: {last}")


class RtpTransport:
    """An RTP/RTCP UDP socket pair driven by the asyncio loop."""

    def __init__(self) -> None:
        self.on_rtp: DatagramCallback = lambda data, addr, arrival: None
        self.on_rtcp: DatagramCallback = lambda data, addr, arrival: None
        self.local_address: Address = ("", 0)
        self.datagrams_received = 0
        self.callback_errors = 0
        self.send_errors = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._rtp: socket.socket | None = None
        self._rtcp: socket.socket | None = None

    @classmethod
    async def open(cls, host: str, port: int = 0) -> RtpTransport:
        """Bind RTP on an even ``port`` (0: any free even port) and RTCP on ``port + 1``."""
        if port % 2:
            raise ConfigError(f"RTP port must be even (RFC 3550 §11), got {port}")
        self = cls()
        self._loop = asyncio.get_running_loop()
        self._rtp, self._rtcp = _bind_pair(host, port)
        self._loop.add_reader(self._rtp.fileno(), self._readable, self._rtp, False)
        self._loop.add_reader(self._rtcp.fileno(), self._readable, self._rtcp, True)
        name = self._rtp.getsockname()
        self.local_address = (str(name[0]), int(name[1]))
        return self

    def _readable(self, sock: socket.socket, rtcp: bool) -> None:
        assert self._loop is not None
        offset = realtime_offset()
        for _ in range(_READS_PER_WAKEUP):
            try:
                data, ancillary, _flags, addr = sock.recvmsg(_MAX_DATAGRAM, ANCILLARY_SPACE)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:  # ICMP port unreachable and the like: the peer is not up yet
                self.send_errors += 1
                log.debug("RTP socket error: %s", exc)
                return
            arrival = arrival_time(ancillary, offset)
            if arrival is None:
                arrival = self._loop.time()
            source = (str(addr[0]), int(addr[1]))
            self.datagrams_received += 1
            try:
                if rtcp or is_rtcp(data):
                    self.on_rtcp(data, source, arrival)
                else:
                    self.on_rtp(data, source, arrival)
            except Exception:  # a peer's datagram must never break the transport
                self.callback_errors += 1
                log.exception("RTP datagram handler failed for %d bytes from %s", len(data), source)

    def drain(self) -> None:
        """Read whatever waits on the RTP socket now (the media clock calls this when its tick
        ran late: the loop was busy, and packets that arrived meanwhile must reach the jitter
        buffer before it decides they are lost)."""
        if self._rtp is not None:
            self._readable(self._rtp, False)

    def _send(self, sock: socket.socket | None, data: bytes, addr: Address) -> None:
        if sock is None:
            return
        try:
            sock.sendto(data, addr)
        except (BlockingIOError, InterruptedError, OSError) as exc:
            self.send_errors += 1
            log.debug("RTP send to %s failed: %s", addr, exc)

    def send_rtp(self, data: bytes, addr: Address) -> None:
        self._send(self._rtp, data, addr)

    def send_rtcp(self, data: bytes, addr: Address) -> None:
        self._send(self._rtcp, data, addr)

    def close(self) -> None:
        for sock in (self._rtp, self._rtcp):
            if sock is not None:
                if self._loop is not None and not self._loop.is_closed():
                    self._loop.remove_reader(sock.fileno())
                sock.close()
        self._rtp = self._rtcp = None
