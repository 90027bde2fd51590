"""The user agent on uvloop, whose ``call_at`` hands back a plain handle (no ``when()``) for a
deadline less than a millisecond away: requests arriving while such a timer is pending must
still be answered, and the timer must still fire."""

from __future__ import annotations

import asyncio
import logging
import socket

import pytest

from voicebot import runtime
from voicebot.agent import UserAgent
from voicebot.sip.transaction import Timers


def options(port: int, n: int, local: int) -> bytes:
    return (
        f"OPTIONS sip:alice@127.0.0.1:{port} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:{local};branch=z9hG4bKo{n}\r\n"
        f"Max-Forwards: 70\r\nFrom: <sip:p@127.0.0.1>;tag=t{n}\r\nTo: <sip:alice@127.0.0.1>\r\n"
        f"Call-ID: o{n}@test\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
    ).encode()


def test_requests_during_a_sub_millisecond_timer_are_answered(caplog: pytest.LogCaptureFixture) -> None:
    sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)  # an INVITE target that never answers
    sink.bind(("127.0.0.1", 0))
    prober = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    prober.bind(("127.0.0.1", 0))
    prober.settimeout(5)

    async def main() -> int:
        assert runtime.loop_name() == "uvloop"
        # Timer A fires every fraction of a millisecond at first: every re-arm is a plain handle
        ua = UserAgent("127.0.0.1:0", user="alice", timers=Timers(t1=0.0004, t2=0.004, t4=0.005), media=False)
        async with ua:
            port = ua.local_address[1]
            await ua.dial(f"sip:nobody@127.0.0.1:{sink.getsockname()[1]}")
            for n in range(40):
                prober.sendto(options(port, n, prober.getsockname()[1]), ("127.0.0.1", port))
            answered = 0
            loop = asyncio.get_running_loop()
            while answered < 40:
                data = await loop.run_in_executor(None, prober.recv, 65535)
                answered += data.startswith(b"SIP/2.0 200")
            return answered

    with caplog.at_level(logging.ERROR):
        assert runtime.run(main()) == 40
    sink.close()
    prober.close()
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text
