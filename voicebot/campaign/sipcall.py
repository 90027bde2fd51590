"""The :class:`~voicebot.campaign.placer.CallPlacer` on a real call, through the call API
(``docs/call-api.md``): ``UserAgent.dial``, then :class:`~voicebot.bot.VoiceBot` runs the
flow with the call's own primitives once the callee answers.

This module is the only place where the business layer touches the call engine; switching to
another call API means rewriting :meth:`SipCallPlacer.place` and nothing else. How a call went
is read from the call's own result (:func:`voicebot.report.classify`, the words the metrics
use too), its quality from the one E-model (:func:`voicebot.report.quality`).

The speech engines of a flow's language are made and warmed (a recogniser built, the flow's
prompts and this contact's greeting rendered) *before* the call is placed: building a decoder
holds the GIL for about half a second, and done during a call it froze the event loop while
the callee was talking, so that the bot heard the wrong words or none.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from voicebot.bot import VoiceBot, flow_speech, opening_prompts, static_prompts
from voicebot.campaign import rules
from voicebot.campaign.placer import Attempt, AttemptOutcome, TurnRecord
from voicebot.errors import VoicebotError
from voicebot.report import classify, quality, rtp_summary

if TYPE_CHECKING:
    from voicebot.agent import UserAgent
    from voicebot.call import Call, CallResult
    from voicebot.flow import CallResult as FlowResult
    from voicebot.flow import Flow
    from voicebot.voice import Speech

log = logging.getLogger(__name__)

# a call's outcome word (voicebot.report.classify), in the dialer's words
KIND_OF_OUTCOME = {
    "completed": rules.ANSWERED,
    "dropped": rules.ANSWERED,
    "busy": rules.BUSY,
    "no_answer": rules.NO_ANSWER,
    "rejected": rules.REJECTED,
    "auth_failed": rules.REJECTED,
    "network": rules.NETWORK,
}


class SipCallPlacer:
    """Places campaign calls from one started :class:`UserAgent`."""

    def __init__(self, ua: UserAgent, *, grace: float = 5.0) -> None:
        self.ua = ua
        self.grace = grace
        self._speech: dict[str, Speech] = {}
        self._warming = asyncio.Lock()

    async def place(self, attempt: Attempt) -> AttemptOutcome:
        try:
            speech = await self.warm(attempt.flow, attempt.context)
            call = await self.ua.dial(attempt.uri, from_uri=attempt.caller_id or None)
        except VoicebotError as exc:  # no engine for the language, a context the flow refuses, ...
            return AttemptOutcome(kind=rules.LOCAL_FAILURE, sip_status=None, reason=str(exc))
        call.speech = speech
        try:
            answered = await asyncio.wait_for(asyncio.shield(call.answered), attempt.ring_timeout)
        except TimeoutError:
            answered = False  # _outcome hangs up: CANCEL (or gives up when not even 100 Trying came)
        if answered:
            # a task of its own, so that the call's result waits for the flow, not for this caller
            bot = asyncio.create_task(VoiceBot(call).run(attempt.flow, context=attempt.context))
            try:
                await asyncio.wait_for(bot, attempt.max_duration)
            except TimeoutError:
                log.info("call to %s reached its maximum duration", attempt.uri)
            except Exception as exc:  # the call is recorded whatever the bot did
                log.exception("flow %s failed on %s", attempt.flow.name, attempt.uri)
                return await self._outcome(call, error=f"flow failed: {exc}")
        return await self._outcome(call)

    async def warm(self, flow: Flow, context: Mapping[str, Any] | None = None) -> Speech:
        """The engines for ``flow`` (:func:`voicebot.bot.flow_speech`: keypad alone when its
        language has no recogniser), with a recogniser built and the flow's prompts (and the
        greeting for ``context``) rendered; made once per flow."""
        async with self._warming:  # concurrent first calls wait for one warm-up
            speech = self._speech.get(flow.name)
            if speech is None:
                speech = await asyncio.to_thread(flow_speech, flow)
                await speech.prepare([s.text for s in static_prompts(flow)])
                self._speech[flow.name] = speech
        await speech.prepare(opening_prompts(flow, context, dtmf_only=speech.asr is None))
        return speech

    async def _outcome(self, call: Call, error: str = "") -> AttemptOutcome:
        if not call.ended.done():
            # without even a provisional response there is nothing to CANCEL yet (RFC 3261 §9.1):
            # the call is given up after a moment instead of waiting for Timer B
            grace = self.grace if call.progress or call.answered.done() else 0.1
            with contextlib.suppress(VoicebotError):
                await call.hangup(grace=grace)
        result: CallResult = await call.finished
        flow = result.flow
        stats: dict[str, Any] = dict(result.media_stats or {}) if result.answered else {}
        kind = KIND_OF_OUTCOME[classify(result.answered, result.status, result.reason)]
        return AttemptOutcome(
            kind=rules.LOCAL_FAILURE if error else kind,
            sip_status=None if kind == rules.NETWORK and not result.progress else result.status,
            reason=error or result.reason,
            ended_by=result.ended_by,
            setup_s=result.setup_time,
            talk_s=result.duration,
            outcome=flow.outcome if flow is not None else None,
            slots={k: v for k, v in flow.slots.items() if v is not None} if flow is not None else {},
            do_not_call=flow.do_not_call if flow is not None else False,
            transcript=_transcript(flow, [t.total for t in result.turn_timings]),
            codec=stats.get("codec"),
            rtp=stats,
            mos=estimate_mos(stats) if stats else None,
        )


def _transcript(flow: FlowResult | None, latencies: list[float]) -> tuple[TurnRecord, ...]:
    """The flow's transcript; each bot line that answers the caller carries that turn's latency."""
    if flow is None:
        return ()
    out: list[TurnRecord] = []
    pending = iter(latencies)
    after_caller = False
    for who, text in flow.transcript:
        latency = next(pending, None) if who == "bot" and after_caller else None
        out.append(TurnRecord(who=who, text=text, latency_s=latency))
        after_caller = who in ("caller", "dtmf")
    return tuple(out)


def estimate_mos(stats: Mapping[str, Any]) -> float | None:
    """The MOS of the ITU-T G.107 E-model for a call's RTP statistics (None without a codec)."""
    rating = quality(rtp_summary(stats))
    return None if rating is None else float(rating["mos"])
