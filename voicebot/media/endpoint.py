"""Endpointing, no-input timeout and barge-in: frames and time in, events out.

Pure state machines (DESIGN.md rules 1-4): the caller passes each 20 ms frame's VAD
decision with the frame's start time ``now`` (seconds on any monotonic clock), and gets
events back. Nothing here reads the clock or does I/O, so tests drive a synthetic clock.

``Endpointer`` (while listening) has three states::

    waiting --(start_frames speech frames in a row)--> speaking   emits SpeechStarted(onset)
    waiting --(now - started_at >= no_input_timeout)--> done     emits NoInput
    speaking --(trailing silence >= trailing_silence)--> done    emits EndOfUtterance("silence")
    speaking --(partial is a complete phrase and
                trailing silence >= early_silence)--> done       emits EndOfUtterance("phrase")
    speaking --(speech longer than max_utterance)--> done        emits EndOfUtterance("max_length")
    speaking --(silence ends a burst shorter than min_speech)--> waiting   (a click or the
               VAD settling on line noise: dropped, the no-input timer keeps running)
    done --(resume(): after an early end the final result matched no
            phrase)--> speaking, with the early end off for the rest of the turn

``BargeInDetector`` (while a prompt plays) keeps a short pre-roll of caller audio and emits
``BargeIn`` once speech is confirmed, ``start_frames`` frames after the onset (60 ms with the
defaults, well inside the 200 ms budget), carrying the audio from just before the onset so
the words that interrupted the prompt are recognised too.
"""

from __future__ import annotations

import enum
from collections import deque
from dataclasses import dataclass

from voicebot.errors import ConfigError
from voicebot.media.frames import FRAME_SECONDS
from voicebot.media.frames import PCM as Pcm


@dataclass(frozen=True, slots=True, kw_only=True)
class EndpointConfig:
    """Timings in seconds. ``start_frames``: speech frames in a row that count as speech."""

    trailing_silence: float = 0.6
    early_silence: float = 0.15
    no_input_timeout: float = 5.0
    max_utterance: float = 15.0
    start_frames: int = 3
    min_speech: float = 0.15
    frame_seconds: float = FRAME_SECONDS

    def __post_init__(self) -> None:
        if self.start_frames < 1:
            raise ConfigError("start_frames must be at least 1")
        if self.min_speech < 0:
            raise ConfigError("min_speech must not be negative")
        if not 0 < self.early_silence <= self.trailing_silence:
            raise ConfigError("need 0 < early_silence <= trailing_silence")
        if self.no_input_timeout <= 0 or self.max_utterance <= 0 or self.frame_seconds <= 0:
            raise ConfigError("timeouts and frame length must be positive")


@dataclass(frozen=True, slots=True, kw_only=True)
class SpeechStarted:
    onset: float
    at: float


@dataclass(frozen=True, slots=True, kw_only=True)
class EndOfUtterance:
    """``speech_end``: end of the last speech frame; ``at``: when the end was decided."""

    at: float
    onset: float
    speech_end: float
    reason: str
    phrase: str | None = None

    @property
    def delay(self) -> float:
        return self.at - self.speech_end


@dataclass(frozen=True, slots=True, kw_only=True)
class NoInput:
    at: float
    waited: float


@dataclass(frozen=True, slots=True, kw_only=True)
class BargeIn:
    """Caller speech during a prompt: stop playback now, recognise ``frames``."""

    onset: float
    at: float
    frames: tuple[Pcm, ...]

    @property
    def latency(self) -> float:
        return self.at - self.onset


EndpointEvent = SpeechStarted | EndOfUtterance | NoInput


class State(enum.Enum):
    WAITING = "waiting"
    SPEAKING = "speaking"
    DONE = "done"


class Endpointer:
    """One listening turn. ``in_speech_since``: start already speaking (after a barge-in)."""

    def __init__(
        self,
        config: EndpointConfig | None = None,
        *,
        started_at: float,
        in_speech_since: float | None = None,
    ) -> None:
        self.config = config or EndpointConfig()
        self.started_at = started_at
        self.state = State.WAITING
        self.onset: float | None = None
        self._run = 0
        self._run_start = 0.0
        self._last_speech_end = started_at
        self._complete_phrase: str | None = None
        self._early = True
        if in_speech_since is not None:
            self.state = State.SPEAKING
            self.onset = in_speech_since
            self._last_speech_end = in_speech_since

    def partial(self, phrase: str | None) -> None:
        """The recogniser's partial now spells ``phrase`` completely (None: it does not)."""
        self._complete_phrase = phrase if self._early else None

    def resume(self) -> None:
        """An early end ("phrase") was wrong: a partial had spelt a phrase, but the final
        result over the audio so far matches none (a partial runs ahead of the audio, and a
        stall on the line or a pause inside the phrase looked like its end). Keep listening
        until the full trailing silence; no second early end in this turn."""
        if self.state is not State.DONE or self.onset is None:
            raise ConfigError("only a turn that ended on an utterance can resume")
        self.state = State.SPEAKING
        self._early = False
        self._complete_phrase = None

    def next_deadline(self) -> float | None:
        """When ``handle_timer`` must run if no frame arrives (the no-input timer)."""
        if self.state is State.WAITING:
            return self.started_at + self.config.no_input_timeout
        if self.state is State.SPEAKING:
            return self._last_speech_end + self.config.trailing_silence
        return None

    def handle_timer(self, now: float) -> list[EndpointEvent]:
        """Time passed without frames (e.g. the media stream stalled)."""
        if self.state is State.WAITING and now - self.started_at >= self.config.no_input_timeout:
            self.state = State.DONE
            return [NoInput(at=now, waited=now - self.started_at)]
        if self.state is State.SPEAKING and now - self._last_speech_end >= self.config.trailing_silence:
            return self._end_or_drop(now, "silence")
        return []

    def feed(self, *, now: float, speech: bool) -> list[EndpointEvent]:
        """One frame starting at ``now`` with its VAD decision."""
        cfg = self.config
        end = now + cfg.frame_seconds
        if self.state is State.DONE:
            return []
        if self.state is State.WAITING:
            if speech:
                if self._run == 0:
                    self._run_start = now
                self._run += 1
                if self._run >= cfg.start_frames:
                    self.state = State.SPEAKING
                    self.onset = self._run_start
                    self._last_speech_end = end
                    return [SpeechStarted(onset=self._run_start, at=end)]
                return []
            self._run = 0
            if end - self.started_at >= cfg.no_input_timeout:
                self.state = State.DONE
                return [NoInput(at=end, waited=end - self.started_at)]
            return []
        # speaking
        assert self.onset is not None
        if speech:
            self._last_speech_end = end
            if end - self.onset >= cfg.max_utterance:
                return [self._end(end, "max_length")]
            return []
        silent = end - self._last_speech_end
        if self._complete_phrase is not None and silent >= cfg.early_silence - 1e-9:
            return self._end_or_drop(end, "phrase")
        if silent >= cfg.trailing_silence - 1e-9:
            return self._end_or_drop(end, "silence")
        return []

    def _end_or_drop(self, at: float, reason: str) -> list[EndpointEvent]:
        assert self.onset is not None
        if self._last_speech_end - self.onset < self.config.min_speech - 1e-9:
            self.state = State.WAITING
            self.onset = None
            self._run = 0
            self._complete_phrase = None
            if at - self.started_at >= self.config.no_input_timeout:
                self.state = State.DONE
                return [NoInput(at=at, waited=at - self.started_at)]
            return []
        return [self._end(at, reason)]

    def _end(self, at: float, reason: str) -> EndOfUtterance:
        assert self.onset is not None
        self.state = State.DONE
        return EndOfUtterance(
            at=at,
            onset=self.onset,
            speech_end=self._last_speech_end,
            reason=reason,
            phrase=self._complete_phrase if reason == "phrase" else None,
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class BargeInConfig:
    start_frames: int = 3
    pre_roll: float = 0.3
    frame_seconds: float = FRAME_SECONDS

    def __post_init__(self) -> None:
        if self.start_frames < 1 or self.pre_roll < 0 or self.frame_seconds <= 0:
            raise ConfigError("barge-in needs start_frames >= 1, pre_roll >= 0, frame_seconds > 0")


class BargeInDetector:
    """Watches caller audio while a prompt plays; one ``BargeIn`` per prompt at most."""

    def __init__(self, config: BargeInConfig | None = None) -> None:
        self.config = config or BargeInConfig()
        keep = round(self.config.pre_roll / self.config.frame_seconds) + self.config.start_frames
        self._frames: deque[tuple[float, Pcm]] = deque(maxlen=keep)
        self._run = 0
        self._run_start = 0.0
        self.fired: BargeIn | None = None

    def feed(self, *, now: float, frame: Pcm, speech: bool) -> BargeIn | None:
        if self.fired is not None:
            return None
        self._frames.append((now, frame))
        if not speech:
            self._run = 0
            return None
        if self._run == 0:
            self._run_start = now
        self._run += 1
        if self._run < self.config.start_frames:
            return None
        first = self._run_start - self.config.pre_roll - 1e-9
        kept = tuple(f for t, f in self._frames if t >= first)
        self.fired = BargeIn(onset=self._run_start, at=now + self.config.frame_seconds, frames=kept)
        return self.fired

    def reset(self) -> None:
        """A new prompt starts."""
        self._frames.clear()
        self._run = 0
        self.fired = None


__all__ = [
    "BargeIn",
    "BargeInConfig",
    "BargeInDetector",
    "EndOfUtterance",
    "EndpointConfig",
    "EndpointEvent",
    "Endpointer",
    "NoInput",
    "SpeechStarted",
    "State",
]
