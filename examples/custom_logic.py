"""Your own call logic with say / listen / read_dtmf, no flow file.

Run: ``python examples/custom_logic.py``. The bot asks for a four-digit PIN by keypad, reads
it back and asks for a spoken yes or no. Its counterpart is a scripted callee (a persona
written inline) that keys 4711 and says yes; both run on 127.0.0.1 over real SIP and RTP.
"""

from __future__ import annotations

import asyncio

from voicebot import Call, UserAgent
from voicebot.persona import Persona, play_persona
from voicebot.voice import Speech

CALLEE = Persona.parse({"persona": "PIN holder", "turns": [{"dtmf": "4711"}, {"say": "yes"}]})


async def check_pin(call: Call) -> str:
    await call.say("Please key in your four digit PIN.")
    pin = await call.read_dtmf(4, timeout=10)
    if len(pin) != 4:
        await call.say("Sorry, I did not get four digits. Goodbye.")
        return "no pin"
    await call.say(f"You keyed {' '.join(pin)}. Is that right?")
    heard = await call.listen(["yes", "no"], timeout=6)
    verdict = "confirmed" if heard.phrase == "yes" else "not confirmed"
    await call.say("Thank you, goodbye." if verdict == "confirmed" else "Let us try another time. Goodbye.")
    return f"{verdict}: {pin}"


async def main() -> None:
    async with (
        UserAgent("127.0.0.1:0", user="bank", speech=Speech.for_language("en")) as bot,
        UserAgent("127.0.0.1:0", user="customer", speech=Speech.speaking("en")) as customer,
    ):
        customer.on_call(lambda call: play_persona(call, CALLEE))
        host, port = customer.local_address
        call = await bot.dial(f"sip:customer@{host}:{port}")
        if not await call.answered:
            raise SystemExit("no answer")
        print("PIN check:", await check_pin(call))
        await call.hangup()


if __name__ == "__main__":
    asyncio.run(main())
