"""What a pocketsphinx listener costs to set up: CPU, memory, and the stall it causes.

Run: ``.venv/bin/python benchmarks/decoders.py`` (about 10 s). Writes
``benchmarks/results/decoders.json``.

A grammar listener needs two decoders (the grammar search and the phone loop). Two ways
are measured, each in a fresh process so that RSS is its own:

* ``full``: two ``pocketsphinx.Decoder`` with the wheel's defaults (trigram language model,
  whole CMU dictionary), as every listener had before the lean decoders; free mode still
  builds these.
* ``lean``: ``PocketsphinxEngine.recognizer(grammar)`` as a call makes it: decoders with the
  phone language model and only the grammar's words.

For each: CPU-s and RSS per listener over four listeners built one after another (the first
lean one also loads the process's lexicon, reported apart), and how late a thread ticking
every 20 ms (as the media clock does) gets while they are built on another thread: the
build holds the GIL, so the ticker waits for it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import write_results  # noqa: E402
from _procs import load_average, rss_bytes  # noqa: E402

LISTENERS = 4
GRAMMAR = ["yes", "no", "call me back later", "talk to an agent", "cancel my appointment"]
TICK = 0.02


def _rss_mb() -> float:
    return rss_bytes([os.getpid()]) / 2**20


class Ticker:
    """A thread that wakes every 20 ms and records how late each wake-up was."""

    def __init__(self) -> None:
        self.late: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        due = time.monotonic()
        while not self._stop.is_set():
            due += TICK
            wait = due - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            now = time.monotonic()
            self.late.append(now - due)
            due = max(due, now)  # a late tick does not make the next ones look late

    def __enter__(self) -> Ticker:
        self._thread.start()
        time.sleep(0.2)
        self.late.clear()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def measure(mode: str) -> dict[str, Any]:
    """One mode, in this process (the parent runs each mode in a child)."""
    import pocketsphinx

    from voicebot.asr.pocketsphinx_engine import PocketsphinxEngine

    engine = PocketsphinxEngine()
    kept: list[Any] = []
    lexicon = {"cpu_s": 0.0, "rss_mb": 0.0}
    if mode == "lean":  # the lexicon is built once per process, at warm-up
        rss, cpu = _rss_mb(), time.process_time()
        engine.vocabulary_check(GRAMMAR)
        lexicon = {"cpu_s": round(time.process_time() - cpu, 3), "rss_mb": round(_rss_mb() - rss, 1)}

    def build() -> None:
        for _ in range(LISTENERS):
            if mode == "full":
                kept.extend(pocketsphinx.Decoder(loglevel="FATAL", allphone_ci=True) for _ in range(2))
            else:
                kept.append(engine.recognizer(GRAMMAR))

    rss, cpu, wall = _rss_mb(), time.process_time(), time.perf_counter()
    with Ticker() as ticker:
        worker = threading.Thread(target=build)
        worker.start()
        worker.join()
        wall = time.perf_counter() - wall
        cpu = time.process_time() - cpu
    late = sorted(ticker.late)
    return {
        "mode": mode,
        "listeners": LISTENERS,
        "cpu_s_per_listener": round(cpu / LISTENERS, 3),
        "rss_mb_per_listener": round((_rss_mb() - rss) / LISTENERS, 1),
        "wall_s": round(wall, 2),
        "lexicon_once": lexicon,
        "ticker_max_late_ms": round(1000 * late[-1], 1) if late else None,
        "ticker_p50_late_ms": round(1000 * late[len(late) // 2], 1) if late else None,
        "ticks": len(late),
    }


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--child":
        print(json.dumps(measure(sys.argv[2])))
        return
    results: dict[str, Any] = {}
    for mode in ("full", "lean"):
        out = subprocess.run(
            [sys.executable, __file__, "--child", mode], check=True, capture_output=True, text=True
        ).stdout
        results[mode] = json.loads(out.strip().splitlines()[-1])
        r = results[mode]
        print(
            f"{mode}: {r['cpu_s_per_listener']} CPU-s and {r['rss_mb_per_listener']} MB per listener; "
            f"a 20 ms ticker was up to {r['ticker_max_late_ms']} ms late while {LISTENERS} were built"
            + (
                f" (lexicon once: {r['lexicon_once']['cpu_s']} CPU-s, {r['lexicon_once']['rss_mb']} MB)"
                if mode == "lean"
                else ""
            ),
            flush=True,
        )
    results["load_average"] = load_average()
    path = write_results("decoders", results)
    print(f"wrote {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
