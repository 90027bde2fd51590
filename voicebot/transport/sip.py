"""SIP transports over asyncio: UDP, TCP and TLS, IPv4 and IPv6 (RFC 3261 §18, §26.2.1).

The only socket code for SIP. A :class:`SipTransport` listens on one host for UDP and TCP on
one port (and TLS on another, when it has a certificate) and hands every received message to
``on_message(data, source)`` where ``source`` is an :class:`~voicebot.sip.transaction.TransportAddress`.
Stream transports live in :mod:`voicebot.transport.stream` (framing, connection limits and
timeouts); TLS settings in :mod:`voicebot.transport.tls`.

Responses to a request that came over TCP or TLS go back over the connection it came on
(§18.2.2): connections are kept by the peer's address, so sending to the source address reuses
it. Connections we open ourselves are kept by destination. Nothing a peer sends raises out of
here, and handler errors are logged at most once a second.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import socket
from collections.abc import Callable
from typing import Any

from voicebot.ratelog import RateLimitedLog
from voicebot.sip.message import Request, Response
from voicebot.sip.parser import SipParseError
from voicebot.sip.transaction import TransportAddress
from voicebot.transport.buffers import size_receive_buffer
from voicebot.transport.stream import ConnectionLimits, StreamHub
from voicebot.transport.tls import TlsConfig
from voicebot.transport.udp import UdpEndpoint

ANY_PORT_TRIES = 5  # port 0: fresh ports tried when the one UDP got is taken for TCP/TLS

log = logging.getLogger(__name__)

UDP_RECEIVE_BUFFER = 4 << 20  # a burst of a few thousand requests waits here, not on the floor

__all__ = ["SipTransport", "advertised_address", "format_hostport", "split_hostport"]

Received = bytes | Request | Response | SipParseError  # a datagram, or what a stream framed
MessageCallback = Callable[[Received, TransportAddress], None]
ErrorCallback = Callable[[TransportAddress, str], None]


def split_hostport(text: str, default_port: int = 5060) -> tuple[str, int]:
    """``host``, ``host:port``, ``[v6]:port`` or ``v6`` -> (host without brackets, port)."""
    text = text.strip()
    if text.startswith("["):
        end = text.find("]")
        if end < 0:
            raise ValueError(f"unterminated IPv6 reference in {text!r}")
        host, rest = text[1:end], text[end + 1 :]
        if rest.startswith(":"):
            return host, int(rest[1:])
        if rest:
            raise ValueError(f"bad host:port {text!r}")
        return host, default_port
    if text.count(":") == 1:
        host, port = text.rsplit(":", 1)
        return host, int(port)
    return text, default_port


def advertised_address(host: str) -> str:
    """The address to put in Via, Contact and SDP for a socket bound to ``host``.

    A wildcard bind (0.0.0.0 / ::) is replaced by the address the routing table would use
    to leave this machine (a UDP ``connect`` sends nothing); loopback when there is no route.
    """
    if host not in ("0.0.0.0", "::", ""):
        return host
    family = socket.AF_INET6 if host == "::" else socket.AF_INET
    probe = ("2001:db8::1", 9) if family == socket.AF_INET6 else ("192.0.2.1", 9)  # documentation nets
    try:
        with socket.socket(family, socket.SOCK_DGRAM) as s:
            s.connect(probe)
            return str(s.getsockname()[0])
    except OSError:
        return "::1" if family == socket.AF_INET6 else "127.0.0.1"


def format_hostport(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


class SipTransport:
    """UDP + TCP (+ TLS) listener on one host; ``send(data, dest)`` picks the transport from ``dest``."""

    def __init__(
        self,
        on_message: MessageCallback,
        on_error: ErrorCallback | None = None,
        *,
        tls: TlsConfig | None = None,
        limits: ConnectionLimits | None = None,
    ) -> None:
        self.on_message = on_message
        self.on_error = on_error
        self.tls = tls
        self.streams = StreamHub(self.deliver, limits)
        self._udp: UdpEndpoint | None = None
        self._pending: dict[TransportAddress, list[bytes]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._client_tls: Any = None
        self._ratelog = RateLimitedLog(log)
        self.addresses: dict[str, tuple[str, int]] = {}

    async def start(self, host: str, port: int, transports: tuple[str, ...] = ("udp", "tcp")) -> None:
        """Listen on every transport of ``transports``; UDP and TCP share one port. With port 0
        the port UDP was given may already be taken for TCP (or TLS on the next one) by another
        program, so another free port is tried, a few times, before the error is raised."""
        for attempt in range(ANY_PORT_TRIES):
            try:
                await self._listen(host, port, transports)
                return
            except OSError as exc:
                await self.close()
                self.addresses.clear()
                if port != 0 or exc.errno != errno.EADDRINUSE or attempt == ANY_PORT_TRIES - 1:
                    raise

    async def _listen(self, host: str, port: int, transports: tuple[str, ...]) -> None:
        if "udp" in transports:
            self._udp = UdpEndpoint.bind(host, port, self._datagram)
            size_receive_buffer(self._udp.sock, UDP_RECEIVE_BUFFER)
            port = self._udp.sockname[1]
            self.addresses["udp"] = (host, port)
        if "tcp" in transports:
            port = await self.streams.listen("tcp", host, port, None)
            self.addresses["tcp"] = (host, port)
        if "tls" in transports:
            tls = self.tls or TlsConfig()
            tls_port = tls.port if tls.port is not None else (port + 1 if port else 0)
            bound_tls = await self.streams.listen("tls", host, tls_port, tls.server_context())
            self.addresses["tls"] = (host, bound_tls)

    def _datagram(self, data: bytes, addr: tuple[str, int]) -> None:
        self.deliver(data, TransportAddress("udp", addr[0], addr[1]))

    def deliver(self, data: Received, source: TransportAddress) -> None:
        try:
            self.on_message(data, source)
        except Exception as exc:  # rule 5: nothing a peer sends may kill the transport
            self._ratelog.log("handler", logging.ERROR, "error while handling a message from %s", source, exc_info=exc)

    def send(self, data: bytes, dest: TransportAddress) -> None:
        name = dest.transport.lower()
        if name == "udp":
            if self._udp is None:
                self._fail(dest, "UDP is not enabled")
                return
            try:
                self._udp.sendto(data, (dest.host, dest.port))
            except (OSError, ValueError) as exc:
                self._fail(dest, str(exc))
            return
        key = TransportAddress(name, dest.host, dest.port)
        stream = self.streams.streams.get(key)
        if stream is not None:
            stream.write(data)
            return
        if key in self._pending:
            self._pending[key].append(data)
            return
        self._pending[key] = [data]
        task = asyncio.get_running_loop().create_task(self._connect(key))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _client_context(self) -> Any:
        if self._client_tls is None:
            self._client_tls = (self.tls or TlsConfig()).client_context()
        return self._client_tls

    async def _connect(self, key: TransportAddress) -> None:
        try:
            if key.transport not in ("tcp", "tls"):
                raise OSError(f"transport {key.transport} is not supported")
            ctx = self._client_context() if key.transport == "tls" else None
            proto = await self.streams.connect(key, ctx)
        except (TimeoutError, OSError) as exc:  # ssl.SSLError is an OSError (a failed verification too)
            self._pending.pop(key, None)
            self._fail(key, f"cannot connect to {format_hostport(key.host, key.port)}: {exc}")
            return
        for data in self._pending.pop(key, []):
            proto.write(data)

    def _fail(self, dest: TransportAddress, reason: str) -> None:
        self._ratelog.log("send", logging.INFO, "transport error to %s: %s", dest, reason)
        if self.on_error is not None:
            self.on_error(dest, reason)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await self.streams.close()
        if self._udp is not None:
            self._udp.close()
            self._udp = None
