"""Turn latency between two processes: the caller stops talking -> the bot's answer starts.

The bot is ``voicebot dial --flow``: a one-question flow (``Yes or no?``, looping on yes) so a
single call holds many turns; the caller is ``voicebot serve --persona``, which answers
"yes" ``--turns`` times (default 100) after each prompt, then "no". SIP/UDP and RTP/Opus on
loopback, espeak-ng on both sides, pocketsphinx on the bot. Everything the flow says is
rendered before the call (the first turn is timed like the rest).

The latency is read off the caller's own recording (not what the bot reports): from the end
of the caller's word as sent (channel 1) to the start of the bot's reply as heard (channel 0,
first frame above the noise). Subtracting the caller's mean playout delay (its jitter buffer,
from its RTP statistics) gives the latency on the wire, the figure the goal (p95 <= 300 ms)
is about. The floor is what the endpointer must hear before it may end the turn (the
``early_silence`` window once the partial result spells an expected phrase) plus one 20 ms
packet. The wire figure is broken down, in the order a turn passes: how long after the
words' loud end the bot's endpointer still hears speech (its speech test run over the
caller's sent channel), the bot's jitter buffer (mean playout delay), then from the bot's own
report endpointing, the recogniser's backlog, the final ASR result and flow + TTS until the
first audio is queued, the prompt's quiet start, and what is left (sending, Opus, loopback).
The jitter buffers' targets and the media clocks' lateness (event-loop stalls) are reported
beside them, with the load average before and after.

Run: ``python benchmarks/turn_latency.py [--turns 100]``; compare changes in runs back to back
(the machine's load moves the result by tens of milliseconds).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import wave
from dataclasses import fields
from pathlib import Path
from typing import Any

import numpy as np
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import write_results

from voicebot.media.endpoint import EndpointConfig
from voicebot.media.vad import Vad
from voicebot.tts.engine import DEFAULT_RATE
from voicebot.tts.espeak import EspeakEngine
from voicebot.voice import Speech

FLOW = {
    "flow": "turn_latency",
    "description": "One short question, asked again after every yes (a benchmark of turn latency).",
    "language": "en",
    "voice": "en-us",
    "asr": "grammar",
    "max_turns": 1000,
    "defaults": {"timeout": 8, "no_input": {"limit": 2}, "no_match": {"limit": 5}},
    "slots": {"answer": {"type": "yesno"}},
    "start": "ask",
    "states": {
        "ask": {"ask": "Yes or no?", "on": {"yes": "ask", "no": "bye"}},
        "bye": {"say": "Goodbye.", "hangup": "done"},
    },
}
FRAME = 320
JB_FIGURES = ("mean_playout_delay_ms", "mean_target_delay_ms", "final_target_delay_ms")
LOUD = 300  # sample amplitude that counts as sound (the noise floor of a quiet line is ~1)


def _voicebot(*args: str) -> list[str]:
    return [sys.executable, "-m", "voicebot", *args]


def loud_frames(channel: np.ndarray) -> np.ndarray:
    n = len(channel) // FRAME
    frames = channel[: n * FRAME].reshape(n, FRAME).astype(np.int32)
    return np.abs(frames).max(axis=1) > LOUD


def spans(mask: np.ndarray, gap: int = 10) -> list[tuple[int, int]]:
    """Runs of loud frames (frames), bridging gaps shorter than ``gap`` frames."""
    out: list[tuple[int, int]] = []
    for i in np.nonzero(mask)[0]:
        if out and i - out[-1][1] <= gap:
            out[-1] = (out[-1][0], int(i) + 1)
        else:
            out.append((int(i), int(i) + 1))
    return out


def read_stereo(wav: Path) -> tuple[np.ndarray, np.ndarray]:
    """(far end as heard, near end as sent) of a recording."""
    with wave.open(str(wav), "rb") as w:
        pcm = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").reshape(-1, 2)
    return np.ascontiguousarray(pcm[:, 0]), np.ascontiguousarray(pcm[:, 1])


def heard_latencies(wav: Path) -> list[float]:
    """For each caller utterance: seconds from its end (sent) to the bot's next sound (heard)."""
    heard, sent = read_stereo(wav)
    bot = loud_frames(heard)
    out = []
    for _start, end in spans(loud_frames(sent)):
        after = np.nonzero(bot[end:])[0]
        if len(after):
            out.append(float(after[0]) * FRAME / 16000)
    return out


def vad_tails(wav: Path, aggressiveness: int) -> list[float]:
    """For each caller utterance: seconds from its loud end (as sent) to the end of the last
    frame the bot's endpointing still counts as speech — the part of the wait that the bot's
    own report (which starts at that speech end) does not see."""
    _heard, sent = read_stereo(wav)
    vad = Vad(aggressiveness)
    n = len(sent) // FRAME
    out = []
    for start, end in spans(loud_frames(sent)):
        last = end - 1
        for i in range(start, min(n, end + 25)):
            if vad.is_speech_not_quiet(sent[i * FRAME : (i + 1) * FRAME]):
                last = i
        out.append((last + 1 - end) * FRAME / 16000)
    return out


def prompt_lead(text: str, voice: str) -> float:
    """Seconds of the rendered prompt before its first frame above ``LOUD`` (what the caller
    hears as silence although the answer's packets are already on the wire)."""
    pcm = EspeakEngine().synthesize(text, voice=voice, rate=DEFAULT_RATE)
    loud = np.nonzero(loud_frames(pcm))[0]
    return float(loud[0]) * FRAME / 16000 if len(loud) else 0.0


def persona(turns: int) -> dict[str, Any]:
    return {
        "persona": "says yes, then no",
        "language": "en",
        "quiet": 0.5,
        "turns": ["yes"] * turns + ["no"],
        "max_duration": 60 + 4 * turns,
        "expect": {"outcome": "done"},
    }


def run_call(tmp: Path, turns: int) -> tuple[dict[str, Any], dict[str, Any], Path, float]:
    flow, who = tmp / "turns.yaml", tmp / "caller.persona.yaml"
    flow.write_text(yaml.safe_dump(FLOW, sort_keys=False), encoding="utf-8")
    who.write_text(yaml.safe_dump(persona(turns), sort_keys=False), encoding="utf-8")
    caller_wav = tmp / "caller.wav"
    callee = subprocess.Popen(
        _voicebot("serve", "--listen", "127.0.0.1:0", "--user", "caller", "--persona", str(who),
                  "--record-wav", str(caller_wav), "--json", "-q"),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert callee.stderr is not None
    uri = ""
    for line in callee.stderr:
        if "listening on" in line:
            uri = line.rsplit(" as ", 1)[1].strip()
            break
    t0 = time.process_time()
    bot = subprocess.run(_voicebot("dial", uri, "--flow", str(flow), "--json", "-q"), capture_output=True,
                         text=True, timeout=120 + 6 * turns)  # fmt: skip
    os.kill(callee.pid, signal.SIGTERM)
    out, _ = callee.communicate(timeout=30)
    caller = next(json.loads(line) for line in out.splitlines() if line.startswith("{"))
    return json.loads(bot.stdout), caller, caller_wav, time.process_time() - t0


def pct(values: list[float], q: float) -> float | None:
    return round(float(np.percentile(values, q)), 1) if values else None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--turns", type=int, default=100)
    args = ap.parse_args()
    aggressiveness = next(f.default for f in fields(Speech) if f.name == "vad_aggressiveness")
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        bot, caller, wav, _cpu = run_call(Path(tmp), args.turns)
        heard_ms = [1000 * x for x in heard_latencies(wav)]
        tail_ms = [1000 * x for x in vad_tails(wav, aggressiveness)]
    caller_jb = float(caller["rtp"].get("mean_playout_delay_ms") or 0.0)
    bot_jb = float(bot["rtp"].get("mean_playout_delay_ms") or 0.0)
    wire_ms = [h - caller_jb for h in heard_ms]
    timed = [t for t in bot["transcript"] if t["who"] == "caller" and "latency_ms" in t]
    lead_ms = 1000 * prompt_lead(FLOW["states"]["ask"]["ask"], FLOW["voice"])
    # where a turn's time goes, in the order it passes: each per-turn part as p50 / p95, the
    # jitter buffer as the bot's mean playout delay, the rest of the wire figure as "unaccounted"
    parts: dict[str, dict[str, float | None]] = {
        "vad_tail_after_loud_end": {"p50": pct(tail_ms, 50), "p95": pct(tail_ms, 95)},
        "bot_jitter_buffer": {"p50": round(bot_jb, 1), "p95": None},
    }
    for k in ("endpointing", "asr_backlog", "asr_final", "flow_and_tts_first_audio"):
        values = [float(t["latency_breakdown_ms"][k]) for t in timed if k in t["latency_breakdown_ms"]]
        parts[k] = {"p50": pct(values, 50), "p95": pct(values, 95)}
    parts["prompt_quiet_start"] = {"p50": round(lead_ms, 1), "p95": None}
    known = sum(v["p50"] or 0.0 for v in parts.values())
    wire_p50 = pct(wire_ms, 50)
    parts["unaccounted_send_and_codec"] = {
        "p50": round(wire_p50 - known, 1) if wire_p50 is not None else None,
        "p95": None,
    }
    floor_ms = 1000 * EndpointConfig().early_silence + 20
    total = statistics.median(t["latency_ms"] for t in timed) if timed else None
    result = {
        "turns_heard": len(heard_ms),
        "outcome": bot.get("outcome"),
        "heard_by_the_caller_ms": {"p50": pct(heard_ms, 50), "p95": pct(heard_ms, 95), "max": pct(heard_ms, 100)},
        "on_the_wire_ms": {"p50": wire_p50, "p95": pct(wire_ms, 95), "goal_p95": 300},
        "first_turn_heard_ms": round(heard_ms[0], 1) if heard_ms else None,
        "floor_ms": floor_ms,
        "wire_p50_over_floor": round(wire_p50 / floor_ms, 2) if wire_p50 else None,
        "breakdown_ms": parts,
        "bot_reported_total_median_ms": total,
        "jitter_buffers_ms": {
            side: {k: r["rtp"].get(k) for k in JB_FIGURES} for side, r in (("bot", bot), ("caller", caller))
        },
        "media_clock_late_max_ms": {
            "bot": bot["rtp"].get("media_clock_late_max_ms"),
            "caller": caller["rtp"].get("media_clock_late_max_ms"),
        },
        "media_clock_wakeups_over_20ms": {
            "bot": bot["rtp"].get("media_clock_late_over_frame"),
            "caller": caller["rtp"].get("media_clock_late_over_frame"),
        },
        "load_average_before_after": [list(load_before), list(os.getloadavg())],
    }
    path = write_results("turn_latency", result)
    print(json.dumps(result, indent=2))
    print("where the median turn goes (ms, p50 / p95):")
    for name, v in parts.items():
        p95 = "" if v["p95"] is None else f" / {v['p95']:.0f}"
        print(f"  {name:<28} {v['p50'] if v['p50'] is None else round(v['p50'])}{p95}")
    print(f"  {'= on the wire':<28} {wire_p50} / {pct(wire_ms, 95)}")
    print(f"results in {path}")


if __name__ == "__main__":
    main()
