"""A flow's webhooks reaching a local HTTP server that stands in for a CRM.

Run: ``python examples/crm_webhook.py``. ``dialogs/payment_reminder.yaml`` asks its billing
system (``https://billing.example/...``) for the balance and records the promise to pay. Here
a small HTTP server on 127.0.0.1 plays the billing system; the bot's webhook runner sends the
flow's requests to it instead (``runner(base)``, what ``voicebot dial --webhook-base`` does).
A scripted customer verifies with the last four digits, agrees to pay and names Friday. The
example prints what the CRM received.
"""

from __future__ import annotations

import asyncio
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from voicebot import Call, Flow, UserAgent
from voicebot.bot import VoiceBot
from voicebot.flowio.webhook import runner
from voicebot.persona import Persona, persona_speech, play_persona
from voicebot.voice import Speech

DIALOGS = Path(__file__).resolve().parent.parent / "dialogs"
# confirm: a real caller answers "Did you say friday?" when the bot was not sure of the word
CUSTOMER = Persona.parse(
    {"persona": "Dana pays friday", "confirm": "yes", "turns": [{"dtmf": "1234"}, "yes", "friday"]}
)
RECEIVED: list[tuple[str, str, Any]] = []


class Billing(BaseHTTPRequestHandler):
    """GET /api/accounts/ID -> the balance; POST .../promises -> 201."""

    def _answer(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        RECEIVED.append(("GET", self.path, None))
        self._answer(200, {"balance": 42.5, "due_date": "2026-01-02"})

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
        RECEIVED.append(("POST", self.path, body))
        self._answer(201, {"ok": True})

    def log_message(self, *args: Any) -> None:  # quiet
        pass


async def main() -> None:
    crm = ThreadingHTTPServer(("127.0.0.1", 0), Billing)
    threading.Thread(target=crm.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{crm.server_address[1]}"

    flow = Flow.load(DIALOGS / "payment_reminder.yaml")
    async with (
        UserAgent("127.0.0.1:0", user="billing", speech=Speech.for_language("en")) as bot,
        UserAgent("127.0.0.1:0", user="dana", speech=persona_speech(CUSTOMER)) as dana,
    ):
        dana.on_call(lambda call: play_persona(call, CUSTOMER))
        host, port = dana.local_address
        call: Call = await bot.dial(f"sip:dana@{host}:{port}")
        if not await call.answered:
            raise SystemExit("no answer")
        context = {"customer_name": "Dana", "account_id": "7", "account_last4": "1234"}
        result = await VoiceBot(call, webhook=runner(base)).run(flow, context=context)
        slots = result.slots
        print(f"outcome {result.outcome}, balance {slots.get('balance')}, promise {slots.get('promise_date')}")
    crm.shutdown()
    for method, path, body in RECEIVED:
        print(f"CRM got {method} {path}" + (f" {body}" if body else ""))


if __name__ == "__main__":
    asyncio.run(main())
