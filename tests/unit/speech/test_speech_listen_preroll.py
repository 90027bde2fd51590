"""``listen`` hands the recogniser the turn from ``PRE_ROLL`` frames before the speech onset
on: how long the caller stayed quiet first changes nothing the recogniser is given.

A fake recogniser records what it is fed; the VAD is a level threshold (the endpointer's
logic, not WebRTC's, is what is tested here)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import numpy as np

from tests.sim.channel import frames_of
from voicebot.asr.engine import AsyncRecognizer, Grammar, Pcm
from voicebot.asr.events import AsrEvent, FinalResult
from voicebot.asr.listen import PRE_ROLL, Turn, listen
from voicebot.media.endpoint import EndpointConfig
from voicebot.media.vad import Vad

FRAME = 320
START_FRAMES = EndpointConfig().start_frames


class Tape:
    """A recogniser that keeps what it hears (one list of samples per utterance)."""

    grammar: Grammar | None = None

    def __init__(self) -> None:
        self.fed: list[int] = []
        self.utterances: list[list[int]] = []
        self.resets = 0
        self.decoded = 0  # samples accepted in all

    def accept(self, pcm: Pcm) -> AsrEvent | None:
        self.fed.extend(int(v) for v in pcm)
        self.decoded += len(pcm)
        return None

    def finish(self) -> FinalResult:
        self.utterances.append(self.fed)
        self.fed = []
        return FinalResult(text="", confidence=0.0)

    def reset(self) -> None:
        self.fed = []
        self.resets += 1

    def close(self) -> None:
        pass


class LevelVad(Vad):
    """Speech = a frame louder than 1000 RMS."""

    def is_speech_not_quiet(self, frame: Pcm) -> bool:
        return float(np.sqrt(np.mean(frame.astype(np.float64) ** 2))) > 1000


def words(seconds: float, seed: int = 3) -> Pcm:
    """Loud noise standing in for speech, distinct sample by sample."""
    return np.random.default_rng(seed).normal(0, 4000, round(16000 * seconds)).astype(np.int16)


def quiet(frames: int) -> Pcm:
    return (np.arange(frames * FRAME) % 8 - 4).astype(np.int16)  # line hum (whole periods a frame)


async def stream(pcm: Pcm) -> AsyncIterator[tuple[float, Pcm]]:
    for i, frame in enumerate(frames_of(pcm)):
        yield i * 0.02, frame


def heard(pcm: Pcm, **kwargs: Any) -> tuple[Turn, Tape]:
    tape = Tape()

    async def main() -> Turn:
        return await listen(stream(pcm), AsyncRecognizer(tape), started_at=0.0, vad=LevelVad(), **kwargs)

    return asyncio.run(main()), tape


def test_the_recogniser_hears_the_same_turn_however_long_the_caller_waited() -> None:
    speech = words(0.5)
    fed = []
    for wait in (PRE_ROLL + 1, PRE_ROLL + 2, 60, 200):
        turn, tape = heard(np.concatenate([quiet(wait), speech, quiet(60)]))
        assert turn.outcome == "utterance"
        fed.append(tape.utterances[0])
    assert all(f == fed[0] for f in fed)
    first_loud = next(i for i, v in enumerate(fed[0]) if abs(v) > 100)
    assert first_loud == PRE_ROLL * FRAME  # the pre-roll, then the words from their first sample


def test_speech_right_at_the_start_is_heard_whole() -> None:
    speech = words(0.5)
    turn, tape = heard(np.concatenate([quiet(2), speech, quiet(60)]))
    assert turn.outcome == "utterance"
    fed = np.array(tape.utterances[0], dtype=np.int16)
    assert np.array_equal(fed[: 2 * FRAME + len(speech)], np.concatenate([quiet(2), speech]))


def test_a_dropped_click_is_dropped_from_the_recogniser_too() -> None:
    click = words(0.02 * (START_FRAMES + 1), seed=5)  # speech to the VAD, too short for a word
    speech = words(0.5)
    clean, _ = heard(np.concatenate([quiet(100), speech, quiet(60)]))
    turn, tape = heard(np.concatenate([quiet(20), click, quiet(100), speech, quiet(60)]))
    assert turn.outcome == "utterance" and tape.resets == 1
    assert tape.utterances == heard(np.concatenate([quiet(100), speech, quiet(60)]))[1].utterances
    assert clean.outcome == "utterance"


def test_a_turn_that_starts_in_speech_is_heard_from_its_first_frame() -> None:
    """After a barge-in the frames before the onset are the words that cut the prompt."""
    speech = words(0.5)
    pcm = np.concatenate([speech, quiet(60)])
    turn, tape = heard(pcm, in_speech_since=0.0)
    assert turn.outcome == "utterance"
    assert tape.utterances[0][: len(speech)] == [int(v) for v in speech]


def test_a_silent_turn_costs_the_recogniser_nothing() -> None:
    turn, tape = heard(quiet(150), config=EndpointConfig(no_input_timeout=2.0))
    assert turn.outcome == "no_input"
    assert tape.decoded == 0 and tape.utterances == []
