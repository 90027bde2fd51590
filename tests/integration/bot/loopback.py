"""One real loopback call for the bot tests: two user agents on 127.0.0.1, espeak-ng speaking
for both sides, a recogniser on the bot's. The tests here differ only in what each side does
and, for the decoder-host test, in which recogniser the bot listens with.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import numpy as np

from voicebot.agent import UserAgent
from voicebot.asr import get_engine
from voicebot.call import Call
from voicebot.tts import EspeakEngine, Synthesizer
from voicebot.voice import Speech


async def bot_call(
    bot_side: Callable[[Call], Awaitable[Any]],
    caller_side: Callable[[Call, Synthesizer], Awaitable[None]],
    codecs: Sequence[str] | None = None,
    *,
    speech: Speech | None = None,
) -> Any:
    """One loopback call: ``bot_side(call)`` on the answering side, ``caller_side`` on the other
    (``codecs``: what both offer, default the user agent's, Opus first). The bot speaks and
    listens with ``speech``, by default espeak-ng and pocketsphinx in this process; a caller
    that passes its own closes whatever that holds (decoder hosts) itself."""
    if speech is None:
        speech = Speech(synthesizer=Synthesizer(voice="en-us"), asr=await asyncio.to_thread(get_engine, "pocketsphinx"))
    result: asyncio.Future[Any] = asyncio.get_running_loop().create_future()

    async def answer(call: Call) -> None:
        await call.answer()
        try:
            result.set_result(await bot_side(call))
        except BaseException as exc:
            result.set_exception(exc)
            raise
        finally:
            await call.hangup()

    async with (
        UserAgent("127.0.0.1:0", user="bot", speech=speech, codecs=codecs) as bot_ua,
        UserAgent("127.0.0.1:0", user="caller", codecs=codecs) as caller_ua,
    ):
        bot_ua.on_call(answer)
        host, port = bot_ua.local_address
        call = await caller_ua.dial(f"sip:bot@{host}:{port}")
        assert await call.answered
        caller = asyncio.create_task(caller_side(call, caller_voice()))
        value = await asyncio.wait_for(result, timeout=60)
        caller.cancel()
        await asyncio.gather(caller, return_exceptions=True)
        await call.hangup()
    return value


def caller_voice() -> Synthesizer:
    """The caller's voice: espeak-ng's command, a new process per phrase, so the same words are
    the same samples whatever ran before. libespeak-ng loaded once per process (pyttsx3) carries
    state from phrase to phrase: "talk to an agent" comes out a few samples longer or shorter and
    differently shaped every time it is said again in a process (measured), and after the speech
    tests one such rendition came back on a μ-law line as "talk to an"."""
    return Synthesizer(EspeakEngine(backend="espeak-ng"), voice="en-us", rate=150)


async def speak(call: Call, pcm: np.ndarray) -> None:
    """Play ``pcm`` and 300 ms of silence after it, so the far end hears the words end."""
    await call.play(np.concatenate([pcm, np.zeros(4800, np.int16)]))


__all__ = ["bot_call", "caller_voice", "speak"]
