"""The SIP UDP socket, read in bounded turns so a flood of requests never holds up the media clock.

asyncio's datagram transport hands over every datagram the socket yields in one loop turn (on
uvloop up to 32 or more back to back), and a new INVITE costs the SIP core about a millisecond of
Python: under a burst of thousands, one turn's reading held the loop for tens of milliseconds,
and the media clock's tick (a ``call_at`` on the same loop) waited behind it — every live call's
audio stalled at once. A :class:`UdpEndpoint` watches the socket with ``loop.add_reader`` and
stops reading after :data:`READ_BUDGET` seconds of handling; what is left stays queued in the
kernel (the receive buffer is sized for bursts) and is read on the next loop turn, after the
timers that fell due meanwhile. When nothing else needs the loop, the next turn comes at once,
so the budget bounds how long a tick can wait, not how fast SIP is served.

Sends go straight to the socket; a datagram the kernel cannot take now waits in a queue that a
writer callback flushes (SIP over UDP retransmits, but a response is not dropped for nothing).
"""

from __future__ import annotations

import asyncio
import collections
import logging
import socket
import time
from collections.abc import Callable

log = logging.getLogger(__name__)

READ_BUDGET = 0.004  # seconds of handling per loop turn, then the timers that fell due run
MAX_DATAGRAM = 65535
SEND_QUEUE_LIMIT = 4096  # datagrams waiting for the kernel; beyond this a send is dropped

DatagramHandler = Callable[[bytes, tuple[str, int]], None]


class UdpEndpoint:
    """One non-blocking UDP socket on the running loop: bounded reads, queued sends."""

    def __init__(self, sock: socket.socket, on_datagram: DatagramHandler, *, budget: float = READ_BUDGET) -> None:
        sock.setblocking(False)
        self.sock = sock
        self.on_datagram = on_datagram
        self.budget = budget
        self.turns_cut = 0  # read turns that ended on the budget with datagrams still queued
        self.send_dropped = 0
        self.sends_waited = 0  # datagrams that waited for the kernel to take them
        self._loop = asyncio.get_running_loop()
        self._fd = sock.fileno()
        self._queue: collections.deque[tuple[bytes, tuple[str, int]]] = collections.deque()
        # one receive buffer, reused: recvfrom(65535) would allocate 64 KB per datagram and shrink it
        self._buffer = bytearray(MAX_DATAGRAM)
        self._view = memoryview(self._buffer)
        self._loop.add_reader(self._fd, self._readable)

    @classmethod
    def bind(cls, host: str, port: int, on_datagram: DatagramHandler, *, budget: float = READ_BUDGET) -> UdpEndpoint:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_DGRAM)
        try:
            sock.bind((host, port))
        except OSError:
            sock.close()
            raise
        return cls(sock, on_datagram, budget=budget)

    @property
    def sockname(self) -> tuple[str, int]:
        name = self.sock.getsockname()
        return (str(name[0]), int(name[1]))

    def _readable(self) -> None:
        end = time.perf_counter() + self.budget
        recv, view = self.sock.recvfrom_into, self._view
        while True:
            try:
                size, addr = recv(view)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:  # an ICMP error queued on the socket: nothing to tie it to
                log.debug("udp error: %s", exc)
                continue
            self.on_datagram(bytes(view[:size]), (str(addr[0]), int(addr[1])))
            if time.perf_counter() >= end:
                self.turns_cut += 1  # the rest is read on the next loop turn
                return

    def sendto(self, data: bytes, addr: tuple[str, int]) -> None:
        """Send now, or queue behind what the kernel could not take yet."""
        if not self._queue:
            try:
                self.sock.sendto(data, addr)
                return
            except (BlockingIOError, InterruptedError):
                self._loop.add_writer(self._fd, self._writable)
        if len(self._queue) >= SEND_QUEUE_LIMIT:
            self.send_dropped += 1
            return
        self.sends_waited += 1
        self._queue.append((data, addr))

    def _writable(self) -> None:
        while self._queue:
            data, addr = self._queue[0]
            try:
                self.sock.sendto(data, addr)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                log.debug("udp send to %s failed: %s", addr, exc)
            self._queue.popleft()
        self._loop.remove_writer(self._fd)

    def close(self) -> None:
        if not self._loop.is_closed():
            self._loop.remove_reader(self._fd)
            self._loop.remove_writer(self._fd)
        self._queue.clear()
        self.sock.close()


__all__ = ["READ_BUDGET", "UdpEndpoint"]
