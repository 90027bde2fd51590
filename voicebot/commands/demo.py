"""``voicebot demo``: a real call end to end on this machine, between two processes.

One process is ``voicebot serve --persona``: a scripted callee (``dialogs/personas/*.persona.yaml``)
that answers, waits for the bot to finish each prompt and replies with synthesised speech or
RFC 4733 keys. The other is ``voicebot dial --flow``: the bot, which calls it over real SIP
(UDP) and RTP on 127.0.0.1 and runs a dialog flow from ``dialogs/`` — speaking with
espeak-ng, listening with VAD, endpointing and offline ASR. The demo shows the bot's live
progress, then its report (transcript, outcome, slots, turn latencies, RTP statistics and a
MOS estimate), leaves both sides' recordings, and checks the call against what the persona
expects: the outcome, the slots, and the path through the flow's states.

Exit codes: 0 the call went as the persona expects, 1 it did not (the output says how).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import IO, Any

from voicebot.errors import ConfigError, VoicebotError

DEFAULT_FLOW = "appointment_reminder.yaml"
EXIT_OK, EXIT_MISMATCH = 0, 1


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser(
        "demo",
        help="run a real loopback call between two processes: a bot running a flow, a scripted callee",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--flow", type=Path, help=f"flow file (default: dialogs/{DEFAULT_FLOW})")
    p.add_argument("--persona", type=Path, help="the callee (default: personas/NAME.persona.yaml beside the flow)")
    p.add_argument("--out", type=Path, default=Path("out"), help="folder for the recordings (default ./out)")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument("-q", "--quiet", action="store_true", help="no live progress")
    p.set_defaults(handler=run)


def _dialogs_dir() -> Path:
    here = Path(__file__).resolve()
    for parent in here.parents:
        candidate = parent / "dialogs"
        if candidate.is_dir():
            return candidate
    return Path("dialogs")


def _voicebot(*args: str) -> list[str]:
    return [sys.executable, "-m", "voicebot", *args]


def _wait_listening(proc: subprocess.Popen[str], stream: IO[str], limit: float = 60.0) -> str:
    """The callee's SIP URI, from its 'listening on' line."""
    deadline = time.monotonic() + limit
    seen: list[str] = []
    while time.monotonic() < deadline:
        line = stream.readline()
        if not line:
            break
        seen.append(line)
        if "listening on" in line:
            return line.rsplit(" as ", 1)[1].strip()
    proc.kill()
    raise VoicebotError("the callee did not start: " + "".join(seen).strip())


def run(args: argparse.Namespace) -> int:
    from voicebot.flowio.standin import StandInCrm
    from voicebot.persona import Persona, plain, verdict

    flow_path = args.flow or _dialogs_dir() / DEFAULT_FLOW
    if not flow_path.is_file():
        raise ConfigError(f"flow file {flow_path} not found")
    persona_path = args.persona or flow_path.parent / "personas" / f"{flow_path.stem}.persona.yaml"
    if not persona_path.is_file():
        raise ConfigError(f"no persona for {flow_path.name}: write {persona_path} (see docs/personas.md)")
    persona = Persona.load(persona_path)
    args.out.mkdir(parents=True, exist_ok=True)
    bot_wav, callee_wav = args.out / "demo-bot.wav", args.out / "demo-callee.wav"
    # the dialogs' webhooks name hosts such as clinic.example: here a stand-in on loopback takes
    # them and answers 503 (no CRM in the demo), so nothing leaves the machine and each flow
    # takes its webhook error path, as its persona expects
    with tempfile.TemporaryDirectory() as tmp, StandInCrm(status=503) as crm:
        context = Path(tmp) / "context.json"
        context.write_text(json.dumps(plain(persona.context)), encoding="utf-8")
        callee = subprocess.Popen(
            _voicebot("serve", "--listen", "127.0.0.1:0", "--user", "callee", "--persona", str(persona_path),
                      "--record-wav", str(callee_wav), "--json", "-q"),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        try:
            assert callee.stderr is not None and callee.stdout is not None
            uri = _wait_listening(callee, callee.stderr)
            t0 = time.monotonic()
            dial = subprocess.run(
                _voicebot("dial", uri, "--flow", str(flow_path), "--context-file", str(context),
                          "--record-wav", str(bot_wav), "--webhook-base", crm.base, "--json",
                          *(["-q"] if args.quiet or args.json else [])),
                stdout=subprocess.PIPE, stderr=None if not (args.quiet or args.json) else subprocess.DEVNULL,
                text=True, timeout=300,
            )  # fmt: skip
            wall = time.monotonic() - t0
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.kill(callee.pid, signal.SIGTERM)
            callee_out, _ = callee.communicate(timeout=30)
    if dial.returncode not in (0,) or not dial.stdout.strip():
        raise VoicebotError(f"the bot's call failed (exit {dial.returncode}): {dial.stdout.strip()[:500]}")
    report: dict[str, Any] = json.loads(dial.stdout)
    callee_reports = [json.loads(line) for line in callee_out.splitlines() if line.startswith("{")]
    misses = verdict(persona.expect, report)
    summary = {
        "flow": report.get("flow"),
        "persona": persona.name,
        "as_expected": not misses,
        "mismatches": misses,
        "wall_s": round(wall, 1),
        "bot": report,
        "callee": callee_reports[0] if callee_reports else None,
        "recordings": [str(bot_wav), str(callee_wav)],
        "webhooks": [{"method": r.method, "path": r.path, "body": r.body} for r in crm.requests],
    }
    if args.json:
        print(json.dumps(summary, ensure_ascii=False, indent=2))
    else:
        _print(summary)
    return EXIT_OK if not misses else EXIT_MISMATCH


def _print(s: dict[str, Any]) -> None:
    bot = s["bot"]
    print(f"voicebot demo: flow {s['flow']!r} called persona {s['persona']!r} (two processes, SIP/UDP + RTP)")
    setup, talk = 1000 * bot["setup_time"], bot["duration"]
    print(f"  call answered after {setup:.0f} ms, {bot['codec']}; {bot['reason']} after {talk:.1f} s")
    print(f"  outcome: {bot['outcome']}   slots: {bot['slots']}")
    print(f"  path: {' > '.join(bot['path'])}")
    latencies = [t["latency_ms"] for t in bot["transcript"] if "latency_ms" in t]
    if latencies:
        print(f"  turn latency (caller stops talking -> bot's answer queued), ms: {latencies}")
    rtp, quality = bot.get("rtp") or {}, bot.get("quality") or {}
    print(f"  RTP: sent {rtp.get('sent')}, received {rtp.get('received')}, lost {rtp.get('lost')}, "
          f"jitter {rtp.get('jitter_ms')} ms, playout delay {rtp.get('mean_playout_delay_ms')} ms")  # fmt: skip
    if quality:
        print(f"  quality (ITU-T G.107 E-model): R {quality['r']}, MOS {quality['mos']}")
    print(f"  recordings (ch0 far end, ch1 near end): {', '.join(s['recordings'])}")
    for hook in s["webhooks"]:
        body = f" {json.dumps(hook['body'], ensure_ascii=False)}" if hook["body"] is not None else ""
        print(f"  webhook to the demo's stand-in CRM (answers 503): {hook['method']} {hook['path']}{body}")
    if s["as_expected"]:
        print("  result: the call went as the persona expects (outcome, slots and path)")
    else:
        print("  result: NOT as expected: " + "; ".join(s["mismatches"]))
