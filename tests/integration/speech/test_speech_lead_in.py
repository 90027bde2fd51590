"""How much quiet line comes before the words: the confidence's own features no longer move
with it, and a call's turn always gives its recogniser the same 300 ms of it.

pocketsphinx took the gap to the phone loop per frame of the whole utterance, so 2 s of quiet
before the words divided it by up to three (16 kHz "nine" against the digits: 0.07 after
0.25 s, 0.21 after 2 s). It is taken from the caller's first sound on now: on a 16 kHz line the
same espeak-ng phrase after 0.25 s and after 2 s of quiet gets the same phrase, the same
decision of the band's policy and nearly the same confidence. On a μ-law line the decoders'
own output still moves with the quiet -- strictly expected to fail below, so that a change
that mends it says so. Not through the gap's whole-utterance path scores: the quiet under the
noise bed (``voicebot.asr.conditioning``) costs both paths next to nothing per frame (the
phone loop's silence scored alike over 31 and over 207 frames), and "one" moves (0.38 / 0.54)
with no gap at all, through its unexplained share (0.25 / 0.16) and lattice mass. Path scores
taken from the first sound on too (each decoder's segments) still moved "five"'s gap (0.44 /
1.02, whole utterance 0.59 / 1.18), and refitted they cost the policy its accepts (16 kHz
accepted right 31.8 -> 2.4 %, μ-law 14.1 -> 0 %). Most of what carries the quiet into the
words is pocketsphinx's noise remover (on from the model's ``feat.params``), which tracks the
line from the utterance's first frame: without it "one" holds (0.697 / 0.695), "three" still
moves (0.53 / 0.60), and μ-law's first choice falls (52.9 -> 47.1 % right; with both changes
refitted, accepted right 14.1 -> 0 %; the speech benchmark's quick set). What keeps a call's
turns alike is the gate in ``voicebot.asr.listen``: the recogniser hears 300 ms of the quiet
whenever the caller begins, as the speech benchmark's turns (which the policy is fitted on)
give it 0.25 s."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import numpy as np
import pytest

from tests.sim.channel import frames_of, telephone_channel
from voicebot.asr import AsyncRecognizer
from voicebot.asr.engine import Band
from voicebot.asr.engine import recognize_pcm as recognize
from voicebot.asr.listen import LEAD_IN, Turn, listen
from voicebot.asr.pocketsphinx_engine import PocketsphinxEngine
from voicebot.media.vad import is_quiet
from voicebot.tts import EspeakEngine

DIGITS = ["one", "two", "three", "four", "five"]
ANSWERS = ["yes please", "no thank you", "call me back later", "cancel my appointment"]
CASES = [(DIGITS, said) for said in [*DIGITS, "seven", "nine"]] + [(ANSWERS, said) for said in ANSWERS]
SHORT, LONG = 0.25, 2.0
FRAME_SECONDS = 0.02


def quiet(seconds: float) -> np.ndarray:
    return np.zeros(round(16000 * seconds), dtype=np.int16)


def line(words: np.ndarray, lead: float, band: Band) -> np.ndarray:
    audio = np.concatenate([quiet(lead), words, quiet(0.3)])
    return telephone_channel(audio)[0] if band is Band.NARROW else audio


NARROW_MOVES = pytest.mark.xfail(
    strict=True, reason="on μ-law the noise bed under the quiet moves the decoders' own scores (see the module doc)"
)


@pytest.mark.parametrize("band", [Band.WIDE, pytest.param(Band.NARROW, marks=NARROW_MOVES)])
def test_the_quiet_before_the_words_changes_neither_answer_nor_confidence(
    sphinx_engine: PocketsphinxEngine, tts_cli: EspeakEngine, band: Band
) -> None:
    policy = sphinx_engine.policies[band]
    differ: list[str] = []
    spread: list[float] = []
    for grammar, said in CASES:
        words = tts_cli.synthesize(said, voice="en-us", rate=175)
        heard = []
        for lead in (SHORT, LONG):
            rec = sphinx_engine.recognizer(grammar, band=band)
            try:
                result = recognize(rec, line(words, lead, band))
            finally:
                rec.close()
            assert result.match is not None
            candidate = result.match.phrase or result.match.runner_up
            sure = result.match.confidence if result.match.matched else 1.0 - result.match.confidence
            heard.append((candidate, round(sure, 3), policy.decision(sure) if candidate else "reject"))
        (short, long_) = heard
        spread.append(abs(short[1] - long_[1]))
        if short[0] != long_[0] or short[2] != long_[2] or spread[-1] > 0.06:
            differ.append(f"'{said}': after {SHORT} s {short}, after {LONG} s {long_}")
    assert differ == [], differ
    assert float(np.median(spread)) <= 0.01, spread

def test_a_turn_feeds_its_recogniser_from_just_before_the_first_sound(
    sphinx_engine: PocketsphinxEngine, tts_cli: EspeakEngine
) -> None:
    """Through ``listen`` on a μ-law line: the caller answers after 2 s of quiet. The gated
    recogniser hears 300 ms of that quiet (its result's duration says how much audio it was
    fed) and comes to the same answer, as sure, as one fed every frame of the turn."""
    audio = line(tts_cli.synthesize("cancel my appointment", voice="en-us", rate=175), LONG, Band.NARROW)
    audio = np.concatenate([audio, quiet(1.5)])
    frames = frames_of(audio)
    first_sound = next(i for i, f in enumerate(frames) if not is_quiet(f)) * FRAME_SECONDS

    async def stream() -> AsyncIterator[tuple[float, np.ndarray]]:
        for i, frame in enumerate(frames):
            yield i * FRAME_SECONDS, frame
            await asyncio.sleep(0)

    async def turn(lead_in: int | None) -> Turn:
        rec = AsyncRecognizer(sphinx_engine.recognizer(ANSWERS, band=Band.NARROW))
        try:
            return await listen(stream(), rec, started_at=0.0, lead_in=lead_in)
        finally:
            await rec.aclose()

    gated, whole = asyncio.run(turn(LEAD_IN)), asyncio.run(turn(None))
    assert gated.result is not None and whole.result is not None and gated.end is not None
    assert gated.phrase == whole.phrase == "cancel my appointment"
    assert abs(gated.result.confidence - whole.result.confidence) <= 0.05
    fed = gated.end.at - (first_sound - LEAD_IN * FRAME_SECONDS)  # end.at: the end of its frame
    assert gated.result.duration == pytest.approx(fed, abs=1e-6)
    assert whole.result.duration - gated.result.duration > LONG - 0.5
