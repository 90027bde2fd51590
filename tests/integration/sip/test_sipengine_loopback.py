"""Two real user agents on loopback UDP/TCP: calls, BYE either side, CANCEL, hold, INFO, REFER."""

from __future__ import annotations

import asyncio

import pytest

from voicebot.agent import UserAgent
from voicebot.call import Call
from voicebot.sip.transaction import Timers

FAST = Timers(t1=0.05, t2=0.4, t4=0.5)


async def answering_agent(**kw: object) -> UserAgent:
    ua = UserAgent("127.0.0.1:0", user="bob", timers=FAST, **kw)  # type: ignore[arg-type]

    async def handler(call: Call) -> None:
        await call.ring()
        await call.answer()

    ua.on_call(handler)
    await ua.start()
    return ua


@pytest.mark.parametrize("transport", ["udp", "tcp"])
async def test_call_answer_and_bye_from_caller(transport: str) -> None:
    bob = await answering_agent()
    alice = UserAgent("127.0.0.1:0", user="alice", timers=FAST)
    await alice.start()
    try:
        host, port = bob.local_address
        call = await alice.dial(f"sip:bob@{host}:{port};transport={transport}")
        assert await asyncio.wait_for(call.answered, 10)
        assert 180 in call.progress
        result = await asyncio.wait_for(call.hangup(), 10)
        assert result.answered and result.status == 200 and result.ended_by == "local"
        (bob_call,) = bob.calls.values()
        bob_result = await asyncio.wait_for(bob_call.finished, 10)
        assert bob_result.ended_by == "remote" and bob_result.reason == "remote BYE"
    finally:
        await alice.close()
        await bob.close()
