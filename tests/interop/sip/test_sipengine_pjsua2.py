"""PJSIP (pjsua2, null audio device, in-process) calls voicebot and voicebot calls it."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.interop.sip.pjpeer import until
from voicebot.agent import UserAgent
from voicebot.call import Call

pytestmark = pytest.mark.interop


async def test_pjsua2_calls_voicebot(pjsua2_peer: Any) -> None:
    ua = UserAgent("127.0.0.1:0", user="bot")

    async def handler(call: Call) -> None:
        await call.ring()
        await call.answer()

    ua.on_call(handler)
    await ua.start()
    acc = pjsua2_peer.account("caller")
    try:
        async with pjsua2_peer.pumping():
            host, port = ua.local_address
            pj_call = pjsua2_peer.call(acc, f"sip:bot@{host}:{port}")
            assert await until(lambda: pj_call.confirmed), pj_call.states
            (call,) = ua.calls.values()
            assert await asyncio.wait_for(call.answered, 10)
            assert call.media_params is not None and call.media_params.codec
            pj_call.hangup(__import__("pjsua2").CallOpParam())
            result = await asyncio.wait_for(call.finished, 10)
            assert result.answered and result.ended_by == "remote"
    finally:
        await ua.close()


async def test_voicebot_calls_pjsua2_hold_resume_and_hangup(pjsua2_peer: Any) -> None:
    acc = pjsua2_peer.account("callee")
    ua = UserAgent("127.0.0.1:0", user="bot")
    await ua.start()
    try:
        async with pjsua2_peer.pumping():
            call = await ua.dial(f"sip:callee@127.0.0.1:{pjsua2_peer.port}")
            assert await asyncio.wait_for(call.answered, 10)
            assert await until(lambda: bool(acc.calls) and acc.calls[-1].confirmed)
            assert await call.hold() == 200
            assert call.media_params is not None and call.media_params.direction in ("sendonly", "inactive")
            assert await call.resume() == 200
            assert call.media_params.direction == "sendrecv"
            result = await asyncio.wait_for(call.hangup(), 10)
            assert result.answered and result.ended_by == "local"
            assert await until(lambda: acc.calls[-1].disconnected)
    finally:
        await ua.close()


async def test_pjsua2_busy_is_reported(pjsua2_peer: Any) -> None:
    acc = pjsua2_peer.account("busy", answer_code=486)
    ua = UserAgent("127.0.0.1:0", user="bot")
    await ua.start()
    try:
        async with pjsua2_peer.pumping():
            call = await ua.dial(f"sip:busy@127.0.0.1:{pjsua2_peer.port}")
            assert not await asyncio.wait_for(call.answered, 10)
            result = await call.finished
            assert result.status == 486 and not result.answered
        assert acc.calls
    finally:
        await ua.close()


async def test_update_and_blind_transfer_of_pjsua2(pjsua2_peer: Any) -> None:
    acc = pjsua2_peer.account("xfer")
    ua = UserAgent("127.0.0.1:0", user="bot")
    target = UserAgent("127.0.0.1:0", user="target")
    reached: list[Call] = []

    async def handler(call: Call) -> None:
        reached.append(call)
        await call.answer()

    target.on_call(handler)
    await ua.start()
    await target.start()
    try:
        async with pjsua2_peer.pumping():
            call = await ua.dial(f"sip:xfer@127.0.0.1:{pjsua2_peer.port}")
            assert await asyncio.wait_for(call.answered, 10)
            assert await call.update() == 200  # RFC 3311 UPDATE with a new offer
            host, port = target.local_address
            status = await asyncio.wait_for(call.transfer(f"sip:target@{host}:{port}"), 30)
            assert status == 200
            assert reached and await asyncio.wait_for(reached[0].answered, 10)
            assert (await asyncio.wait_for(call.finished, 10)).answered
            assert acc.calls
    finally:
        await ua.close()
        await target.close()
