"""Which worker threads decode: pocketsphinx keeps the GIL while it decodes, so its recognisers
share one thread (a second could not decode beside it, only make the event loop queue behind
one more thread for the GIL); Vosk releases it, so its recognisers spread over the pool.
``benchmarks/asr_threads.py`` measures the GIL behaviour itself."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from typing import Any

import numpy as np

from voicebot.asr import AsyncRecognizer
from voicebot.asr.engine import AsrEngine, Band
from voicebot.asr.pocketsphinx_engine import PocketsphinxEngine
from voicebot.asr.vosk_engine import VoskEngine

CALLS = 4
FRAMES = 25


async def decoding_threads(engine: AsrEngine, grammar: Sequence[str]) -> set[int]:
    """The threads that ran ``CALLS`` recognisers' frames, fed to all of them at once."""
    seen: set[int] = set()
    recs = [await AsyncRecognizer.open(engine, list(grammar), band=Band.NARROW) for _ in range(CALLS)]
    for rec in recs:
        accept = rec.recognizer.accept

        def noted(pcm: np.ndarray, accept: Any = accept) -> Any:
            seen.add(threading.get_ident())
            return accept(pcm)

        rec.recognizer.accept = noted  # type: ignore[method-assign]
    noise = np.random.default_rng(7).normal(0, 2000, 320 * FRAMES).astype(np.int16)

    async def feed(rec: AsyncRecognizer) -> None:
        for i in range(FRAMES):
            await rec.accept(noise[i * 320 : (i + 1) * 320])

    try:
        await asyncio.gather(*(feed(rec) for rec in recs))
    finally:
        for rec in recs:
            await rec.aclose()
    return seen


def test_recognisers_that_keep_the_gil_share_one_thread_and_the_others_spread(
    sphinx_engine: PocketsphinxEngine, vosk_engine: VoskEngine
) -> None:
    assert sphinx_engine.holds_gil and not vosk_engine.holds_gil
    sphinx = asyncio.run(decoding_threads(sphinx_engine, ["yes", "no", "call me back later"]))
    vosk = asyncio.run(decoding_threads(vosk_engine, ["네", "아니요", "나중에 다시 전화 주세요"]))
    assert len(sphinx) == 1, sphinx
    assert len(vosk) >= 2, vosk  # four calls' frames at once: the pool runs them side by side
    assert not sphinx & vosk  # the one pocketsphinx thread is its own, not one of the pool's
    assert threading.get_ident() not in sphinx | vosk  # and never the event loop's
