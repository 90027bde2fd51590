"""UDP sockets for RTP and RTCP (RFC 3550 §11: RTP on an even port, RTCP on the next odd one).

The only RTP socket code. An :class:`RtpTransport` binds the pair with asyncio datagram
endpoints (no polling) and hands each datagram to ``on_rtp(data, addr)`` or
``on_rtcp(data, addr)``; RTCP that arrives on the RTP port (RFC 5761 rtcp-mux) is passed to
``on_rtcp`` as well. Nothing a peer sends can raise out of here: callback errors are logged.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import socket
from collections.abc import Callable

from voicebot.errors import ConfigError
from voicebot.rtp.packet import is_rtcp

log = logging.getLogger(__name__)

Address = tuple[str, int]
DatagramCallback = Callable[[bytes, Address], None]

_RCVBUF = 1 << 18


class _Protocol(asyncio.DatagramProtocol):
    def __init__(self, owner: RtpTransport, rtcp: bool) -> None:
        self.owner = owner
        self.rtcp = rtcp

    def datagram_received(self, data: bytes, addr: tuple[object, ...]) -> None:
        source = (str(addr[0]), int(addr[1]))  # type: ignore[call-overload]
        self.owner.datagrams_received += 1
        try:
            if self.rtcp or is_rtcp(data):
                self.owner.on_rtcp(data, source)
            else:
                self.owner.on_rtp(data, source)
        except Exception:  # a peer's datagram must never break the transport
            self.owner.callback_errors += 1
            log.exception("RTP datagram handler failed for %d bytes from %s", len(data), source)

    def error_received(self, exc: Exception) -> None:
        # ICMP port unreachable and the like: the peer is not listening (yet); keep going
        self.owner.send_errors += 1
        log.debug("RTP socket error: %s", exc)


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
            with contextlib.suppress(OSError):
                s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, _RCVBUF)
        return rtp, rtcp
    if port:
        raise ConfigError(f"cannot bind RTP to {host}:{port} and RTCP to port {port + 1}: {last}")
    raise ConfigError(f"no free even RTP port pair on {host}: {last}")


class RtpTransport:
    """An RTP/RTCP UDP socket pair driven by the asyncio loop."""

    def __init__(self) -> None:
        self.on_rtp: DatagramCallback = lambda data, addr: None
        self.on_rtcp: DatagramCallback = lambda data, addr: None
        self.local_address: Address = ("", 0)
        self.datagrams_received = 0
        self.callback_errors = 0
        self.send_errors = 0
        self._rtp: asyncio.DatagramTransport | None = None
        self._rtcp: asyncio.DatagramTransport | None = None

    @classmethod
    async def open(cls, host: str, port: int = 0) -> RtpTransport:
        """Bind RTP on an even ``port`` (0: any free even port) and RTCP on ``port + 1``."""
        if port % 2:
            raise ConfigError(f"RTP port must be even (RFC 3550 §11), got {port}")
        self = cls()
        loop = asyncio.get_running_loop()
        rtp_sock, rtcp_sock = _bind_pair(host, port)
        self._rtp, _ = await loop.create_datagram_endpoint(lambda: _Protocol(self, False), sock=rtp_sock)
        self._rtcp, _ = await loop.create_datagram_endpoint(lambda: _Protocol(self, True), sock=rtcp_sock)
        name = rtp_sock.getsockname()
        self.local_address = (str(name[0]), int(name[1]))
        return self

    def send_rtp(self, data: bytes, addr: Address) -> None:
        if self._rtp is not None and not self._rtp.is_closing():
            self._rtp.sendto(data, addr)

    def send_rtcp(self, data: bytes, addr: Address) -> None:
        if self._rtcp is not None and not self._rtcp.is_closing():
            self._rtcp.sendto(data, addr)

    def close(self) -> None:
        for t in (self._rtp, self._rtcp):
            if t is not None:
                t.close()
        self._rtp = self._rtcp = None
