"""The people a test campaign calls, each reachable at a ``sip:`` URI on 127.0.0.1.

This is the one place that decides how a callee behaves; a persona callee
(``voicebot serve --persona P.yaml``) can replace any of these by changing one method.

* ``answers``       — ``voicebot serve`` answers at once and hangs up after ``talk`` seconds;
* ``busy``          — ``voicebot serve --reject 486``;
* ``rejects``       — ``voicebot serve --reject CODE`` (403 by default);
* ``never_answers`` — ``voicebot serve --answer-after 3600``: 180 Ringing until we CANCEL;
* ``unreachable``   — a port nobody listens on (no response: a network failure);
* ``opts_out``      — an in-process user agent that answers and, once the bot's question has
  been spoken, says the caller's words of the flow's own ``opt out`` conversation script
  (synthesised by espeak-ng, heard by the bot's recogniser), as ``voicebot demo`` does.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
import time
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import numpy as np

from tests.conftest import free_port
from tests.interop.sip.peers import die_with_parent, stop_process


class Callees:
    def __init__(self, workdir: Path, repo: Path) -> None:
        self.workdir = workdir
        self.repo = repo
        self._procs: list[tuple[subprocess.Popen[bytes], Path]] = []
        self._scripted: list[ScriptedCallee] = []

    # ------------------------------------------------------------------ kinds of callee
    def answers(self, talk: float = 1.5) -> str:
        return self._serve("--hangup-after", str(talk))

    def busy(self) -> str:
        return self._serve("--reject", "486")

    def rejects(self, code: int = 403) -> str:
        return self._serve("--reject", str(code))

    def never_answers(self) -> str:
        return self._serve("--answer-after", "3600")

    def unreachable(self) -> str:
        return f"127.0.0.1:{free_port()}"

    def opts_out(self, flow: Path, script: str = "opt out") -> str:
        callee = ScriptedCallee(flow, script)
        self._scripted.append(callee)
        return callee.start()

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
        for s in self._scripted:
            s.stop()


class ScriptedCallee:
    """A user agent in its own thread and event loop that answers every call with one of the
    flow's conversation scripts (the caller's side of it)."""

    def __init__(self, flow_path: Path, script: str) -> None:
        from voicebot.flow import Flow

        flow = Flow.load(flow_path)
        self.turns = next(s for s in flow.scripts if s.name == script).turns
        self.voice = flow.meta.voice or "en-us"
        self.answered = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> str:
        ready: Future[str] = Future()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._main(ready)), daemon=True)
        self._thread.start()
        return ready.result(30)

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(15)

    async def _main(self, ready: Future[str]) -> None:
        from voicebot.agent import UserAgent
        from voicebot.media.vad import Vad
        from voicebot.tts import Synthesizer

        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        synth = Synthesizer(voice=self.voice, rate=150)

        async def answer(call: Any) -> None:
            await call.answer()
            self.answered += 1
            frames = call.media.frames()
            vad = Vad(2)
            for turn in self.turns:
                if call.finished.done():
                    break
                await _prompt_end(frames, vad)
                if turn.get("caller") is not None:
                    pcm = await synth.synthesize(str(turn["caller"]))
                    call.media.play(np.concatenate([pcm, np.zeros(3200, np.int16)]))
            try:
                await asyncio.wait_for(asyncio.shield(call.finished), 20)
            except TimeoutError:
                await call.hangup()

        async with UserAgent("127.0.0.1:0", user="callee") as ua:
            ua.on_call(answer)
            host, port = ua.local_address
            ready.set_result(f"{host}:{port}")
            await self._stop.wait()


async def _prompt_end(frames: Any, vad: Any, silence_s: float = 0.8, limit_s: float = 20.0) -> None:
    """Return once the bot has spoken and then kept quiet for ``silence_s``."""
    loop = asyncio.get_running_loop()
    heard, quiet_since, deadline = False, None, loop.time() + limit_s
    async for frame in frames:
        now = loop.time()
        if vad.is_speech(frame):
            heard, quiet_since = True, None
        elif heard:
            quiet_since = quiet_since or now
            if now - quiet_since >= silence_s:
                return
        if now > deadline:
            return
