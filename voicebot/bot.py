"""Runs a dialog flow on a call: the thin driver between the pure flow runtime and a Call.

The flow session (:mod:`voicebot.flow`) returns actions; :class:`VoiceBot` performs each one
with the call's own primitives — ``call.say``, ``call.listen``, ``call.transfer``,
``call.hangup`` — and feeds back what happened (an utterance, a key, silence, a webhook's
answer, the caller leaving). It keeps no audio state of its own: everything a flow does on a
call, a person's own bot logic can do with the same calls.

```python
result = await VoiceBot(call).run(Flow.load("dialogs/satisfaction_survey.yaml"))
# or simply: call = await ua.dial(uri, flow=flow); (await call.finished).flow
```
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any

from voicebot.flow import (
    Action,
    CallerHangup,
    Dtmf,
    Event,
    Flow,
    Hangup,
    Listen,
    Say,
    SetSlot,
    SilenceTimeout,
    Transfer,
    TransferResult,
    Utterance,
    Webhook,
    WebhookResult,
)
from voicebot.flow import CallResult as FlowResult
from voicebot.voice import Heard, Speech, TurnTiming

if TYPE_CHECKING:
    from voicebot.asr import AsrEngine
    from voicebot.call import Call
    from voicebot.tts import Synthesizer

log = logging.getLogger(__name__)

WebhookRunner = Callable[[Webhook], Awaitable[WebhookResult]]


class VoiceBot:
    """Runs flows on one call. ``speech``: the engines (default: the call's, else chosen by
    the flow's language); ``webhook``: runs the flow's webhooks (default: real HTTP)."""

    def __init__(
        self,
        call: Call,
        *,
        speech: Speech | None = None,
        webhook: WebhookRunner | None = None,
        synthesizer: Synthesizer | None = None,
        asr: AsrEngine | None = None,
    ) -> None:
        self.call = call
        if speech is None and synthesizer is not None and asr is not None:  # the engines one by one
            speech = Speech(synthesizer=synthesizer, asr=asr)
        if speech is not None:
            call.speech = speech
        self.webhook = webhook
        self._flow: Flow | None = None

    @property
    def turn_timings(self) -> list[TurnTiming]:
        return self.call.turn_timings

    @property
    def turn_latencies(self) -> list[float]:
        return [t.total for t in self.call.turn_timings]

    async def run(
        self,
        flow: Flow,
        *,
        context: Mapping[str, Any] | None = None,
        on_action: Callable[[Action], None] | None = None,
    ) -> FlowResult:
        """Run ``flow`` on the call until it hangs up, transfers or the caller leaves."""
        task = asyncio.current_task()
        if task is not None:
            self.call.track(task)
        if self.call.speech is None:
            self.call.speech = await asyncio.to_thread(Speech.for_language, flow.language)
        # every slot-free prompt and the opening ones rendered, and a recogniser built, before
        # the first turn needs them
        await self.call.speech.prepare([s.text for s in static_prompts(flow)] + opening_prompts(flow, context))
        self._flow = flow
        clock = time.time
        session = flow.start(dict(context or {}), now=clock())
        actions = session.begin(now=clock())
        while True:
            event: Event | None = None
            for action in actions:
                if on_action is not None:
                    on_action(action)
                event = await self._perform(action)
                if event is not None:  # input arrived (or the caller left): the flow decides next
                    break
            if event is None:
                if session.ended:
                    break
                if self.call.hung_up:
                    event = CallerHangup()
                elif session.last_listen is not None and Utterance in session.expecting:
                    # the flow is still collecting (e.g. more keyed digits): keep listening
                    event = await self._perform(session.last_listen)
                else:
                    log.error("flow %s waits for %s, which this call cannot give", flow.name, session.expecting)
                    event = CallerHangup()
            assert event is not None
            actions = session.handle(event, now=clock())
            if isinstance(event, CallerHangup):
                break
        result = session.result()
        self.call.report_flow(result)
        return result

    async def _perform(self, action: Action) -> Event | None:
        call = self.call
        if isinstance(action, Say):
            if action.ssml:
                await call.say(action.ssml, ssml=True, voice=action.voice, barge_in=action.barge_in)
            else:
                await call.say(action.text, voice=action.voice, barge_in=action.barge_in)
            return CallerHangup() if call.hung_up else None
        if isinstance(action, Listen):
            # digits go to the flow one by one: it collects up to the state's max_digits itself
            heard = await call.listen(
                action.grammar, timeout=action.timeout_s, max_digits=1, groups=intent_groups(self._flow, action.state)
            )
            return _event_for(heard)
        if isinstance(action, Hangup):
            await call.hangup()
            return None
        if isinstance(action, Transfer):
            status = await call.transfer(action.uri)
            return TransferResult(ok=200 <= status < 300, reason=str(status))
        if isinstance(action, Webhook):
            if self.webhook is None:
                from voicebot.flowio.webhook import execute_async

                return await execute_async(action)
            return await self.webhook(action)
        if isinstance(action, SetSlot):
            return None
        log.warning("unhandled flow action %r", action)
        return None


def _event_for(heard: Heard) -> Event:
    if heard.kind == "speech":
        return Utterance(text=heard.phrase or heard.text, confidence=heard.confidence)
    if heard.kind == "dtmf":
        return Dtmf(digit=heard.digits)
    if heard.kind == "hangup":
        return CallerHangup()
    return SilenceTimeout()


def intent_groups(flow: Flow | None, state_name: str) -> dict[str, str] | None:
    """Phrase -> intent for a listening state, so endpointing knows which phrases mean the same."""
    state = flow.states.get(state_name) if flow is not None else None
    if state is None or state.intents is None:
        return None
    return {phrase: intent for intent, phrases in state.intents.phrases for phrase in phrases}


def opening_prompts(flow: Flow, context: Mapping[str, Any] | None = None) -> list[str]:
    """What the flow says before the caller's first turn, with ``context`` filled in (the
    greeting names the callee, so it can be rendered before the call, not while it rings)."""
    now = time.time()
    actions = flow.start(dict(context or {}), now=now).begin(now=now)
    return [a.text for a in actions if isinstance(a, Say) and not a.ssml]


def static_prompts(flow: Flow) -> list[Say]:
    """The prompts of a flow that need no slot values, to synthesise before the call needs them."""
    out: list[Say] = []
    for state in flow.states.values():
        if state.ssml:
            continue
        for template in (*state.say, *state.reprompt, *state.no_input_say, *state.no_match_say):
            if not template.names:
                out.append(Say(text=template.source, language=flow.language))
    return out


__all__ = ["Heard", "TurnTiming", "VoiceBot", "intent_groups", "opening_prompts", "static_prompts"]
