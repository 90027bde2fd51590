"""Live calls shielded from a flood of INVITEs.

On a real loop with real sockets: a backlog on the SIP socket, or on a TCP or TLS connection,
is read in bounded turns, with the media clock's ticks in between. Through the real path:
``voicebot serve --echo`` full at ``--max-calls`` keeps its live SIPp calls (PCMA speech
flowing, hung up by the caller, never by us) while a second SIPp floods it with INVITEs, every
one of which gets 503 with Retry-After; afterwards the server still takes a call. (How late
the media got under the flood is measured in ``benchmarks/capacity.py``, not asserted here.)"""

from __future__ import annotations

import asyncio
import itertools
import re
import socket
import ssl
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.interop.sip.conftest import Served, free_port, run_sipp, sipp_background
from voicebot import runtime
from voicebot.media.clock import MediaClock
from voicebot.sip.transaction import TransportAddress
from voicebot.transport.stream import Framed, StreamHub
from voicebot.transport.udp import UdpEndpoint

SCENARIOS = Path(__file__).parent / "scenarios"
BACKLOG = 80
HANDLING = 0.005  # seconds each datagram holds the loop: more than one read turn's budget


class Ticks:
    """A stream on the media clock that notes at each tick how many requests were handled by then."""

    def __init__(self, handled: list[Any]) -> None:
        self.handled = handled
        self.seen: list[int] = []

    def tick(self, now: float) -> None:
        self.seen.append(len(self.handled))


def assert_handled_in_turns(seen: list[int], cut: int) -> None:
    """The clock ticked while the backlog was being handled, and between two ticks only a few
    costly requests were: each handling takes at least HANDLING, so a 20 ms tick interval
    holds at most 20 / 5 of them (a busy machine only makes that fewer), where a reader without
    a budget handles its whole batch (uvloop: 32 or more datagrams; a TCP read or a 16 KB TLS
    record: some 60 of these requests) before the clock may tick."""
    assert [k for k in seen if 0 < k < BACKLOG], seen
    assert cut >= BACKLOG // 2
    steps = [b - a for a, b in itertools.pairwise(seen)]
    assert max(steps) <= 8, steps


@pytest.mark.parametrize("loop", ["asyncio", "uvloop"])
def test_a_sip_backlog_is_read_in_turns_with_the_media_clock_between(
    loop: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every queued datagram is delivered, in order, and the clock ticks while the backlog is
    still being read: each costly datagram ends its read turn, so between two ticks (20 ms
    apart) only the few that fit in 20 ms are handled, never a whole batch of them."""
    monkeypatch.setenv("VOICEBOT_LOOP", loop)

    async def main() -> tuple[list[bytes], list[int], int]:
        handled: list[bytes] = []

        def costly(data: bytes, addr: tuple[str, int]) -> None:
            time.sleep(HANDLING)  # holds the loop, as parsing a big request would
            handled.append(data)

        endpoint = UdpEndpoint.bind("127.0.0.1", 0, costly)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as peer:
            for n in range(BACKLOG):
                peer.sendto(b"request %d" % n, endpoint.sockname)
        ticks = Ticks(handled)
        clock = MediaClock.for_loop()
        clock.register(ticks)
        while len(handled) < BACKLOG:
            await asyncio.sleep(0.02)
        clock.unregister(ticks)
        endpoint.close()
        return handled, ticks.seen, endpoint.turns_cut

    handled, seen, cut = runtime.run(main())
    assert handled == [b"request %d" % n for n in range(BACKLOG)]
    assert_handled_in_turns(seen, cut)


def _options(n: int) -> bytes:
    return (
        f"OPTIONS sip:bot@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:9;branch=z9hG4bK-{n}\r\n"
        f"From: <sip:p@127.0.0.1>;tag={n}\r\nTo: <sip:bot@127.0.0.1>\r\nCall-ID: backlog-{n}\r\n"
        f"CSeq: {n + 1} OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
    ).encode()


@pytest.mark.parametrize("loop", ["asyncio", "uvloop"])
@pytest.mark.parametrize("name", ["tcp", "tls"])
def test_a_sip_backlog_on_a_stream_is_handed_over_in_turns_with_the_media_clock_between(
    name: str, loop: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same over TCP and TLS: a peer pipelines a backlog of requests on one connection (a
    read of many messages at once); every one is delivered, in order, and the media clock
    ticks between the costly ones instead of after the whole read."""
    monkeypatch.setenv("VOICEBOT_LOOP", loop)
    server_ctx: ssl.SSLContext | None = None
    client_ctx: ssl.SSLContext | None = None
    if name == "tls":
        trustme = pytest.importorskip("trustme", reason="trustme is a test dependency")
        ca = trustme.CA()
        server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ca.issue_cert("127.0.0.1").configure_cert(server_ctx)
        client_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ca.configure_trust(client_ctx)
    backlog = b"".join(_options(n) for n in range(BACKLOG))

    def pipeline(port: int, done: asyncio.Event, loop: asyncio.AbstractEventLoop) -> None:
        """The peer: connects, writes the whole backlog at once, waits until it was handled."""
        with socket.create_connection(("127.0.0.1", port)) as raw:
            conn = client_ctx.wrap_socket(raw, server_hostname="127.0.0.1") if client_ctx else raw
            conn.sendall(backlog)
            asyncio.run_coroutine_threadsafe(done.wait(), loop).result(60)

    async def main() -> tuple[list[str], list[int], int]:
        handled: list[str] = []

        def costly(item: Framed, source: TransportAddress) -> None:
            time.sleep(HANDLING)  # holds the loop, as handling a big request would
            assert not isinstance(item, Exception), item
            handled.append(item.call_id)
            if len(handled) == BACKLOG:
                done.set()

        done = asyncio.Event()
        hub = StreamHub(costly)
        port = await hub.listen(name, "127.0.0.1", 0, server_ctx)
        ticks = Ticks(handled)
        clock = MediaClock.for_loop()
        clock.register(ticks)
        try:
            await asyncio.wait_for(asyncio.to_thread(pipeline, port, done, asyncio.get_running_loop()), 60)
        finally:
            clock.unregister(ticks)
            await hub.close()
        return handled, ticks.seen, hub.turns_cut

    handled, seen, cut = runtime.run(main())
    assert handled == [f"backlog-{n}" for n in range(BACKLOG)]
    assert_handled_in_turns(seen, cut)


def _counter(output: str, label: str) -> int:
    m = re.search(rf"{label}\s*\|\s*\d+\s*\|\s*(\d+)", output)
    assert m is not None, output[-2000:]
    return int(m.group(1))


def test_live_calls_stay_up_while_a_flood_of_invites_gets_503(serve: Callable[..., Served], tmp_path: Path) -> None:
    live, flood = 4, 600
    s = serve("--echo", "-q", "--max-calls", str(live), "--no-defence")  # one SIPp source floods
    target = s.uri.split("@")[1]
    common = ["-s", "bot", "-i", "127.0.0.1", "-max_socket", "5000"]
    calls = tmp_path / "live"
    calls.mkdir()
    with sipp_background(["-sf", str(SCENARIOS / "live_call.xml"), target, *common, "-p", str(free_port()),
                          "-mp", str(free_port()), "-m", str(live), "-l", str(live), "-r", "50",
                          "-trace_stat", "-stf", str(calls / "stats.csv"), "-fd", "1"], calls) as callers:  # fmt: skip
        time.sleep(1.5)  # the live calls are up and the server is full
        burst = tmp_path / "flood"
        burst.mkdir()
        got = run_sipp(["-sf", str(SCENARIOS / "flood_503.xml"), target, *common, "-p", str(free_port()),
                        "-m", str(flood), "-l", str(flood), "-r", "600"], burst, 60)  # fmt: skip
        assert got.returncode == 0, got.output[-3000:] + got.errors[-2000:]
        assert _counter(got.output, "Successful call") == flood  # each its 503 with Retry-After
        assert _counter(got.output, "Failed call") == 0
        callers.wait(30)
    assert callers.returncode == 0, (calls / "stats.csv").read_text()[-2000:]
    # the live calls all ended by the caller's BYE: SIPp fails a call on a BYE it did not send
    stats = (calls / "stats.csv").read_text().splitlines()
    header, last = stats[0].split(";"), stats[-1].split(";")
    assert int(last[header.index("SuccessfulCall(C)")]) == live
    assert int(last[header.index("FailedCall(C)")]) == 0
    # the slots came back: the server takes a call again
    again = tmp_path / "again"
    again.mkdir()
    one = run_sipp(["-sn", "uac", target, *common, "-p", str(free_port()), "-m", "1", "-d", "200"], again, 30)
    assert one.returncode == 0, one.output[-2000:] + s.output()[-2000:]
    assert "Traceback" not in s.output()


async def test_sends_the_kernel_cannot_take_now_wait_and_go_out_in_order() -> None:
    """A peer that does not read fills its queue (a local datagram socket, where the sender
    sees that as EAGAIN): what is sent meanwhile waits and leaves in order once it reads."""
    name = f"\0voicebot-udp-test-{time.monotonic_ns()}"
    slow = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    slow.bind(name)
    slow.setblocking(False)
    sender = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    endpoint = UdpEndpoint(sender, lambda data, addr: None)
    to: Any = name  # a local socket's address is its name, not (host, port)
    try:
        for n in range(500):
            endpoint.sendto(b"response %d" % n, to)
        got: list[bytes] = []
        while len(got) < 500:
            try:
                got.append(slow.recv(100))
            except BlockingIOError:
                await asyncio.sleep(0.01)  # the endpoint's writer flushes what waited
        assert got == [b"response %d" % n for n in range(500)]
        assert endpoint.sends_waited > 0 and endpoint.send_dropped == 0
    finally:
        endpoint.close()
        slow.close()
