"""Runs a dialog flow on a call: the thin driver between the pure flow runtime and a Call.

The flow session (:mod:`voicebot.flow`) returns actions; :class:`VoiceBot` performs each one
with the call's own primitives — ``call.say``, ``call.listen``, ``call.read_dtmf``,
``call.transfer``, ``call.hangup`` — and feeds back what happened (an utterance, a key,
silence, a webhook's answer, a voiceprint check, the caller leaving). It keeps no audio state
of its own: everything a flow does on a call, a person's own bot logic can do with the same
calls. With ``voiceprints`` (a :class:`~voicebot.voiceprint.live.CallerVoice`, owned by
whoever made it) it feeds the caller's audio to it and answers ``verify_voice`` /
``enroll_voice`` states. On an outbound call through a flow with ``answering_machine:`` it
runs answering-machine detection (:func:`voicebot.media.amd.detect`) on the caller's audio from
the start and answers the flow's ``DetectMachine`` with who answered and, for a machine, when
its greeting is over.

```python
result = await VoiceBot(call).run(Flow.load("dialogs/satisfaction_survey.yaml"))
# or simply: call = await ua.dial(uri, flow=flow); (await call.finished).flow
```
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from voicebot.errors import DependencyError
from voicebot.flow import (
    Action,
    AnsweredBy,
    CallerHangup,
    DetectMachine,
    Dtmf,
    EnrollVoice,
    Event,
    Flow,
    FlowResult,
    Hangup,
    Listen,
    MachineRecording,
    Say,
    Session,
    SetSlot,
    SilenceTimeout,
    Transfer,
    TransferResult,
    Utterance,
    VerifyVoice,
    VoiceprintResult,
    Webhook,
)
from voicebot.flowio.webhook import WebhookRunner, runner
from voicebot.media.amd import AmdConfig, AmdDecision, AmdEvent, BeepHeard, MessageCue, detect
from voicebot.media.vad import Vad
from voicebot.voice import Heard, Speech, TurnTiming

if TYPE_CHECKING:
    from voicebot.asr import AsrEngine
    from voicebot.asr.engine import Band
    from voicebot.call import Call
    from voicebot.tts import Synthesizer
    from voicebot.voiceprint.live import CallerVoice

log = logging.getLogger(__name__)


class VoiceBot:
    """Runs flows on one call. ``speech``: the engines (default: the call's, else chosen by
    the flow's language); ``webhook``: runs the flow's webhooks (default: real HTTP);
    ``voiceprints``: hears the caller and answers voice states (default: none, so a check
    answers ``not_enrolled`` and an enrolment ``failed``)."""

    def __init__(
        self,
        call: Call,
        *,
        speech: Speech | None = None,
        webhook: WebhookRunner | None = None,
        synthesizer: Synthesizer | None = None,
        asr: AsrEngine | None = None,
        voiceprints: CallerVoice | None = None,
    ) -> None:
        self.call = call
        if speech is None and synthesizer is not None and asr is not None:  # the engines one by one
            speech = Speech(synthesizer=synthesizer, asr=asr)
        if speech is not None:
            call.speech = speech
        self.webhook = webhook
        self.voiceprints = voiceprints
        self._flow: Flow | None = None
        self._amd: asyncio.Queue[AmdEvent | None] = asyncio.Queue()  # the detector's findings; None: no more

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
        dtmf_only: bool = False,
    ) -> FlowResult:
        """Run ``flow`` on the call until it hangs up, transfers or the caller leaves;
        ``dtmf_only``: the caller answers by keypad alone, as they do when the call's engines
        have no recogniser (see :func:`flow_speech`)."""
        task = asyncio.current_task()
        if task is not None:
            self.call.track(task)
        machine = flow.answering_machine if self.call.direction == "outbound" else None
        failure: Exception | None = None
        async with asyncio.TaskGroup() as helpers:
            # beside the conversation, and cancelled when it ends: the detector hears the
            # greeting from the answer on (before the prompts are ready), the voiceprints too
            riding = []
            if machine is not None:
                riding.append(helpers.create_task(self._detect_machine(machine.within, Vad())))
            if self.voiceprints is not None:
                riding.append(helpers.create_task(self._feed_voiceprints()))
            try:
                result = await self._prepare_and_converse(flow, context, on_action, dtmf_only, machine is not None)
            except Exception as exc:  # raised as it is, not wrapped in the task group's ExceptionGroup
                failure = exc
            finally:
                for helper in riding:
                    helper.cancel()
        if failure is not None:
            raise failure
        return result

    async def _prepare_and_converse(
        self,
        flow: Flow,
        context: Mapping[str, Any] | None,
        on_action: Callable[[Action], None] | None,
        dtmf_only: bool,
        detect_machine: bool,
    ) -> FlowResult:
        if self.call.speech is None:
            self.call.speech = await asyncio.to_thread(flow_speech, flow, dtmf_only=dtmf_only)
        dtmf_only = dtmf_only or self.call.speech.asr is None
        # every slot-free prompt and the opening ones rendered, and a recogniser built, before
        # the first turn needs them
        opening = opening_prompts(flow, context, dtmf_only=dtmf_only)
        await self.call.speech.prepare([s.text for s in static_prompts(flow)] + opening)
        self._flow = flow
        clock = time.time
        # answers the engine is not sure of are read back, as the speech benchmark scores it
        asr = None if dtmf_only else self.call.speech.asr
        session = flow.start(
            dict(context or {}),
            now=clock(),
            dtmf_only=dtmf_only,
            detect_machine=detect_machine,
            accept_confidence=accept_confidence(asr, self.call.band),
            confirm_confidence=confirm_confidence(asr, self.call.band),
        )
        return await self._converse(session, flow, on_action, clock)

    async def _converse(
        self, session: Session, flow: Flow, on_action: Callable[[Action], None] | None, clock: Callable[[], float]
    ) -> FlowResult:
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
                elif MachineRecording in session.expecting:  # a machine answered: wait out its greeting
                    event = await self._machine_event(MessageCue)
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
        if isinstance(action, Listen) and action.dtmf_only:
            digits = await call.read_dtmf(1, timeout=action.timeout_s)
            if digits:
                return Dtmf(digit=digits)
            return CallerHangup() if call.hung_up else SilenceTimeout()
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
                self.webhook = runner()  # real HTTP ($VOICEBOT_WEBHOOK_BASE when set)
            return await self.webhook(action)
        if isinstance(action, VerifyVoice | EnrollVoice):
            return await self._voiceprint(action)
        if isinstance(action, DetectMachine):
            return await self._machine_event(AmdDecision)
        if isinstance(action, SetSlot):
            return None
        log.warning("unhandled flow action %r", action)
        return None

    async def _detect_machine(self, within: float, vad: Vad) -> None:
        """Answering-machine detection on the caller's audio from the answer on: each finding
        is a progress event, and goes to the flow when it asks (:meth:`_machine_event`)."""
        try:
            async for found in detect(self.call.audio(), vad, config=AmdConfig(deadline=within)):
                if isinstance(found, AmdDecision):
                    self.call.report_detection(found.verdict, found.reason, seconds=found.at)
                elif isinstance(found, BeepHeard):
                    self.call.report_detection("beep", f"{found.frequency:.0f} Hz, {found.duration:.2f} s")
                else:
                    self.call.report_detection("greeting over", found.after)
                self._amd.put_nowait(found)
        finally:
            self._amd.put_nowait(None)

    async def _machine_event(self, wanted: type[AmdDecision] | type[MessageCue]) -> Event:
        """The detector's verdict (``AmdDecision``) or a machine's greeting ending
        (``MessageCue``) as a flow event; the caller leaving ends the wait."""
        while (found := await self._amd.get()) is not None:
            if isinstance(found, AmdDecision) and wanted is AmdDecision:
                return AnsweredBy(verdict=found.verdict, at=found.at, reason=found.reason)
            if isinstance(found, MessageCue) and wanted is MessageCue:
                return MachineRecording(at=found.at, after=found.after)
        self._amd.put_nowait(None)  # the detector is done: so is any later wait
        if self.call.hung_up or wanted is MessageCue:
            return CallerHangup()
        return AnsweredBy(verdict="unknown", reason="no audio from the call")

    async def _feed_voiceprints(self) -> None:
        """Every frame the caller sends, to the voiceprint checker (it keeps the newest ones)."""
        assert self.voiceprints is not None
        async for frame in self.call.audio():
            self.voiceprints.feed(frame.pcm)

    async def _voiceprint(self, action: VerifyVoice | EnrollVoice) -> VoiceprintResult:
        """Score (or enrol) the caller's speech so far, off the event loop."""
        verifying = isinstance(action, VerifyVoice)
        if self.voiceprints is None:
            why = "this bot was given no voiceprints (VoiceBot(..., voiceprints=CallerVoice(store)))"
            return VoiceprintResult(result="not_enrolled" if verifying else "failed", error=why)
        work = self.voiceprints.verify if verifying else self.voiceprints.enroll
        v = await asyncio.wrap_future(work(action.id, action.min_seconds))
        return VoiceprintResult(result=v.result, score=v.score, seconds=v.seconds, error=v.error)


def flow_speech(
    flow: Flow,
    *,
    asr_engine: str | None = None,
    asr_model: str | Path | None = None,
    voice: str | None = None,
    dtmf_only: bool = False,
    asr_processes: int | None = None,
) -> Speech:
    """The engines ``flow`` needs: a voice for its language (``voice``, else the flow's own),
    and a recogniser unless it runs by keypad alone (``dtmf_only``), in ``asr_processes``
    decoder hosts where it keeps the GIL (:meth:`Speech.for_language`).

    With no recogniser for the language, and none asked for by name (``asr_engine`` /
    ``asr_model``), the flow runs by keypad: the engines returned have none (``asr`` None).
    A flow that a keypad cannot answer (:attr:`Flow.keypad_problems`) is refused then, with
    a :class:`DependencyError` naming what to install."""
    voice = voice or flow.meta.voice
    if dtmf_only:
        return Speech.speaking(flow.language, voice=voice)
    try:
        return Speech.for_language(
            flow.language, asr_engine=asr_engine, asr_model=asr_model, voice=voice, asr_processes=asr_processes
        )
    except DependencyError as exc:
        if asr_engine is not None or asr_model is not None:
            raise
        blocking = [d for d in flow.keypad_problems if d.is_error]
        if blocking:
            raise DependencyError(f"{exc}; nor can this flow run by keypad alone ({blocking[0].message})") from None
        log.info("%s; flow %s runs by keypad alone", exc, flow.name)
        return Speech.speaking(flow.language, voice=voice)


def accept_confidence(asr: AsrEngine | None, band: Band | None = None) -> float | None:
    """The engine's accept threshold on the line's ``band`` (``accept_on``, from
    ``voicebot/asr/calibration.json``): below it an answer is worth confirming. None for no
    engine (a flow then confirms only where its YAML says ``confirm_below``)."""
    return asr.accept_on(band) if asr is not None else None


def confirm_confidence(asr: AsrEngine | None, band: Band | None = None) -> float | None:
    """The engine's threshold on the line's ``band`` for the caller's "yes" to a read-back
    (``confirm_on``, from ``voicebot/asr/calibration.json``). None for no engine."""
    return asr.confirm_on(band) if asr is not None else None


def _event_for(heard: Heard) -> Event:
    if heard.kind == "speech":
        return Utterance(text=heard.phrase or heard.text, confidence=heard.confidence)
    if heard.kind == "no_match":
        return Utterance(text=heard.text, confidence=heard.confidence, understood=False)
    if heard.kind == "dtmf":
        return Dtmf(digit=heard.digits)
    if heard.kind == "hangup":
        return CallerHangup()
    return SilenceTimeout()


def intent_groups(flow: Flow | None, state_name: str) -> dict[str, str] | None:
    """Phrase -> intent for a listening state, so that endpointing knows which phrases mean
    the same and the recogniser weighs an intent's phrases together. The flow's read-back
    answers (yes, no) are in it too: a read-back's reply is heard with them beside the
    state's phrases, and a state that has none of its own (where to leave a parcel) would
    otherwise hear "네", "예" and "맞아요" as rival meanings. The state's own intent wins
    for a phrase that is both."""
    state = flow.states.get(state_name) if flow is not None else None
    if flow is None or state is None or state.intents is None:
        return None
    confirmation = flow.compiled.confirmation
    answers = confirmation.answers.phrases if confirmation is not None else ()
    return {phrase: intent for intent, phrases in (*answers, *state.intents.phrases) for phrase in phrases}


def opening_prompts(flow: Flow, context: Mapping[str, Any] | None = None, *, dtmf_only: bool = False) -> list[str]:
    """What the flow says before the caller's first turn, with ``context`` filled in (the
    greeting names the callee, so it can be rendered before the call, not while it rings),
    and for a flow that detects answering machines what it tells a machine."""
    now = time.time()
    actions = flow.start(dict(context or {}), now=now, dtmf_only=dtmf_only).begin(now=now)
    if flow.answering_machine is not None:
        machine = flow.start(dict(context or {}), now=now, dtmf_only=dtmf_only, detect_machine=True)
        machine.begin(now=now)
        machine.handle(AnsweredBy(verdict="machine"), now=now)
        actions += machine.handle(MachineRecording(), now=now)
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


__all__ = ["Heard", "TurnTiming", "VoiceBot", "flow_speech", "intent_groups", "opening_prompts", "static_prompts"]
