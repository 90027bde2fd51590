"""The people a test campaign calls, each reachable at a ``sip:`` URI on 127.0.0.1.

This is the one place that decides how a callee behaves; a persona callee
(``voicebot serve --persona P.yaml``, ``docs/personas.md``) can replace any of these by changing
one method.

* ``answers``       — ``voicebot serve`` answers at once and hangs up after ``talk`` seconds;
* ``busy``          — ``voicebot serve --reject 486``;
* ``rejects``       — ``voicebot serve --reject CODE`` (403 by default);
* ``never_answers`` — ``voicebot serve --answer-after 3600``: 180 Ringing until we CANCEL;
* ``unreachable``   — a port nobody listens on (no response: a network failure);
* ``opts_out``      — ``voicebot serve --persona opt_out.persona.yaml``: answers and, once the
  bot's question has been spoken, says "stop calling me" (espeak-ng, heard by the bot's
  recogniser), the caller's words of the flow's own ``opt out`` conversation script.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from tests.procs import die_with_parent, free_port, stop_process

HERE = Path(__file__).resolve().parent


class Callees:
    def __init__(self, workdir: Path, repo: Path) -> None:
        self.workdir = workdir
        self.repo = repo
        self._procs: list[tuple[subprocess.Popen[bytes], Path]] = []

    # ------------------------------------------------------------------ kinds of callee
    def answers(self, talk: float = 1.5) -> str:
        return self._serve("--hangup-after", str(talk))

    def busy(self, *, ring: float = 0.0) -> str:
        return self._serve("--reject", "486", "--answer-after", str(ring))

    def rejects(self, code: int = 403, *, ring: float = 0.0) -> str:
        return self._serve("--reject", str(code), "--answer-after", str(ring))

    def never_answers(self) -> str:
        return self._serve("--answer-after", "3600")

    def unreachable(self) -> str:
        return f"127.0.0.1:{free_port()}"

    def opts_out(self) -> str:
        return self._serve("--persona", str(HERE / "opt_out.persona.yaml"))

    # ------------------------------------------------------------------ plumbing
    def _serve(self, *args: str) -> str:
        port = free_port()
        log = self.workdir / f"callee-{port}.log"
        with log.open("wb") as fh:
            proc = subprocess.Popen(
                [sys.executable, "-m", "voicebot", "serve", "--listen", f"127.0.0.1:{port}", *args],
                stdout=fh, stderr=subprocess.STDOUT, cwd=self.repo, preexec_fn=die_with_parent,
            )
        self._procs.append((proc, log))
        return f"127.0.0.1:{port}"

    def wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        for proc, log in self._procs:
            while "listening on" not in log.read_text(errors="replace"):
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"a callee did not start:\n{log.read_text(errors='replace')}")
                time.sleep(0.05)

    def close(self) -> None:
        for proc, _ in self._procs:
            stop_process(proc)
