"""SIP over stream transports, TCP and TLS, with bounded resources (RFC 3261 §18.3, §26.2.1).

Messages are framed by :class:`~voicebot.sip.parser.StreamParser` (Content-Length) and handed
over parsed; a stream whose framing is lost is closed. Connections are kept by the peer's
address, so a response goes back over the connection its request came on (§18.2.2).

A read may hold many messages (a peer that pipelines requests, a backlog after a stall): they
are framed and handed over in bounded turns, as the SIP UDP socket is read
(:data:`~voicebot.transport.udp.READ_BUDGET` seconds of handling per connection and loop turn).
When a turn runs out, the connection stops reading (TCP pushes back on the peer) and the rest
is handed over on the next loop turn, after the timers that fell due meanwhile — the media
clock's tick among them — so a burst over TCP or TLS never holds every live call's audio.

Inbound connections are accepted by our own accept handler (not asyncio's ``create_server``),
so every refusal is ours to make and to log:

* at most :attr:`ConnectionLimits.total` inbound connections and
  :attr:`ConnectionLimits.per_source` from one address;
* no new connection near the file-descriptor limit: POSIX hands out the lowest free
  descriptor, so the accepted one's number is a lower bound of the descriptors in use, and
  ``fd_reserve`` of them are kept for the RTP sockets of new calls and for files. When
  ``accept`` itself fails for lack of descriptors, a spare one is given up to take the
  connection off the queue and close it, so the listener never spins;
* each refusal reason is logged at most once a second, never with a traceback;
* an inbound connection must deliver a whole message within ``header_timeout`` seconds of
  opening and of the first byte of every message (slowloris), and is closed after
  ``idle_timeout`` seconds without traffic; a TLS handshake gets ``header_timeout`` too.

Connections we open ourselves are not limited: their pace is ours.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
import resource
import socket
import ssl
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

from voicebot.errors import ConfigError
from voicebot.ratelog import RateLimitedLog
from voicebot.sip.message import Request, Response
from voicebot.sip.parser import MAX_MESSAGE_SIZE, SipParseError, StreamParser
from voicebot.sip.transaction import TransportAddress
from voicebot.transport.udp import READ_BUDGET

log = logging.getLogger(__name__)

Framed = Request | Response | SipParseError
Deliver = Callable[[Framed, TransportAddress], None]

_OUT_OF_FDS = (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM)


def fd_limit() -> int:
    """The soft limit on open file descriptors of this process."""
    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    return soft if soft != resource.RLIM_INFINITY and soft > 0 else 1 << 20


@dataclass(frozen=True, slots=True, kw_only=True)
class ConnectionLimits:
    """Bounds of inbound TCP/TLS connections (see the module docstring)."""

    max_connections: int = 0  # inbound connections in all; 0: half of what the fd limit leaves
    per_source: int = 32  # inbound connections from one address
    idle_timeout: float = 300.0  # seconds without traffic before an inbound connection is closed
    header_timeout: float = 10.0  # seconds a message (and a TLS handshake) may take to arrive whole
    fd_reserve: int = 100  # descriptors kept free for RTP sockets and files

    def __post_init__(self) -> None:
        if min(self.max_connections, self.per_source, self.fd_reserve) < 0:
            raise ConfigError("connection limits must not be negative")
        if self.idle_timeout <= 0 or self.header_timeout <= 0:
            raise ConfigError("connection timeouts must be positive")

    @property
    def total(self) -> int:
        if self.max_connections:
            return self.max_connections
        return max(16, (fd_limit() - self.fd_reserve) // 2)


class StreamConnection(asyncio.Protocol):
    """One TCP or TLS connection carrying SIP."""

    def __init__(self, hub: StreamHub, name: str, key: TransportAddress | None, *, inbound: bool) -> None:
        self.hub = hub
        self.name = name
        self.key = key
        self.inbound = inbound
        self.parser = StreamParser(MAX_MESSAGE_SIZE)
        self.transport: asyncio.Transport | None = None
        now = hub.now()
        self.opened = now
        self.last_activity = now
        self.partial_since: float | None = None
        self.got_message = False
        self.counted_host: str | None = None  # set while it counts against the inbound limits
        self._backlog = False  # messages wait for the next loop turn (a hand-over is scheduled)
        self._paused = False  # reading paused until the backlog is handed over

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # a stream transport (uvloop's TCP and TLS transports are not asyncio.Transport subclasses)
        self.transport = cast(asyncio.Transport, transport)
        if self.key is None:
            peer = transport.get_extra_info("peername")
            self.key = TransportAddress(self.name, str(peer[0]), int(peer[1]))
        self.hub.register(self)

    def data_received(self, data: bytes) -> None:
        self.last_activity = self.hub.now()
        self.parser.push(data)
        if not self._backlog:  # else a turn is already scheduled (and reading paused)
            self._hand_over()

    def _hand_over(self) -> None:
        """Frame and deliver what was received, for at most the hub's budget; a rest waits for
        the next loop turn with reading paused."""
        assert self.key is not None
        self._backlog = False
        if self.transport is None or self.transport.is_closing():
            return
        end = time.perf_counter() + self.hub.budget
        delivered = False
        while (item := self.parser.next_item()) is not None:
            delivered = self.got_message = True
            self.hub.deliver(item, self.key)
            if self.parser.broken:
                break
            if time.perf_counter() >= end and self.parser.buffered:
                self._backlog = True
                self.hub.turns_cut += 1
                break
        if self.parser.broken:
            self.hub.note("framing", logging.INFO, "closing %s: the SIP framing was lost", self.key)
            self.close()
            return
        now = self.hub.now()
        if self.parser.buffered:
            if self.partial_since is None or delivered:
                self.partial_since = now
        else:
            self.partial_since = None
        if self._backlog:
            if not self._paused:
                self._paused = True
                self.transport.pause_reading()
            self.hub.loop.call_soon(self._hand_over)
        elif self._paused:
            self._paused = False
            self.transport.resume_reading()

    def connection_lost(self, exc: Exception | None) -> None:
        self.hub.unregister(self)

    def write(self, data: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.last_activity = self.hub.now()
            self.transport.write(data)

    def close(self, *, abort: bool = False) -> None:
        if self.transport is not None and not self.transport.is_closing():
            if abort:
                self.transport.abort()
            else:
                self.transport.close()

    def deadline(self, limits: ConnectionLimits) -> float:
        """When this inbound connection is closed unless something arrives."""
        if not self.got_message:
            return self.opened + limits.header_timeout
        if self.partial_since is not None:
            return self.partial_since + limits.header_timeout
        return self.last_activity + limits.idle_timeout


class StreamHub:
    """The stream connections of one SIP transport: listeners, limits, timeouts, sending."""

    def __init__(
        self, deliver: Deliver, limits: ConnectionLimits | None = None, *, budget: float = READ_BUDGET
    ) -> None:
        self._deliver = deliver
        self.limits = limits or ConnectionLimits()
        self.budget = budget  # seconds of handling per connection and loop turn
        self.turns_cut = 0  # hand-over turns that ended on the budget with messages left
        self.streams: dict[TransportAddress, StreamConnection] = {}
        self._inbound: set[StreamConnection] = set()
        self._per_host: Counter[str] = Counter()
        self._listeners: list[_Listener] = []
        self._tasks: set[asyncio.Task[Any]] = set()
        self._sweeper: asyncio.TimerHandle | None = None
        self._ratelog = RateLimitedLog(log)
        self._loop: asyncio.AbstractEventLoop | None = None
        self.refused = 0  # inbound connections refused (limits, descriptors)
        self.timed_out = 0  # inbound connections closed by a timeout
        self.handshake_failures = 0

    # ------------------------------------------------------------------ plumbing

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            self._loop = asyncio.get_running_loop()
        return self._loop

    def now(self) -> float:
        return self.loop.time()

    def note(self, key: str, level: int, msg: str, *args: object) -> None:
        """A per-connection event, logged at most once a second per kind."""
        self._ratelog.log(key, level, msg, *args)

    def deliver(self, item: Framed, source: TransportAddress) -> None:
        self._deliver(item, source)

    def register(self, conn: StreamConnection) -> None:
        assert conn.key is not None
        self.streams[conn.key] = conn

    def unregister(self, conn: StreamConnection) -> None:
        if conn.key is not None and self.streams.get(conn.key) is conn:
            del self.streams[conn.key]
        self._release(conn)

    def _release(self, conn: StreamConnection) -> None:
        host = conn.counted_host
        if host is None:
            return
        conn.counted_host = None
        self._inbound.discard(conn)
        self._per_host[host] -= 1
        if self._per_host[host] <= 0:
            del self._per_host[host]

    def _spawn(self, coro: Any, on_done: Callable[[asyncio.Task[Any]], None]) -> None:
        task = self.loop.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        task.add_done_callback(on_done)

    @property
    def inbound_count(self) -> int:
        return len(self._inbound)

    # ------------------------------------------------------------------ listening

    async def listen(self, name: str, host: str, port: int, ssl_context: ssl.SSLContext | None) -> int:
        """Listen for ``name`` ("tcp"/"tls") connections; returns the bound port."""
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((host, port))
            sock.listen(128)
            sock.setblocking(False)
        except OSError:
            sock.close()
            raise
        listener = _Listener(self, sock, name, ssl_context)
        self._listeners.append(listener)
        listener.start()
        return int(sock.getsockname()[1])

    def accepted(self, conn: socket.socket, addr: Any, name: str, ssl_context: ssl.SSLContext | None) -> None:
        host = str(addr[0])
        limits = self.limits
        reason = None
        if conn.fileno() >= fd_limit() - limits.fd_reserve:
            reason = "near the file-descriptor limit"
        elif len(self._inbound) >= limits.total:
            reason = f"{limits.total} connections open"
        elif limits.per_source and self._per_host[host] >= limits.per_source:
            reason = f"{limits.per_source} connections from one address"
        if reason is not None:
            self.refused += 1
            conn.close()
            self.note("refuse:" + reason, logging.WARNING, "refusing %s connections: %s (from %s)", name, reason, host)
            return
        conn.setblocking(False)
        proto = StreamConnection(self, name, None, inbound=True)
        proto.counted_host = host
        self._inbound.add(proto)
        self._per_host[host] += 1
        self._arm_sweeper()
        kwargs: dict[str, Any] = {}
        if ssl_context is not None:
            kwargs = {"ssl": ssl_context, "ssl_handshake_timeout": limits.header_timeout}

        def done(task: asyncio.Task[Any]) -> None:
            if task.cancelled() or task.exception() is None:
                return
            exc = task.exception()
            if proto.transport is None:  # never connected: nothing else will release it
                self._release(proto)
                with contextlib.suppress(OSError):
                    conn.close()
            self.handshake_failures += 1
            self.note("handshake", logging.INFO, "%s connection from %s failed: %s", name, host, exc)

        self._spawn(self.loop.connect_accepted_socket(lambda: proto, conn, **kwargs), done)

    def out_of_descriptors(self, name: str) -> None:
        self.refused += 1
        self.note("fds", logging.WARNING, "refusing %s connections: no file descriptors left", name)

    # ------------------------------------------------------------------ timeouts

    def _arm_sweeper(self) -> None:
        if self._sweeper is None:
            tick = max(0.2, min(self.limits.header_timeout, self.limits.idle_timeout) / 4)
            self._sweeper = self.loop.call_later(tick, self._sweep)

    def _sweep(self) -> None:
        self._sweeper = None
        now = self.now()
        for conn in list(self._inbound):
            if conn.transport is not None and now >= conn.deadline(self.limits):
                self.timed_out += 1
                why = "idle" if conn.got_message and conn.partial_since is None else "incomplete message"
                self.note("timeout:" + why, logging.INFO, "closing %s: %s too long", conn.key, why)
                conn.close(abort=True)
                self._release(conn)
        if self._inbound:
            self._arm_sweeper()

    # ------------------------------------------------------------------ sending

    async def connect(
        self, key: TransportAddress, ssl_context: ssl.SSLContext | None, timeout: float = 10.0
    ) -> StreamConnection:
        kwargs: dict[str, Any] = {}
        if ssl_context is not None:
            kwargs = {"ssl": ssl_context, "server_hostname": key.host}
        _, proto = await asyncio.wait_for(
            self.loop.create_connection(
                lambda: StreamConnection(self, key.transport, key, inbound=False), key.host, key.port, **kwargs
            ),
            timeout=timeout,
        )
        return proto

    async def close(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            self._sweeper = None
        for listener in self._listeners:
            listener.stop()
        self._listeners.clear()
        for task in list(self._tasks):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        for conn in list(self.streams.values()) + list(self._inbound):
            conn.close(abort=True)
        self.streams.clear()
        self._inbound.clear()
        self._per_host.clear()


class _Listener:
    """Accepts on one listening socket with the loop's reader callback."""

    def __init__(self, hub: StreamHub, sock: socket.socket, name: str, ssl_context: ssl.SSLContext | None) -> None:
        self.hub = hub
        self.sock = sock
        self.name = name
        self.ssl_context = ssl_context
        self._spare: int | None = None
        self._retry: asyncio.TimerHandle | None = None
        self._reading = False

    def start(self) -> None:
        self._take_spare()
        self.hub.loop.add_reader(self.sock.fileno(), self._ready)
        self._reading = True

    def _take_spare(self) -> None:
        if self._spare is None:
            with contextlib.suppress(OSError):
                self._spare = os.open(os.devnull, os.O_RDONLY)

    def _ready(self) -> None:
        for _ in range(64):
            try:
                conn, addr = self.sock.accept()
            except (BlockingIOError, InterruptedError):
                return
            except ConnectionAbortedError:
                continue
            except OSError as exc:
                if exc.errno in _OUT_OF_FDS:
                    self._shed()
                else:
                    self.hub.note("accept", logging.WARNING, "accept on %s failed: %s", self.name, exc)
                return
            self.hub.accepted(conn, addr, self.name, self.ssl_context)

    def _shed(self) -> None:
        """Out of descriptors: use the spare one to take a connection off the queue and close it;
        without a spare, stop accepting for a moment instead of spinning."""
        self.hub.out_of_descriptors(self.name)
        if self._spare is not None:
            os.close(self._spare)
            self._spare = None
            with contextlib.suppress(OSError):
                conn, _ = self.sock.accept()
                conn.close()
            self._take_spare()
            if self._spare is not None:
                return
        if self._reading:
            self.hub.loop.remove_reader(self.sock.fileno())
            self._reading = False
            self._retry = self.hub.loop.call_later(0.5, self._resume)

    def _resume(self) -> None:
        self._retry = None
        self._take_spare()
        if not self._reading and self.sock.fileno() >= 0:
            self.hub.loop.add_reader(self.sock.fileno(), self._ready)
            self._reading = True

    def stop(self) -> None:
        if self._retry is not None:
            self._retry.cancel()
        if self._reading:
            self.hub.loop.remove_reader(self.sock.fileno())
            self._reading = False
        self.sock.close()
        if self._spare is not None:
            os.close(self._spare)
            self._spare = None
