"""An inbound IVR inside your own asyncio application, handling calls as ``voicebot serve`` does.

Run: ``python examples/inbound_ivr.py``. The app answers every call on 127.0.0.1 with a
small menu — press 1 or say "opening hours", press 2 or say "agent" — in its own task, and
keeps a log of what each caller chose. To show it working, the example then calls itself
once with a second user agent that keys 1 after the menu.
"""

from __future__ import annotations

import asyncio

from voicebot import Call, UserAgent
from voicebot.voice import Speech

MENU = "Welcome to the clinic. Press 1 or say opening hours. Press 2 or say agent."


async def ivr(call: Call, log: list[str]) -> None:
    """One caller's way through the menu."""
    await call.answer()
    for _attempt in range(2):
        await call.say(MENU)
        heard = await call.listen(["opening hours", "agent"], timeout=6)
        choice = heard.digits or {"opening hours": "1", "agent": "2"}.get(heard.phrase or "", "")
        if choice == "1":
            log.append(f"{call.remote_uri}: opening hours")
            await call.say("We are open from eight to six, Monday to Friday. Goodbye.", barge_in=False)
            break
        if choice == "2":
            log.append(f"{call.remote_uri}: agent")
            await call.transfer("sip:frontdesk@127.0.0.1:5090")
            break
        if heard.kind == "hangup":
            return
    await call.hangup()


async def serve(ua: UserAgent, log: list[str], calls: int) -> None:
    """Answer ``calls`` calls, each in its own task; wait for all of them."""
    async with asyncio.TaskGroup() as tasks:
        incoming = ua.incoming()
        for _ in range(calls):
            tasks.create_task(ivr(await anext(incoming), log))


async def main() -> None:
    log: list[str] = []
    async with UserAgent("127.0.0.1:0", user="ivr", speech=Speech.for_language("en")) as ua:
        app = asyncio.create_task(serve(ua, log, calls=1))
        host, port = ua.local_address
        async with UserAgent("127.0.0.1:0", user="caller") as phone:
            call = await phone.dial(f"sip:ivr@{host}:{port}")
            if await call.answered:
                await asyncio.sleep(7)  # the menu plays
                await call.send_dtmf("1")
                result = await call.finished
                print(f"test call ended: {result.reason} after {result.duration:.1f} s")
        await app
    print("IVR log:", log)


if __name__ == "__main__":
    asyncio.run(main())
