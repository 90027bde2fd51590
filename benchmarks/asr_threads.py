"""Do a recogniser's decoders run beside Python, or do they keep the GIL?

Run: ``.venv/bin/python benchmarks/asr_threads.py`` (about 40 s). Writes
``benchmarks/results/asr_threads.json``.

For each engine (pocketsphinx for English, Vosk for Korean), TURNS listening turns (a phrase
of espeak-ng speech between quiet, fed in 20 ms frames as a call feeds them, then finished)
are decoded twice in this process: one after another on one thread, then split over two
threads at once. ``speed_up`` is the first wall time over the second: 2.0 when two threads
decode in parallel (two cores free), about 1.0 or less when the decoder keeps the GIL. Beside
it, how late a thread that wakes every 20 ms (as the media clock does) gets meanwhile: with
a decoder that keeps the GIL, the event loop waits for it the same way. This is what
``AsrEngine.holds_gil`` records, and why such recognisers share one worker thread.

``pocketsphinx_hosts1`` / ``pocketsphinx_hosts2``: the same pocketsphinx turns decoded in one /
two decoder host processes (``voicebot.asr.host``, what ``VOICEBOT_ASR_PROCESSES`` turns on):
each thread waits on a pipe while a host decodes, so the ticker runs meanwhile and two hosts
decode side by side. ``cpu_s`` is this process's CPU alone (the hosts' is their own): what the
proxies cost the serving process. Measured on 2 cores (load 0.0-0.2): in process, two threads
0.94x as fast as one and the ticker late p95/max 11.5/16.1 ms (one thread); in two hosts, two
threads 1.7x as fast as one, the ticker late p95/max 0.1/0.5 ms, and this process spent 0.066
CPU s on 8 turns instead of 1.054 (one turn on one thread: 1.27-1.30 s of wall against 1.18 in
process, the pipe's round trips).
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import write_results  # noqa: E402
from _procs import load_average  # noqa: E402
from decoders import Ticker  # noqa: E402

from voicebot.asr import get_engine  # noqa: E402
from voicebot.asr.engine import AsrEngine, Band, recognize_pcm  # noqa: E402
from voicebot.asr.host import HostedEngine  # noqa: E402
from voicebot.tts import EspeakEngine  # noqa: E402

TURNS = 8
ENGLISH = ("en-us", ["yes", "no", "call me back later", "talk to an agent"], "call me back later")
KOREAN = ("ko", ["네", "아니요", "나중에 다시 전화 주세요", "상담원 연결해 주세요"], "나중에 다시 전화 주세요")
# case -> (its engine, made when the case runs; voice, grammar, what the caller says)
CASES: dict[str, tuple[Callable[[], AsrEngine], tuple[str, list[str], str]]] = {
    "pocketsphinx": (lambda: get_engine("pocketsphinx"), ENGLISH),
    "pocketsphinx_hosts1": (lambda: HostedEngine("pocketsphinx", None, 1), ENGLISH),
    "pocketsphinx_hosts2": (lambda: HostedEngine("pocketsphinx", None, 2), ENGLISH),
    "vosk": (lambda: get_engine("vosk"), KOREAN),
}


def turn_audio(voice: str, said: str) -> np.ndarray:
    tts = EspeakEngine(backend="espeak-ng")
    try:
        words = tts.synthesize(said, voice=voice, rate=175)
    finally:
        tts.close()
    quiet = np.zeros(6400, np.int16)  # 0.4 s either side, as a turn's lead-in and trailing silence
    return np.concatenate([quiet, words, quiet])


def decode(engine: AsrEngine, grammar: list[str], audio: np.ndarray, turns: int) -> None:
    for _ in range(turns):
        rec = engine.recognizer(grammar, band=Band.NARROW)
        try:
            recognize_pcm(rec, audio)  # in 20 ms frames, as a call feeds them
        finally:
            rec.close()


def warm(engine: AsrEngine, grammar: list[str], audio: np.ndarray) -> None:
    """Models, lexicon and decoder pools loaded: two recognisers at once (one per host)."""
    recs = [engine.recognizer(grammar, band=Band.NARROW) for _ in range(2)]
    for rec in recs:
        recognize_pcm(rec, audio)
    for rec in recs:
        rec.close()


def timed(engine: AsrEngine, grammar: list[str], audio: np.ndarray, threads: int) -> dict[str, float]:
    work = [threading.Thread(target=decode, args=(engine, grammar, audio, TURNS // threads)) for _ in range(threads)]
    cpu, wall = time.process_time(), time.perf_counter()
    with Ticker() as ticker:
        for t in work:
            t.start()
        for t in work:
            t.join()
        wall = time.perf_counter() - wall
        cpu = time.process_time() - cpu
    late = sorted(ticker.late)
    return {
        "wall_s": round(wall, 3),
        "cpu_s": round(cpu, 3),
        "ticker_p95_late_ms": round(1000 * late[int(0.95 * (len(late) - 1))], 1) if late else 0.0,
        "ticker_max_late_ms": round(1000 * late[-1], 1) if late else 0.0,
    }


def main() -> None:
    results: dict[str, Any] = {"turns": TURNS, "cores": len(os.sched_getaffinity(0)), "load_before": load_average()}
    for name, (make, (voice, grammar, said)) in CASES.items():
        engine = make()
        audio = turn_audio(voice, said)
        warm(engine, grammar, audio)
        one, two = timed(engine, grammar, audio, 1), timed(engine, grammar, audio, 2)
        if isinstance(engine, HostedEngine):
            engine.close()
        speed_up = round(one["wall_s"] / two["wall_s"], 2)
        results[name] = {
            "holds_gil": engine.holds_gil,
            "audio_s_per_turn": round(len(audio) / 16000, 2),
            "one_thread": one,
            "two_threads": two,
            "speed_up": speed_up,
        }
        print(
            f"{name}: {TURNS} turns of {len(audio) / 16000:.1f} s on one thread {one['wall_s']} s, on two "
            f"{two['wall_s']} s (speed-up {speed_up}; CPU {one['cpu_s']} / {two['cpu_s']} s); a 20 ms ticker "
            f"late p95/max {one['ticker_p95_late_ms']}/{one['ticker_max_late_ms']} ms and "
            f"{two['ticker_p95_late_ms']}/{two['ticker_max_late_ms']} ms; holds_gil={engine.holds_gil}",
            flush=True,
        )
    results["load_after"] = load_average()
    path = write_results("asr_threads", results)
    print(f"wrote {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
