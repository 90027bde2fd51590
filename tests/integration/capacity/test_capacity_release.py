"""Nothing per call outlives the call: finished calls leave the user agent, their media
streams and sockets are gone, and a call that is rejected never opens media sockets."""

from __future__ import annotations

import asyncio
import gc
import os
import time
import weakref
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.interop.sip.conftest import Served, run_sipp
from voicebot.agent import UserAgent
from voicebot.call import Call
from voicebot.media.clock import MediaClock
from voicebot.sip.transaction import Timers

FAST = Timers(t1=0.05, t2=0.4, t4=0.5)


def open_fds(pid: int | str = "self") -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


async def test_finished_calls_and_their_media_are_released() -> None:
    bob = UserAgent("127.0.0.1:0", user="bob", timers=FAST)
    alice = UserAgent("127.0.0.1:0", user="alice", timers=FAST)
    refs: list[weakref.ref[object]] = []
    rejected_media: list[object] = []

    async def handler(call: Call) -> None:
        if call.remote_uri.startswith("sip:reject"):
            await call.reject(486)
            rejected_media.append(call.media)
            return
        await call.answer()
        refs.append(weakref.ref(call))
        refs.append(weakref.ref(call.media))  # type: ignore[arg-type]

    bob.on_call(handler)
    async with alice, bob:
        host, port = bob.local_address
        fds_before = open_fds()
        for i in range(5):
            call = await alice.dial(f"sip:bob@{host}:{port}", from_uri=f"sip:alice{i}@127.0.0.1")
            assert await asyncio.wait_for(call.answered, 10)
            await asyncio.sleep(0.1)
            await asyncio.wait_for(call.hangup(), 10)
            refs += [weakref.ref(call), weakref.ref(call.media)]  # type: ignore[arg-type]
            del call
        for i in range(3):
            call = await alice.dial(f"sip:bob@{host}:{port}", from_uri=f"sip:reject{i}@127.0.0.1")
            assert not await asyncio.wait_for(call.answered, 10)
            del call
        await asyncio.sleep(0.3)
        assert rejected_media == [None, None, None]  # no sockets for calls nobody answered
        assert not alice.calls and not bob.calls
        assert not bob.core.sessions and not alice.core.sessions
        assert len(MediaClock.for_loop()) == 0
        assert open_fds() == fds_before  # every RTP/RTCP socket closed
    gc.collect()
    alive = [r() for r in refs if r() is not None]
    assert not alive, alive


def test_a_served_burst_of_calls_leaves_no_socket_behind(serve: Callable[..., Served], tmp_path: Path) -> None:
    """Through the real path: SIPp calls `voicebot serve --echo` 200 times, some rejected by
    the call limit; afterwards the server holds exactly the sockets it held before."""
    s = serve("--echo", "--max-calls", "20", "--no-defence")  # one source at full speed
    before = open_fds(s.process.pid)
    run = run_sipp(["-sn", "uac", s.uri.split("@")[1], "-s", "bot", "-i", "127.0.0.1", "-m", "200", "-r", "100",
                    "-l", "40", "-d", "200"], tmp_path, 60)  # fmt: skip
    assert "Successful call" in run.output
    deadline = time.monotonic() + 15  # calls SIPp gave up on end by their own timers (BYE, media timeout)
    while open_fds(s.process.pid) != before and time.monotonic() < deadline:
        time.sleep(0.2)
    assert open_fds(s.process.pid) == before, run.output[-2000:]


@pytest.mark.parametrize("loop", ["asyncio", "uvloop"])
def test_serve_runs_on_either_loop(serve: Callable[..., Served], loop: str, tmp_path: Path,
                                   monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    monkeypatch.setenv("VOICEBOT_LOOP", loop)
    stats = tmp_path / "stats.json"
    s = serve("--echo", "--stats", str(stats))
    run = run_sipp(["-sn", "uac", s.uri.split("@")[1], "-s", "bot", "-i", "127.0.0.1", "-m", "3", "-d", "300"],
                   tmp_path, 30)  # fmt: skip
    assert run.returncode == 0, run.output[-2000:]
    s.process.terminate()
    s.process.wait(10)
    import json

    data = json.loads(stats.read_text())
    assert data["loop"] == loop and data["calls"] == 3
    assert data["loop_lag"]["count"] > 0 and data["media_tick_lateness"]["count"] > 0
