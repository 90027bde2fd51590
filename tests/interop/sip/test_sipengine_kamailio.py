"""Kamailio (generated config, SHA-256 digest, record-route): two voicebot agents register and
call each other through it."""

from __future__ import annotations

import asyncio
import json
import subprocess
from collections.abc import Callable

import pytest

from tests.interop.sip.conftest import Served, voicebot_cmd
from tests.interop.sip.peers import Kamailio
from voicebot.agent import RegistrationError, UserAgent
from voicebot.call import Call

pytestmark = pytest.mark.interop


async def test_two_agents_register_and_call_through_kamailio(kamailio: Kamailio) -> None:
    registrar = f"sip:127.0.0.1:{kamailio.port}"
    alice = UserAgent("127.0.0.1:0", user="alice", password=kamailio.password, register=registrar, proxy=registrar)
    bob = UserAgent("127.0.0.1:0", user="bob", password=kamailio.password, register=registrar, proxy=registrar)
    answered: list[Call] = []

    async def handler(call: Call) -> None:
        answered.append(call)
        await call.ring()
        await call.answer()

    bob.on_call(handler)
    async with alice, bob:
        assert alice.registered and bob.registered
        call = await alice.dial(f"sip:bob@127.0.0.1:{kamailio.port}")
        assert await asyncio.wait_for(call.answered, 15)
        # in-dialog requests follow the Record-Route of the proxy
        assert await call.hold() == 200
        assert await call.resume() == 200
        await call.send_dtmf("5", method="info")
        result = await asyncio.wait_for(call.hangup(), 15)
        assert result.answered and result.ended_by == "local"
        (bob_call,) = answered
        bob_result = await asyncio.wait_for(bob_call.finished, 15)
        assert bob_result.ended_by == "remote"
        digit = await asyncio.wait_for(bob_call.media.dtmf_events.get(), 5)  # type: ignore[union-attr]
        assert getattr(digit, "digit", digit) == "5" or "5" in str(digit)


async def test_wrong_password_fails_registration(kamailio: Kamailio) -> None:
    ua = UserAgent("127.0.0.1:0", user="mallory", password="wrong")
    await ua.start()
    try:
        with pytest.raises(RegistrationError) as info:
            await ua.register(f"sip:127.0.0.1:{kamailio.port}")
        assert info.value.status in (401, 403)
    finally:
        await ua.close()


def test_cli_serve_registers_dial_uses_proxy_and_unregister_on_stop(
    kamailio: Kamailio, serve: Callable[..., Served]
) -> None:
    registrar = f"sip:127.0.0.1:{kamailio.port}"
    served = serve(
        "--register", registrar, "--password", kamailio.password, "--no-media", "--hangup-after", "0.3", user="bot"
    )
    target = f"sip:bot@127.0.0.1:{kamailio.port}"
    creds = ["--user", "caller", "--password", kamailio.password, "--proxy", registrar, "--no-media"]
    done = subprocess.run(voicebot_cmd("dial", target, *creds, "--json"), capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    assert json.loads(done.stdout)["ended_by"] == "remote"
    served.stop()  # SIGTERM: serve removes its binding before it exits
    after = subprocess.run(voicebot_cmd("dial", target, *creds, "--json"), capture_output=True, text=True, timeout=60)
    assert json.loads(after.stdout)["status"] == 404 and after.returncode == 5
