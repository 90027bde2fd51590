"""Place a call to a bot in the same process and hold a short conversation with it.

Run: ``python examples/loopback_call.py``. Two user agents on 127.0.0.1: the bot answers,
asks a yes/no question with local TTS and listens with offline ASR; the caller answers
"yes" with synthesised speech. Everything goes over real SIP and RTP on loopback.
"""

from __future__ import annotations

import asyncio

from voicebot import Call, UserAgent
from voicebot.voice import Speech


async def main() -> None:
    speech = Speech.for_language("en")  # espeak-ng + pocketsphinx; Speech.for_language("ko") for Korean
    answers: asyncio.Queue[str] = asyncio.Queue()

    async def bot(call: Call) -> None:
        await call.answer()
        await call.say("Hello! Shall I book you in for tomorrow? Please say yes or no.")
        heard = await call.listen(["yes", "no"], timeout=8)
        await answers.put(f"{heard.kind}: {heard.phrase or heard.digits or '-'}")
        await call.say("Thank you, goodbye." if heard.phrase else "Sorry, goodbye.")
        await call.hangup()

    async with UserAgent("127.0.0.1:0", user="bot", speech=speech) as bot_ua, UserAgent("127.0.0.1:0") as me:
        bot_ua.on_call(bot)
        host, port = bot_ua.local_address
        call = await me.dial(f"sip:bot@{host}:{port}")
        if not await call.answered:
            raise SystemExit("the bot did not answer")
        await asyncio.sleep(4.5)  # let the question play
        await call.play(await speech.synthesizer.synthesize("yes"))
        print("bot heard ->", await asyncio.wait_for(answers.get(), 30))
        result = await call.finished
        print("call ended:", result.reason, f"after {result.duration:.1f} s")


if __name__ == "__main__":
    asyncio.run(main())
