"""One call: its signalling, its media and its voice — the object users script against.

```python
call = await ua.dial("sip:alice@127.0.0.1:5070")
if await call.answered:
    await call.say("Hello! Is this a good time?")          # False when the caller barged in
    heard = await call.listen(["yes", "no"], timeout=5)   # Heard(kind="speech", phrase="yes", ...)
    await call.hangup()
result = await call.finished                              # CallResult
```

* ``await call.answered`` -> True once the call is up (False when it never was);
  ``await call.ended`` -> :class:`CallResult` as soon as the SIP dialog is over;
  ``await call.finished`` -> the same, once work riding on the call (a flow) has finished too;
* speaking and listening: ``say``, ``play``, ``listen``, ``read_dtmf``, ``audio()``,
  ``record(path)`` (see :mod:`voicebot.voice`);
* signalling: ``hangup``, ``hold`` / ``resume`` / ``update``, ``transfer(uri)``,
  ``send_dtmf(digits)``, and for inbound calls ``ring``, ``answer``, ``reject(code)``;
* ``call.observe(callback)``: every :mod:`voicebot.progress` event as it happens.
* ``call.media``: the :class:`~voicebot.media.stream.MediaStream` of an answered call (an
  incoming call has none before ``answer()``: its sockets open only when it is answered).

A call does not know the user agent that carries it. It asks for what it needs through the
small :class:`Signalling` interface (one call's view of the SIP core), and the user agent
hands it every SIP event of its dialog through :meth:`Call.handle`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from voicebot.errors import LocalProtocolError, VoicebotError
from voicebot.progress import Answered, CallEvent, Ended, MachineDetection, Ringing, Transfer
from voicebot.sip import events as ev
from voicebot.sip.sdp import MediaParams
from voicebot.sip.useragent import NO_RESPONSE
from voicebot.voice import Heard, Speech, TurnTiming, Voice

if TYPE_CHECKING:
    from voicebot.asr import Band
    from voicebot.flow import FlowResult
    from voicebot.media.frames import PCM, AudioFrame
    from voicebot.media.stream import MediaStream

log = logging.getLogger(__name__)

FLOW_GRACE = 5.0  # seconds the result waits, after the dialog ended, for a flow to wrap up
VANISHED_GRACE = 4.0  # seconds a far end that stopped sending RTP gets to answer our BYE


class Signalling(Protocol):
    """What a call asks of the user agent that carries it. Every method acts on that call."""

    def ring(self) -> None: ...
    def answer(self, media_port: int | None) -> None: ...
    def reject(self, status: int, reason: str | None) -> None: ...
    def hangup(self) -> None: ...
    async def hold(self) -> int: ...
    async def resume(self) -> int: ...
    async def update(self) -> int: ...
    async def refer(self, target: str) -> int: ...
    async def info_dtmf(self, digit: str, duration_ms: int) -> int: ...
    def spawn(self, work: Coroutine[Any, Any, Any]) -> None: ...
    def now(self) -> float: ...
    async def open_media(self) -> MediaStream | None: ...


@dataclass(frozen=True, slots=True, kw_only=True)
class CallResult:
    """How a call went. ``status`` is the final SIP status of the INVITE (200 when answered);
    ``progress`` the provisional ones. Times are seconds; ``started_at`` is on the event-loop
    clock, as is every event's ``at``."""

    call_id: str
    direction: str  # "outbound" / "inbound"
    answered: bool
    status: int
    reason: str
    ended_by: str | None  # "local" / "remote" / None when never answered
    setup_time: float  # seconds from INVITE to answer (or to failure)
    duration: float  # seconds from answer to end (0 when never answered)
    progress: tuple[int, ...] = ()
    codec: str | None = None
    started_at: float = 0.0
    media_stats: Mapping[str, Any] | None = None
    events: tuple[CallEvent, ...] = ()
    turn_timings: tuple[TurnTiming, ...] = ()
    flow: FlowResult | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "call_id": self.call_id,
            "direction": self.direction,
            "answered": self.answered,
            "status": self.status,
            "reason": self.reason,
            "ended_by": self.ended_by,
            "setup_time": round(self.setup_time, 3),
            "duration": round(self.duration, 3),
            "progress": list(self.progress),
            "codec": self.codec,
        }


@dataclass(slots=True)
class _Times:
    start: float
    answer: float | None = None
    status: int = 0
    reason: str = ""
    end_reason: str | None = None  # set when we end the call for a reason of our own
    media_started: bool = False


@dataclass(slots=True)
class _Riders:
    """Work riding on the call (a flow) and what it reported."""

    tasks: set[asyncio.Task[Any]] = field(default_factory=set)
    flow: FlowResult | None = None


class Call:
    """A call in progress; created by ``UserAgent.dial`` or handed out for incoming calls."""

    def __init__(
        self,
        link: Signalling,
        call_id: str,
        direction: str,
        remote: str,
        local: str,
        media: MediaStream | None,
        *,
        user: str | None = None,
        speech: Speech | None = None,
    ) -> None:
        loop = asyncio.get_running_loop()
        self._link = link
        self.id = call_id
        self.direction = direction
        self.remote_uri = remote
        self.local_uri = local
        self.media = media
        self.media_params: MediaParams | None = None
        self.user = user  # authenticated caller (serve --auth-user)
        self.speech = speech  # engines for say/listen (English defaults on first use)
        self.answered: asyncio.Future[bool] = loop.create_future()
        self.ended: asyncio.Future[CallResult] = loop.create_future()
        self.finished: asyncio.Future[CallResult] = loop.create_future()
        self.progress: list[int] = []
        self.events: list[CallEvent] = []
        self.transfer_requests: asyncio.Queue[str] = asyncio.Queue()
        self.transferred_to: Call | None = None  # the call we placed when the peer sent REFER
        self.started_at = link.now()
        self._times = _Times(start=self.started_at)
        self._riders = _Riders()
        self._observers: list[Callable[[CallEvent], None]] = []
        self._transfer_waiter: asyncio.Future[int] | None = None
        self._voice: Voice | None = None

    def __repr__(self) -> str:
        return f"<Call {self.direction} {self.remote_uri} {self.id}>"

    # ------------------------------------------------------------------ observing
    def observe(self, callback: Callable[[CallEvent], None]) -> None:
        """``callback(event)`` for every progress event from now on (see :mod:`voicebot.progress`)."""
        self._observers.append(callback)

    def _emit(self, event: CallEvent) -> None:
        self.events.append(event)
        for callback in list(self._observers):
            try:
                callback(event)
            except Exception:
                log.exception("call observer failed on %s", event)

    # ------------------------------------------------------------------ signalling
    async def ring(self) -> None:
        self._link.ring()
        self._emit(Ringing(at=self._link.now(), status=180))

    async def answer(self) -> None:
        """Inbound: answer with 200 OK; returns when the caller's ACK arrived."""
        if self.media is None and not self.ended.done():
            try:
                media = await self._link.open_media()  # an incoming call's sockets open only now
            except VoicebotError:
                log.exception("no media for call %s", self.id)
                with contextlib.suppress(LocalProtocolError):
                    self._link.reject(500, None)
                raise
            if self.ended.done():  # the caller gave up while they opened
                if media is not None:
                    await media.close()
            else:
                self.media = media
        self._link.answer(self.media.local_address[1] if self.media is not None else None)
        await asyncio.shield(self.answered)

    async def reject(self, status: int = 486, reason: str | None = None) -> None:
        self._link.reject(status, reason)
        await asyncio.shield(self.ended)

    async def hangup(self, *, grace: float | None = None) -> CallResult:
        """End the call (BYE, CANCEL or decline as its state needs) and wait until it is over.

        ``grace``: give up on the far end after that many seconds (no answer to BYE/CANCEL,
        or no provisional response at all, so CANCEL cannot be sent) and end the call here."""
        if not self.ended.done():
            with contextlib.suppress(LocalProtocolError):
                self._link.hangup()
        if grace is None:
            return await asyncio.shield(self.ended)
        with contextlib.suppress(TimeoutError):
            return await asyncio.wait_for(asyncio.shield(self.ended), grace)
        if self._times.answer is None and not self.progress:
            return await self.abandon(408, NO_RESPONSE)  # not even 100 Trying came back
        return await self.abandon(487, "no answer to CANCEL/BYE")

    async def abandon(self, status: int, reason: str) -> CallResult:
        """End the call here and now with ``status``/``reason`` (a far end known to be gone or
        unreachable), after asking the SIP side to end it as well; returns the result."""
        if not self.ended.done():
            with contextlib.suppress(LocalProtocolError):
                self._link.hangup()
            await self._finish(status, reason, "local" if self._times.answer is not None else None)
        return self.ended.result()

    async def hold(self) -> int:
        """Put the peer on hold (re-INVITE, a=sendonly); returns the SIP status of the re-INVITE."""
        return await self._link.hold()

    async def resume(self) -> int:
        return await self._link.resume()

    async def update(self) -> int:
        """Send UPDATE with a fresh offer (RFC 3311)."""
        return await self._link.update()

    async def send_dtmf(self, digits: str, *, method: str = "auto", duration_ms: int = 160) -> None:
        """Send digits as RFC 4733 events (``rfc4733``), as SIP INFO (``info``) or ``auto``."""
        use_info = method == "info"
        if method == "auto":
            params = self.media_params
            use_info = self.media is None or params is None or params.telephone_event_pt is None
        if not use_info and self.media is not None:
            self.media.send_dtmf(digits, duration_ms)
            return
        for digit in digits:
            status = await self._link.info_dtmf(digit, duration_ms)
            if status >= 300:
                raise LocalProtocolError(f"INFO for DTMF {digit!r} failed with {status}")

    async def transfer(self, target: str, *, timeout: float = 30.0) -> int:
        """Blind transfer (REFER). Returns the final status the peer reported (200: transferred;
        408 when the peer reported nothing final within ``timeout``).

        On success the call is hung up, as the transferor does after a completed transfer.
        """
        loop = asyncio.get_running_loop()
        self._transfer_waiter = loop.create_future()
        self._emit(Transfer(at=self._link.now(), target=target))
        try:
            status = await asyncio.wait_for(self._link.refer(target), timeout)
        except TimeoutError:
            status = 408
        if status < 300:
            try:
                status = await asyncio.wait_for(asyncio.shield(self._transfer_waiter), timeout)
            except TimeoutError:
                status = 408
        self._emit(Transfer(at=self._link.now(), target=target, status=status))
        if 200 <= status < 300 and not self.ended.done():
            # the transferee may hang up itself (RFC 5589 §6.1 allows either); give it a moment
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(self.ended), 2.0)
            if not self.ended.done():
                await self.hangup()
        return status

    # ------------------------------------------------------------------ voice
    async def _voice_ready(self) -> Voice | None:
        if self._voice is None and not self.ended.done():
            await self.answered
        return self._voice

    def _speech(self) -> Speech:
        if self.speech is None:
            self.speech = Speech.for_language("en")
        return self.speech

    async def say(self, text: str, *, ssml: bool = False, voice: str | None = None, barge_in: bool = True) -> bool:
        """Speak ``text`` (TTS); False when the caller interrupted or the call is over."""
        v = await self._voice_ready()
        return False if v is None else await v.say(text, ssml=ssml, voice=voice, barge_in=barge_in)

    async def play(self, audio: str | Path | PCM, *, barge_in: bool = False) -> bool:
        """Play a WAV file or 16 kHz int16 PCM; returns once sent (False when interrupted)."""
        v = await self._voice_ready()
        return False if v is None else await v.play(audio, barge_in=barge_in)

    async def listen(
        self,
        grammar: Sequence[str] | None = None,
        *,
        timeout: float = 5.0,
        max_digits: int = 1,
        inter_digit_timeout: float = 3.0,
        groups: Mapping[str, str] | None = None,
    ) -> Heard:
        """One turn of the caller: speech (VAD, endpointing, ASR), keys, silence or hang-up."""
        v = await self._voice_ready()
        if v is None:
            return Heard(kind="hangup")
        return await v.listen(
            grammar, timeout=timeout, max_digits=max_digits, inter_digit_timeout=inter_digit_timeout, groups=groups
        )

    async def read_dtmf(self, max_digits: int = 1, *, timeout: float = 5.0, inter_digit_timeout: float = 3.0) -> str:
        """Up to ``max_digits`` keys ('#' ends early); "" when none came within ``timeout``."""
        v = await self._voice_ready()
        if v is None:
            return ""
        return await v.read_dtmf(max_digits, timeout=timeout, inter_digit_timeout=inter_digit_timeout)

    async def audio(self) -> AsyncIterator[AudioFrame]:
        """The far end's audio, frame by frame, each stamped with its media time."""
        if self.media is None:
            return
        async for frame in self.media.frames():
            yield frame

    def record(self, path: str | Path) -> None:
        """Record a 16 kHz two-channel WAV: channel 0 the far end, channel 1 this side."""
        if self.media is not None:
            self.media.start_recording(path)

    @property
    def turn_timings(self) -> list[TurnTiming]:
        return self._voice.turn_timings if self._voice is not None else []

    @property
    def band(self) -> Band | None:
        """The line's band (``Voice.band``; None before media is up)."""
        return self._voice.band if self._voice is not None else None

    @property
    def hung_up(self) -> bool:
        return self.ended.done() or (self._voice is not None and self._voice.hung_up)

    def track(self, task: asyncio.Task[Any]) -> None:
        """Work riding on this call (a flow run): ``finished`` waits for it after the call ends."""
        self._riders.tasks.add(task)
        task.add_done_callback(self._riders.tasks.discard)

    def report_detection(self, what: str, detail: str = "", *, seconds: float | None = None) -> None:
        """What answering-machine detection found on this call, as a progress event
        (:class:`~voicebot.progress.MachineDetection`: a verdict ``seconds`` after the answer, a
        beep, a greeting's end)."""
        self._emit(MachineDetection(at=self._link.now(), what=what, detail=detail, seconds=seconds))

    def report_flow(self, result: FlowResult) -> None:
        """A flow run on this call ended with ``result`` (kept in the call's result)."""
        self._riders.flow = result

    # ------------------------------------------------------------------ from the user agent
    def handle(self, event: ev.Event) -> None:
        """One SIP event of this call's dialog, from the user agent."""
        if isinstance(event, ev.CallProgress):
            self.progress.append(event.status)
            if event.status > 100:
                self._emit(Ringing(at=self._link.now(), status=event.status))
        elif isinstance(event, ev.CallAnswered):
            self._link.spawn(self._answered(event.media))
        elif isinstance(event, ev.MediaChanged):
            self._link.spawn(self._media_up(event.media))
        elif isinstance(event, ev.CallFailed):
            self._link.spawn(self._finish(event.status, event.reason, None))
        elif isinstance(event, ev.CallEnded):
            by = "remote" if event.by_remote else "local"
            self._link.spawn(self._finish(200 if self._times.answer is not None else 487, event.reason, by))
        elif isinstance(event, ev.DtmfReceived):
            if self.media is not None:
                self.media.inject_dtmf(event.digit, event.duration_ms)
        elif isinstance(event, ev.TransferRequested):
            self.transfer_requests.put_nowait(event.target)
        elif isinstance(event, ev.TransferProgress):
            waiter = self._transfer_waiter
            if event.final and waiter is not None and not waiter.done():
                waiter.set_result(event.status)

    async def _answered(self, params: MediaParams | None) -> None:
        self._times.answer = self._link.now()
        self._times.status, self._times.reason = 200, "OK"
        await self._media_up(params)
        media = self.media
        codec = media.codec.name if media is not None and media.codec is not None else None
        self._emit(Answered(at=self._link.now(), codec=codec, ptime=media.ptime if media is not None else None))
        if not self.answered.done():
            self.answered.set_result(True)

    async def _media_up(self, params: MediaParams | None) -> None:
        if params is not None:
            self.media_params = params
        if self.media is None or params is None:
            return
        try:
            self.media.configure(params)
            if not self._times.media_started:
                self._times.media_started = True
                self.media.on_inactive(self._media_inactive)
                await self.media.start()
                self._voice = Voice(self.media, self._speech, emit=self._emit)
        except Exception:  # a codec we cannot run must not take the signalling down
            log.exception("media for call %s could not start", self.id)

    def _media_inactive(self, reason: str) -> None:
        """No RTP for the inactivity timeout: the far end is gone, so end the call (BYE)."""
        if self.ended.done():
            return
        log.warning("call %s: %s; hanging up", self.id, reason)
        self._times.end_reason = f"media timeout ({reason})"
        self._link.spawn(self.hangup(grace=VANISHED_GRACE))

    async def _finish(self, status: int, reason: str, ended_by: str | None) -> None:
        if self.ended.done():
            return
        times = self._times
        now = self._link.now()
        answered = times.answer is not None
        if not self.answered.done():
            self.answered.set_result(False)
        if self._transfer_waiter is not None and not self._transfer_waiter.done():
            self._transfer_waiter.set_result(487)
        if self._voice is not None:
            await self._voice.close()
        stats: dict[str, Any] | None = None
        if self.media is not None:
            with contextlib.suppress(Exception):
                await self.media.close()
            stats = self.media.stats() if times.media_started else None
        final_status = times.status if answered else status
        final_reason = times.end_reason or reason
        self._emit(Ended(at=now, status=final_status, reason=final_reason, ended_by=ended_by))
        result = CallResult(
            call_id=self.id,
            direction=self.direction,
            answered=answered,
            status=final_status,
            reason=final_reason,
            ended_by=ended_by,
            setup_time=(times.answer or now) - times.start,
            duration=(now - times.answer) if times.answer is not None else 0.0,
            progress=tuple(self.progress),
            codec=stats.get("codec") if stats else None,
            started_at=times.start,
            media_stats=stats,
            turn_timings=tuple(self.turn_timings),
        )
        self.ended.set_result(result)
        self._link.spawn(self._complete(result))

    async def _complete(self, result: CallResult) -> None:
        riders = [t for t in self._riders.tasks if t is not asyncio.current_task()]
        if riders:
            await asyncio.wait(riders, timeout=FLOW_GRACE)
        final = replace(
            result, events=tuple(self.events), flow=self._riders.flow, turn_timings=tuple(self.turn_timings)
        )
        if not self.finished.done():
            self.finished.set_result(final)


__all__ = ["Call", "CallResult", "Signalling"]
