"""One listening turn: caller frames in, the recognised utterance (or no-input) out.

``listen`` ties the pieces together the way a call uses them: every 20 ms frame goes to the
VAD and (in a worker thread) to the recogniser; partial results that already hold a complete
expected phrase let the endpointer end the turn after a short silence instead of the full
trailing silence; the end of the turn finishes the recogniser. A partial can run ahead of the
audio: when the final result of such an early end matches no expected phrase, the turn
goes on (the recogniser hears the turn's audio again, then the rest) and ends
on the full trailing silence. After a barge-in, pass the
detector's kept frames as ``pre_roll`` and its onset as ``in_speech_since`` so the words that
interrupted the prompt are recognised too.

The recogniser hears the line from ``lead_in`` frames (300 ms) before the caller's first
frame that is not quiet (``is_quiet``: under -50 dBFS, never speech for the endpointer
either): until then the quiet frames wait, the last ``lead_in`` of them kept. A caller who
answers 1.5 s after the prompt costs the decoder 0.3 s of quiet instead of 1.5 s, and a turn
that ends in no-input costs it nothing (``benchmarks/botcalls.py``). The endpointer cannot
hear an onset before that frame, so the final result misses none of the words. A second
hearing gives the recogniser what the gate gave it the first time, not the quiet it held back.

Frames come with their timestamps (seconds, any monotonic clock) from the media layer, which
keeps delivering frames (concealment or silence) while the line is quiet; the no-input timeout
is counted on those timestamps.
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
from voicebot.media.vad import Vad, is_quiet

LEAD_IN = 15  # frames (300 ms) of the quiet line the recogniser hears before the first sound


@dataclass(frozen=True, slots=True, kw_only=True)
class Turn:
    """``outcome``: "utterance", "no_input" or "hangup" (the frames ended first).

    ``decided``: loop-clock time at which the end of the utterance was seen (its last frame
    decoded); later than ``end.at`` (that frame's media time) by the recogniser's backlog.
    ``reheard``: the turn was about to end early on a phrase a partial had spelt, the final
    result matched no phrase, and the turn went on to the full trailing silence."""

    outcome: str
    result: FinalResult | None = None
    end: EndOfUtterance | None = None
    at: float = 0.0
    decided: float | None = None
    reheard: bool = False

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
    lead_in: int | None = LEAD_IN,
) -> Turn:
    """Listen until the caller finishes an utterance or the no-input timeout passes.

    ``lead_in``: frames of quiet line the recogniser hears before the first sound (None: it
    hears every frame; a turn that starts in speech, ``in_speech_since``, is not gated)."""
    vad = vad or Vad(2)
    endpointer = Endpointer(config, started_at=started_at, in_speech_since=in_speech_since)
    gate = _Gate(recognizer, endpointer, None if in_speech_since is not None else lead_in)
    reheard = False
    for frame in pre_roll:
        await gate.feed(frame)
    last = started_at
    async for now, frame in frames:
        last = now
        await gate.feed(frame)
        for event in endpointer.feed(now=now, speech=vad.is_speech_not_quiet(frame)):
            if isinstance(event, EndOfUtterance):
                decided = asyncio.get_running_loop().time()
                result = await recognizer.finish()
                if event.reason == "phrase" and not _matched(result):
                    endpointer.resume()
                    await recognizer.accept(np.concatenate(gate.fed))
                    reheard = True
                    break
                return Turn(
                    outcome="utterance", result=result, end=event, at=event.at, decided=decided, reheard=reheard
                )
            if isinstance(event, NoInput):
                await recognizer.reset()
                return Turn(outcome="no_input", at=event.at)
    if endpointer.onset is not None:
        result = await recognizer.finish()
        return Turn(outcome="hangup", result=result, at=last, reheard=reheard)
    await recognizer.reset()
    return Turn(outcome="hangup", at=last)


def _matched(result: FinalResult) -> bool:
    """The final result names an expected phrase. It may be another than the partial spelt:
    the final, over all the audio, is the better judge (a partial's "sorry what" for the
    final's "five"), and a second hearing would not start as the first did (the decoder has
    adapted to the turn)."""
    return result.match is not None and result.match.phrase is not None


class _Gate:
    """Feeds the recogniser from ``lead_in`` frames before the first frame that is not quiet
    (None: from the first frame), keeping what it fed (``fed``) for a second hearing."""

    def __init__(self, recognizer: AsyncRecognizer, endpointer: Endpointer, lead_in: int | None) -> None:
        self.recognizer = recognizer
        self.endpointer = endpointer
        self.held: deque[Pcm] | None = deque(maxlen=lead_in) if lead_in is not None else None
        self.fed: list[Pcm] = []  # the turn's audio as the recogniser got it

    async def feed(self, frame: Pcm) -> None:
        if self.held is not None:
            if is_quiet(frame):
                self.held.append(frame)
                return
            held, self.held = self.held, None
            for early in held:
                await self._hear(early)
        await self._hear(frame)

    async def _hear(self, frame: Pcm) -> None:
        self.fed.append(frame)
        event = await self.recognizer.accept(frame)
        if isinstance(event, PartialResult):
            self.endpointer.partial(event.match.phrase if event.match is not None else None)


__all__ = ["Turn", "listen"]
