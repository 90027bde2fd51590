"""Two real user agents on loopback UDP/TCP: calls, BYE either side, CANCEL, hold, INFO, REFER."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from voicebot.agent import UserAgent
from voicebot.call import Call
from voicebot.sip.transaction import Timers

FAST = Timers(t1=0.05, t2=0.4, t4=0.5)


ANSWERED: dict[UserAgent, list[Call]] = {}  # every call each answering agent took (ua.calls drops ended ones)


async def answering_agent(**kw: object) -> UserAgent:
    ua = UserAgent("127.0.0.1:0", user="bob", timers=FAST, **kw)  # type: ignore[arg-type]
    ANSWERED[ua] = []

    async def handler(call: Call) -> None:
        ANSWERED[ua].append(call)
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
        (bob_call,) = ANSWERED[bob]
        bob_result = await asyncio.wait_for(bob_call.finished, 10)
        assert bob_result.ended_by == "remote" and bob_result.reason == "remote BYE"
    finally:
        await alice.close()
        await bob.close()


async def test_blind_transfer_by_refer() -> None:
    bob = await answering_agent()
    carol = await answering_agent()
    alice = UserAgent("127.0.0.1:0", user="alice", timers=FAST)
    await alice.start()
    try:
        host, port = bob.local_address
        call = await alice.dial(f"sip:bob@{host}:{port}")
        assert await asyncio.wait_for(call.answered, 10)
        chost, cport = carol.local_address
        status = await asyncio.wait_for(call.transfer(f"sip:carol@{chost}:{cport}"), 20)
        assert status == 200
        result = await asyncio.wait_for(call.finished, 10)
        assert result.answered and result.ended_by in ("local", "remote")
        # bob now talks to carol
        (carol_call,) = ANSWERED[carol]
        assert await asyncio.wait_for(carol_call.answered, 10)
        assert carol_call.remote_uri.startswith("sip:bob@")
        (bob_call,) = ANSWERED[bob]
        assert bob_call.transferred_to is not None and await bob_call.transferred_to.answered
    finally:
        await alice.close()
        await bob.close()
        await carol.close()


async def test_transfer_to_a_target_that_never_answers_returns() -> None:
    """The transferee rings the target, which never answers: transfer() still comes back."""
    bob = await answering_agent()
    carol = UserAgent("127.0.0.1:0", user="carol", timers=FAST)

    async def ring_forever(call: Call) -> None:
        await call.ring()

    carol.on_call(ring_forever)
    await carol.start()
    alice = UserAgent("127.0.0.1:0", user="alice", timers=FAST)
    await alice.start()
    try:
        host, port = bob.local_address
        call = await alice.dial(f"sip:bob@{host}:{port}")
        assert await asyncio.wait_for(call.answered, 10)
        chost, cport = carol.local_address
        status = await asyncio.wait_for(call.transfer(f"sip:carol@{chost}:{cport}", timeout=3), 10)
        assert status == 408  # nothing final within the timeout: reported, not waited for forever
        assert not call.ended.done()  # a failed transfer leaves the call up
        await call.hangup()
    finally:
        await alice.close()
        await bob.close()
        await carol.close()


async def test_ipv6_loopback_call() -> None:
    try:
        bob = await answering_agent_v6()
    except Exception as exc:  # no IPv6 on this host
        pytest.skip(f"IPv6 loopback unavailable: {exc}")
    alice = UserAgent("[::1]:0", user="alice", timers=FAST)
    await alice.start()
    try:
        _host, port = bob.local_address
        call = await alice.dial(f"sip:bob@[::1]:{port}")
        assert await asyncio.wait_for(call.answered, 10)
        assert call.media_params is not None and call.media_params.remote_address[0] == "::1"
        result = await asyncio.wait_for(call.hangup(), 10)
        assert result.answered
    finally:
        await alice.close()
        await bob.close()


async def answering_agent_v6() -> UserAgent:
    ua = UserAgent("[::1]:0", user="bob", timers=FAST)

    async def handler(call: Call) -> None:
        await call.answer()

    ua.on_call(handler)
    await ua.start()
    return ua


async def test_dtmf_info_hold_and_remote_bye() -> None:
    got: list[Call] = []
    bob = UserAgent("127.0.0.1:0", user="bob", timers=FAST)

    async def handler(call: Call) -> None:
        got.append(call)
        await call.answer()

    bob.on_call(handler)
    await bob.start()
    alice = UserAgent("127.0.0.1:0", user="alice", timers=FAST)
    await alice.start()
    try:
        host, port = bob.local_address
        call = await alice.dial(f"sip:bob@{host}:{port}")
        assert await asyncio.wait_for(call.answered, 10)
        await call.send_dtmf("42", method="info")
        assert got[0].media is not None
        digits = [await asyncio.wait_for(got[0].media.dtmf_events.get(), 5) for _ in range(2)]
        assert "".join(getattr(d, "digit", str(d)) for d in digits) == "42"
        assert await call.hold() == 200
        assert got[0].media_params is not None and got[0].media_params.direction == "recvonly"
        assert await call.resume() == 200
        await got[0].hangup()
        result = await asyncio.wait_for(call.finished, 10)
        assert result.ended_by == "remote"
    finally:
        await alice.close()
        await bob.close()


async def test_tcp_options_byte_by_byte_and_broken_framing_closes() -> None:
    ua = UserAgent("127.0.0.1:0", user="bob", media=False)
    await ua.start()
    try:
        host, port = ua.transport.addresses["tcp"]
        reader, writer = await asyncio.open_connection(host, port)
        msg = (
            f"\r\nOPTIONS sip:bob@{host}:{port} SIP/2.0\r\n"
            f"v: SIP/2.0/TCP {host}:1;branch=z9hG4bKtcp1\r\nMax-Forwards: 70\r\n"
            f"f: <sip:x@{host}>;tag=1\r\nt: <sip:bob@{host}>\r\ni: tcp1@test\r\nCSeq: 1 OPTIONS\r\n"
            "l: 0\r\n\r\n"
        ).encode()
        for i in range(len(msg)):
            writer.write(msg[i : i + 1])
            await writer.drain()
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        assert head.startswith(b"SIP/2.0 200")
        # no Content-Length on a stream: the framing is lost and the connection is closed
        writer.write(b"OPTIONS sip:bob@x SIP/2.0\r\nCall-ID: y\r\n\r\n")
        await writer.drain()
        rest = await asyncio.wait_for(reader.read(), 5)
        assert b"SIP/2.0 200" not in rest
        writer.close()
    finally:
        await ua.close()


async def test_incoming_iterator_and_reject() -> None:
    bob = UserAgent("127.0.0.1:0", user="bob", media=False)
    alice = UserAgent("127.0.0.1:0", user="alice", media=False)
    async with bob, alice:
        host, port = bob.local_address
        first = await alice.dial(f"sip:bob@{host}:{port}")
        second = await alice.dial(f"sip:bob@{host}:{port}")
        seen = []
        async for call in bob.incoming():
            seen.append(call)
            if len(seen) == 1:
                await call.reject(486)
            else:
                await call.answer()
                break
        assert (await asyncio.wait_for(first.finished, 10)).status == 486
        assert await asyncio.wait_for(second.answered, 10)
        assert seen[0].direction == "inbound" and seen[0].remote_uri.startswith("sip:alice@")


AfterEnd = Callable[[Call], Awaitable[str]]


async def close_bob_as_the_call_ends(after_end: AfterEnd, close_early: bool) -> list[str]:
    """Alice calls bob and hangs up; bob's handler answers, then runs ``after_end(call)`` and
    keeps what it returns. Bob's agent is closed the moment his side of the dialog is over
    (``close_early``: woken first by ``ended``, before the result is out) or once the call's
    result is out (while the handler is still busy after it)."""
    bob = UserAgent("127.0.0.1:0", user="bob", timers=FAST)
    got: list[str] = []
    answered: asyncio.Future[Call] = asyncio.get_running_loop().create_future()

    async def handler(call: Call) -> None:
        await call.answer()
        answered.set_result(call)
        got.append(await after_end(call))

    bob.on_call(handler)
    async with UserAgent("127.0.0.1:0", user="alice", timers=FAST) as alice:
        await bob.start()
        host, port = bob.local_address
        call = await alice.dial(f"sip:bob@{host}:{port}")
        assert await asyncio.wait_for(call.answered, 10)
        theirs = await answered

        async def close_as_it_ends() -> None:
            await (theirs.ended if close_early else theirs.finished)
            await bob.close()

        closing = asyncio.ensure_future(close_as_it_ends())
        await asyncio.sleep(0)  # waiting on `ended` before the BYE goes out
        await call.hangup()
        await asyncio.wait_for(closing, 10)
    return got


async def test_close_right_after_a_call_ended_still_delivers_its_result() -> None:
    """SIGTERM just after a BYE: the call's dialog is over but its result is not out yet.
    Closing the agent then must let the result through to whoever awaits it (serve prints
    "ended by remote" from there), not cancel it away with the agent's tasks."""

    async def reason(call: Call) -> str:
        return (await call.finished).reason

    assert await close_bob_as_the_call_ends(reason, close_early=True) == ["remote BYE"]


async def test_close_lets_a_handler_finish_what_it_does_after_its_call_ended() -> None:
    """A handler still busy after its call finished (closing a recording, writing its report)
    when the agent is closed gets the close's grace to finish, instead of being cancelled with
    the agent's tasks: serve would otherwise lose that call's JSON line on SIGTERM."""

    async def reason_then_report(call: Call) -> str:
        result = await call.finished
        await asyncio.sleep(0.2)  # the report's own work, after the call is over
        return result.reason

    assert await close_bob_as_the_call_ends(reason_then_report, close_early=False) == ["remote BYE"]
