"""A loopback call whose recogniser lives in a decoder host process (``voicebot.asr.host``):
when the host dies during a turn, the turn comes back as a no-match (a flow asks again) instead
of failing the call, and the next turn is heard on a host started in its place."""

from __future__ import annotations

import asyncio

from tests.integration.bot.loopback import bot_call, speak
from voicebot.asr.host import HostedEngine
from voicebot.call import Call
from voicebot.tts import Synthesizer
from voicebot.voice import Heard, Speech

GRAMMAR = ["yes", "no", "reschedule", "cancel"]


async def two_turns(engine: HostedEngine) -> tuple[Heard, Heard]:
    """The bot listens; its one host is killed once it holds the turn's recogniser, before the
    caller speaks. The bot asks again and listens once more."""
    (host,) = engine.pool.hosts()

    async def kill_once_pinned() -> None:
        while await asyncio.to_thread(host.call, "held") == 0:
            await asyncio.sleep(0.05)
        host.process.kill()
        await asyncio.to_thread(host.process.wait)

    async def bot_side(call: Call) -> tuple[Heard, Heard]:
        killer = asyncio.create_task(kill_once_pinned())
        lost = await call.listen(GRAMMAR, timeout=8)
        await killer
        await call.say("Sorry, once more please.", barge_in=False)  # the caller's first try ends in it
        return lost, await call.listen(GRAMMAR, timeout=8)

    async def caller_side(call: Call, voice: Synthesizer) -> None:
        first, again = await voice.synthesize("reschedule"), await voice.synthesize("cancel")
        await asyncio.sleep(1.5)
        await speak(call, first)
        await asyncio.sleep(3.0)  # the bot's "Sorry, once more please." is over by then
        await speak(call, again)

    speech = Speech(synthesizer=Synthesizer(voice="en-us"), asr=engine)
    value: tuple[Heard, Heard] = await bot_call(bot_side, caller_side, speech=speech)
    return value


def test_a_turn_whose_host_dies_is_a_no_match_and_the_next_turn_is_heard_on_a_new_host() -> None:
    engine = HostedEngine("pocketsphinx", None, 1)
    try:
        lost, heard = asyncio.run(two_turns(engine))
    finally:
        engine.close()
    assert lost.kind == "no_match" and lost.phrase is None and lost.text == ""
    assert heard.kind == "speech" and heard.phrase == "cancel", heard
