"""An answered call whose far end stops sending RTP is ended by us with a BYE and a reason."""

from __future__ import annotations

import asyncio

from voicebot.agent import UserAgent
from voicebot.call import Call


def test_rtp_inactivity_ends_the_call_with_a_bye() -> None:
    async def run() -> tuple[object, object]:
        answered: asyncio.Queue[Call] = asyncio.Queue()

        async def answer(call: Call) -> None:
            await call.answer()
            await answered.put(call)

        async with (
            UserAgent("127.0.0.1:0", user="bot", rtp_timeout=1.5) as bot,
            UserAgent("127.0.0.1:0", user="phone") as phone,
        ):
            bot.on_call(answer)
            host, port = bot.local_address
            call = await phone.dial(f"sip:bot@{host}:{port}")
            assert await call.answered
            bot_call = await asyncio.wait_for(answered.get(), 10)
            await asyncio.sleep(0.5)  # media flows both ways first
            assert call.media is not None
            await call.media.close()  # the phone's audio dies, its signalling stays up
            bot_result = await asyncio.wait_for(bot_call.finished, 15)
            phone_result = await asyncio.wait_for(call.finished, 15)
        return bot_result, phone_result

    bot_result, phone_result = asyncio.run(run())
    assert bot_result.ended_by == "local" and "media timeout" in bot_result.reason  # type: ignore[attr-defined]
    assert phone_result.ended_by == "remote"  # type: ignore[attr-defined]
