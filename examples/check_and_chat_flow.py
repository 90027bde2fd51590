"""Compile a dialog flow and run it as text, without a phone: the flow runtime is pure.

Run: ``python examples/check_and_chat_flow.py [dialogs/appointment_reminder.yaml]``.
"""

from __future__ import annotations

import sys
from pathlib import Path

from voicebot import Flow
from voicebot.flow import Hangup, Listen, Say, Utterance, Webhook, WebhookResult

ROOT = Path(__file__).resolve().parent.parent


def main(path: str) -> None:
    flow = Flow.load(path)  # raises FlowError with file:line:column diagnostics
    print(f"{flow.name}: {len(flow.states)} states, outcomes {', '.join(flow.outcomes)}")
    session = flow.start({"customer_name": "Ann", "appointment_date": "2026-01-08"})
    actions = session.begin(now=0.0)
    caller_turns = iter(["yes that works"])
    t = 0.0
    while True:
        for action in actions:
            if isinstance(action, Say):
                print(f"  bot:    {action.text}")
            elif isinstance(action, Listen):
                print(f"  (listening for {len(action.grammar or ())} phrases, {action.timeout_s:.0f} s)")
            elif isinstance(action, Webhook):
                print(f"  (webhook {action.method} {action.url}: answered ok here, no network)")
            elif isinstance(action, Hangup):
                print(f"  -- hang up, outcome {action.outcome}")
        if session.ended:
            break
        t += 5.0
        if WebhookResult in session.expecting:
            actions = session.handle(WebhookResult(ok=True, data={}, status=200), now=t)
            continue
        text = next(caller_turns, "goodbye")
        print(f"  caller: {text}")
        actions = session.handle(Utterance(text=text, confidence=0.9), now=t)
    result = session.result()
    print(f"outcome {result.outcome}, slots {dict((k, v) for k, v in result.slots.items() if v is not None)}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else str(ROOT / "dialogs" / "appointment_reminder.yaml"))
