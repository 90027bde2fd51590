"""pyVoIP 1.6.8 (pure-Python peer) registers to Kamailio and calls a registered voicebot."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from tests.interop.sip.peers import Kamailio
from tests.interop.sip.pjpeer import until
from tests.procs import free_port
from voicebot.agent import UserAgent
from voicebot.call import Call

pytestmark = pytest.mark.interop


async def test_pyvoip_calls_registered_voicebot(kamailio_md5: Kamailio) -> None:
    voip = pytest.importorskip("pyVoIP.VoIP")  # import VoIP first: pyVoIP.SIP alone is circular
    registrar = f"sip:127.0.0.1:{kamailio_md5.port}"
    bot = UserAgent("127.0.0.1:0", user="bot", password=kamailio_md5.password, register=registrar)
    calls: list[Call] = []

    async def handler(call: Call) -> None:
        calls.append(call)
        await call.answer()

    bot.on_call(handler)
    low = free_port()
    phone = voip.VoIPPhone(
        "127.0.0.1",
        kamailio_md5.port,
        "pv",
        kamailio_md5.password,
        myIP="127.0.0.1",
        sipPort=free_port(),
        rtpPortLow=low,
        rtpPortHigh=low + 20,
    )
    async with bot:
        await asyncio.wait_for(asyncio.to_thread(phone.start), 20)
        try:
            pv_call = await asyncio.wait_for(asyncio.to_thread(phone.call, "bot"), 20)
            assert await until(lambda: pv_call.state == voip.CallState.ANSWERED, 20)
            assert calls, "the INVITE did not reach voicebot"
            # pyVoIP's ACK is malformed (a made-up To tag, R-URI = To URI), so the call is
            # confirmed by its BYE: voicebot must report it answered and ended by the caller
            await asyncio.to_thread(pv_call.hangup)
            result = await asyncio.wait_for(calls[0].finished, 15)
            assert result.answered and result.ended_by == "remote"
        finally:
            with contextlib.suppress(Exception):
                await asyncio.to_thread(phone.stop)
