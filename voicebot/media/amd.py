"""Answering-machine detection (AMD) without a language model.

An outbound call is answered; who answered? A person says something short ("Hello?") and
waits; a voicemail greeting talks on ("Hi, you've reached ... leave a message after the
tone") and ends with a beep. :class:`AnsweringMachineDetector` decides from

* the greeting's length: speech that runs on past ``greeting_max`` -> machine;
* its cadence: a short greeting followed by ``after_greeting_silence`` of silence -> human;
  more than ``max_words`` separate bursts of speech -> machine;
* a beep (:mod:`voicebot.media.beep`) -> machine;
* words, when a recogniser hears them: a voicemail phrase ("leave a message") -> machine;
* nothing said for ``initial_silence``, or no decision by ``deadline`` -> unknown.

so a verdict (:class:`AmdDecision`) always comes within ``deadline`` seconds of the answer.
After a machine verdict it goes on listening and emits :class:`MessageCue` when the greeting is
over (its beep ended, or ``message_silence`` passed without speech): the moment to leave a
message. Pure: each 20 ms frame comes with its media time (seconds since the answer) and the
VAD's verdict; :func:`detect` is the small async driver over a call's frames.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt

from voicebot.media.beep import BeepDetector, BeepHeard
from voicebot.media.frames import FRAME_SECONDS, AudioFrame

MACHINE_PHRASES = (
    "leave a message", "leave your message", "leave me a message", "after the tone", "after the beep",
    "not available", "can't take your call", "cannot take your call", "unable to take your call",
    "voicemail", "voice mail", "mailbox", "you have reached", "you've reached", "record your message",
    "음성 사서함", "메시지를 남겨", "삐 소리", "연결이 되지 않아",
)  # fmt: skip

# For a recogniser in grammar mode (it matches whole utterances, so voicemail phrases go in as
# the sentences greetings say, beside what people answer, so a person is not forced into one)
GREETING_GRAMMAR = (
    "leave a message", "please leave a message", "please leave a message after the tone",
    "please leave a message after the beep", "leave your message after the tone", "leave a message after the beep",
    "i can't take your call right now", "i am not available right now", "you have reached the voicemail of",
    "the person you are calling is not available",
    "hello", "hello who is this", "who is this", "yes", "hi", "speaking", "who is calling", "good morning",
)  # fmt: skip

HUMAN, MACHINE, UNKNOWN = "human", "machine", "unknown"


@dataclass(frozen=True, slots=True, kw_only=True)
class AmdConfig:
    initial_silence: float = 3.5
    greeting_max: float = 2.0
    after_greeting_silence: float = 0.8
    max_words: int = 6
    min_word: float = 0.06
    word_gap: float = 0.15
    deadline: float = 5.0
    message_silence: float = 1.5
    message_deadline: float = 30.0
    machine_phrases: tuple[str, ...] = MACHINE_PHRASES


@dataclass(frozen=True, slots=True, kw_only=True)
class AmdDecision:
    """Who answered: ``verdict`` human / machine / unknown, decided ``at`` seconds after the
    answer, ``reason`` in words, ``greeting`` seconds from the first to the last speech heard."""

    verdict: str
    at: float
    reason: str
    greeting: float


@dataclass(frozen=True, slots=True, kw_only=True)
class MessageCue:
    """After a machine verdict: the greeting is over ``after`` its beep, a silence, or the
    ``message_deadline``; a message spoken now is recorded."""

    at: float
    after: str


AmdEvent = AmdDecision | BeepHeard | MessageCue


def _normalise(text: str) -> str:
    return " ".join(re.sub(r"[^\w'\s]", " ", text.lower()).split())


class AnsweringMachineDetector:
    """Feed every frame from the answer on; events come back as they happen (see module doc)."""

    def __init__(self, config: AmdConfig | None = None, *, beep: BeepDetector | None = None) -> None:
        self.config = config or AmdConfig()
        self.beeps = beep or BeepDetector()
        self.decision: AmdDecision | None = None
        self.cue: MessageCue | None = None
        self._first_speech: float | None = None
        self._last_speech_end: float | None = None
        self._run_start: float | None = None
        self._run_counted = False
        self._words = 0
        self._phrases = tuple(_normalise(p) for p in self.config.machine_phrases)

    @property
    def done(self) -> bool:
        """Nothing more to tell: a human/unknown verdict, or a machine verdict and its cue."""
        return self.decision is not None and (self.decision.verdict != MACHINE or self.cue is not None)

    @property
    def greeting(self) -> float:
        if self._first_speech is None or self._last_speech_end is None:
            return 0.0
        return self._last_speech_end - self._first_speech

    def _decide(self, verdict: str, at: float, reason: str) -> list[AmdEvent]:
        self.decision = AmdDecision(verdict=verdict, at=round(at, 3), reason=reason, greeting=round(self.greeting, 3))
        return [self.decision]

    def _cue(self, at: float, after: str) -> list[AmdEvent]:
        self.cue = MessageCue(at=round(at, 3), after=after)
        return [self.cue]

    def feed(self, *, now: float, frame: npt.NDArray[np.int16], speech: bool) -> list[AmdEvent]:
        """One frame that started ``now`` seconds after the answer; ``speech`` from the VAD."""
        c = self.config
        end = now + len(frame) / 16000
        events: list[AmdEvent] = []
        beep = self.beeps.feed(frame, now)
        if beep is not None:
            events.append(beep)
            if self.decision is None:
                events += self._decide(MACHINE, end, f"beep at {beep.frequency:.0f} Hz")
            if self.decision is not None and self.decision.verdict == MACHINE and self.cue is None:
                events += self._cue(end, "beep")
        self._track_speech(now, end, speech)
        if self.decision is None:
            events += self._cadence(end)
        elif self.decision.verdict == MACHINE and self.cue is None:
            quiet = end - (self._last_speech_end or 0.0)
            if self._last_speech_end is not None and quiet >= c.message_silence:
                events += self._cue(end, "silence")
            elif end >= c.message_deadline:
                events += self._cue(end, "timeout")
        return events

    def _track_speech(self, now: float, end: float, speech: bool) -> None:
        c = self.config
        if not speech:
            self._run_start = None
            return
        if self._run_start is None:
            self._run_start, self._run_counted = now, False
        if end - self._run_start < c.min_word:
            return  # a click or a breath, not yet a word
        if not self._run_counted:
            self._run_counted = True
            if self._last_speech_end is None or self._run_start - self._last_speech_end >= c.word_gap:
                self._words += 1
        if self._first_speech is None:
            self._first_speech = self._run_start
        self._last_speech_end = end

    def _cadence(self, end: float) -> list[AmdEvent]:
        c = self.config
        if self._first_speech is None:
            if end >= c.initial_silence:
                return self._decide(UNKNOWN, end, f"nothing said in {c.initial_silence:g} s")
        elif self.greeting > c.greeting_max:
            return self._decide(MACHINE, end, f"greeting longer than {c.greeting_max:g} s")
        elif self._words > c.max_words:
            return self._decide(MACHINE, end, f"{self._words} bursts of speech")
        elif self._last_speech_end is not None and end - self._last_speech_end >= c.after_greeting_silence:
            return self._decide(HUMAN, end, f"{self.greeting:.1f} s greeting, then silence")
        if end >= c.deadline:
            return self._decide(UNKNOWN, end, f"no decision within {c.deadline:g} s")
        return []

    def hear(self, text: str, now: float) -> list[AmdEvent]:
        """Words a recogniser heard (partial or final); a voicemail phrase decides machine."""
        if self.decision is not None:
            return []
        heard = _normalise(text)
        for phrase in self._phrases:
            # whole words in English; Korean particles attach to the word, so no right boundary there
            tail = r"(?!\w)" if phrase.isascii() else ""
            if phrase and re.search(rf"(?<!\w){re.escape(phrase)}{tail}", heard):
                return self._decide(MACHINE, now, f"heard {phrase!r}")
        return []


class SpeechDetector(Protocol):
    """What :func:`detect` needs of a VAD (``voicebot.media.vad.Vad`` fits)."""

    def is_speech(self, frame: npt.NDArray[np.int16]) -> bool: ...


class WordSource(Protocol):
    """What :func:`detect` needs of a recogniser (``voicebot.asr.AsyncRecognizer`` fits)."""

    async def accept(self, pcm: npt.NDArray[np.int16]) -> object: ...


async def detect(
    frames: AsyncIterator[AudioFrame],
    vad: SpeechDetector,
    *,
    config: AmdConfig | None = None,
    recognizer: WordSource | None = None,
) -> AsyncIterator[AmdEvent]:
    """Run the detector over a call's caller frames from the answer on (``call.audio()``; the
    detector's clock is each frame's media time since the first one), yielding its events until
    it is :attr:`~AnsweringMachineDetector.done`. With a
    ``recognizer``, the words it hears in the greeting count too; a grammar-mode recogniser
    matches whole utterances, so open it with :data:`GREETING_GRAMMAR` (pocketsphinx's free
    mode turned espeak-ng's "please leave a message after the tone" into nonsense here)."""
    detector = AnsweringMachineDetector(config)
    start: float | None = None
    async for frame in frames:
        if start is None:
            start = frame.media_time
        now = frame.media_time - start
        events = detector.feed(now=now, frame=frame.pcm, speech=vad.is_speech(frame.pcm))
        if recognizer is not None and detector.decision is None:
            result = await recognizer.accept(frame.pcm)
            text = getattr(result, "text", "")
            if text:
                events += detector.hear(str(text), now + FRAME_SECONDS)
        for event in events:
            yield event
        if detector.done:
            return


__all__ = [
    "GREETING_GRAMMAR",
    "HUMAN",
    "MACHINE",
    "MACHINE_PHRASES",
    "UNKNOWN",
    "AmdConfig",
    "AmdDecision",
    "AmdEvent",
    "AnsweringMachineDetector",
    "BeepHeard",
    "MessageCue",
    "detect",
]
