"""Fixtures for SIP interop tests: `voicebot serve` as a subprocess, SIPp runs, Kamailio.

Every process started here is killed in teardown (process group, SIGTERM then SIGKILL).
Async tests run under ``asyncio.run`` through the hook below.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.interop.sip import peers
from tests.procs import free_port

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]
SCENARIOS_DIR = HERE / "scenarios"


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    if inspect.iscoroutinefunction(pyfuncitem.obj):
        args = {name: pyfuncitem.funcargs[name] for name in pyfuncitem._fixtureinfo.argnames}
        asyncio.run(asyncio.wait_for(pyfuncitem.obj(**args), 150))
        return True
    return None


@dataclass
class Served:
    port: int
    process: subprocess.Popen[bytes]
    log: Path
    user: str = "bot"
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def uri(self) -> str:
        return f"sip:{self.user}@127.0.0.1:{self.port}"

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self) -> str:
        peers.stop_process(self.process)
        return self.output()

    def wait_output(self, done: Callable[[str], bool], timeout: float = 30.0) -> str:
        """The output once ``done(output)`` holds (or the process exited, or ``timeout`` passed).
        A finished call's record follows the call's end: the work riding on the call (a last
        recognition, a recording being closed) finishes first, later on a busy machine."""
        deadline = time.monotonic() + timeout
        while not done(out := self.output()) and self.process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        return out


def voicebot_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "voicebot", *args]


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Callable[..., Served]]:
    """Start ``voicebot serve`` on a free port with extra arguments; stopped in teardown."""
    started: list[Served] = []

    def start(*args: str, user: str = "bot", port: int | None = None) -> Served:
        port = port or free_port()
        log = tmp_path / f"serve-{port}.log"
        fh = open(log, "wb")  # noqa: SIM115 - closed with the process
        proc = subprocess.Popen(
            voicebot_cmd("serve", "--listen", f"127.0.0.1:{port}", "--user", user, *args),
            stdout=fh,
            stderr=subprocess.STDOUT,
            cwd=REPO,
            preexec_fn=peers.die_with_parent,
        )
        fh.close()
        served = Served(port=port, process=proc, log=log, user=user)
        started.append(served)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if "listening on" in served.output():
                return served
            if proc.poll() is not None:
                break
            time.sleep(0.05)
        raise RuntimeError(f"voicebot serve did not start:\n{served.output()}")

    yield start
    for s in started:
        peers.stop_process(s.process)


@dataclass
class SippRun:
    returncode: int
    output: str
    errors: str


def run_sipp(args: list[str], cwd: Path, timeout: float = 40.0) -> SippRun:
    """Run SIPp in the foreground (``-nostdin``), return its exit code and logs."""
    cmd = peers.sipp_cmd(*args, "-nostdin", "-trace_err", "-timeout", f"{int(timeout) - 5}s", "-timeout_error")
    proc = subprocess.Popen(
        cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, preexec_fn=peers.die_with_parent
    )
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        peers.stop_process(proc)
        out, _ = proc.communicate()
    errors = "".join(p.read_text(errors="replace") for p in cwd.glob("*_errors.log"))
    return SippRun(proc.returncode, out.decode(errors="replace"), errors)


@contextlib.contextmanager
def sipp_background(args: list[str], cwd: Path) -> Iterator[subprocess.Popen[bytes]]:
    cmd = peers.sipp_cmd(*args, "-nostdin", "-trace_err")
    log = open(cwd / f"sipp-bg-{os.getpid()}-{time.monotonic_ns()}.log", "wb")  # noqa: SIM115
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=log, stderr=subprocess.STDOUT, preexec_fn=peers.die_with_parent)
    log.close()
    try:
        yield proc
    finally:
        peers.stop_process(proc)


@pytest.fixture
def kamailio(tmp_path: Path) -> Iterator[peers.Kamailio]:
    with peers.run_kamailio(tmp_path, free_port(), "kpass", "SHA-256") as k:
        yield k


@pytest.fixture
def kamailio_md5(tmp_path: Path) -> Iterator[peers.Kamailio]:
    # pyVoIP answers 401 on REGISTER but not 407 on INVITE: only REGISTER is challenged here
    with peers.run_kamailio(tmp_path, free_port(), "kpass", "MD5", auth_invite=False) as k:
        yield k


@pytest.fixture(scope="session")
def pjsua2_peer() -> Iterator[Any]:
    """One pjsua2 endpoint for the whole session (pjsua2 can be created once per process)."""
    pjpeer = pytest.importorskip("tests.interop.sip.pjpeer")
    peer = pjpeer.PjPeer(free_port())
    try:
        yield peer
    finally:
        peer.destroy()
