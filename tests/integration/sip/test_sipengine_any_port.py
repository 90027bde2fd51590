"""Port 0: UDP and TCP share one port, and the port UDP was given can be taken for TCP by
another program at that moment; the transport then tries another free port."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import pytest

from voicebot.transport.sip import SipTransport
from voicebot.transport.stream import StreamHub


def test_port_zero_moves_on_when_the_udp_port_is_taken_for_tcp(monkeypatch: pytest.MonkeyPatch) -> None:
    squatters: list[socket.socket] = []
    real_listen = StreamHub.listen

    async def listen_after_a_squatter(self: StreamHub, name: str, host: str, port: int, ctx: Any) -> int:
        if not squatters:  # another program takes the TCP side of the first port, for real
            squatter = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            squatter.bind((host, port))
            squatter.listen(1)
            squatters.append(squatter)
        return await real_listen(self, name, host, port, ctx)

    monkeypatch.setattr(StreamHub, "listen", listen_after_a_squatter)

    async def main() -> tuple[dict[str, tuple[str, int]], bool]:
        transport = SipTransport(lambda data, source: None)
        try:
            await transport.start("127.0.0.1", 0)
            addresses = dict(transport.addresses)
        finally:
            await transport.close()
        # the first UDP socket was let go: its port can be bound again
        probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            probe.bind(("127.0.0.1", squatters[0].getsockname()[1]))
            freed = True
        except OSError:
            freed = False
        finally:
            probe.close()
        return addresses, freed

    try:
        addresses, freed = asyncio.run(main())
        taken = squatters[0].getsockname()[1]
    finally:
        for s in squatters:
            s.close()
    assert addresses["udp"][1] == addresses["tcp"][1] != taken
    assert freed


def test_a_taken_port_that_was_asked_for_is_an_error() -> None:
    squatter = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    squatter.bind(("127.0.0.1", 0))
    squatter.listen(1)
    port = squatter.getsockname()[1]

    async def main() -> None:
        transport = SipTransport(lambda data, source: None)
        try:
            await transport.start("127.0.0.1", port)
        finally:
            await transport.close()

    try:
        with pytest.raises(OSError):
            asyncio.run(main())
    finally:
        squatter.close()
