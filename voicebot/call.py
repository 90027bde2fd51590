"""One call: its signalling (through the :class:`~voicebot.agent.UserAgent`) and its media.

A :class:`Call` is what a bot, the flow runtime or a campaign dialer holds:

* ``await call.answered`` -> True once the call is up (False when it never was);
* ``await call.finished`` -> :class:`CallResult` (final status, reason, who ended it, times);
* ``await call.hangup()``, ``await call.hold()`` / ``resume()``, ``await call.transfer(uri)``,
  ``await call.send_dtmf(digits)`` (RFC 4733, or SIP INFO when telephone-event was not
  negotiated), and for inbound calls ``await call.ring()``, ``await call.answer()``,
  ``await call.reject(code)``;
* ``call.media``: the :class:`~voicebot.media.stream.MediaStream` of an answered call (an
  incoming call has none before ``answer()``: its sockets open only when it is answered).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from voicebot.errors import LocalProtocolError
from voicebot.sip.sdp import MediaParams

if TYPE_CHECKING:
    from collections.abc import Callable

    from voicebot.agent import UserAgent
    from voicebot.media.stream import MediaStream
    from voicebot.sip.useragent import UserAgentCore

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True, kw_only=True)
class CallResult:
    """How a call ended. ``status`` is the final SIP status of the INVITE (200 when answered)."""

    call_id: str
    direction: str  # "outbound" / "inbound"
    answered: bool
    status: int
    reason: str
    ended_by: str | None  # "local" / "remote" / None when never answered
    setup_time: float  # seconds from INVITE to answer (or to failure)
    duration: float  # seconds from answer to end (0 when never answered)

    def as_dict(self) -> dict[str, Any]:
        return {
            "call_id": self.call_id,
            "direction": self.direction,
            "answered": self.answered,
            "status": self.status,
            "reason": self.reason,
            "ended_by": self.ended_by,
            "setup_time": round(self.setup_time, 3),
            "duration": round(self.duration, 3),
        }


class Call:
    """A call in progress; created by ``UserAgent.dial`` or handed out for incoming calls."""

    def __init__(
        self, agent: UserAgent, call_id: str, direction: str, remote: str, local: str, media: MediaStream | None
    ) -> None:
        loop = asyncio.get_running_loop()
        self._agent = agent
        self.id = call_id
        self.direction = direction
        self.remote_uri = remote
        self.local_uri = local
        self.media = media
        self.media_params: MediaParams | None = None
        self.user: str | None = None  # authenticated caller (serve --auth-user)
        self.answered: asyncio.Future[bool] = loop.create_future()
        self.finished: asyncio.Future[CallResult] = loop.create_future()
        self.progress: list[int] = []
        self.transfer_requests: asyncio.Queue[str] = asyncio.Queue()
        self.transferred_to: Call | None = None  # the call we placed when the peer sent REFER
        self._transfer_waiter: asyncio.Future[int] | None = None
        self._t_start = time.monotonic()
        self._t_answer: float | None = None
        self._status = 0
        self._reason = ""
        self._media_started = False
        self._end_reason: str | None = None  # set when we end the call for a reason of our own

    def __repr__(self) -> str:
        return f"<Call {self.direction} {self.remote_uri} {self.id}>"

    # ------------------------------------------------------------------ actions

    async def ring(self) -> None:
        self._agent._core_call(lambda core, now: core.ring(self.id, now))

    async def answer(self) -> None:
        """Inbound: answer with 200 OK; returns when the caller's ACK arrived."""
        if self.media is None and not self.finished.done():
            media = await self._agent._open_media()  # media sockets open only now
            if self.finished.done():  # the caller gave up while they opened
                if media is not None:
                    await media.close()
            else:
                self.media = media
        addr = self._agent._media_address(self.media)  # signalling-only calls offer port 9
        self._agent._core_call(lambda core, now: core.answer(self.id, now, (addr[0], addr[1])))
        await asyncio.shield(self.answered)

    async def reject(self, status: int = 486, reason: str | None = None) -> None:
        self._agent._core_call(lambda core, now: core.reject(self.id, status, now, reason))
        await self._wait_finished()

    async def hangup(self) -> CallResult:
        """End the call (BYE, CANCEL or decline as its state needs) and wait until it is over."""
        if not self.finished.done():
            with contextlib.suppress(LocalProtocolError):
                self._agent._core_call(lambda core, now: core.hangup(self.id, now))
        return await self._wait_finished()

    async def _wait_finished(self) -> CallResult:
        return await asyncio.shield(self.finished)

    async def hold(self) -> int:
        """Put the peer on hold (re-INVITE, a=sendonly); returns the SIP status of the re-INVITE."""
        return await self._agent._request(lambda core, now: core.hold(self.id, now))

    async def resume(self) -> int:
        return await self._agent._request(lambda core, now: core.resume(self.id, now))

    async def update(self) -> int:
        """Send UPDATE with a fresh offer (RFC 3311)."""
        return await self._agent._request(lambda core, now: core.update(self.id, now))

    async def send_dtmf(self, digits: str, *, method: str = "auto", duration_ms: int = 160) -> None:
        """Send digits as RFC 4733 events (``rfc4733``), as SIP INFO (``info``) or ``auto``."""
        use_info = method == "info"
        if method == "auto":
            params = self.media_params
            use_info = self.media is None or params is None or params.telephone_event_pt is None
        if not use_info and self.media is not None:
            self.media.send_dtmf(digits, duration_ms)
            return
        for digit in digits:
            status = await self._agent._request(self._info_sender(digit, duration_ms))
            if status >= 300:
                raise LocalProtocolError(f"INFO for DTMF {digit!r} failed with {status}")

    def _info_sender(self, digit: str, duration_ms: int) -> Callable[[UserAgentCore, float], int]:
        def send(core: UserAgentCore, now: float) -> int:
            return core.send_dtmf_info(self.id, digit, now, duration_ms)

        return send

    async def transfer(self, target: str, *, timeout: float = 30.0) -> int:
        """Blind transfer (REFER). Returns the final status the peer reported (200: transferred).

        On success the call is hung up, as the transferor does after a completed transfer.
        """
        loop = asyncio.get_running_loop()
        self._transfer_waiter = loop.create_future()
        status = await self._agent._request(lambda core, now: core.refer(self.id, target, now))
        if status >= 300:
            return status
        try:
            final = await asyncio.wait_for(asyncio.shield(self._transfer_waiter), timeout)
        except TimeoutError:
            final = 408
        if 200 <= final < 300 and not self.finished.done():
            # the transferee may hang up itself (RFC 5589 §6.1 allows either); give it a moment
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(self.finished), 2.0)
            if not self.finished.done():
                await self.hangup()
        return final

    # ------------------------------------------------------------------ from the agent

    async def _media_up(self, params: MediaParams | None) -> None:
        if params is not None:
            self.media_params = params
        if self.media is None or params is None:
            return
        try:
            self.media.configure(params)
            if not self._media_started:
                self._media_started = True
                self.media.on_inactive(self._media_inactive)
                await self.media.start()
        except Exception:  # a codec we cannot run must not take the signalling down
            log.exception("media for call %s could not start", self.id)

    def _media_inactive(self, reason: str) -> None:
        """No RTP for the inactivity timeout: the far end is gone, so end the call (BYE)."""
        if self.finished.done():
            return
        log.warning("call %s: %s; hanging up", self.id, reason)
        self._end_reason = f"media timeout ({reason})"
        self._agent._spawn(self.hangup())

    def _set_answered(self) -> None:
        self._t_answer = time.monotonic()
        self._status = 200
        self._reason = "OK"
        if not self.answered.done():
            self.answered.set_result(True)

    def _set_progress(self, status: int) -> None:
        self.progress.append(status)

    def _transfer_report(self, status: int, final: bool) -> None:
        if final and self._transfer_waiter is not None and not self._transfer_waiter.done():
            self._transfer_waiter.set_result(status)

    async def _finish(self, status: int, reason: str, ended_by: str | None) -> None:
        if self.finished.done():
            return
        now = time.monotonic()
        answered = self._t_answer is not None
        if not answered:
            self._status, self._reason = status, reason
        if not self.answered.done():
            self.answered.set_result(False)
        if self._transfer_waiter is not None and not self._transfer_waiter.done():
            self._transfer_waiter.set_result(487)
        if self.media is not None:
            with contextlib.suppress(Exception):
                await self.media.close()
        result = CallResult(
            call_id=self.id,
            direction=self.direction,
            answered=answered,
            status=self._status if answered else status,
            reason=self._end_reason or reason,
            ended_by=ended_by,
            setup_time=((self._t_answer or now) - self._t_start),
            duration=(now - self._t_answer) if self._t_answer is not None else 0.0,
        )
        self.finished.set_result(result)
