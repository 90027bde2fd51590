"""The supervisor with real child processes: a tiny UDP responder stands in for a worker (it
answers any datagram with a SIP status line, which is all the readiness probe asks)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from collections.abc import Coroutine

import pytest

from tests.procs import free_port
from voicebot.workers.supervisor import ProcessSpec, Supervisor

RESPONDER = """
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", int(sys.argv[1])))
while True:
    _, peer = s.recvfrom(65535)
    s.sendto(b"SIP/2.0 200 OK\\r\\n\\r\\n", peer)
"""


def responder(name: str, port: int) -> ProcessSpec:
    return ProcessSpec(name, [sys.executable, "-c", RESPONDER, str(port)], ("127.0.0.1", port))


def others() -> set[asyncio.Task[object]]:
    return {t for t in asyncio.all_tasks() if t is not asyncio.current_task()}


def run(coro: Coroutine[None, None, None]) -> None:
    async def bounded() -> None:  # in the test's own task: others() sees only the supervisor's
        async with asyncio.timeout(60):
            await coro

    asyncio.run(bounded())


def test_a_killed_process_is_restarted_and_stop_leaves_no_task() -> None:
    async def main() -> None:
        lines: list[str] = []
        sup = Supervisor(lines.append, ready_timeout=10)
        spec = responder("w1", free_port())
        await sup.start(spec)
        assert spec.process is not None
        first = spec.process.pid
        os.kill(first, signal.SIGKILL)
        for _ in range(200):
            if spec.restarts and any("is back" in line for line in lines):
                break
            await asyncio.sleep(0.05)
        assert spec.restarts == 1 and spec.process.pid != first
        assert any("w1 exited with code -9; restarting" in line for line in lines)
        await sup.stop()
        assert spec.process.returncode is not None
        assert others() == set()

    run(main())


def test_a_process_that_exits_before_answering_fails_start() -> None:
    async def main() -> None:
        sup = Supervisor(lambda line: None, ready_timeout=10)
        spec = ProcessSpec("broken", [sys.executable, "-c", "raise SystemExit(3)"], ("127.0.0.1", free_port()))
        with pytest.raises(RuntimeError, match="broken exited with code 3 before it answered"):
            await sup.start(spec)
        await sup.stop()
        assert others() == set()

    run(main())


def test_cancelling_start_while_the_process_is_silent_leaves_no_waiter_and_stop_ends_the_rest() -> None:
    """A start that is given up on (the caller's timeout) must not leave its wait for readiness
    behind: the keeper goes on (it owns the process), and stop() ends it and the process."""

    async def main() -> None:
        sup = Supervisor(lambda line: None, ready_timeout=30)
        spec = ProcessSpec("silent", [sys.executable, "-c", "import time; time.sleep(60)"], ("127.0.0.1", free_port()))
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(sup.start(spec), 1.0)
        await asyncio.sleep(0)
        waiting = {t.get_coro().__qualname__ for t in others()}  # type: ignore[union-attr]
        assert "supervise silent" in {t.get_name() for t in others()} and "Event.wait" not in waiting
        await sup.stop()
        assert spec.process is not None and spec.process.returncode is not None
        assert others() == set()

    run(main())


WRITER = """
import json, os, socket, sys, threading, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", int(sys.argv[1])))

def write():
    # long lines reach the fd in pieces, as a big line or an unbuffered print does
    end, n = time.monotonic() + 1.5, 0
    while time.monotonic() < end:
        line = (json.dumps({"writer": sys.argv[2], "n": n, "pad": "x" * 6000}) + "\\n").encode()
        for k in range(0, len(line), 1000):
            os.write(1, line[k : k + 1000])
        n += 1

threading.Thread(target=write).start()
while True:
    _, peer = s.recvfrom(65535)
    s.sendto(b"SIP/2.0 200 OK\\r\\n\\r\\n", peer)
"""


def test_two_childrens_stdout_lines_reach_ours_whole(capfd: pytest.CaptureFixture[str]) -> None:
    """Two workers printing ``--json`` lines at once: every line on our stdout is one child's
    whole line (written straight to a shared stdout, their pieces interleave)."""

    async def main() -> None:
        sup = Supervisor(lambda line: None, ready_timeout=10)
        for name in ("a", "b"):
            port = free_port()
            await sup.start(ProcessSpec(name, [sys.executable, "-c", WRITER, str(port), name], ("127.0.0.1", port)))
        await asyncio.sleep(2.5)
        await sup.stop()
        assert others() == set()

    run(main())
    lines = capfd.readouterr().out.splitlines()
    reports = [json.loads(line) for line in lines]  # fails on a line that mixes two children's pieces
    assert {r["writer"] for r in reports} == {"a", "b"}
    for writer in ("a", "b"):  # each child's lines all came, in order
        numbers = [r["n"] for r in reports if r["writer"] == writer]
        assert numbers == list(range(len(numbers))) and len(numbers) > 10
