"""SIP transports over asyncio: UDP and TCP, IPv4 and IPv6 (RFC 3261 §18).

The only socket code for SIP. A :class:`SipTransport` listens on one host and port for UDP
and TCP at once and hands every received message to ``on_message(data, source)`` where
``source`` is an :class:`~voicebot.sip.transaction.Address`. Stream transports are framed
here by :class:`~voicebot.sip.message.StreamParser` (§18.3: Content-Length) and handed over
parsed; a stream whose framing is lost (no or bad Content-Length, larger than
:data:`MAX_MESSAGE`) is closed.

Responses to a request that came over TCP go back over the connection it came on (§18.2.2):
connections are kept by the peer's address, so sending to the source address reuses it.
Connections we open ourselves are kept by destination. TLS slots in as one more
``transport`` name with an ``ssl`` context on the same stream path.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Callable
from typing import Any

from voicebot.sip.message import Request, Response, SipParseError, StreamParser
from voicebot.sip.transaction import Address
from voicebot.transport.buffers import size_receive_buffer

log = logging.getLogger(__name__)

MAX_MESSAGE = 65535
UDP_RECEIVE_BUFFER = 4 << 20  # a burst of a few thousand requests waits here, not on the floor

Received = bytes | Request | Response | SipParseError  # a datagram, or what a stream framed
MessageCallback = Callable[[Received, Address], None]
ErrorCallback = Callable[[Address, str], None]


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


class _Udp(asyncio.DatagramProtocol):
    def __init__(self, owner: SipTransport) -> None:
        self.owner = owner

    def datagram_received(self, data: bytes, addr: tuple[Any, ...]) -> None:
        self.owner._deliver(data, Address("udp", str(addr[0]), int(addr[1])))

    def error_received(self, exc: Exception) -> None:  # ICMP errors: nothing to tie them to
        log.debug("udp error: %s", exc)


class _Stream(asyncio.Protocol):
    def __init__(self, owner: SipTransport, transport_name: str, key: Address | None = None) -> None:
        self.owner = owner
        self.name = transport_name
        self.parser = StreamParser(MAX_MESSAGE)
        self.key = key
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        if self.key is None:
            peer = transport.get_extra_info("peername")
            self.key = Address(self.name, str(peer[0]), int(peer[1]))
        self.owner._streams[self.key] = self

    def data_received(self, data: bytes) -> None:
        assert self.key is not None
        for item in self.parser.events(data):
            self.owner._deliver(item, self.key)
        if self.parser.broken and self.transport is not None:
            log.info("closing %s: the SIP framing was lost", self.key)
            self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        if self.key is not None and self.owner._streams.get(self.key) is self:
            del self.owner._streams[self.key]

    def write(self, data: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)


class SipTransport:
    """UDP + TCP listener on one address; ``send(data, dest)`` picks the transport from ``dest``."""

    def __init__(self, on_message: MessageCallback, on_error: ErrorCallback | None = None) -> None:
        self.on_message = on_message
        self.on_error = on_error
        self._udp: asyncio.DatagramTransport | None = None
        self._servers: list[asyncio.Server] = []
        self._streams: dict[Address, _Stream] = {}
        self._pending: dict[Address, list[bytes]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self.addresses: dict[str, tuple[str, int]] = {}

    async def start(self, host: str, port: int, transports: tuple[str, ...] = ("udp", "tcp")) -> None:
        loop = asyncio.get_running_loop()
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        if "udp" in transports:
            udp, _ = await loop.create_datagram_endpoint(lambda: _Udp(self), local_addr=(host, port), family=family)
            self._udp = udp
            size_receive_buffer(udp.get_extra_info("socket"), UDP_RECEIVE_BUFFER)
            bound = udp.get_extra_info("sockname")
            port = int(bound[1])
            self.addresses["udp"] = (host, port)
        if "tcp" in transports:
            server = await loop.create_server(
                lambda: _Stream(self, "tcp"),
                host=host,
                port=port,
                family=family,
                reuse_address=True,
            )
            self._servers.append(server)
            bound = server.sockets[0].getsockname()
            self.addresses["tcp"] = (host, int(bound[1]))

    def _deliver(self, data: Received, source: Address) -> None:
        try:
            self.on_message(data, source)
        except Exception:  # rule 5: nothing a peer sends may kill the transport
            log.exception("error while handling a message from %s", source)

    def send(self, data: bytes, dest: Address) -> None:
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
        key = Address(name, dest.host, dest.port)
        stream = self._streams.get(key)
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

    async def _connect(self, key: Address) -> None:
        loop = asyncio.get_running_loop()
        try:
            if key.transport != "tcp":
                raise OSError(f"transport {key.transport} is not supported yet")
            _, proto = await asyncio.wait_for(
                loop.create_connection(lambda: _Stream(self, key.transport, key), key.host, key.port),
                timeout=10,
            )
        except (TimeoutError, OSError) as exc:
            self._pending.pop(key, None)
            self._fail(key, f"cannot connect to {format_hostport(key.host, key.port)}: {exc}")
            return
        for data in self._pending.pop(key, []):
            proto.write(data)

    def _fail(self, dest: Address, reason: str) -> None:
        log.info("transport error to %s: %s", dest, reason)
        if self.on_error is not None:
            self.on_error(dest, reason)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        for stream in list(self._streams.values()):
            if stream.transport is not None:
                stream.transport.close()
        self._streams.clear()
        for server in self._servers:
            server.close()
            with contextlib.suppress(Exception):
                await server.wait_closed()
        self._servers.clear()
        if self._udp is not None:
            self._udp.close()
            self._udp = None
