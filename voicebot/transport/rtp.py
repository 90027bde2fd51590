"""UDP sockets for RTP and RTCP (RFC 3550 §11: RTP on an even port, RTCP on the next odd one).

The only RTP socket code. An :class:`RtpTransport` binds the pair, watches both sockets with
``loop.add_reader`` (no polling) and hands each datagram to ``on_rtp(data, addr, at)`` or
``on_rtcp(data, addr, at)``; RTCP that arrives on the RTP port (RFC 5761 rtcp-mux) is passed
to ``on_rtcp`` as well. Nothing a peer sends can raise out of here: callback errors are logged.

``at`` is when the datagram arrived, on the event loop's clock: the kernel's receive time
(``SO_TIMESTAMPNS``, read with ``recvmsg``; :mod:`voicebot.transport.buffers`) where the OS
gives it. A call's packets come 20 ms apart, so when the loop keeps up a readable socket
holds one: reading on until it is empty would cost every packet a second ``recvmsg`` that
fails (and a raised exception). So a wake-up reads on only while the datagram just read had
waited :data:`BEHIND` or more (then the next one may be queued behind it: the loop is behind,
and reading the backlog in one go is the cheap way to catch up), at most
:data:`_READS_PER_WAKEUP` at a time; a socket that still holds more stays readable and is read
again on the next loop turn, after the other sockets and the media clock. Packets that queued
while the loop stalled (a C extension holding the GIL, a busy machine) keep the times they
really arrived — a jitter buffer that saw them stamped "now" would take them for late packets
and conceal them, or grow its delay for nothing — and :meth:`RtpTransport.receive_pending`
reads all of them before a late media tick plays out.

Because the arrival times are the kernel's, the RTP socket need not be read the moment a
datagram arrives: a media stream that only plays the caller's audio out on its 20 ms tick
stops watching it (:meth:`RtpTransport.read_rtp_on_arrival`) and reads it at each tick
instead. With many calls that is one wake-up of the loop per tick rather than one per packet
(measured on eight calls whose packets arrive spread over the 20 ms, as independent callers
send them: about a quarter of the loop's CPU per call; less where the packets already come in
bursts, as SIPp's do).

Sends go straight to the socket (a datagram the kernel cannot take now is dropped and
counted: late media is worthless).
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
import time
from collections.abc import Callable

from voicebot.address import Address
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

DatagramCallback = Callable[[bytes, Address, float], None]

_RCVBUF = 1 << 18
_MAX_DATAGRAM = 2048  # RTP audio is a few hundred bytes; a smaller buffer is a cheaper recvmsg
_READS_PER_WAKEUP = 64  # then let other sockets and the media clock have the loop
BEHIND = 0.015  # a datagram that waited this long may have the next packet queued behind it
_READS_PENDING = 512  # before a late tick plays out: everything a stall of seconds queued


def _family(host: str) -> socket.AddressFamily:
    try:
        return socket.AF_INET6 if ipaddress.ip_address(host).version == 6 else socket.AF_INET
    except ValueError as exc:
        raise ConfigError(f"RTP needs a literal IP address to bind to, got {host!r}") from exc


def _bind_pair(host: str, port: int) -> tuple[socket.socket, socket.socket, bool]:
    """The bound (RTP, RTCP) sockets, and whether the kernel stamps the RTP socket's datagrams."""
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
        stamped = True
        for s in (rtp, rtcp):
            s.setblocking(False)
            stamped = enable_timestamps(s) and stamped
        size_receive_buffer(rtp, _RCVBUF)
        return rtp, rtcp, stamped
    if port:
        raise ConfigError(f"cannot bind RTP to {host}:{port} and RTCP to port {port + 1}: {last}")
    raise ConfigError(f"no free even RTP port pair on {host}: {last}")


class RtpTransport:
    """An RTP/RTCP UDP socket pair driven by the asyncio loop."""

    def __init__(self) -> None:
        self.on_rtp: DatagramCallback = lambda data, addr, at: None
        self.on_rtcp: DatagramCallback = lambda data, addr, at: None
        self.clock: Callable[[], float] = time.monotonic  # the loop's clock once opened
        self.local_address: Address = ("", 0)
        self.datagrams_received = 0
        self.callback_errors = 0
        self.send_errors = 0
        self._socks: dict[bool, socket.socket] = {}  # rtcp? -> socket
        self._offset = 0.0  # wall clock minus the loop's clock, for the kernel's receive stamps
        self._offset_until = float("-inf")  # loop time until which _offset is taken as current
        self._loop: asyncio.AbstractEventLoop | None = None
        self.stamps_arrivals = False  # the kernel stamps each datagram's arrival (SO_TIMESTAMPNS)
        self._rtp_watched = False  # the RTP socket is read as datagrams arrive (else by receive_pending)

    @classmethod
    async def open(cls, host: str, port: int = 0) -> RtpTransport:
        """Bind RTP on an even ``port`` (0: any free even port) and RTCP on ``port + 1``."""
        if port % 2:
            raise ConfigError(f"RTP port must be even (RFC 3550 §11), got {port}")
        self = cls()
        loop = asyncio.get_running_loop()
        rtp_sock, rtcp_sock, self.stamps_arrivals = _bind_pair(host, port)
        self._loop = loop
        self.clock = loop.time
        self._socks = {False: rtp_sock, True: rtcp_sock}
        for rtcp, sock in self._socks.items():
            loop.add_reader(sock.fileno(), self._readable, rtcp)
        self._rtp_watched = True
        name = rtp_sock.getsockname()
        self.local_address = (str(name[0]), int(name[1]))
        return self

    def _readable(self, rtcp: bool) -> None:
        sock = self._socks.get(rtcp)
        if sock is None:
            return
        for _ in range(_READS_PER_WAKEUP):
            got = self._recv(sock)
            if got is None:
                return
            data, source, at, now = got
            self._deliver(rtcp, data, source, at)
            if now - at < BEHIND:
                return  # it came just now: the socket is most likely empty

    def _recv(self, sock: socket.socket) -> tuple[bytes, Address, float, float] | None:
        """The next datagram waiting on ``sock`` as (data, sender, arrival, loop time now), or
        None when none waits. An error queued on the socket (ICMP port unreachable and the
        like: the peer is not there yet) is counted and read past: what follows is still queued."""
        while True:
            try:
                data, ancillary, _flags, addr = sock.recvmsg(_MAX_DATAGRAM, ANCILLARY_SPACE)
            except (BlockingIOError, InterruptedError):
                return None
            except OSError as exc:
                self.send_errors += 1
                log.debug("RTP socket error: %s", exc)
                continue
            now = self.clock()
            return data, self._source(addr), self._arrival(ancillary, now), now

    def _source(self, addr: tuple[str, int] | tuple[str, int, int, int]) -> Address:
        """The sender as (host, port); an IPv6 address drops its flow info and scope id."""
        return addr if len(addr) == 2 else (str(addr[0]), int(addr[1]))

    def _arrival(self, ancillary: list[tuple[int, int, bytes]], now: float) -> float:
        """When the datagram arrived, on the loop's clock (never later than ``now``)."""
        if now >= self._offset_until:  # wall clock minus loop clock, read again each second
            self._offset = realtime_offset()
            self._offset_until = now + 1.0
        stamped = arrival_time(ancillary, self._offset)
        return now if stamped is None or stamped > now else stamped

    def _deliver(self, rtcp: bool, data: bytes, source: Address, at: float) -> None:
        self.datagrams_received += 1
        try:
            if rtcp or is_rtcp(data):
                self.on_rtcp(data, source, at)
            else:
                self.on_rtp(data, source, at)
        except Exception:  # a peer's datagram must never break the transport
            self.callback_errors += 1
            log.exception("RTP datagram handler failed for %d bytes from %s", len(data), source)

    def read_waiting(self, rtcp: bool, limit: int = _READS_PENDING) -> list[tuple[bytes, Address, float]]:
        """Datagrams waiting on the RTP (or RTCP) socket (at most ``limit``), with their arrival times."""
        sock = self._socks.get(rtcp)
        out: list[tuple[bytes, Address, float]] = []
        if sock is None:
            return out
        for _ in range(limit):
            got = self._recv(sock)
            if got is None:
                break
            out.append(got[:3])
        return out

    def read_rtp_on_arrival(self, on: bool) -> None:
        """Read the RTP socket as datagrams arrive (the default), or not (``on=False``): its
        owner then reads it on its own clock with :meth:`receive_pending`, one wake-up of the
        loop for every call's packet of a 20 ms tick instead of one per packet. Only worth it
        where the kernel stamps arrivals (:attr:`stamps_arrivals`): the datagrams keep the
        times they came. RTCP is always read on arrival."""
        sock = self._socks.get(False)
        if on == self._rtp_watched or sock is None or self._loop is None:
            return
        if on:
            self._loop.add_reader(sock.fileno(), self._readable, False)
        else:
            self._loop.remove_reader(sock.fileno())
        self._rtp_watched = on

    def receive_pending(self, *, rtcp: bool = True) -> int:
        """Deliver every datagram already waiting in both sockets (``rtcp=False``: the RTP
        socket only) now; returns how many."""
        got = 0
        for is_rtcp_socket in [k for k in self._socks if rtcp or not k]:
            for data, addr, at in self.read_waiting(is_rtcp_socket):
                self._deliver(is_rtcp_socket, data, addr, at)
                got += 1
        return got

    def _send(self, rtcp: bool, data: bytes, addr: Address) -> None:
        sock = self._socks.get(rtcp)
        if sock is None:
            return
        try:
            sock.sendto(data, addr)
        except (BlockingIOError, InterruptedError):  # the send buffer is full: RTP is lossy
            self.send_errors += 1
        except OSError as exc:
            self.send_errors += 1
            log.debug("RTP send to %s failed: %s", addr, exc)

    def send_rtp(self, data: bytes, addr: Address) -> None:
        self._send(False, data, addr)

    def send_rtcp(self, data: bytes, addr: Address) -> None:
        self._send(True, data, addr)

    def close(self) -> None:
        for sock in self._socks.values():
            if self._loop is not None and not self._loop.is_closed():
                self._loop.remove_reader(sock.fileno())
            sock.close()
        self._socks = {}
