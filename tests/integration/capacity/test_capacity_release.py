"""Nothing per call outlives the call: finished calls leave the user agent, their media
streams, voices, bots, progress observers, tasks and sockets are gone, and a call that is
rejected never opens media sockets."""

from __future__ import annotations

import asyncio
import gc
import os
import time
import weakref
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from tests.interop.sip.conftest import Served, run_sipp
from voicebot.agent import UserAgent
from voicebot.bot import VoiceBot
from voicebot.call import Call
from voicebot.media.clock import MediaClock
from voicebot.media.stream import MediaStream
from voicebot.progress import CallEvent
from voicebot.sip.transaction import Timers
from voicebot.voice import Voice

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
        gc.collect()  # sockets an earlier test left to the collector close now, not mid-count
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


def _alive(*kinds: type) -> list[object]:
    gc.collect()
    return [o for o in gc.get_objects() if isinstance(o, kinds)]


async def test_calls_that_spoke_keyed_and_were_watched_leave_nothing_behind() -> None:
    """The call engine's objects go with the call: a bot on the answering side plays audio
    and reads a key (its voice reads the caller's frames and digits in tasks of its own), the
    caller watches every progress event; after the calls no Call, MediaStream, Voice or
    VoiceBot is left, nor a task, nor the observer."""
    bob = UserAgent("127.0.0.1:0", user="bob", timers=FAST)
    alice = UserAgent("127.0.0.1:0", user="alice", timers=FAST)
    keys: list[str] = []
    seen: list[str] = []
    refs: list[weakref.ref[object]] = []

    async def handler(call: Call) -> None:
        await call.answer()
        bot = VoiceBot(call)
        refs.append(weakref.ref(bot))
        await bot.call.play(np.zeros(3200, np.int16))  # 200 ms: the voice now hears the caller
        keys.append(await call.read_dtmf(1, timeout=5))
        await call.hangup()

    def watcher(event: CallEvent) -> None:
        seen.append(type(event).__name__)

    refs.append(weakref.ref(watcher))
    bob.on_call(handler)
    tasks_before = len(asyncio.all_tasks())
    kept = {id(o) for o in _alive(Call, MediaStream, Voice, VoiceBot)}  # other tests' objects (kept on purpose)
    async with alice, bob:
        host, port = bob.local_address
        for _ in range(3):
            call = await alice.dial(f"sip:bob@{host}:{port}")
            call.observe(watcher)
            assert await asyncio.wait_for(call.answered, 10)
            await asyncio.sleep(0.3)
            await call.send_dtmf("5")
            await asyncio.wait_for(call.finished, 10)
            del call
        await asyncio.sleep(0.3)
        assert keys == ["5", "5", "5"] and seen.count("Ended") == 3
        assert not alice.calls and not bob.calls
        assert len(asyncio.all_tasks()) == tasks_before
    del watcher, handler
    assert not [o for o in _alive(Call, MediaStream, Voice, VoiceBot) if id(o) not in kept]
    assert not [r() for r in refs if r() is not None]


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
    assert data["loop_lag"]["count"] > 0


def test_bulk_calls_each_do_what_one_dial_does(serve: Callable[..., Served]) -> None:
    """``dial --calls 3`` in one process: every call sends its keys and speaks its line, as a
    single ``dial`` would, and is hung up after it; the summary counts three answered calls."""
    import json
    import subprocess
    import sys

    s = serve("--json", "-q")
    done = subprocess.run(
        [sys.executable, "-m", "voicebot", "dial", s.uri, "--calls", "3", "--concurrency", "3", "--dtmf", "5",
         "--say", "hello there", "--json", "-q"],
        capture_output=True, text=True, timeout=90,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    summary = json.loads(done.stdout.strip().splitlines()[-1])["summary"]
    assert summary["calls"] == summary["answered"] == 3 and summary["by_exit_code"] == {"0": 3}
    deadline = time.monotonic() + 10
    while s.output().count('"call_id"') < 3 and time.monotonic() < deadline:
        time.sleep(0.1)
    reports = [json.loads(line) for line in s.output().splitlines() if line.startswith("{")]
    assert len(reports) == 3
    for report in reports:
        assert {"who": "dtmf", "text": "5"} in [{k: e[k] for k in ("who", "text")} for e in report["transcript"]]
        assert report["ended_by"] == "remote"  # the dialling side hung up after its line
