"""``voicebot serve --workers N`` as a subprocess (Kamailio in front), for the worker tests.

The serve process is a session leader killed with its whole group on teardown (workers and
Kamailio included); its workers write ``--stats`` files when they stop.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.interop.sip import peers
from tests.interop.sip.conftest import SippRun, pytest_pyfunc_call, run_sipp, voicebot_cmd
from tests.procs import free_port
from voicebot.workers.argv import worker_path

__all__ = ["SippRun", "Workers", "pytest_pyfunc_call", "run_sipp"]

SCENARIOS = Path(__file__).resolve().parent / "scenarios"


@dataclass
class Workers:
    port: int
    count: int
    process: subprocess.Popen[bytes]
    log: Path
    stats: Path

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def worker_pids(self) -> list[int]:
        """The worker processes (children of the supervisor that run ``voicebot serve``)."""
        pids = []
        for task in os.listdir(f"/proc/{self.process.pid}/task"):
            with open(f"/proc/{self.process.pid}/task/{task}/children") as f:
                pids += [int(p) for p in f.read().split()]
        return [p for p in pids if b"voicebot\x00serve" in Path(f"/proc/{p}/cmdline").read_bytes()]

    def wait_for(self, text: str, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.output():
            if time.monotonic() > deadline:
                raise AssertionError(f"{text!r} not in the output:\n{self.output()}")
            time.sleep(0.1)

    def stop(self) -> list[dict[str, Any]]:
        """Stop cleanly (SIGTERM to the supervisor) and return each worker's statistics."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(30)
        return [json.loads(worker_path(self.stats, i).read_text()) for i in range(self.count)]


@pytest.fixture
def workers(tmp_path: Path) -> Iterator[Callable[..., Workers]]:
    started: list[Workers] = []

    def start(*args: str, count: int = 2) -> Workers:
        port = free_port()
        log = tmp_path / f"workers-{port}.log"
        stats = tmp_path / f"stats-{port}.json"
        with open(log, "wb") as fh:
            proc = subprocess.Popen(
                voicebot_cmd("serve", "--listen", f"127.0.0.1:{port}", "--user", "bot", "--workers", str(count),
                             "--stats", str(stats), *args),
                stdout=fh, stderr=subprocess.STDOUT, preexec_fn=peers.die_with_parent,
            )  # fmt: skip
        w = Workers(port=port, count=count, process=proc, log=log, stats=stats)
        started.append(w)
        w.wait_for("Kamailio dispatcher in front of", 60)
        return w

    yield start
    for w in started:
        peers.stop_process(w.process)
