"""An in-process PJSIP (pjsua2) softphone for interop tests: null audio device, no threads.

pjsua2 is created once per test session (``threadCnt = 0``, ``mainThreadOnly``) and pumped by
an asyncio task calling ``libHandleEvents`` on the test's own thread.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pjsua2 as pj  # type: ignore[import-not-found]


class PjCall(pj.Call):  # type: ignore[misc]
    def __init__(self, account: PjAccount, call_id: int = pj.PJSUA_INVALID_ID) -> None:
        super().__init__(account, call_id)
        self.states: list[int] = []
        self.last_status = 0
        self.media_dirs: list[int] = []

    def onCallState(self, prm: Any) -> None:
        info = self.getInfo()
        self.states.append(info.state)
        self.last_status = info.lastStatusCode

    def onCallMediaState(self, prm: Any) -> None:
        info = self.getInfo()
        for m in info.media:
            self.media_dirs.append(m.dir)

    @property
    def confirmed(self) -> bool:
        return pj.PJSIP_INV_STATE_CONFIRMED in self.states

    @property
    def disconnected(self) -> bool:
        return pj.PJSIP_INV_STATE_DISCONNECTED in self.states


class PjAccount(pj.Account):  # type: ignore[misc]
    def __init__(self, answer_code: int = 200) -> None:
        super().__init__()
        self.answer_code = answer_code
        self.calls: list[PjCall] = []

    def onIncomingCall(self, prm: Any) -> None:
        call = PjCall(self, prm.callId)
        self.calls.append(call)
        op = pj.CallOpParam()
        op.statusCode = 180
        call.answer(op)
        op = pj.CallOpParam()
        op.statusCode = self.answer_code
        call.answer(op)


class PjPeer:
    """One pjsua2 endpoint with a UDP transport on ``port`` and one local account."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.ep = pj.Endpoint()
        self.ep.libCreate()
        cfg = pj.EpConfig()
        cfg.uaConfig.threadCnt = 0
        cfg.uaConfig.mainThreadOnly = True
        cfg.uaConfig.maxCalls = 32
        cfg.logConfig.level = 1
        cfg.logConfig.consoleLevel = 1
        cfg.medConfig.threadCnt = 0
        self.ep.libInit(cfg)
        tcfg = pj.TransportConfig()
        tcfg.port = port
        tcfg.boundAddress = "127.0.0.1"
        self.ep.transportCreate(pj.PJSIP_TRANSPORT_UDP, tcfg)
        self.ep.libStart()
        self.ep.audDevManager().setNullDev()
        self.accounts: list[PjAccount] = []
        self.calls: list[PjCall] = []

    def account(self, user: str = "pj", answer_code: int = 200) -> PjAccount:
        acc = PjAccount(answer_code)
        acfg = pj.AccountConfig()
        acfg.idUri = f"sip:{user}@127.0.0.1:{self.port}"
        acfg.mediaConfig.transportConfig.boundAddress = "127.0.0.1"
        acc.create(acfg)
        self.accounts.append(acc)
        return acc

    def call(self, account: PjAccount, uri: str) -> PjCall:
        call = PjCall(account)
        self.calls.append(call)
        call.makeCall(uri, pj.CallOpParam(True))
        return call

    def handle(self, ms: int = 0) -> None:
        self.ep.libHandleEvents(ms)

    @contextlib.asynccontextmanager
    async def pumping(self) -> AsyncIterator[None]:
        """Run ``libHandleEvents`` every few milliseconds while the block runs."""

        async def pump() -> None:
            while True:
                self.handle(0)
                await asyncio.sleep(0.005)

        task = asyncio.ensure_future(pump())
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def hangup_all(self) -> None:
        with contextlib.suppress(Exception):
            self.ep.hangupAllCalls()
        for _ in range(20):
            self.handle(10)

    def destroy(self) -> None:
        self.hangup_all()
        for acc in self.accounts:
            with contextlib.suppress(Exception):
                acc.shutdown()
        self.calls.clear()
        for acc in self.accounts:
            acc.calls.clear()
        self.accounts.clear()
        self.ep.libDestroy()


async def until(predicate: Any, timeout: float = 10.0) -> bool:
    """Poll ``predicate()`` on the event loop (the pjsua2 pump runs meanwhile)."""
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while loop.time() < end:
        if predicate():
            return True
        await asyncio.sleep(0.01)
    return bool(predicate())
