"""An outbound bot from a script: call someone, run a dialog flow, print what came of it.

Run: ``python examples/outbound_bot.py [URI]``. Without a URI the example starts its own
callee first — the appointment reminder's persona (``dialogs/personas/*.persona.yaml``) on another
port of this machine — so the whole call runs over real SIP and RTP on loopback.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from voicebot import Flow, UserAgent
from voicebot.persona import Persona, play_persona
from voicebot.report import call_report
from voicebot.voice import Speech

DIALOGS = Path(__file__).resolve().parent.parent / "dialogs"


async def call_and_report(ua: UserAgent, uri: str) -> None:
    flow = Flow.load(DIALOGS / "appointment_reminder.yaml")
    call = await ua.dial(uri, flow=flow, context={"customer_name": "Ann", "appointment_date": "2026-01-08"})
    call.observe(lambda event: print("  ", type(event).__name__, getattr(event, "text", "")))
    result = await call.finished
    report = call_report(result)
    print(f"outcome {report['outcome']}, slots {report['slots']}")
    mos = report["quality"]["mos"]
    print(f"{report['status']} {report['reason']}, {report['duration']:.1f} s, {report['codec']}, MOS {mos}")


async def main(uri: str | None) -> None:
    async with UserAgent("127.0.0.1:0", user="clinic", speech=Speech.for_language("en")) as bot:
        if uri is not None:
            await call_and_report(bot, uri)
            return
        persona = Persona.load(DIALOGS / "personas" / "appointment_reminder.persona.yaml")
        async with UserAgent("127.0.0.1:0", user="ann", speech=Speech.speaking("en")) as callee:
            callee.on_call(lambda call: play_persona(call, persona))
            host, port = callee.local_address
            await call_and_report(bot, f"sip:ann@{host}:{port}")


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1] if len(sys.argv) > 1 else None))
