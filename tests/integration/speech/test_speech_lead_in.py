"""How much quiet line comes before the words changes neither what pocketsphinx hears nor how
sure it is: the same espeak-ng phrase after 0.25 s and after 2 s of quiet, on a 16 kHz and a
G.711 μ-law line, gets the same phrase, (nearly) the same confidence and the same decision of
its band's policy. The gap to the phone loop used to be taken per frame of the whole
utterance, so 2 s of quiet before the words divided it by about three: on μ-law the other
answer "seven" against the digits went from rejected to accepted as "two", and the survey's
"five" moved across the confirm band when a turn's recogniser began to hear the line only from
just before the caller's first sound (``voicebot.asr.listen``)."""

from __future__ import annotations

import numpy as np
import pytest

from tests.sim.channel import telephone_channel
from voicebot.asr.engine import Band
from voicebot.asr.engine import recognize_pcm as recognize
from voicebot.asr.pocketsphinx_engine import PocketsphinxEngine
from voicebot.tts import EspeakEngine

DIGITS = ["one", "two", "three", "four", "five"]
ANSWERS = ["yes please", "no thank you", "call me back later", "cancel my appointment"]
CASES = [(DIGITS, said) for said in [*DIGITS, "seven", "nine"]] + [(ANSWERS, said) for said in ANSWERS]
SHORT, LONG = 0.25, 2.0


def quiet(seconds: float) -> np.ndarray:
    return np.zeros(round(16000 * seconds), dtype=np.int16)


def line(words: np.ndarray, lead: float, band: Band) -> np.ndarray:
    audio = np.concatenate([quiet(lead), words, quiet(0.3)])
    return telephone_channel(audio)[0] if band is Band.NARROW else audio


@pytest.mark.parametrize("band", [Band.WIDE, Band.NARROW])
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
        if short[0] != long_[0] or short[2] != long_[2] or abs(short[1] - long_[1]) > 0.1:
            differ.append(f"'{said}': after {SHORT} s {short}, after {LONG} s {long_}")
    assert differ == [], differ
    assert float(np.median(spread)) <= 0.02, spread

