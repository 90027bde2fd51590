"""Turn latency on a real loopback call: the caller stops talking -> the bot's answer starts.

Each run is ``voicebot demo``'s call (two user agents, SIP/UDP, RTP/Opus, espeak-ng on both
sides, pocketsphinx on the bot) driven by a conversation script of a flow in ``dialogs/``.
The latency is read off the caller's own recording, so it is what a caller hears: from the
end of the caller's speech (near-end channel, as sent) to the start of the bot's reply
(far-end channel, as played out after the jitter buffer). The bot's own clock splits each
turn into endpointing, final ASR result, and flow + TTS until the first audio is queued.

The physical floor is the silence the endpointer must hear before it may decide the caller
is done (``early_silence``, 150 ms, when the partial result already spells an expected
phrase); the ratio to it is reported beside the 300 ms goal.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import wave
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import write_results

from voicebot.commands.demo import demo_call
from voicebot.media.endpoint import EndpointConfig
from voicebot.media.vad import Vad

ROOT = Path(__file__).resolve().parent.parent
RUNS = [
    ("appointment_reminder.yaml", "confirms"),
    ("appointment_reminder.yaml", "cancels with keys"),
    ("appointment_reminder.yaml", "confirms"),
    ("appointment_reminder.yaml", "cancels with keys"),
    ("appointment_reminder.yaml", "confirms"),
]
FRAME = 320


def speech_mask(pcm: np.ndarray, vad: Vad) -> np.ndarray:
    n = len(pcm) // FRAME
    return np.array([vad.is_speech(pcm[i * FRAME : (i + 1) * FRAME]) for i in range(n)], dtype=bool)


def segments(mask: np.ndarray, hangover: int = 15) -> list[tuple[int, int]]:
    """Speech segments in frames, bridging gaps shorter than ``hangover`` frames."""
    out: list[tuple[int, int]] = []
    start = last = None
    for i, s in enumerate(mask):
        if s:
            if start is None:
                start = i
            elif last is not None and i - last > hangover:
                out.append((start, last + 1))
                start = i
            last = i
    if start is not None and last is not None:
        out.append((start, last + 1))
    return out


def heard_latencies(wav: Path) -> list[float]:
    with wave.open(str(wav), "rb") as w:
        pcm = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").reshape(-1, 2)
    vad = Vad(3)
    bot = speech_mask(np.ascontiguousarray(pcm[:, 0]), vad)
    caller = segments(speech_mask(np.ascontiguousarray(pcm[:, 1]), vad))
    out = []
    for start, end in caller:
        if end - start < 10:  # shorter than 200 ms: a click, not an utterance
            continue
        after = np.nonzero(bot[end:])[0]
        if len(after):
            out.append(after[0] * FRAME / 16000)
    return out


def main() -> None:
    heard: list[float] = []
    breakdown: list[dict[str, object]] = []
    failures = 0
    with tempfile.TemporaryDirectory() as tmp:
        for i, (flow, script) in enumerate(RUNS):
            report = asyncio.run(demo_call(ROOT / "dialogs" / flow, script_name=script, out_dir=Path(tmp) / str(i)))
            failures += not report["as_expected"]
            caller_wav = Path(report["recordings"][0])
            heard.extend(heard_latencies(caller_wav))
            breakdown.extend(report["turn_breakdown"])
    heard_ms = sorted(round(x * 1000) for x in heard)
    floor_ms = EndpointConfig().early_silence * 1000

    def med(key: str) -> float:
        return float(statistics.median(float(b[key]) for b in breakdown)) if breakdown else float("nan")

    result = {
        "runs": len(RUNS),
        "runs_not_as_expected": failures,
        "turns": len(heard_ms),
        "heard_latency_ms": heard_ms,
        "heard_latency_median_ms": statistics.median(heard_ms) if heard_ms else None,
        "heard_latency_max_ms": max(heard_ms) if heard_ms else None,
        "goal_ms": 300,
        "endpoint_floor_ms": floor_ms,
        "median_over_floor": (statistics.median(heard_ms) / floor_ms) if heard_ms else None,
        "bot_side_median_ms": {k: med(k) for k in ("endpoint_ms", "asr_final_ms", "flow_and_tts_ms")},
        "endpoint_reasons": sorted({str(b["endpoint_reason"]) for b in breakdown}),
    }
    path = write_results("turn_latency", result)
    print(f"turn latency heard by the caller, ms: {heard_ms}")
    print(f"median {result['heard_latency_median_ms']} ms, max {result['heard_latency_max_ms']} ms "
          f"(goal 300 ms; endpoint floor {floor_ms:.0f} ms, median/floor {result['median_over_floor']:.2f})")
    print(f"bot side medians: {result['bot_side_median_ms']}  ({failures} of {len(RUNS)} runs off-script)")
    print(f"results in {path}")


if __name__ == "__main__":
    main()
