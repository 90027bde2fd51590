"""Fixtures for media interop tests with real peers (SIPp, pjsua2, ``voicebot serve``).

Every process started here runs in its own process group and is stopped on teardown.
"""

from __future__ import annotations

import asyncio
import inspect
import struct
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.likeness import aligned_correlation as aligned_correlation
from tests.likeness import read_channels as read_channels
from tests.likeness import windowed_correlation as windowed_correlation
from tests.procs import free_port as free_udp_port
from tests.procs import stop_process as stop_process

HERE = Path(__file__).resolve().parent
SCENARIOS = HERE / "scenarios"
SIPP_CAPTURES = Path("/usr/share/sip-tester")


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    """Run ``async def`` tests with ``asyncio.run`` (no pytest-asyncio needed)."""
    if inspect.iscoroutinefunction(pyfuncitem.obj):
        args = {name: pyfuncitem.funcargs[name] for name in pyfuncitem._fixtureinfo.argnames}
        asyncio.run(asyncio.wait_for(pyfuncitem.obj(**args), 120))
        return True
    return None


def free_even_port_pair() -> int:
    """An even UDP port whose odd neighbour is free too (SIPp's -mp uses both)."""
    return free_udp_port(pair=True)


class Serve:
    """``voicebot serve`` as a subprocess with its output in a log file."""

    def __init__(self, tmp: Path, *args: str) -> None:
        self.port = free_udp_port()
        self.log = tmp / f"serve-{self.port}.log"
        cmd = [sys.executable, "-m", "voicebot", "serve", "--listen", f"127.0.0.1:{self.port}", *args]
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 20
        while "listening" not in self.output():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                stop_process(self.proc)
                raise RuntimeError(f"voicebot serve did not start:\n{self.output()}")
            time.sleep(0.1)

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def stop(self) -> str:
        stop_process(self.proc)
        return self.output()


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[type[Serve]]:
    started: list[Serve] = []

    class _Serve(Serve):
        def __init__(self, *args: str) -> None:
            super().__init__(tmp_path, *args)
            started.append(self)

    yield _Serve
    for s in started:
        s.stop()


def sipp_exe() -> str:
    import shutil

    exe = shutil.which("sipp")
    if exe is None:
        pytest.skip("SIPp is not installed (Debian package sip-tester)")
    return exe


def run_sipp(
    scenario: str, target: str, *, timeout: float = 60, cwd: Path = SIPP_CAPTURES, media_port: int | None = None
) -> str:
    """Run one SIPp call of ``scenario`` against ``target`` (its RTP on ``media_port``, any
    free pair when not given); returns its output, raises on failure."""
    cmd = [
        sipp_exe(), "-sf", str(SCENARIOS / scenario), "-s", "bot", target,
        "-i", "127.0.0.1", "-p", str(free_udp_port()), "-mp", str(media_port or free_even_port_pair()),
        "-m", "1", "-nostdin", "-timeout", f"{int(timeout)}s", "-timeout_error",
    ]  # fmt: skip
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, timeout=timeout + 15, start_new_session=True)
    out = proc.stdout.decode(errors="replace") + proc.stderr.decode(errors="replace")
    if proc.returncode != 0:
        raise AssertionError(f"SIPp failed with {proc.returncode}:\n{out[-3000:]}")
    return out


def pcap_rtp(path: Path) -> list[bytes]:
    """RTP datagrams (UDP payloads) of a classic little-endian Ethernet pcap file."""
    data = path.read_bytes()
    pos, out = 24, []
    while pos + 16 <= len(data):
        _, _, incl, _ = struct.unpack_from("<IIII", data, pos)
        frame = data[pos + 16 : pos + 16 + incl]
        pos += 16 + incl
        ihl = (frame[14] & 0x0F) * 4
        out.append(frame[14 + ihl + 8 :])
    return out
