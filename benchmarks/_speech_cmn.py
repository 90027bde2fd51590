"""Learning the cepstral mean a pocketsphinx turn starts from, per line band (imported by speech.py).

pocketsphinx normalises features by a running cepstral mean that it updates as utterances
go by. A decoder that heard many turns of one line holds that line's mean; a fresh one holds
the model's initial mean. ``learn_means`` lets one recogniser hear the calibration split's
phrase turns under each band's conditions one after another, as a long call would, and
averages the mean the decoder holds after each turn once it has settled (``SETTLE`` turns
in): the prior that ``voicebot/asr/calibration.json`` ships as ``cmn_prior``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from _speech_set import Condition, Turn, through

from tests.sim.channel import frames_of
from voicebot.asr.engine import Band

SETTLE = 10  # turns heard before the decoder's mean counts (it starts from the model's)


def learn_means(
    engine: Any,
    turns: Sequence[Turn],
    conditions: Sequence[Condition],
    talkers: list[np.ndarray],
    *,
    every: int = 2,
) -> dict[Band, tuple[float, ...]]:
    """Per band of ``conditions``, the mean cepstrum a decoder settles on over every
    ``every``-th phrase turn of ``turns`` under those conditions (pocketsphinx only)."""
    phrases = sorted({t.phrase for t in turns if t.phrase is not None})
    spoken = [t for t in turns if t.intent is not None][::every]
    out: dict[Band, tuple[float, ...]] = {}
    for band in sorted({c.band for c in conditions}):
        # a grammar of every phrase: the mean is the front end's, whatever the search
        rec = engine.recognizer(phrases)
        seen: list[tuple[float, ...]] = []
        try:
            for condition in (c for c in conditions if c.band is band):
                for turn in spoken:
                    for frame in frames_of(through(condition, turn, talkers)):
                        rec.accept(frame)
                    rec.finish()
                    seen.append(rec.cepstral_mean())
        finally:
            rec.close()
        settled = seen[SETTLE:] or seen
        out[band] = tuple(round(float(x), 4) for x in np.mean(np.array(settled), axis=0))
    return out


__all__ = ["SETTLE", "learn_means"]
