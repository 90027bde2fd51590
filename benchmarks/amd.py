"""Answering-machine detection: precision, recall and decision time over real loopback calls.

80 persona greetings (40 people, 40 voicemail greetings; six espeak-ng voices, five speaking
rates), each played by a callee user agent after it answers, over SIP/UDP and RTP on
127.0.0.1 (PCMU, four calls at a time); the caller's :func:`voicebot.media.amd.detect`
decides. The same greetings through the codec alone, without a call, are the reference. The
set includes the hard cases: people who answer with a whole sentence ("Hello, this is Doctor Smith's office, how can
I help you?") and terse voicemail greetings, some without a beep. Decision time is media time
after the answer; for people, the floor is the end of their greeting plus the silence that
proves they are waiting (``after_greeting_silence``, 0.8 s).
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(ROOT))
from _common import write_results  # noqa: E402

from tests.integration.amd.greetings import classify_calls, classify_direct, personas, render_all, score  # noqa: E402
from voicebot.media.amd import AmdConfig  # noqa: E402


def _args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description="answering-machine detection over loopback calls")
    p.add_argument(
        "--codec", choices=("PCMU", "opus"), default="PCMU", help="the call's codec (default PCMU, as carriers)"
    )
    p.add_argument("--concurrency", type=int, default=4, help="calls at a time (default 4)")
    return p.parse_args()


def main() -> None:
    args = _args()
    config = AmdConfig()
    people = personas(40, 40, hard=True)
    rendered = asyncio.run(render_all(people))
    wire = "PCMU/8000" if args.codec == "PCMU" else "opus/48000/2"
    direct = score(classify_direct(people, rendered, config=config, codec=wire))
    cpu0, t0 = resource.getrusage(resource.RUSAGE_SELF), time.monotonic()
    outcomes = asyncio.run(
        classify_calls(people, config=config, concurrency=args.concurrency, rendered=rendered, codec=args.codec)
    )
    wall = time.monotonic() - t0
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
    result = score(outcomes)
    humans = [o for o in outcomes if o.persona.truth == "human" and o.decision and o.decision.verdict == "human"]
    # decision time beyond the floor: greeting end + after_greeting_silence (0.3 s lead-in before speech)
    over_floor = [o.decision.at - (0.3 + o.decision.greeting + config.after_greeting_silence)
                  for o in humans if o.decision]  # fmt: skip
    result["human_decision_over_floor_s_median"] = round(statistics.median(over_floor), 3) if over_floor else None
    result["direct_no_call"] = {k: direct[k] for k in ("humans", "machines", "unknown", "mistakes")}
    result["config"] = {"greeting_max": config.greeting_max, "after_greeting_silence": config.after_greeting_silence,
                        "deadline": config.deadline}  # fmt: skip
    result["process_cpu_share_of_one_core"] = round(cpu / wall, 2)
    result["wall_s"] = round(wall, 1)
    result["codec"], result["concurrency"] = args.codec, args.concurrency
    default = args.codec == "PCMU" and args.concurrency == 4
    path = write_results("amd" if default else f"amd-{args.codec.lower()}-{args.concurrency}", result)
    print(f"answering-machine detection over {len(outcomes)} loopback calls, {args.codec}, "
          f"{args.concurrency} at a time ({wall:.0f} s, "
          f"{cpu / wall:.0%} of one core for both ends)")  # fmt: skip
    print(f"{'':10} {'n':>3} {'precision':>9} {'recall':>6} {'median s':>8} {'max s':>6}")
    for cls in ("humans", "machines"):
        r = result[cls]
        assert isinstance(r, dict)
        print(f"{cls:10} {r['count']:>3} {r['precision']:>9} {r['recall']:>6} {r['decision_s_median']:>8} "
              f"{r['decision_s_max']:>6}")  # fmt: skip
    for cls in ("humans", "machines"):
        r = direct[cls]
        assert isinstance(r, dict)
        print(f"{cls + ' *':10} {r['count']:>3} {r['precision']:>9} {r['recall']:>6} {r['decision_s_median']:>8} "
              f"{r['decision_s_max']:>6}")  # fmt: skip
    print(f"* the same greetings through {wire} alone, no call (the reference)")
    print(f"unknown: {result['unknown']}; machine message cues: {result['machine_message_cues']}")
    print(f"people decided {result['human_decision_over_floor_s_median']} s (median) after the floor")
    for m in result["mistakes"]:  # type: ignore[attr-defined]
        print(f"  wrong: {m['persona']} {m['voice']} {m['text']!r} -> {m['said']} ({m['reason']})")
    print(f"results: {path}")


if __name__ == "__main__":
    main()
