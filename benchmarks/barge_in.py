"""Barge-in under load: how often the interrupting word is recognised, and how fast the prompt stops.

The scenario is ``tests/integration/bot/test_voicebot_call.py``'s barge-in test: a bot reads a
long prompt on a real loopback call (SIP/UDP, RTP/Opus, espeak-ng both sides, pocketsphinx on
the bot); two seconds in, the caller says "cancel". A run passes when the prompt was cut
short and the bot heard "cancel". It runs ``--runs`` times (default 50) in ``--processes``
fresh processes (so the first, cold call of a process is in the sample too), while
``--hogs`` busy-looping processes (default: one per core) keep every core loaded.

Barge-in latency is read off the caller's own recording: from the first voiced frame of the
caller's word (as sent) to the last frame of the bot's prompt (as heard, by energy). Minus
the caller's own mean playout delay (its jitter buffer, from its RTP statistics) that is the
time from the caller's first voiced packet to the bot's last prompt packet on the wire. The
floor is what the detector must hear before it may act: ``start_frames`` speech frames
(60 ms) plus one 20 ms packet. Goal: p95 <= 200 ms (on the wire).

The bot hears speech onsets on its packets as they arrive (``MediaStream.watch_for_speech``),
not after its jitter buffer. ``bot_onset_to_stop_ms`` is the bot's own view of its part: from
the start of the first speech frame it detected (its packet's arrival, less its audio) to the
moment it stopped the prompt (the arrival of the packet that confirmed the speech).

Run: ``python benchmarks/barge_in.py [--runs 50] [--processes 5] [--hogs N]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import wave
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import write_results

from voicebot.agent import UserAgent
from voicebot.asr import get_engine
from voicebot.call import Call
from voicebot.media.endpoint import BargeInConfig
from voicebot.media.vad import Vad
from voicebot.progress import BargedIn
from voicebot.tts import Synthesizer
from voicebot.voice import Speech

PROMPT = (
    "Hello, this is the clinic calling about your appointment on Thursday. "
    "We wanted to remind you to bring your insurance card and to arrive ten minutes early. "
    "If you need to change anything, just tell me now."
)
FRAME = 320


async def one_call(record: Path) -> dict[str, Any]:
    speech = Speech(synthesizer=Synthesizer(voice="en-us"), asr=await asyncio.to_thread(get_engine, "pocketsphinx"))
    outcome: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()

    async def bot(call: Call) -> None:
        await call.answer()
        finished = await call.say(PROMPT)
        heard = await call.listen(["cancel", "yes", "no", "reschedule"], timeout=5)
        barge = next((e for e in call.events if isinstance(e, BargedIn)), None)
        outcome.set_result(
            {
                "cut_short": not finished,
                "heard": heard.phrase or heard.kind,
                "bot_onset_to_stop_s": None if barge is None else barge.at - barge.onset,
            }
        )
        await call.hangup()

    async with (
        UserAgent("127.0.0.1:0", user="bot", speech=speech) as bot_ua,
        UserAgent("127.0.0.1:0", user="caller") as caller_ua,
    ):
        bot_ua.on_call(bot)
        host, port = bot_ua.local_address
        call = await caller_ua.dial(f"sip:bot@{host}:{port}")
        if not await call.answered:
            return {"cut_short": False, "heard": "not answered"}
        call.record(record)
        word = await Synthesizer(voice="en-us", rate=150).synthesize("cancel")
        await asyncio.sleep(2.0)
        await call.play(np.concatenate([word, np.zeros(4800, np.int16)]))
        result = await asyncio.wait_for(outcome, 60)
        ended = await call.finished
    inbound = (ended.media_stats or {}).get("inbound-rtp", {})
    emitted = inbound.get("jitterBufferEmittedCount") or 0
    result["caller_playout_delay_s"] = inbound.get("jitterBufferDelay", 0.0) / emitted if emitted else 0.0
    return result


def barge_in_latency(path: Path) -> float | None:
    """Caller's first voiced frame (sent) -> the bot's last prompt frame (heard), seconds."""
    with wave.open(str(path), "rb") as w:
        pcm = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").reshape(-1, 2)
    vad = Vad(3)
    frames = len(pcm) // FRAME
    far = [int(np.abs(pcm[i * FRAME : (i + 1) * FRAME, 0].astype(np.int32)).max()) > 300 for i in range(frames)]
    near = [vad.is_speech(np.ascontiguousarray(pcm[i * FRAME : (i + 1) * FRAME, 1])) for i in range(frames)]
    onset = next((i for i in range(frames - 2) if near[i] and near[i + 1] and near[i + 2]), None)
    if onset is None:
        return None
    last = max((i for i in range(onset, frames) if far[i] and not any(far[i + 1 : i + 25])), default=None)
    return None if last is None else (last + 1 - onset) * FRAME / 16000


def child(runs: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(runs):
            wav = Path(tmp) / f"{i}.wav"
            t0 = time.process_time()
            result = asyncio.run(one_call(wav))
            result["cpu_s"] = round(time.process_time() - t0, 2)
            heard = barge_in_latency(wav) if wav.exists() else None
            result["heard_latency_s"] = heard
            result["wire_latency_s"] = None if heard is None else heard - result["caller_playout_delay_s"]
            print(json.dumps(result), flush=True)


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a live process (Linux /proc), None elsewhere."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def hog() -> None:
    while True:
        pass


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=50)
    ap.add_argument("--processes", type=int, default=5)
    ap.add_argument("--hogs", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--child", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--hog", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.hog:
        hog()
    if args.child:
        child(args.child)
        return
    me = [sys.executable, __file__]
    hogs = [subprocess.Popen([*me, "--hog"]) for _ in range(args.hogs)]
    results: list[dict[str, Any]] = []
    t0 = time.monotonic()
    load_start = os.getloadavg()
    hog_cpu: list[float | None] = []
    try:
        per = [args.runs // args.processes + (i < args.runs % args.processes) for i in range(args.processes)]
        for n in per:
            out = subprocess.run([*me, "--child", str(n)], capture_output=True, text=True, timeout=60 * n + 120)
            results.extend(json.loads(line) for line in out.stdout.splitlines() if line.startswith("{"))
            if out.returncode != 0:
                print(out.stderr[-2000:], file=sys.stderr)
    finally:
        hog_cpu = [cpu_seconds(h.pid) for h in hogs]
        for h in hogs:
            h.kill()
            h.wait()
    wall = time.monotonic() - t0
    passed = sum(1 for r in results if r["cut_short"] and r["heard"] == "cancel")
    latencies = sorted(1000 * r["wire_latency_s"] for r in results if r.get("wire_latency_s") is not None)
    heard_ms = sorted(1000 * r["heard_latency_s"] for r in results if r.get("heard_latency_s") is not None)
    floor_ms = (BargeInConfig().start_frames + 1) * 20
    bot_part = sorted(1000 * r["bot_onset_to_stop_s"] for r in results if r.get("bot_onset_to_stop_s") is not None)
    p95 = float(np.percentile(latencies, 95)) if latencies else None
    summary = {
        "runs": len(results),
        "processes": args.processes,
        "cpu_hogs": args.hogs,
        "passed": passed,
        "pass_rate": passed / len(results) if results else 0.0,
        "heard": {h: sum(1 for r in results if r["heard"] == h) for h in sorted({r["heard"] for r in results})},
        "barge_in_latency_ms": {
            "p50": statistics.median(latencies) if latencies else None,
            "p95": p95,
            "max": max(latencies) if latencies else None,
            "floor": floor_ms,
            "p95_over_floor": p95 / floor_ms if p95 is not None else None,
            "goal_p95": 200,
            "as_heard_by_the_caller_p95": float(np.percentile(heard_ms, 95)) if heard_ms else None,
        },
        "bot_onset_to_stop_ms": {
            "p50": statistics.median(bot_part) if bot_part else None,
            "p95": float(np.percentile(bot_part, 95)) if bot_part else None,
        },
        "bot_process_cpu_s_per_call": statistics.median(r["cpu_s"] for r in results) if results else None,
        "wall_s": round(wall, 1),
        # the machine is shared: its load, and the share of a core each hog actually got
        "loadavg_1m": {"start": load_start[0], "end": os.getloadavg()[0]},
        "hog_cpu_share": [None if c is None else round(c / wall, 2) for c in hog_cpu],
    }
    path = write_results("barge_in", summary)
    print(f"barge-in under {args.hogs} CPU hogs: {passed}/{len(results)} runs heard 'cancel' after cutting the prompt")
    print(f"  heard: {summary['heard']}")
    print(f"  barge-in latency ms: {summary['barge_in_latency_ms']}")
    print(f"  bot onset -> stop ms: {summary['bot_onset_to_stop_ms']}")
    print(f"  load {summary['loadavg_1m']}, hog CPU share {summary['hog_cpu_share']}")
    print(f"results in {path}")


if __name__ == "__main__":
    main()
