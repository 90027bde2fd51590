"""One listening turn: caller frames in, the recognised utterance (or no-input) out.

``listen`` ties the pieces together the way a call uses them: every 20 ms frame goes to the
VAD and (in a worker thread) to the recogniser; partial results that already hold a complete
expected phrase let the endpointer end the turn after a short silence instead of the full
trailing silence; the end of the turn finishes the recogniser. After a barge-in, pass the
detector's kept frames as ``pre_roll`` and its onset as ``in_speech_since`` so the words that
interrupted the prompt are recognised too.

Frames come with their timestamps (seconds, any monotonic clock) from the media layer, which
keeps delivering frames (concealment or silence) while the line is quiet; the no-input timeout
is counted on those timestamps.

The recogniser hears the turn from ``PRE_ROLL`` frames before the speech onset on, not from
the moment listening began: until the endpointer hears speech, frames wait in a short
buffer. How long a caller stays quiet after the prompt (and which frame the turn happens to
start on) then changes nothing the recogniser is given. Measured on a pjsua2 caller's G.711
"yes" fed to pocketsphinx, one more 20 ms frame of line quiet before it turned an accepted
"yep" (0.54) into a rejected "yeah" (0.07) — the same samples otherwise. The pre-roll is what
the speech benchmark's turns carry before their speech (``benchmarks/_speech_set.py``:
250 ms of quiet, plus the line's delay), so the recogniser hears a live turn as the
calibration was fitted. It also spares the decoder the silence of a caller who takes time
to answer. A burst the endpointer drops (a click) is dropped from the recogniser too.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterable, Sequence
from dataclasses import dataclass

import numpy as np

from voicebot.asr.engine import AsyncRecognizer, Pcm
from voicebot.asr.events import FinalResult, PartialResult
from voicebot.media.endpoint import EndOfUtterance, EndpointConfig, Endpointer, NoInput
from voicebot.media.vad import Vad

PRE_ROLL = 16  # frames (320 ms) of audio before the speech onset the recogniser hears


@dataclass(frozen=True, slots=True, kw_only=True)
class Turn:
    """``outcome``: "utterance", "no_input" or "hangup" (the frames ended first).

    ``decided``: loop-clock time at which the end of the utterance was seen (its last frame
    decoded); later than ``end.at`` (that frame's media time) by the recogniser's backlog."""

    outcome: str
    result: FinalResult | None = None
    end: EndOfUtterance | None = None
    at: float = 0.0
    decided: float | None = None

    @property
    def phrase(self) -> str | None:
        if self.result is None or self.result.match is None:
            return None
        return self.result.match.phrase


async def listen(
    frames: AsyncIterable[tuple[float, Pcm]],
    recognizer: AsyncRecognizer,
    *,
    started_at: float,
    config: EndpointConfig | None = None,
    vad: Vad | None = None,
    pre_roll: Sequence[Pcm] = (),
    in_speech_since: float | None = None,
) -> Turn:
    """Listen until the caller finishes an utterance or the no-input timeout passes."""
    vad = vad or Vad(2)
    endpointer = Endpointer(config, started_at=started_at, in_speech_since=in_speech_since)
    held = _Held(endpointer.config.start_frames, waiting=endpointer.onset is None)
    for frame in pre_roll:
        held.add(frame)
        if not held.waiting:
            await _feed(recognizer, endpointer, frame)
    last = started_at
    async for now, frame in frames:
        last = now
        held.add(frame)
        if not held.waiting:
            await _feed(recognizer, endpointer, frame)
        events = endpointer.feed(now=now, speech=vad.is_speech_not_quiet(frame))
        if held.waiting and endpointer.onset is not None:  # speech began: from its pre-roll on
            await _feed(recognizer, endpointer, held.release())
        elif not held.waiting and endpointer.onset is None:  # the burst was dropped (a click)
            await recognizer.reset()
            held.waiting = True
        for event in events:
            if isinstance(event, EndOfUtterance):
                decided = asyncio.get_running_loop().time()
                result = await recognizer.finish()
                return Turn(outcome="utterance", result=result, end=event, at=event.at, decided=decided)
            if isinstance(event, NoInput):
                await recognizer.reset()
                return Turn(outcome="no_input", at=event.at)
    if endpointer.onset is not None:
        result = await recognizer.finish()
        return Turn(outcome="hangup", result=result, at=last)
    await recognizer.reset()
    return Turn(outcome="hangup", at=last)


class _Held:
    """The last frames of the turn, for the recogniser once the endpointer hears speech: the
    ``PRE_ROLL`` before the onset and the ``start_frames`` that confirmed it."""

    def __init__(self, start_frames: int, *, waiting: bool) -> None:
        self._frames: deque[Pcm] = deque(maxlen=PRE_ROLL + start_frames)
        self.waiting = waiting  # True: the recogniser has not heard this speech yet

    def add(self, frame: Pcm) -> None:
        self._frames.append(frame)

    def release(self) -> Pcm:
        """The kept frames as one block (one hand-over to the recogniser's thread)."""
        self.waiting = False
        return np.concatenate(list(self._frames)).astype(np.int16, copy=False)


async def _feed(recognizer: AsyncRecognizer, endpointer: Endpointer, frame: Pcm) -> None:
    event = await recognizer.accept(frame)
    if isinstance(event, PartialResult):
        endpointer.partial(event.match.phrase if event.match is not None else None)


__all__ = ["PRE_ROLL", "Turn", "listen"]
