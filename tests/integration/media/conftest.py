"""Fixtures for media tests: a real espeak-ng utterance, negotiated-parameter records, an
impairing UDP relay, and delay-aligned correlation."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.likeness import aligned_correlation, read_channels, windowed_correlation
from tests.sim.impair import Impairment
from voicebot.sip.sdp import MediaParams

UTTERANCE = "Please say your account number after the tone. Thank you for calling."


def Params(
    remote_address: tuple[str, int],
    codec: str = "PCMU/8000",
    payload_type: int = 0,
    telephone_event_pt: int | None = 101,
    **more: Any,
) -> MediaParams:
    """What the SIP layer hands to MediaStream.configure, without a SIP call around it."""
    return MediaParams(
        remote_address=remote_address, codec=codec, payload_type=payload_type, telephone_event_pt=telephone_event_pt,
        **more,
    )  # fmt: skip


@pytest.fixture(scope="session")
def speech_wav(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real utterance synthesised by espeak-ng (about 4 s at 22.05 kHz)."""
    exe = shutil.which("espeak-ng")
    if exe is None:
        pytest.skip("espeak-ng is not installed (Debian package espeak-ng)")
    path = tmp_path_factory.mktemp("speech") / "utterance.wav"
    subprocess.run([exe, "-w", str(path), UTTERANCE], check=True, timeout=60)
    return path


@pytest.fixture
def correlate() -> Callable[[np.ndarray, np.ndarray], float]:
    return aligned_correlation


@pytest.fixture
def correlate_windowed() -> Callable[[np.ndarray, np.ndarray], float]:
    return windowed_correlation


@pytest.fixture
def read_wav_channels() -> Callable[[Path], np.ndarray]:
    return read_channels


class _RelaySide(asyncio.DatagramProtocol):
    def __init__(self, relay: ImpairingRelay, side: str) -> None:
        self.relay = relay
        self.side = side
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.relay.forward(self.side, data)


class ImpairingRelay:
    """A UDP relay on loopback: A talks to ``a`` sockets, B to ``b`` sockets; RTP from A to B
    goes through the impairment, everything else (B's RTP, RTCP both ways) passes clean."""

    def __init__(self, impairment: Impairment) -> None:
        self.channel = impairment.channel()
        self.a_peer: tuple[str, int] | None = None
        self.b_peer: tuple[str, int] | None = None
        self.sides: dict[str, _RelaySide] = {}
        self.loop = asyncio.get_running_loop()
        self.t0 = self.loop.time()
        self.forwarded_a_to_b: list[bytes] = []

    async def open(self) -> None:
        for side in ("a", "b", "a_rtcp", "b_rtcp"):
            _, proto = await self.loop.create_datagram_endpoint(
                lambda side=side: _RelaySide(self, side), local_addr=("127.0.0.1", 0)
            )
            self.sides[side] = proto

    def set_impairment(self, impairment: Impairment) -> None:
        self.channel = impairment.channel()

    def address(self, side: str) -> tuple[str, int]:
        t = self.sides[side].transport
        assert t is not None
        host, port = t.get_extra_info("sockname")[:2]
        return str(host), int(port)

    def forward(self, side: str, data: bytes) -> None:
        if self.a_peer is None or self.b_peer is None:
            return
        a_rtcp = (self.a_peer[0], self.a_peer[1] + 1)
        b_rtcp = (self.b_peer[0], self.b_peer[1] + 1)
        route = {
            "a": ("b", self.b_peer),
            "b": ("a", self.a_peer),
            "a_rtcp": ("b_rtcp", b_rtcp),
            "b_rtcp": ("a_rtcp", a_rtcp),
        }
        out_side, dest = route[side]
        out = self.sides[out_side].transport
        if out is None:
            return
        delays = [0.0]
        if side == "a":
            now = self.loop.time() - self.t0
            delays = [t - now for t in self.channel.arrivals(now)]
            if delays:
                self.forwarded_a_to_b.append(data)
        for d in delays:
            self.loop.call_later(max(0.0, d), out.sendto, data, dest)

    def close(self) -> None:
        for s in self.sides.values():
            if s.transport is not None:
                s.transport.close()


@pytest.fixture
def relay_factory() -> Callable[[Impairment], ImpairingRelay]:
    return ImpairingRelay


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    """Run ``async def`` tests with ``asyncio.run`` (no pytest-asyncio needed)."""
    import inspect

    if inspect.iscoroutinefunction(pyfuncitem.obj):
        args = {name: pyfuncitem.funcargs[name] for name in pyfuncitem._fixtureinfo.argnames}
        asyncio.run(asyncio.wait_for(pyfuncitem.obj(**args), 90))
        return True
    return None
