"""``voicebot demo``: a real call end to end on this machine, over loopback.

Two user agents run in one process on 127.0.0.1. The *bot* answers and runs a dialog flow
from ``dialogs/`` — speaking with espeak-ng, listening with VAD, endpointing and offline
ASR. The *caller* dials it over real SIP (UDP) and real RTP, waits for each prompt to end,
and answers with synthesised speech or RFC 4733 DTMF as one of the flow's own conversation
scripts says. At the end the demo prints the transcript, the outcome and slots the bot
collected, the turn latencies and the RTP statistics, and leaves a two-channel recording.

Exit codes: 0 the call went as the script expects, 1 it did not (the output says how).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from voicebot.errors import ConfigError

DEFAULT_FLOW = "appointment_reminder.yaml"
DEFAULT_SCRIPT = "cancels with keys"
EXIT_OK, EXIT_MISMATCH = 0, 1


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser(
        "demo",
        help="run a real loopback call: a bot running a flow, a caller answering it",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--flow", help=f"flow file (default: dialogs/{DEFAULT_FLOW})")
    p.add_argument("--script", help=f"the flow's conversation script to play (default: {DEFAULT_SCRIPT!r})")
    p.add_argument("--out", default="out", help="folder for the recordings (default ./out)")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.add_argument("--trace", action="store_true", help="print every SIP message")
    p.set_defaults(handler=run)


def _dialogs_dir() -> Path:
    here = Path(__file__).resolve()
    for parent in here.parents:
        candidate = parent / "dialogs"
        if candidate.is_dir():
            return candidate
    return Path("dialogs")


def run(args: argparse.Namespace) -> int:
    flow_path = Path(args.flow) if args.flow else _dialogs_dir() / DEFAULT_FLOW
    if not flow_path.is_file():
        raise ConfigError(f"flow file {flow_path} not found")
    report = asyncio.run(
        demo_call(flow_path, script_name=args.script, out_dir=Path(args.out), trace=args.trace)
    )
    if args.json:
        print(json.dumps(report, indent=2, ensure_ascii=False, default=str))
    else:
        _print_report(report)
    return EXIT_OK if report["as_expected"] else EXIT_MISMATCH


async def _wait_for_prompt_end(frames: Any, vad: Any, silence_s: float = 0.8, limit_s: float = 30.0) -> None:
    """Return once the bot has spoken and then been quiet for ``silence_s``."""
    loop = asyncio.get_running_loop()
    heard_speech = False
    quiet_since: float | None = None
    deadline = loop.time() + limit_s
    async for frame in frames:
        now = loop.time()
        if vad.is_speech(frame.pcm):
            heard_speech = True
            quiet_since = None
        elif heard_speech:
            quiet_since = quiet_since or now
            if now - quiet_since >= silence_s:
                return
        if now > deadline:
            return


async def demo_call(
    flow_path: Path, *, script_name: str | None = None, out_dir: Path = Path("out"), trace: bool = False
) -> dict[str, Any]:
    """Run one loopback call of ``flow_path`` driven by its conversation script; returns the report."""
    from voicebot.agent import UserAgent
    from voicebot.bot import VoiceBot
    from voicebot.flow import Flow, Webhook, WebhookResult
    from voicebot.media.vad import Vad
    from voicebot.tts import Synthesizer
    from voicebot.voice import Speech

    flow = Flow.load(flow_path)
    scripts = {s.name: s for s in flow.scripts}
    script_name = script_name or (DEFAULT_SCRIPT if DEFAULT_SCRIPT in scripts else next(iter(scripts), None))
    if script_name not in scripts:
        raise ConfigError(f"flow {flow.name} has no conversation script {script_name!r}; it has {sorted(scripts)}")
    script = scripts[script_name]
    language = flow.language
    speech = await asyncio.to_thread(Speech.for_language, language, voice=flow.meta.voice)
    await speech.prepare()
    caller_synth = Synthesizer(voice=speech.synthesizer.voice, rate=150)

    out = out_dir
    out.mkdir(parents=True, exist_ok=True)
    bot_wav, caller_wav = out / "demo-bot.wav", out / "demo-caller.wav"
    webhooks: list[dict[str, Any]] = []

    async def local_webhook(action: Webhook) -> WebhookResult:
        # The flow's CRM address is not reachable from an offline demo: show what would be sent
        # and answer as the conversation script says the CRM answers (ok and empty otherwise).
        webhooks.append({"method": action.method, "url": action.url, "body": dict(action.body or {})})
        reply = dict(script.webhooks.get(action.state.rsplit(".", 1)[-1], {}) or script.webhooks.get(action.state, {}))
        ok = bool(reply.get("ok", True))
        return WebhookResult(ok=ok, data=dict(reply.get("data") or {}), status=200 if ok else 503)

    trace_to = sys.stderr if trace else None
    bot_result: dict[str, Any] = {}
    done = asyncio.Event()
    t0 = time.monotonic()

    async def answer(call: Any) -> None:
        await call.answer()
        call.record(bot_wav)
        try:
            bot = VoiceBot(call, speech=speech, webhook=local_webhook)
            result = await bot.run(flow, context=script.context)
            bot_result["flow"] = result
            bot_result["latencies"] = list(bot.turn_latencies)
            bot_result["timings"] = [
                {
                    "endpoint_ms": round(1000 * (t.endpointed - t.speech_end)),
                    "asr_final_ms": round(1000 * (t.recognised - t.endpointed)),
                    "flow_and_tts_ms": round(1000 * (t.first_audio - t.recognised)),
                    "endpoint_reason": t.endpoint_reason,
                }
                for t in bot.turn_timings
            ]
            bot_result["media"] = call.media.stats()
        finally:
            call.media.stop_recording()
            done.set()

    async with (
        UserAgent("127.0.0.1:0", user="bot", trace=trace_to) as bot_ua,
        UserAgent("127.0.0.1:0", user="caller", trace=trace_to) as caller_ua,
    ):
        bot_ua.on_call(answer)
        host, port = bot_ua.local_address
        call = await caller_ua.dial(f"sip:bot@{host}:{port}")
        if not await call.answered:
            raise ConfigError(f"the bot did not answer: {(await call.finished).as_dict()}")
        setup = time.monotonic() - t0
        media = call.media
        if media is None:
            raise ConfigError("the call came up without media")
        media.start_recording(caller_wav)
        vad = Vad(2)
        frames = media.frames()
        said: list[str] = []
        for turn in script.turns:
            if call.finished.done():
                break
            await _wait_for_prompt_end(frames, vad)
            if turn.get("dtmf"):
                said.append(f"[DTMF {turn['dtmf']}]")
                await call.send_dtmf(str(turn["dtmf"]))
            elif turn.get("hangup"):
                said.append("[hangs up]")
                await call.hangup()
                break
            elif turn.get("silence"):
                said.append("[keeps silent]")
            elif turn.get("caller") is not None:
                text = str(turn["caller"])
                said.append(text)
                pcm = await caller_synth.synthesize(text)
                media.play(np.concatenate([pcm, np.zeros(3200, np.int16)]))
        with contextlib.suppress(TimeoutError):  # a script may end before the flow does
            await asyncio.wait_for(done.wait(), timeout=60)
        if not call.finished.done():
            await call.hangup()
        sip_result = (await call.finished).as_dict()
        caller_stats = media.stats()
        media.stop_recording()

    flow_result = bot_result["flow"]
    expect = script.expect
    mismatches = []
    if expect.get("outcome") is not None and flow_result.outcome != expect["outcome"]:
        mismatches.append(f"outcome {flow_result.outcome!r}, script expects {expect['outcome']!r}")
    for name, value in (expect.get("slots") or {}).items():
        if flow_result.slots.get(name) != value:
            mismatches.append(f"slot {name}={flow_result.slots.get(name)!r}, script expects {value!r}")
    latencies = bot_result.get("latencies", [])
    return {
        "flow": flow.name,
        "script": script.name,
        "as_expected": not mismatches,
        "mismatches": mismatches,
        "outcome": flow_result.outcome,
        "slots": {k: v if isinstance(v, (bool, int, float, str)) else str(v) for k, v in flow_result.slots.items()
                  if v is not None},
        "transcript": [{"who": w, "text": t} for w, t in flow_result.transcript],
        "caller_said": said,
        "webhooks": webhooks,
        "turn_latency_ms": [round(x * 1000) for x in latencies],
        "turn_breakdown": bot_result.get("timings", []),
        "call_setup_ms": round(setup * 1000),
        "sip": sip_result,
        "rtp": {"caller": _rtp_summary(caller_stats), "bot": _rtp_summary(bot_result.get("media", {}))},
        "recordings": [str(caller_wav), str(bot_wav)],
    }


def _rtp_summary(stats: dict[str, Any]) -> dict[str, Any]:
    """The few numbers a person reads first, from a MediaStream's WebRTC-named statistics."""
    if not stats:
        return {}
    inbound = stats.get("inbound-rtp", {})
    outbound = stats.get("outbound-rtp", {})
    remote = stats.get("remote-inbound-rtp", {})
    emitted = inbound.get("jitterBufferEmittedCount") or 0
    rtt = remote.get("roundTripTime")
    return {
        "codec": stats.get("codec"),
        "sent": outbound.get("packetsSent", 0),
        "received": inbound.get("packetsReceived", 0),
        "lost": inbound.get("packetsLost", 0),
        "jitter_ms": round(1000 * float(inbound.get("jitter", 0.0)), 2),
        "mean_playout_delay_ms": round(1000 * inbound.get("jitterBufferDelay", 0.0) / emitted, 1) if emitted else None,
        "concealed_pct": round(100 * inbound.get("concealedSamples", 0) / emitted, 2) if emitted else None,
        "rtt_ms": round(1000 * rtt, 2) if rtt is not None else None,
    }


def _print_report(r: dict[str, Any]) -> None:
    print(f"voicebot demo: flow {r['flow']!r}, script {r['script']!r}")
    print(f"  call set up in {r['call_setup_ms']} ms over SIP/UDP on 127.0.0.1; {r['sip']['reason']}")
    print("  transcript:")
    for t in r["transcript"]:
        print(f"    {t['who']:>7}: {t['text']}")
    print(f"  outcome: {r['outcome']}   slots: {r['slots']}")
    for w in r["webhooks"]:
        print(f"  webhook (kept local in the demo): {w['method']} {w['url']} {w['body']}")
    if r["turn_latency_ms"]:
        print(f"  turn latency (caller stops talking -> bot audio queued), ms: {r['turn_latency_ms']}")
    print(f"  RTP caller side: {r['rtp']['caller']}")
    print(f"  RTP bot side:    {r['rtp']['bot']}")
    print(f"  recordings (ch0 far end, ch1 near end): {', '.join(r['recordings'])}")
    if r["as_expected"]:
        print("  result: the call went exactly as the flow's script expects")
    else:
        print("  result: NOT as expected: " + "; ".join(r["mismatches"]))
