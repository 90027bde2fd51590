"""Keeping a handful of processes alive: the workers and the Kamailio in front of them.

A :class:`Supervisor` starts each :class:`ProcessSpec`, waits until it answers SIP OPTIONS
on its address, and restarts it when it exits while the supervisor is running (after 0.5 s,
doubling up to 30 s while it keeps dying young). Children get SIGTERM if the supervisor dies
(Linux ``PR_SET_PDEATHSIG``), and :meth:`Supervisor.stop` ends them with SIGTERM, then
SIGKILL after a grace period.

A child whose output is not sent elsewhere writes its stdout into a pipe of ours, and we copy
it to our stdout a whole line at a time, so two workers' ``--json`` lines never mix into one
(a child writing straight to a shared stdout splits a long line over several writes, and
another child's write can land between them). Its stderr (log lines) is ours.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import itertools
import logging
import os
import signal
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import IO, Any

from voicebot.transport.sip import format_hostport

log = logging.getLogger(__name__)

MIN_DELAY = 0.5
MAX_DELAY = 30.0
STABLE_AFTER = 60.0  # a process that ran this long has its restart delay reset
LINE_LIMIT = 1 << 24  # the longest stdout line copied from a child (a call's report is a few KB)
DRAIN = 2.0  # seconds to take a child's last lines after it exited

try:  # loaded before any fork: the pre-exec hook must not import or allocate
    _LIBC: ctypes.CDLL | None = ctypes.CDLL("libc.so.6", use_errno=True)
except OSError:  # not glibc Linux: children are still stopped by stop()
    _LIBC = None
_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    os.setsid()
    if _LIBC is not None:
        _LIBC.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


@dataclass
class ProcessSpec:
    """One supervised process and the SIP address that shows it is up."""

    name: str
    argv: list[str]
    address: tuple[str, int]
    output: IO[Any] | int | None = None  # where its stdout/stderr go (None: lines to our stdout)
    process: asyncio.subprocess.Process | None = field(default=None, repr=False)
    restarts: int = 0
    ready: asyncio.Event = field(default_factory=asyncio.Event, repr=False)


_probe_ids = itertools.count(1)


def _options_probe(host: str, port: int, local_port: int) -> bytes:
    n = next(_probe_ids)
    target = format_hostport(host, port)
    return (
        f"OPTIONS sip:{target} SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP {format_hostport(host, local_port)};branch=z9hG4bKsupervise{os.getpid()}x{n};rport\r\n"
        "Max-Forwards: 70\r\nFrom: <sip:supervisor@invalid>;tag=sv\r\n"
        f"To: <sip:{target}>\r\nCall-ID: supervise-{os.getpid()}-{n}\r\nCSeq: {n} OPTIONS\r\n"
        "Content-Length: 0\r\n\r\n"
    ).encode()


async def answers_options(host: str, port: int, timeout: float) -> bool:
    """True once something at ``host:port`` answers an OPTIONS (any SIP response) over UDP."""
    loop = asyncio.get_running_loop()
    got: asyncio.Future[None] = loop.create_future()

    class _Probe(asyncio.DatagramProtocol):
        def datagram_received(self, data: bytes, addr: Any) -> None:
            if data.startswith(b"SIP/2.0 ") and not got.done():
                got.set_result(None)

        def error_received(self, exc: Exception) -> None:  # port unreachable: not up yet
            pass

    transport, _ = await loop.create_datagram_endpoint(_Probe, remote_addr=(host, port))
    try:
        local_port = int(transport.get_extra_info("sockname")[1])
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            transport.sendto(_options_probe(host, port, local_port))
            with contextlib.suppress(TimeoutError):  # asyncio.timeout, unlike wait_for, never eats a cancel
                async with asyncio.timeout(0.2):
                    await asyncio.shield(got)
            if got.done():
                return True
        return False
    finally:
        transport.close()


async def _first(*aws: Any) -> set[asyncio.Future[Any]]:
    """Wait until the first of ``aws`` is done and return the done ones; the others are
    cancelled, also when the wait itself is (no task outlives the race)."""
    futures = {asyncio.ensure_future(a) for a in aws}
    try:
        done, _ = await asyncio.wait(futures, return_when=asyncio.FIRST_COMPLETED)
        return done
    finally:
        pending = {f for f in futures if not f.done()}
        for f in pending:
            f.cancel()
        if pending:
            await asyncio.wait(pending)


class Supervisor:
    """Starts, watches and restarts processes; ``report(line)`` says what happened."""

    def __init__(self, report: Callable[[str], None] | None = None, *, ready_timeout: float = 30.0) -> None:
        self.report = report or (lambda line: log.warning("%s", line))
        self.ready_timeout = ready_timeout
        self.specs: list[ProcessSpec] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = False

    async def start(self, spec: ProcessSpec) -> None:
        """Start ``spec`` and keep it running; returns once it answers OPTIONS (or raises)."""
        self.specs.append(spec)
        keeper = asyncio.create_task(self._keep(spec), name=f"supervise {spec.name}")
        self._tasks.append(keeper)
        await _first(spec.ready.wait(), asyncio.shield(keeper))
        if keeper.done():
            keeper.result()  # re-raise what ended the keeper
        if not spec.ready.is_set():
            raise RuntimeError(f"{spec.name} did not start")

    async def _spawn(self, spec: ProcessSpec) -> asyncio.subprocess.Process:
        output: dict[str, Any] = (
            {"stdout": spec.output, "stderr": asyncio.subprocess.STDOUT}
            if spec.output is not None
            # a Python child writes each line as it prints it (a pipe would hold its human-
            # readable lines back in a buffer); the lines are joined again here
            else {
                "stdout": asyncio.subprocess.PIPE,
                "limit": LINE_LIMIT,
                "env": {**os.environ, "PYTHONUNBUFFERED": "1"},
            }
        )
        return await asyncio.create_subprocess_exec(
            *spec.argv, stdin=asyncio.subprocess.DEVNULL, preexec_fn=_die_with_parent, **output
        )

    async def _keep(self, spec: ProcessSpec) -> None:
        loop = asyncio.get_running_loop()
        delay = MIN_DELAY
        first = True
        while not self._stopping:
            proc = spec.process = await self._spawn(spec)
            lines = asyncio.ensure_future(_copy_lines(proc.stdout)) if proc.stdout is not None else None
            try:
                started = loop.time()
                probe = asyncio.ensure_future(answers_options(*spec.address, self.ready_timeout))
                exited = asyncio.ensure_future(proc.wait())
                done = await _first(probe, exited)
                if probe in done and probe.result():
                    spec.ready.set()
                    if not first:
                        self.report(f"{spec.name} is back on {format_hostport(*spec.address)} (pid {proc.pid})")
                elif exited not in done:
                    self.report(f"{spec.name} does not answer on {format_hostport(*spec.address)}; restarting it")
                    await self._end(proc)
                code = await proc.wait()
                if lines is not None:  # its last lines (a child of its own may hold the pipe open)
                    await asyncio.wait([lines], timeout=DRAIN)
            finally:
                if lines is not None:
                    lines.cancel()
                    with contextlib.suppress(asyncio.CancelledError, Exception):
                        await lines
            if self._stopping:
                return
            if first and not spec.ready.is_set():
                raise RuntimeError(f"{spec.name} exited with code {code} before it answered")
            first = False
            spec.restarts += 1
            if loop.time() - started > STABLE_AFTER:
                delay = MIN_DELAY
            self.report(f"{spec.name} exited with code {code}; restarting in {delay:g} s")
            await asyncio.sleep(delay)
            delay = min(delay * 2, MAX_DELAY)

    @staticmethod
    async def _end(proc: asyncio.subprocess.Process, grace: float = 5.0) -> None:
        if proc.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            await asyncio.wait_for(proc.wait(), grace)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            await proc.wait()

    async def stop(self) -> None:
        """Stop every process (in reverse order of start) and the watchers."""
        self._stopping = True
        for spec in reversed(self.specs):
            if spec.process is not None:
                await self._end(spec.process)
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    async def __aenter__(self) -> Supervisor:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()


async def _copy_lines(stream: asyncio.StreamReader) -> None:
    """Copy a child's stdout to ours, one whole line per write, until it ends. The child is
    never left blocked on a full pipe: a line longer than the limit goes on in pieces, and
    when our stdout is gone its lines are read and dropped."""
    out: Any = sys.stdout.buffer
    while True:
        try:
            line = await stream.readuntil(b"\n")
        except asyncio.IncompleteReadError as end:  # the child's stdout closed
            line = end.partial + b"\n" if end.partial else b""
        except asyncio.LimitOverrunError as long:
            line = await stream.read(long.consumed)
        if not line:
            return
        if out is not None:
            try:
                out.write(line)
                out.flush()
            except (OSError, ValueError):  # a closed pipe or file on our side
                out = None


__all__ = ["ProcessSpec", "Supervisor", "answers_options"]
