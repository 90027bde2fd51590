"""The voice of one call: it speaks (TTS, WAV files, PCM), listens (VAD, endpointing, ASR) and
reads keys. :class:`~voicebot.call.Call` owns one and forwards ``say``/``play``/``listen``/
``read_dtmf`` to it; flows and people's own bot logic both use those four.

The far end's audio arrives from :meth:`MediaStream.frames` as
:class:`~voicebot.media.frames.AudioFrame` objects stamped with their media time, and reaches
the endpointer and the ASR with that stamp unchanged. Barge-in does not wait for that audio:
while a prompt plays, the stream hears the caller's packets as they arrive
(:meth:`MediaStream.watch_for_speech`) and stops the prompt itself. Digits (RFC 4733
or SIP INFO) arrive on their own queue, which a reader task fills from the moment the media
starts; the audio goes into its own from the first ``say``/``play``/``listen`` on (the stream
hands each frame over as it plays it out, :meth:`MediaStream.tap`), so nothing the caller says
or keys between turns is lost, and a call whose voice is never used (an echo, a call that only
keys) takes no frames, which lets its stream relay echo undecoded.

Everything CPU-heavy (synthesis, decoding) runs in worker threads. Which engines speak and
listen is a :class:`Speech` bundle, chosen per call (``call.speech = Speech.for_language("ko")``)
or for every call of a user agent.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Generic, TypeVar

import numpy as np

from voicebot.aio import first_of
from voicebot.asr import AsrHostLost, AsyncRecognizer, Band, engine_for_language
from voicebot.asr.listen import Turn
from voicebot.asr.listen import listen as listen_turn
from voicebot.errors import ConfigError
from voicebot.media.endpoint import BargeIn, EndpointConfig
from voicebot.media.frames import FRAME, PCM, RATE, AudioFrame, read_wav, silence
from voicebot.media.vad import RATES as VAD_RATES
from voicebot.media.vad import Vad
from voicebot.progress import BargedIn, BotSaid, CallerSaid, CallEvent, DigitPressed, PromptAudio
from voicebot.tts import Synthesizer, voice_for_language

if TYPE_CHECKING:
    from voicebot.asr import AsrEngine
    from voicebot.media.stream import MediaStream

log = logging.getLogger(__name__)

T = TypeVar("T")
KEEP_AFTER_PROMPT = 15  # frames (300 ms) of caller audio from a prompt's end kept for listen


@dataclass(frozen=True, slots=True, kw_only=True)
class Speech:
    """The engines a call speaks and listens with, and how it decides a turn is over."""

    synthesizer: Synthesizer
    asr: AsrEngine | None  # None: this call only speaks
    endpoint: EndpointConfig = field(default_factory=EndpointConfig)
    vad_aggressiveness: int = 2
    _warm: dict[str, bool] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def for_language(
        cls,
        language: str = "en",
        *,
        asr_engine: str | None = None,
        asr_model: str | Path | None = None,
        voice: str | None = None,
        rate: int | None = None,
        asr_processes: int | None = None,
    ) -> Speech:
        """Engines for ``language`` (raises ``DependencyError`` naming what to install).
        ``asr_processes``: decoder host processes for a recogniser that keeps the GIL (see
        :func:`~voicebot.asr.engine_for_language`; None: ``$VOICEBOT_ASR_PROCESSES`` or none)."""
        asr = engine_for_language(language, engine=asr_engine, model=asr_model, processes=asr_processes)
        return cls(synthesizer=cls.speaking(language, voice=voice, rate=rate).synthesizer, asr=asr)

    @classmethod
    def speaking(cls, language: str = "en", *, voice: str | None = None, rate: int | None = None) -> Speech:
        """Speech synthesis only (a caller that plays lines and never listens)."""
        chosen = voice or voice_for_language(language)
        synth = Synthesizer(voice=chosen) if rate is None else Synthesizer(voice=chosen, rate=rate)
        return cls(synthesizer=synth, asr=None)

    async def prepare(self, prompts: Sequence[str] = (), grammar: Sequence[str] = ("yes", "no")) -> None:
        """Warm up before any call: render ``prompts`` into the cache and build one recogniser.

        Building a decoder holds the GIL (pocketsphinx: about half a second, measured), which
        freezes the event loop; done here it cannot happen in the middle of a call."""
        if prompts:
            await self.synthesizer.synthesize_all(prompts)  # only what is not cached yet
        if self.asr is not None and not self._warm.get("asr"):
            rec = await AsyncRecognizer.open(self.asr, list(grammar) if grammar else None)
            await rec.aclose()
            self._warm["asr"] = True


@dataclass(frozen=True, slots=True, kw_only=True)
class Heard:
    """What one listening turn got.

    ``kind``: "speech" (``text``/``phrase``/``confidence`` set), "no_match" (the caller spoke,
    but the recogniser matched none of the expected phrases: ``text`` is what it heard,
    ``phrase`` None, meant as a reprompt and never as a guess), "dtmf" (``digits``),
    "no_input" (the caller kept silent for the timeout) or "hangup".
    ``confidence``: how likely ``phrase`` (for a no-match: ``text``) is what was said.
    ``speech_end``: media time (loop clock) at which the caller stopped talking (speech only).
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

    ``speech_end``: the caller's last speech frame ended (its media time); ``endpointed``: the
    endpointer decided the utterance was over (the media time at which the frame it decided on
    ends); ``decided``: that frame had been through the recogniser (loop time; the frame is
    handed over as it starts, so with no backlog this is up to one frame before
    ``endpointed``); ``recognised``: the final ASR result was ready; ``first_audio``:
    the first chunk of the bot's answer was queued for sending.
    """

    speech_end: float
    endpointed: float
    recognised: float
    first_audio: float
    endpoint_reason: str
    decided: float | None = None

    @property
    def total(self) -> float:
        return self.first_audio - self.speech_end


class _Inbox(Generic[T]):
    """A FIFO with one async consumer at a time; ``close()`` ends it after what is queued."""

    def __init__(self, maxlen: int) -> None:
        self.items: deque[T] = deque(maxlen=maxlen)
        self.closed = False
        self._wake = asyncio.Event()

    def put(self, item: T) -> None:
        self.items.append(item)
        self._wake.set()

    def close(self) -> None:
        self.closed = True
        self._wake.set()

    async def wait(self) -> bool:
        """Until an item is queued (True) or the inbox is closed and empty (False); takes none."""
        while not self.items:
            if self.closed:
                return False
            self._wake.clear()
            await self._wake.wait()
        return True

    async def get(self) -> T | None:
        """The next item, or None once closed and empty."""
        return self.items.popleft() if await self.wait() else None

    def clear(self) -> None:
        self.items.clear()


class Voice:
    """Speaks, listens and reads keys on one call's media stream."""

    def __init__(
        self, media: MediaStream, speech: Callable[[], Speech], *, emit: Callable[[CallEvent], None]
    ) -> None:
        self.media = media
        self._speech_factory = speech
        self._speech: Speech | None = None
        self._emit = emit
        self._loop = asyncio.get_running_loop()
        self._ears: _Inbox[AudioFrame] = _Inbox(maxlen=1500)  # 30 s for a slow consumer
        self._digits: _Inbox[str] = _Inbox(maxlen=64)
        self._last_turn: tuple[float, float, float | None, float, str] | None = None
        self._barged = False  # speech cut the last prompt short: the next listen starts in speech
        self._latest: AudioFrame | None = None
        self._vad: Vad | None = None
        self._onset_vad: Vad | None = None  # the barge-in watch's own (it hears packets on arrival)
        self.turn_timings: list[TurnTiming] = []
        # keys are read from the start; the caller's audio from the first say/play/listen on:
        # a call that only echoes (or only keys) never decodes a frame for nobody
        self._tasks = [asyncio.create_task(self._read_digits(), name="voice-digits")]
        self._untap: Callable[[], None] | None = None  # set while the caller's audio is taken

    @property
    def speech(self) -> Speech:
        if self._speech is None:
            self._speech = self._speech_factory()
            self._vad = Vad(self._speech.vad_aggressiveness)
        return self._speech

    @property
    def vad(self) -> Vad:
        _ = self.speech
        assert self._vad is not None
        return self._vad

    @property
    def onset_vad(self) -> Vad:
        """The barge-in watch's VAD, at the line's own rate where WebRTC VAD takes it (G.711:
        8 kHz, so the watch hears each packet as decoded, without resampling it to 16 kHz)."""
        codec = self.media.codec
        rate = codec.sample_rate if codec is not None and codec.sample_rate in VAD_RATES else RATE
        if self._onset_vad is None or self._onset_vad.sample_rate != rate:
            self._onset_vad = Vad(self.speech.vad_aggressiveness, rate)
        return self._onset_vad

    @property
    def hung_up(self) -> bool:
        return self._ears.closed

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._untap is not None:
            self._untap()
        self._ears.close()
        self._digits.close()

    def _hear(self) -> None:
        """Start taking the caller's audio (once; it is kept for barge-in and listen). The
        stream hands each frame straight to the ears as it plays it out (``MediaStream.tap``):
        no queue and no task of its own in between, 50 times a second."""
        if self._untap is None and not self._ears.closed:
            self._untap = self.media.tap(self._heard_frame)

    def _heard_frame(self, frame: AudioFrame | None) -> None:
        if frame is None:  # the stream closed
            self._ears.close()
            return
        self._latest = frame
        self._ears.put(frame)

    async def _read_digits(self) -> None:
        async for event in self.media.digits():
            at = self._loop.time()
            self._emit(DigitPressed(at=at, digit=event.digit, source=event.source, duration_ms=event.duration_ms))
            self._digits.put(event.digit)

    # ------------------------------------------------------------------ speaking
    async def say(self, text: str, *, ssml: bool = False, voice: str | None = None, barge_in: bool = True) -> bool:
        """Speak ``text``; False when the caller interrupted (their words are kept for listen)."""
        synth = self.speech.synthesizer

        async def chunks() -> AsyncIterator[PCM]:
            try:
                async for chunk in synth.stream(text, ssml=ssml, voice=voice):
                    yield chunk
            except Exception as exc:  # the call goes on with the fallback audio
                log.warning("synthesis of %r failed (%s); playing the fallback", text[:60], exc)
                yield (await synth.render_or_fallback(text, ssml=ssml, voice=voice)).pcm

        return await self._speak(chunks(), text, barge_in, synthesized=True)

    async def play(self, audio: str | Path | PCM, *, barge_in: bool = False) -> bool:
        """Play a WAV file (integer PCM, any rate) or 16 kHz int16 PCM; False when interrupted."""
        if isinstance(audio, str | Path):
            label, pcm = str(audio), await asyncio.to_thread(read_wav, audio)
        else:
            label, pcm = f"{len(audio) / 16000:.1f} s of audio", np.asarray(audio)

        async def one() -> AsyncIterator[PCM]:
            yield pcm

        return await self._speak(one(), label, barge_in)

    async def _speak(
        self, chunks: AsyncIterator[PCM], label: str, barge_in: bool, *, synthesized: bool = False
    ) -> bool:
        if self.hung_up:
            return False
        self._hear()
        self._ears.clear()  # what the caller said while nobody listened is not a barge-in
        done = asyncio.Event()
        asked = self._loop.time()
        self._emit(BotSaid(at=asked, text=label))
        producer = asyncio.create_task(self._produce(chunks, done, asked if synthesized else None))
        barged: list[BargeIn] = []

        def heard_speech(event: BargeIn) -> None:
            # called from the receive path, which has already stopped the prompt: queue no more of it
            barged.append(event)
            producer.cancel()

        if barge_in:
            self.media.watch_for_speech(heard_speech, vad=self.onset_vad)
        by_key = False
        recent: deque[AudioFrame] = deque(maxlen=KEEP_AFTER_PROMPT)
        try:
            while not done.is_set() and not barged:
                if barge_in and self._digits.items:
                    by_key = True
                    self.media.stop_playback()
                    now = self._loop.time()
                    self._emit(BargedIn(at=now, onset=now, by="dtmf"))
                    break
                frame = await self._ears.get()
                if frame is None:
                    break
                recent.append(frame)
        finally:
            if barge_in:
                self.media.stop_watching()
            producer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await producer
        self._barged = bool(barged)
        if barged:
            self._emit(BargedIn(at=barged[0].at, onset=barged[0].onset, by="speech"))
        if not by_key:
            # the caller's words reach the ears at their playout time, after the watch heard
            # them arrive (and a caller who starts answering as the prompt ends may have begun
            # before anything could confirm it): the next listen hears the last frames again
            self._ears.items.extendleft(reversed(recent))
        return not (barged or by_key)

    async def _produce(self, chunks: AsyncIterator[PCM], done: asyncio.Event, asked: float | None) -> None:
        first = True
        async for chunk in chunks:
            if first:
                self._first_audio(asked)
            first = False
            self.media.play(chunk)
        self.media.play(silence(FRAME), done.set)  # done once the last sample has been sent

    def _first_audio(self, asked: float | None) -> None:
        """A prompt's first audio is ready: time the turn it answers, and report both."""
        now = self._loop.time()
        timing: TurnTiming | None = None
        if self._last_turn is not None:
            speech_end, endpointed, decided, recognised, reason = self._last_turn
            timing = TurnTiming(
                speech_end=speech_end,
                endpointed=endpointed,
                decided=decided,
                recognised=recognised,
                first_audio=now,
                endpoint_reason=reason,
            )
            self.turn_timings.append(timing)
            self._last_turn = None
        synthesis = now - asked if asked is not None else None
        self._emit(PromptAudio(at=now, synthesis=synthesis, turn_latency=timing.total if timing else None))

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

        A digit ends the spoken turn; up to ``max_digits`` digits are collected (``#`` ends
        early, ``inter_digit_timeout`` between digits). ``groups`` maps phrases to their
        meaning (a flow's intents), so "yes" may end the turn early although "yes please" is
        expected too: either means yes."""
        speech = self.speech
        if speech.asr is None:
            raise ConfigError("this call has no speech recogniser: give it Speech(asr=get_engine(...))")
        if self._digits.items:  # keyed during the prompt
            return Heard(kind="dtmf", digits=await self._more_digits(max_digits, inter_digit_timeout))
        self._hear()
        config = replace(speech.endpoint, no_input_timeout=timeout)
        started = self._listen_start()
        # after a barge-in the caller is already speaking: the turn starts in speech (from the
        # frames queued again, just before the watch heard the onset), so a word the loaded
        # line chops into short bursts still counts as one utterance
        in_speech_since, self._barged = (started if self._barged else None), False
        try:
            rec = await AsyncRecognizer.open(
                speech.asr, list(grammar) if grammar else None, groups=groups, band=self.band
            )
            heard = listen_turn(
                self._timed_frames(),
                rec,
                started_at=started,
                config=config,
                vad=self.vad,
                in_speech_since=in_speech_since,
            )
            try:  # a key pressed ends the turn, and wins a tie with its end (the key stays queued)
                which, result = await first_of(self._key_pressed(), heard)
            finally:
                await rec.aclose()
        except AsrHostLost as exc:  # its decoder host died: the caller is asked again, on a new one
            log.warning("listen: %s; the turn is a no-match", exc)
            return Heard(kind="no_match")
        turn: Turn | None = None if which == 0 else result
        if turn is None:  # a key ended the turn
            return Heard(kind="dtmf", digits=await self._more_digits(max_digits, inter_digit_timeout))
        if turn.outcome == "no_input":
            return Heard(kind="no_input")
        if turn.outcome == "hangup" or turn.result is None or turn.end is None:
            return Heard(kind="hangup")
        result, end = turn.result, turn.end
        self._last_turn = (end.speech_end, end.at, turn.decided, self._loop.time(), end.reason)
        match = result.match
        rejected = match is not None and not match.matched
        if match is None:
            confidence = result.confidence
        else:  # a no-match's own confidence is how sure the rejection is: its candidate's is the rest
            confidence = round(1.0 - match.confidence, 4) if rejected else match.confidence
        heard_result = Heard(
            kind="no_match" if rejected else "speech",
            text=result.text,
            phrase=match.phrase if match is not None else None,
            confidence=confidence,
            speech_end=end.speech_end,
            endpoint_reason=end.reason,
        )
        self._emit(
            CallerSaid(
                at=self._loop.time(),
                text=heard_result.text,
                phrase=heard_result.phrase,
                confidence=heard_result.confidence,
                speech_end=end.speech_end,
                endpointed=end.at,
                understood=not rejected,
            )
        )
        return heard_result

    @property
    def band(self) -> Band | None:
        """The line's band, from the negotiated codec's audio rate (None before there is one)."""
        codec = self.media.codec
        return Band.of_rate(codec.sample_rate) if codec is not None else None

    def _listen_start(self) -> float:
        """Media time where this turn's listening starts: the oldest frame not yet consumed."""
        if self._ears.items:
            return self._ears.items[0].media_time
        if self._latest is not None:
            return self._latest.end_time
        return self._loop.time()

    async def _timed_frames(self) -> AsyncIterator[tuple[float, PCM]]:
        while (frame := await self._ears.get()) is not None:
            yield frame.media_time, frame.pcm

    async def read_dtmf(self, max_digits: int = 1, *, timeout: float = 5.0, inter_digit_timeout: float = 3.0) -> str:
        """Up to ``max_digits`` keys ('#' ends early); "" when none came within ``timeout``."""
        try:
            first = await asyncio.wait_for(self._digits.get(), timeout)
        except TimeoutError:
            return ""
        if first is None:
            return ""
        self._digits.items.appendleft(first)
        return await self._more_digits(max_digits, inter_digit_timeout)

    async def _key_pressed(self) -> None:
        """Returns once a key waits to be read (without reading it); never when keys have ended."""
        if not await self._digits.wait():
            await asyncio.Event().wait()  # no key will come: speech alone ends the turn

    async def _more_digits(self, max_digits: int, inter_digit_timeout: float) -> str:
        digits = ""
        while len(digits) < max_digits and not digits.endswith("#"):
            try:
                digit = await asyncio.wait_for(self._digits.get(), inter_digit_timeout if digits else None)
            except TimeoutError:
                break
            if digit is None:
                break
            digits += digit
        return digits.rstrip("#") or digits


__all__ = ["Heard", "Speech", "TurnTiming", "Voice"]
