"""A loopback call whose recogniser lives in a decoder host process (``voicebot.asr.host``):
when the host has died, the turn comes back as a no-match at once (the flow asks again) instead
of failing the call, and the next turn is heard on a host started in its place."""

from __future__ import annotations

import asyncio

from tests.integration.bot.test_voicebot_call import caller_voice, speak
from voicebot.agent import UserAgent
from voicebot.asr.host import HostedEngine
from voicebot.call import Call
from voicebot.tts import Synthesizer
from voicebot.voice import Heard, Speech


async def two_turns(engine: HostedEngine) -> tuple[Heard, Heard]:
    """The bot listens twice; before the first turn its one host is killed."""
    speech = Speech(synthesizer=Synthesizer(voice="en-us"), asr=engine)
    result: asyncio.Future[tuple[Heard, Heard]] = asyncio.get_running_loop().create_future()

    async def answer(call: Call) -> None:
        await call.answer()
        try:
            (host,) = engine.pool.hosts()
            host.process.kill()
            await asyncio.to_thread(host.process.wait)
            lost = await call.listen(["yes", "no", "reschedule", "cancel"], timeout=8)
            heard = await call.listen(["yes", "no", "reschedule", "cancel"], timeout=8)
            result.set_result((lost, heard))
        except BaseException as exc:
            result.set_exception(exc)
            raise
        finally:
            await call.hangup()

    async with (
        UserAgent("127.0.0.1:0", user="bot", speech=speech) as bot_ua,
        UserAgent("127.0.0.1:0", user="caller") as caller_ua,
    ):
        bot_ua.on_call(answer)
        host, port = bot_ua.local_address
        call = await caller_ua.dial(f"sip:bot@{host}:{port}")
        assert await call.answered
        words = await caller_voice().synthesize("reschedule")
        await asyncio.sleep(1.5)
        await speak(call, words)
        value = await asyncio.wait_for(result, timeout=60)
        await call.hangup()
    return value


def test_a_turn_whose_host_died_is_a_no_match_and_the_next_turn_is_heard() -> None:
    engine = HostedEngine("pocketsphinx", None, 1)
    try:
        lost, heard = asyncio.run(two_turns(engine))
    finally:
        engine.close()
    assert lost.kind == "no_match" and lost.phrase is None and lost.text == ""
    assert heard.kind == "speech" and heard.phrase == "reschedule", heard
