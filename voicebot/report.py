"""What a finished call is worth knowing, as JSON-ready data and as progress lines.

``call_report(result)`` turns a :class:`~voicebot.call.CallResult` into the object
``voicebot dial --json`` prints (and ``serve --json`` prints one per call): the outcome and
slots of the flow, the transcript with per-turn timestamps and latency, SIP codes,
durations, the negotiated codec, RTP statistics and an ITU-T G.107 E-model estimate of the
call's quality. ``progress_line(event, start)`` is one line of live progress.
``classify(answered, status, reason)`` is the one word for how a call went that the metrics'
labels, ``dial``'s exit code and the campaign's attempt outcomes are all made from.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from voicebot.call import CallResult
from voicebot.media.emodel import call_rating
from voicebot.progress import (
    Answered,
    BargedIn,
    BotSaid,
    CallerSaid,
    CallEvent,
    DigitPressed,
    Ended,
    MachineDetection,
    Ringing,
    Transfer,
)
from voicebot.sip.useragent import NO_RESPONSE, TRANSPORT_ERROR

UNREACHABLE = "port unreachable"  # the reason of a call whose target's UDP port is closed
# final statuses that mean "busy", "nobody answered", "authentication failed" (RFC 3261 §21)
BUSY = frozenset({486, 600})
NO_ANSWER = frozenset({408, 480, 487})
AUTH = frozenset({401, 407})
DROP_REASONS = ("media timeout", "no answer to", "transport")


def classify(answered: bool, status: int, reason: str) -> str:
    """One word for how a call went: completed, dropped (answered, then the far end was lost),
    busy, no_answer, rejected, auth_failed or network (nothing reached the far end)."""
    text = reason.lower()
    if answered:
        return "dropped" if any(r in text for r in DROP_REASONS) else "completed"
    if (status, reason) in ((408, NO_RESPONSE), (503, TRANSPORT_ERROR), (503, UNREACHABLE)):
        return "network"
    if status in BUSY:
        return "busy"
    if status in NO_ANSWER or text in ("cancelled", "no answer"):
        return "no_answer"
    if status in AUTH:
        return "auth_failed"
    return "rejected"


def rtp_summary(stats: Mapping[str, Any] | None) -> dict[str, Any]:
    """The numbers a person reads first, from a MediaStream's WebRTC-named statistics."""
    if not stats:
        return {}
    inbound = stats.get("inbound-rtp", {})
    outbound = stats.get("outbound-rtp", {})
    remote = stats.get("remote-inbound-rtp", {})
    emitted = inbound.get("jitterBufferEmittedCount") or 0
    concealed = inbound.get("concealedSamples") or 0
    rtt = remote.get("roundTripTime")
    events = inbound.get("concealmentEvents") or 0
    return {
        "codec": stats.get("codec"),
        "ptime_ms": stats.get("ptime"),  # the packet time we sent with (the far end's a=ptime, fitted)
        "sent": outbound.get("packetsSent", 0),
        "received": inbound.get("packetsReceived", 0),
        "lost": inbound.get("packetsLost", 0),
        "late": inbound.get("packetsLate", 0),
        "jitter_ms": round(1000 * float(inbound.get("jitter", 0.0)), 2),
        "rtt_ms": round(1000 * rtt, 2) if rtt is not None else None,
        "mean_playout_delay_ms": round(1000 * inbound.get("jitterBufferDelay", 0.0) / emitted, 1) if emitted else None,
        # the jitter buffer's target delay: on average over the call, and where it ended
        "mean_target_delay_ms": (
            round(1000 * inbound.get("jitterBufferTargetDelay", 0.0) / emitted, 1) if emitted else None
        ),
        "final_target_delay_ms": (
            round(1000 * inbound["currentTargetDelay"], 1) if "currentTargetDelay" in inbound else None
        ),
        # of the audio played out: samples from packets plus samples concealed
        "concealed_pct": round(100 * concealed / (emitted + concealed), 2) if emitted + concealed else None,
        "concealment_events": events,
        "remote_fraction_lost": remote.get("fractionLost"),
        "media_clock_late_max_ms": (stats.get("media-clock") or {}).get("lateMaxMs"),
        "media_clock_late_over_frame": (stats.get("media-clock") or {}).get("lateOverFrame"),
    }


def quality(rtp: Mapping[str, Any], ptime_ms: float | None = None) -> dict[str, Any] | None:
    """The E-model rating for a call: mouth-to-ear delay estimated as half the RTCP round
    trip + the mean playout delay (without jitter-buffer figures, twice the jitter, which is
    what a buffer would hold) + one packet time (+ the codec's look-ahead), loss as the
    packets lost or too late out of those expected, burstiness from the concealment events.
    The packet time is ``ptime_ms``, else the call's own (``rtp["ptime_ms"]``), else 20 ms."""
    codec = rtp.get("codec")
    if not codec:
        return None
    received, lost, late = int(rtp.get("received") or 0), int(rtp.get("lost") or 0), int(rtp.get("late") or 0)
    expected = received + lost
    loss = (lost + late) / expected if expected else 0.0
    playout = rtp.get("mean_playout_delay_ms")
    if playout is None:
        playout = 2 * float(rtp.get("jitter_ms") or 0.0)
    if ptime_ms is None:
        ptime_ms = float(rtp.get("ptime_ms") or 20.0)
    delay = (rtp.get("rtt_ms") or 0.0) / 2 + playout + ptime_ms
    events = int(rtp.get("concealment_events") or 0)
    burst = (lost + late) / events if events else 1.0
    rating = call_rating(str(codec), one_way_delay_ms=delay, loss_fraction=loss, mean_burst_frames=burst)
    return {
        **rating.as_dict(),
        "inputs": {
            "one_way_delay_ms": round(delay, 1),
            "loss_pct": round(100 * loss, 2),
            "mean_burst": round(burst, 2),
        },
    }


def _plain(value: Any) -> Any:
    if isinstance(value, bool | int | float | str) or value is None:
        return value
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return str(value)


def transcript(result: CallResult) -> list[dict[str, Any]]:
    """Who said or keyed what, when (seconds into the call), and how long the bot took to
    answer each utterance (from the end of the caller's speech to its first answer audio)."""
    latency = {round(t.speech_end, 4): t for t in result.turn_timings}
    out: list[dict[str, Any]] = []
    for event in result.events:
        t = round(event.at - result.started_at, 3)
        if isinstance(event, BotSaid):
            out.append({"t": t, "who": "bot", "text": event.text})
        elif isinstance(event, CallerSaid):
            line: dict[str, Any] = {"t": t, "who": "caller", "text": event.text}
            line["confidence"] = round(event.confidence, 2)
            if not event.understood:
                line["understood"] = False
            if event.phrase is not None and event.phrase != event.text:
                line["phrase"] = event.phrase
            timing = latency.get(round(event.speech_end, 4))
            if timing is not None:
                line["latency_ms"] = round(1000 * timing.total)
                line["latency_breakdown_ms"] = {
                    "endpointing": round(1000 * (timing.endpointed - timing.speech_end)),
                    # frames still queued for the recogniser when the turn ended, then the final result
                    "asr_backlog": round(1000 * ((timing.decided or timing.endpointed) - timing.endpointed)),
                    "asr_final": round(1000 * (timing.recognised - (timing.decided or timing.endpointed))),
                    "flow_and_tts_first_audio": round(1000 * (timing.first_audio - timing.recognised)),
                }
            out.append(line)
        elif isinstance(event, DigitPressed):
            out.append({"t": t, "who": "dtmf", "text": event.digit})
        elif isinstance(event, BargedIn):
            out.append({"t": t, "who": "barge-in", "text": event.by})
        elif isinstance(event, Transfer):
            what = event.target if event.status is None else f"{event.target}: {event.status}"
            out.append({"t": t, "who": "transfer", "text": what})
        elif isinstance(event, MachineDetection):
            out.append({"t": t, "who": "amd", "text": event.what, **({"detail": event.detail} if event.detail else {})})
    return out


def call_report(result: CallResult, **extra: Any) -> dict[str, Any]:
    """Everything about one finished call as JSON-ready data."""
    rtp = rtp_summary(result.media_stats)
    flow = result.flow
    report: dict[str, Any] = {
        **result.as_dict(),  # SIP: call_id, direction, answered, status, reason, ended_by, progress,
        # setup_time and duration (seconds), codec
        "outcome": flow.outcome if flow is not None else ("answered" if result.answered else "not answered"),
        "flow": flow.flow if flow is not None else None,
        "slots": {k: _plain(v) for k, v in flow.slots.items() if v is not None} if flow is not None else {},
        "do_not_call": flow.do_not_call if flow is not None else False,
        "path": _path(result),
        "transcript": transcript(result),
        "rtp": rtp,
        "quality": quality(rtp) if rtp else None,
    }
    report.update(extra)
    return report


def _path(result: CallResult) -> list[str]:
    flow = result.flow
    if flow is None:
        return []
    states: list[str] = []
    for turn in flow.history:
        if turn.state and (not states or states[-1] != turn.state):
            states.append(turn.state)
    return states


def progress_line(event: CallEvent, start: float, *, me: str = "bot", them: str = "caller") -> str | None:
    """One line of live progress for ``event`` (None for events not worth a line); ``me`` and
    ``them`` name this side and the far end."""
    stamp = f"[{event.at - start:7.2f}]"
    if isinstance(event, Ringing):
        return f"{stamp} ringing ({event.status})"
    if isinstance(event, Answered):
        if event.codec is None:
            return f"{stamp} answered (no media)"
        return f"{stamp} answered ({event.codec}" + ("" if event.ptime is None else f", {event.ptime} ms") + ")"
    if isinstance(event, BotSaid):
        return f"{stamp} {me:>7}: {event.text}"
    if isinstance(event, CallerSaid):
        heard = event.text or "(nothing recognisable)"
        match = f" -> {event.phrase}" if event.phrase and event.phrase != event.text else ""
        if not event.understood:
            match = " -> not understood"
        return f"{stamp} {them:>7}: {heard}{match} ({event.confidence:.2f})"
    if isinstance(event, DigitPressed):
        return f"{stamp}    dtmf: {event.digit} ({event.source}, {event.duration_ms} ms)"
    if isinstance(event, BargedIn):
        return f"{stamp}          (barge-in by {event.by})"
    if isinstance(event, Transfer):
        return f"{stamp} transfer to {event.target}" + ("" if event.status is None else f": {event.status}")
    if isinstance(event, MachineDetection):
        return f"{stamp}     amd: {event.what}" + (f" ({event.detail})" if event.detail else "")
    if isinstance(event, Ended):
        by = f", {event.ended_by}" if event.ended_by else ""
        return f"{stamp} ended: {event.reason} ({event.status}{by})"
    return None


__all__ = ["UNREACHABLE", "call_report", "classify", "progress_line", "quality", "rtp_summary", "transcript"]
