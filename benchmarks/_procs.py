"""Processes the load benchmarks start and measure: free ports, start/stop in their own
process group, wait until SIP answers, CPU seconds and RSS of a process tree, load average."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import IO, Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the repository: tests.procs

from tests import procs

CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


def free_port() -> int:
    """A port free for UDP and TCP on 127.0.0.1 whose odd neighbour is free for RTCP."""
    return procs.free_port(pair=True)


def start(argv: list[str], *, cwd: Path | None = None, output: IO[Any] | int | None = subprocess.DEVNULL,
          env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:  # fmt: skip
    """Start ``argv`` in its own process group (stopped with the group by :func:`stop`)."""
    return subprocess.Popen(
        argv, cwd=cwd, stdout=output, stderr=subprocess.STDOUT if output is not None else None,
        stdin=subprocess.DEVNULL, start_new_session=True, env=env,
    )  # fmt: skip


def stop(proc: subprocess.Popen[bytes]) -> None:
    """Stop a process :func:`start` started, with its group (SIGKILL after 10 s)."""
    procs.stop_process(proc, grace=10.0)


def wait_sip(port: int, timeout: float = 30.0) -> None:
    """Poll 127.0.0.1:``port`` with OPTIONS until any SIP response comes back."""
    end = time.monotonic() + timeout
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        s.settimeout(0.2)
        n = 0
        while time.monotonic() < end:
            n += 1
            probe = (
                f"OPTIONS sip:127.0.0.1:{port} SIP/2.0\r\n"
                f"Via: SIP/2.0/UDP 127.0.0.1:{s.getsockname()[1]};branch=z9hG4bKwait{n};rport\r\n"
                "Max-Forwards: 70\r\nFrom: <sip:p@127.0.0.1>;tag=1\r\nTo: <sip:127.0.0.1>\r\n"
                f"Call-ID: wait{n}@bench\r\nCSeq: {n} OPTIONS\r\nContent-Length: 0\r\n\r\n"
            ).encode()
            s.sendto(probe, ("127.0.0.1", port))
            try:
                if s.recv(65535).startswith(b"SIP/2.0"):
                    return
            except OSError:
                pass
    raise RuntimeError(f"nothing answers SIP on 127.0.0.1:{port}")


def tree(pid: int) -> list[int]:
    """``pid`` and all its descendants (Linux /proc)."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        with contextlib.suppress(OSError):
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as f:
                    todo.extend(int(c) for c in f.read().split())
    return out


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU seconds of ``pids`` so far (children that exited are not counted)."""
    total = 0
    for p in pids:
        with contextlib.suppress(OSError, IndexError, ValueError):
            with open(f"/proc/{p}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
    return total / CLK_TCK


def rss_bytes(pids: list[int]) -> int:
    total = 0
    for p in pids:
        with contextlib.suppress(OSError, IndexError, ValueError), open(f"/proc/{p}/statm") as f:
            total += int(f.read().split()[1]) * PAGE
    return total


def exit_on_sigterm() -> None:
    """Turn SIGTERM into SystemExit, so the ``finally`` blocks stop what the benchmark started."""

    def _exit(signum: int, frame: object) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, _exit)


def load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def ab_checkouts(variable: str) -> dict[str, dict[str, str]]:
    """Other checkouts to measure beside this one in the same run (A/B), named in the
    environment variable ``variable`` as ``name=/path[;VAR=value...][,name=/path...]``: for each
    name, the environment its server runs with (that checkout's ``voicebot`` and
    ``voicebot_codecs`` first on ``PYTHONPATH``, ahead of this checkout's editable install, and
    the ``VAR=value`` pairs given, e.g. ``hosts=$PWD;VOICEBOT_ASR_PROCESSES=1`` for this very
    code with a setting changed)."""
    out: dict[str, dict[str, str]] = {}
    for item in os.environ.get(variable, "").split(","):
        if "=" in item:
            name, rest = item.split("=", 1)
            path, *settings = rest.split(";")
            env = {"PYTHONPATH": os.pathsep.join([path, str(Path(path) / "codecs")])}
            env.update(setting.split("=", 1) for setting in settings if "=" in setting)
            out[name] = env
    return out
