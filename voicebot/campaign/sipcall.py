"""The :class:`~voicebot.campaign.placer.CallPlacer` on a real call, through today's call API:
``UserAgent.dial``, then :class:`~voicebot.bot.VoiceBot` runs the flow once the callee answers.

This module is the only place where the business layer touches the call engine; switching to
another call API means rewriting :meth:`SipCallPlacer.place` and nothing else.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING, Any

from voicebot.campaign import rules
from voicebot.campaign.placer import Attempt, AttemptOutcome, TurnRecord
from voicebot.commands.sip import (
    EXIT_ANSWERED,
    EXIT_AUTH,
    EXIT_BUSY,
    EXIT_NETWORK,
    EXIT_NO_ANSWER,
    EXIT_REJECTED,
    exit_code_for,
)
from voicebot.errors import VoicebotError
from voicebot.metrics.quality import media_quality

if TYPE_CHECKING:
    from voicebot.agent import UserAgent
    from voicebot.asr import AsrEngine
    from voicebot.call import Call
    from voicebot.flow import CallResult as FlowResult
    from voicebot.flow import Flow
    from voicebot.tts import Synthesizer

log = logging.getLogger(__name__)

# `voicebot dial`'s documented classification of a SIP result, in the dialer's words
KIND_OF_EXIT = {
    EXIT_ANSWERED: rules.ANSWERED,
    EXIT_BUSY: rules.BUSY,
    EXIT_NO_ANSWER: rules.NO_ANSWER,
    EXIT_REJECTED: rules.REJECTED,
    EXIT_AUTH: rules.REJECTED,
    EXIT_NETWORK: rules.NETWORK,
}


class SipCallPlacer:
    """Places campaign calls from one started :class:`UserAgent`."""

    def __init__(self, ua: UserAgent, *, grace: float = 5.0) -> None:
        self.ua = ua
        self.grace = grace
        self._voices: dict[str, tuple[Synthesizer, AsrEngine]] = {}

    async def place(self, attempt: Attempt) -> AttemptOutcome:
        try:
            call = await self.ua.dial(attempt.uri, from_uri=attempt.caller_id or None)
        except VoicebotError as exc:
            return AttemptOutcome(kind=rules.LOCAL_FAILURE, sip_status=None, reason=str(exc))
        try:
            answered = await asyncio.wait_for(asyncio.shield(call.answered), attempt.ring_timeout)
        except TimeoutError:
            answered = False  # _outcome hangs up: CANCEL (or give up when not even 100 Trying came)
        flow_result: FlowResult | None = None
        latencies: list[float] = []
        if answered:
            try:
                flow_result, latencies = await self._run_flow(call, attempt)
            except Exception as exc:  # the call is recorded whatever the bot did
                log.exception("flow %s failed on %s", attempt.flow.name, attempt.uri)
                return await self._outcome(call, None, [], error=f"flow failed: {exc}")
        return await self._outcome(call, flow_result, latencies)

    async def _run_flow(self, call: Call, attempt: Attempt) -> tuple[FlowResult, list[float]]:
        from voicebot.bot import VoiceBot

        synth, asr = await self._voice(attempt.flow)
        async with VoiceBot(call, synthesizer=synth, asr=asr) as bot:
            result = await asyncio.wait_for(bot.run(attempt.flow, context=attempt.context), attempt.max_duration)
            return result, list(bot.turn_latencies)

    async def _voice(self, flow: Flow) -> tuple[Synthesizer, AsrEngine]:
        """One synthesizer and recogniser per language, made on the first answered call."""
        from voicebot.asr import get_engine
        from voicebot.tts import Synthesizer

        key = flow.language
        if key not in self._voices:
            asr = await asyncio.to_thread(get_engine, "vosk" if key == "ko" else "pocketsphinx")
            voice = flow.meta.voice or ("ko" if key == "ko" else "en-us")
            self._voices[key] = (Synthesizer(voice=voice), asr)
        return self._voices[key]

    async def _outcome(self, call: Call, flow: FlowResult | None, latencies: list[float],
                       error: str = "") -> AttemptOutcome:
        if not call.finished.done():
            # without even a provisional response there is nothing to CANCEL yet (RFC 3261 §9.1):
            # the call is given up at once and the user agent ends it when its Timer B fires
            grace = self.grace if call.progress or call.answered.done() else 0.1
            with contextlib.suppress(VoicebotError, TimeoutError):
                await asyncio.wait_for(call.hangup(), grace)
        if not call.finished.done():  # no answer to CANCEL, or not even a provisional response
            kind = rules.NO_ANSWER if call.progress else rules.NETWORK
            return AttemptOutcome(kind=kind, sip_status=None, reason="no final response")
        result = call.finished.result()
        stats: dict[str, Any] = call.media.stats() if call.media is not None and result.answered else {}
        kind = rules.LOCAL_FAILURE if error else KIND_OF_EXIT.get(exit_code_for(result), rules.LOCAL_FAILURE)
        return AttemptOutcome(
            kind=kind,
            sip_status=result.status,
            reason=error or result.reason,
            ended_by=result.ended_by,
            setup_s=result.setup_time,
            talk_s=result.duration,
            outcome=flow.outcome if flow is not None else None,
            slots={k: v for k, v in flow.slots.items() if v is not None} if flow is not None else {},
            do_not_call=flow.do_not_call if flow is not None else False,
            transcript=_transcript(flow, latencies),
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


def estimate_mos(stats: dict[str, Any]) -> float:
    """A listening-quality MOS estimate from RTP statistics (the E-model of
    :mod:`voicebot.metrics.quality`, the one the metrics use too)."""
    return round(media_quality(stats).mos, 2)
