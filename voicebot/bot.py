"""A voice bot on one answered call: it speaks, listens and runs a dialog flow.

This is the seam between the layers: a :class:`~voicebot.call.Call` (signalling + media),
a :class:`~voicebot.tts.Synthesizer`, an ASR engine from :func:`voicebot.asr.get_engine`,
the VAD / endpointing / barge-in state machines of :mod:`voicebot.media.endpoint`, and the
pure flow runtime of :mod:`voicebot.flow`. Everything CPU-heavy (synthesis, decoding) runs in
worker threads; the event loop only moves frames.

```python
bot = VoiceBot(call, synthesizer=Synthesizer(voice="en-us"), asr=get_engine("pocketsphinx"))
await bot.say("Hello!")                                   # False when the caller barged in
heard = await bot.listen(["yes", "no"], timeout=5)        # Heard(kind="speech", phrase="yes", ...)
result = await bot.run(Flow.load("dialogs/satisfaction_survey.yaml"))
```

Turn latency — from the end of the caller's speech to the first frame of the bot's answer
being queued for sending — is recorded for every turn in :attr:`VoiceBot.turn_latencies`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import numpy.typing as npt

from voicebot.asr import AsyncRecognizer
from voicebot.asr.listen import listen as listen_turn
from voicebot.flow import (
    Action,
    CallerHangup,
    Dtmf,
    EnrollVoice,
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
    VerifyVoice,
    VoiceprintResult,
    Webhook,
    WebhookResult,
)
from voicebot.flow import CallResult as FlowResult
from voicebot.media.endpoint import FRAME_SECONDS, BargeInDetector, EndpointConfig
from voicebot.media.vad import Vad

if TYPE_CHECKING:
    from voicebot.asr import AsrEngine
    from voicebot.call import Call
    from voicebot.tts import Synthesizer
    from voicebot.voiceprint.live import CallerVoice

log = logging.getLogger(__name__)

Pcm = npt.NDArray[np.int16]
FRAME = 320  # 20 ms at 16 kHz


@dataclass(frozen=True, slots=True, kw_only=True)
class Heard:
    """What one listening turn got.

    ``kind``: "speech" (``text``/``phrase``/``confidence`` set), "dtmf" (``digits``),
    "no_input" (the caller kept silent for the timeout) or "hangup".
    ``speech_end``: the loop time at which the caller stopped talking (speech only).
    """

    kind: str
    text: str = ""
    phrase: str | None = None
    confidence: float = 0.0
    digits: str = ""
    speech_end: float | None = None
    endpoint_reason: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class TurnTiming:
    """Where one turn's latency went (loop-clock seconds).

    ``speech_end``: the caller's last speech frame ended; ``endpointed``: the endpointer
    decided the utterance was over; ``recognised``: the final ASR result was ready;
    ``first_audio``: the first chunk of the bot's answer was queued for sending.
    """

    speech_end: float
    endpointed: float
    recognised: float
    first_audio: float
    endpoint_reason: str

    @property
    def total(self) -> float:
        return self.first_audio - self.speech_end


TimedFrame = tuple[float, Pcm]


class BotObserver(Protocol):
    """What the bot reports, for monitoring (``voicebot.metrics.Metrics`` implements it)."""

    def observe_asr(self, *, confidence: float, latency: float | None = None) -> None: ...
    def observe_turn(self, *, latency: float) -> None: ...
    def observe_tts(self, *, seconds: float) -> None: ...


@dataclass(slots=True)
class _Ears:
    """The caller's audio as one queue, fed by a single reader task.

    Every frame carries its *media* time: the time of the first frame plus 20 ms per frame.
    Frames can reach the event loop in bursts when the machine is busy; stamped with their
    arrival time, a burst after a stall would look like a silence and end a turn in the
    middle of a word (measured: "cancel" heard as "no" under full CPU load).
    """

    frames: asyncio.Queue[TimedFrame | None] = field(default_factory=lambda: asyncio.Queue(maxsize=1500))
    pending: list[Pcm] = field(default_factory=list)  # audio kept from a barge-in


class VoiceBot:
    """Drives one answered call: ``say``, ``listen``, or ``run`` a whole flow."""

    def __init__(
        self,
        call: Call,
        *,
        synthesizer: Synthesizer,
        asr: AsrEngine,
        endpoint: EndpointConfig | None = None,
        vad_aggressiveness: int = 2,
        webhook: Callable[[Webhook], Awaitable[WebhookResult]] | None = None,
        observer: BotObserver | None = None,
        voiceprints: CallerVoice | None = None,
    ) -> None:
        if call.media is None:
            raise ValueError("the call has no media stream (was it answered?)")
        self.call = call
        self.media = call.media
        self.synth = synthesizer
        self.asr = asr
        self.endpoint = endpoint or EndpointConfig()
        self.vad = Vad(vad_aggressiveness)
        self.webhook = webhook
        self.observer = observer  # metrics: ASR confidence and latency, turn latency, TTS time
        self.voiceprints = voiceprints  # hears every caller frame; answers verify_voice / enroll_voice
        self.turn_latencies: list[float] = []
        self.turn_timings: list[TurnTiming] = []
        self._ears = _Ears()
        self._reader: asyncio.Task[None] | None = None
        self._hung_up = asyncio.Event()
        self._last_turn: tuple[float, float, float, str] | None = None
        self._flow: Flow | None = None
        self._media_latest: float | None = None  # media time of the newest caller frame
        self._media_lag = 0.0  # loop time minus media time at that frame

    # ------------------------------------------------------------------ lifecycle
    async def __aenter__(self) -> VoiceBot:
        self._start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def _start(self) -> None:
        if self._reader is None:
            self._reader = asyncio.create_task(self._read(), name="voicebot-ears")

    async def close(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
            self._reader = None

    async def _read(self) -> None:
        frames: AsyncIterator[Pcm] = self.media.frames()
        loop = asyncio.get_running_loop()
        start: float | None = None
        count = 0
        try:
            async for frame in frames:
                if start is None:
                    start = loop.time() - FRAME_SECONDS
                if self._ears.frames.full():  # nobody listening for a long while: keep the newest
                    self._ears.frames.get_nowait()
                stamp = start + count * FRAME_SECONDS
                self._ears.frames.put_nowait((stamp, frame))
                if self.voiceprints is not None:
                    self.voiceprints.feed(frame)
                self._media_latest = stamp
                self._media_lag = loop.time() - FRAME_SECONDS - stamp  # grows when frames came late
                count += 1
        finally:
            self._hung_up.set()
            with contextlib.suppress(asyncio.QueueFull):
                self._ears.frames.put_nowait(None)

    def _drain(self) -> None:
        """Forget caller audio that arrived while nobody was listening (e.g. during a webhook)."""
        while not self._ears.frames.empty():
            if self._ears.frames.get_nowait() is None:
                self._ears.frames.put_nowait(None)
                return

    # ------------------------------------------------------------------ speaking
    async def say(self, text: str, *, ssml: bool = False, voice: str | None = None, barge_in: bool = True) -> bool:
        """Speak ``text``; returns False when the caller interrupted (the speech is kept for listen)."""
        self._start()
        loop = asyncio.get_running_loop()
        done = asyncio.Event()
        first = True
        detector = BargeInDetector() if barge_in else None
        self._drain()

        async def produce() -> None:
            nonlocal first
            asked = loop.time()
            try:
                async for chunk in self.synth.stream(text, ssml=ssml, voice=voice):
                    if first and self.observer is not None:
                        self.observer.observe_tts(seconds=loop.time() - asked)
                    if first and self._last_turn is not None:
                        speech_end, endpointed, recognised, reason = self._last_turn
                        timing = TurnTiming(
                            speech_end=speech_end,
                            endpointed=endpointed,
                            recognised=recognised,
                            first_audio=loop.time(),
                            endpoint_reason=reason,
                        )
                        self.turn_timings.append(timing)
                        self.turn_latencies.append(timing.total)
                        self._last_turn = None
                        if self.observer is not None:
                            self.observer.observe_turn(latency=timing.total)
                    first = False
                    self.media.play(chunk)
            except Exception as exc:  # the call goes on with the fallback audio
                log.warning("synthesis of %r failed (%s); playing the fallback", text[:60], exc)
                rendered = await self.synth.render_or_fallback(text, ssml=ssml, voice=voice)
                self.media.play(rendered.pcm)
            self.media.play(np.zeros(FRAME, np.int16), done.set)

        producer = asyncio.create_task(produce())
        interrupted = False
        try:
            while not done.is_set():
                getter = asyncio.ensure_future(self._ears.frames.get())
                waiter = asyncio.ensure_future(done.wait())
                finished, _ = await asyncio.wait({getter, waiter}, return_when=asyncio.FIRST_COMPLETED)
                waiter.cancel()
                if getter not in finished:
                    getter.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await getter
                    continue
                item = getter.result()
                if item is None:
                    break
                at, frame = item
                if detector is not None:
                    event = detector.feed(now=at, frame=frame, speech=self.vad.is_speech(frame))
                    if event is not None:
                        interrupted = True
                        self.media.stop_playback()
                        self._ears.pending = list(event.frames)  # the words that interrupted
                        break
        finally:
            producer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await producer
        return not interrupted

    # ------------------------------------------------------------------ listening
    async def listen(
        self,
        grammar: Sequence[str] | None = None,
        *,
        timeout: float = 5.0,
        max_digits: int = 1,
        inter_digit_timeout: float = 3.0,
        groups: Mapping[str, str] | None = None,
    ) -> Heard:
        """One turn: the caller's utterance (VAD, endpointing, ASR), keyed digits, or silence.

        The first DTMF digit ends the spoken turn; up to ``max_digits`` digits are collected
        (``#`` ends early, ``inter_digit_timeout`` between digits). ``groups`` maps phrases to
        their meaning (a flow's intents), so "yes" may end the turn early even though "yes
        please" is expected too: either means yes.
        """
        self._start()
        loop = asyncio.get_running_loop()
        config = replace(self.endpoint, no_input_timeout=timeout)
        pending, self._ears.pending = self._ears.pending, []
        # media time of the oldest frame still queued: where this turn's listening starts
        if self._media_latest is None:  # no caller audio yet: media time starts with the loop's
            started = loop.time()
        else:
            started = self._media_latest - max(0, self._ears.frames.qsize() - 1) * FRAME_SECONDS
        rec = await AsyncRecognizer.open(self.asr, list(grammar) if grammar else None, groups=groups)
        speech = asyncio.create_task(
            listen_turn(
                self._timed_frames(),
                rec,
                started_at=started,
                config=config,
                vad=self.vad,
                pre_roll=pending,
                in_speech_since=started if pending else None,
            )
        )
        first_digit = asyncio.create_task(self.media.dtmf_events.get())
        try:
            done, _ = await asyncio.wait({speech, first_digit}, return_when=asyncio.FIRST_COMPLETED)
            if first_digit in done:
                speech.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await speech
                return await self._more_digits(first_digit.result().digit, max_digits, inter_digit_timeout)
            first_digit.cancel()
            turn = speech.result()
        finally:
            for task in (speech, first_digit):
                task.cancel()
            await rec.aclose()
        if turn.outcome == "no_input":
            return Heard(kind="no_input")
        if turn.outcome == "hangup" or turn.result is None or turn.end is None:
            return Heard(kind="hangup")
        result, end = turn.result, turn.end
        lag = self._media_lag  # turn timings are kept on the loop clock
        self._last_turn = (end.speech_end + lag, end.at + lag, loop.time(), end.reason)
        match = result.match
        if self.observer is not None:
            confidence = match.confidence if match is not None else result.confidence
            self.observer.observe_asr(confidence=confidence, latency=loop.time() - (end.at + lag))
        return Heard(
            kind="speech",
            text=result.text,
            phrase=match.phrase if match is not None else None,
            confidence=match.confidence if match is not None else result.confidence,
            speech_end=end.speech_end,
            endpoint_reason=end.reason,
        )

    async def _timed_frames(self) -> AsyncIterator[TimedFrame]:
        """Caller frames with the media time at which each one started."""
        while True:
            item = await self._ears.frames.get()
            if item is None:
                self._ears.frames.put_nowait(None)  # later turns see the hang-up too
                return
            yield item

    async def _more_digits(self, first: str, max_digits: int, inter_digit_timeout: float) -> Heard:
        digits = first
        while len(digits) < max_digits and not digits.endswith("#"):
            try:
                d = await asyncio.wait_for(self.media.dtmf_events.get(), inter_digit_timeout)
            except TimeoutError:
                break
            digits += d.digit
        return Heard(kind="dtmf", digits=digits.rstrip("#") or digits)

    # ------------------------------------------------------------------ flows
    async def run(
        self,
        flow: Flow,
        *,
        context: Mapping[str, Any] | None = None,
        on_action: Callable[[Action], None] | None = None,
    ) -> FlowResult:
        """Run ``flow`` on this call until it hangs up, transfers or the caller leaves."""
        self._start()
        prompts = [s.text for s in _static_prompts(flow)]
        if prompts:
            await self.synth.synthesize_all(prompts)
        self._flow = flow
        session = flow.start(dict(context or {}))
        clock = time.time
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
                if self._hung_up.is_set():
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
        return session.result()

    def _intent_groups(self, state_name: str) -> dict[str, str] | None:
        return _groups_of(self._flow, state_name)

    async def _perform(self, action: Action) -> Event | None:
        if isinstance(action, Say):
            voice = action.voice
            if action.ssml:
                await self.say(action.ssml, ssml=True, voice=voice, barge_in=action.barge_in)
            else:
                await self.say(action.text, voice=voice, barge_in=action.barge_in)
            return CallerHangup() if self._hung_up.is_set() else None
        if isinstance(action, Listen):
            # digits go to the flow one by one: it collects up to the state's max_digits itself
            heard = await self.listen(
                action.grammar, timeout=action.timeout_s, max_digits=1, groups=self._intent_groups(action.state)
            )
            if heard.kind == "speech":
                return Utterance(text=heard.phrase or heard.text, confidence=heard.confidence)
            if heard.kind == "dtmf":
                return Dtmf(digit=heard.digits)
            if heard.kind == "hangup":
                return CallerHangup()
            return SilenceTimeout()
        if isinstance(action, Hangup):
            await self.call.hangup()
            return None
        if isinstance(action, Transfer):
            status = await self.call.transfer(action.uri)
            return TransferResult(ok=200 <= status < 300, reason=str(status))
        if isinstance(action, Webhook):
            if self.webhook is None:
                from voicebot.flowio.webhook import execute_async

                return await execute_async(action)
            return await self.webhook(action)
        if isinstance(action, VerifyVoice | EnrollVoice):
            return await self._voiceprint(action)
        if isinstance(action, SetSlot):
            return None
        log.warning("unhandled flow action %r", action)
        return None


    async def _voiceprint(self, action: VerifyVoice | EnrollVoice) -> VoiceprintResult:
        """Score (or enrol) the caller's speech so far, off the event loop."""
        verifying = isinstance(action, VerifyVoice)
        if self.voiceprints is None:
            why = "this bot was given no voiceprints (VoiceBot(..., voiceprints=CallerVoice(store)))"
            return VoiceprintResult(result="not_enrolled" if verifying else "failed", error=why)
        work = self.voiceprints.verify if verifying else self.voiceprints.enroll
        v = await asyncio.wrap_future(work(action.id, action.min_seconds))
        return VoiceprintResult(result=v.result, score=v.score, seconds=v.seconds, error=v.error)


def _groups_of(flow: Flow | None, state_name: str) -> dict[str, str] | None:
    state = flow.states.get(state_name) if flow is not None else None
    if state is None or state.intents is None:
        return None
    return {phrase: intent for intent, phrases in state.intents.phrases for phrase in phrases}


def _static_prompts(flow: Flow) -> list[Say]:
    """The prompts of a flow that need no slot values, to synthesise before the call needs them."""
    out: list[Say] = []
    for state in flow.states.values():
        if state.ssml:
            continue
        for template in (*state.say, *state.reprompt, *state.no_input_say, *state.no_match_say):
            if not template.names:
                out.append(Say(text=template.source, language=flow.language))
    return out


__all__ = ["BotObserver", "Heard", "TurnTiming", "VoiceBot"]
