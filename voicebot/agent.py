"""The asyncio user agent: drives the I/O-free SIP core over :mod:`voicebot.transport.sip`.

```python
async with UserAgent(listen="127.0.0.1:5062", user="bot", password="pw",
                     register="sip:127.0.0.1:5060") as ua:
    call = await ua.dial("sip:alice@127.0.0.1:5070")
    if await call.answered:
        await call.media.play_wav("hello.wav")
        await call.hangup()
    print((await call.finished).as_dict())
```

Inbound: ``ua.on_call(handler)`` (``handler(call)`` may be a coroutine function) or
``async for call in ua.incoming()``; then ``await call.answer()`` / ``call.reject(486)``.

The driver is thin (DESIGN.md rule 1): every datagram goes into
:class:`~voicebot.sip.useragent.UserAgentCore` with ``loop.time()``, what the core wants sent
goes to the transport, its events are turned into :class:`~voicebot.call.Call` futures, and
one ``loop.call_at`` timer is re-armed at ``core.next_deadline()``.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TextIO, TypeVar

from voicebot.call import Call
from voicebot.errors import ConfigError, DependencyError, VoicebotError
from voicebot.sip import events as ev
from voicebot.sip.defence import DefenceConfig
from voicebot.sip.sdes import DEFAULT_SUITES, check_policy, check_suites
from voicebot.sip.trace import MessageTrace
from voicebot.sip.transaction import Address, Timers
from voicebot.sip.useragent import UaConfig, UserAgentCore
from voicebot.transport.sip import (
    Received,
    SipTransport,
    advertised_address,
    format_hostport,
    split_hostport,
)
from voicebot.transport.stream import ConnectionLimits
from voicebot.transport.tls import TlsConfig

log = logging.getLogger(__name__)

T = TypeVar("T")
CallHandler = Callable[[Call], Awaitable[None] | None]


class RegistrationError(VoicebotError):
    """REGISTER failed; ``status`` is the final SIP status (403, 408, ...)."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


class UserAgent:
    """A SIP user agent with its own transport and per-call media streams."""

    def __init__(
        self,
        listen: str = "127.0.0.1:5062",
        *,
        user: str = "voicebot",
        password: str | None = None,
        auth_user: str | None = None,
        register: str | None = None,
        register_expires: int = 3600,
        proxy: str | None = None,
        display_name: str | None = None,
        domain: str | None = None,
        server_credentials: dict[str, str] | None = None,
        auth_algorithms: tuple[str, ...] = ("SHA-256", "MD5"),
        transports: tuple[str, ...] = ("udp", "tcp"),
        transport: str = "udp",
        media: bool = True,
        rtp_timeout: float = 30.0,
        max_calls: int = 1000,
        session_expires: int = 1800,
        timers: Timers | None = None,
        trace: TextIO | Callable[[str], None] | None = None,
        advertise: str | None = None,
        user_agent: str = "voicebot/0.1",
        defence: DefenceConfig | None = DefenceConfig(),  # noqa: B008 - frozen, shared safely
        tls: TlsConfig | None = None,
        limits: ConnectionLimits | None = None,
        srtp: str = "optional",
        srtp_suites: tuple[str, ...] = DEFAULT_SUITES,
    ) -> None:
        try:
            self._host, self._port = split_hostport(listen, 5060)
        except ValueError as exc:
            raise ConfigError(f"bad listen address {listen!r}: {exc}") from None
        self._advertise = advertise or advertised_address(self._host)
        self.config = UaConfig(
            user=user,
            display_name=display_name,
            domain=domain,
            auth_user=auth_user,
            password=password,
            server_credentials=server_credentials,
            auth_algorithms=auth_algorithms,
            proxy=proxy,
            transport=transport,
            timers=timers or Timers(),
            session_expires=session_expires,
            max_sessions=max_calls,
            user_agent=user_agent,
            defence=defence,
            srtp=check_policy(srtp),
            srtp_suites=check_suites(srtp_suites),
        )
        if tls is not None and tls.can_listen and "tls" not in transports:
            transports = (*transports, "tls")
        self._register_uri = register
        self._register_expires = register_expires
        self._transports = transports
        self._media_enabled = media
        self._rtp_timeout = rtp_timeout
        self._trace = trace
        self.core = UserAgentCore(self.config)
        self.core.tracing = trace is not None
        self.transport = SipTransport(self._on_datagram, self._on_transport_error, tls=tls, limits=limits)
        self.calls: dict[str, Call] = {}
        self._incoming: asyncio.Queue[Call] = asyncio.Queue()
        self._handler: CallHandler | None = None
        self._requests: dict[int, asyncio.Future[int]] = {}
        self._registration: asyncio.Future[int] | None = None
        self._timer: asyncio.Handle | None = None
        self._timer_at = 0.0  # the deadline _timer is armed for (uvloop's handles do not say)
        self._tasks: set[asyncio.Task[Any]] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closing = False
        self.registered = False

    # ------------------------------------------------------------------ lifecycle

    async def __aenter__(self) -> UserAgent:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        try:
            await self.transport.start(self._host, self._port, self._transports)
        except OSError as exc:
            raise ConfigError(f"cannot listen on {format_hostport(self._host, self._port)}: {exc}") from None
        self.config.addresses.update(
            {name: (self._advertise, port) for name, (_h, port) in self.transport.addresses.items()}
        )
        if self._register_uri:
            await self.register(self._register_uri, expires=self._register_expires)

    @property
    def local_address(self) -> tuple[str, int]:
        """Where peers reach us: the advertised host and the bound port (UDP, else TCP)."""
        _host, port = self.transport.addresses.get("udp") or next(iter(self.transport.addresses.values()))
        return (self._advertise, port)

    @property
    def contact_uri(self) -> str:
        host, port = self.local_address
        return f"sip:{self.config.user}@{format_hostport(host, port)}"

    async def close(self, timeout: float = 3.0) -> None:
        """Hang up every call, remove registrations, close the sockets."""
        if self._closing or self._loop is None:
            return
        self._closing = True
        calls = [c for c in self.calls.values() if not c.finished.done()]
        for call in calls:
            with contextlib.suppress(VoicebotError):
                self.core.hangup(call.id, self._loop.time())
        self._pump()
        if calls:
            await asyncio.wait([c.finished for c in calls], timeout=timeout)
        if self.registered:
            self._registration = self._loop.create_future()
            self._core_call(lambda core, now: core.unregister(now))
            with contextlib.suppress(TimeoutError, VoicebotError):
                await asyncio.wait_for(self._registration, timeout)
            self.registered = False
        for call in list(self.calls.values()):
            if not call.finished.done():
                await call._finish(408, "user agent closed", "local")
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await self.transport.close()

    # ------------------------------------------------------------------ public API

    async def register(self, registrar: str, *, expires: int = 3600, timeout: float = 40.0) -> int:
        """REGISTER at ``registrar`` (refreshed before expiry until :meth:`close`)."""
        loop = self._require_loop()
        self._registration = loop.create_future()
        self._core_call(lambda core, now: core.register(registrar, now, expires=expires))
        status = await asyncio.wait_for(self._registration, timeout)
        if status >= 300:
            raise RegistrationError(f"registration at {registrar} failed with {status}", status)
        self.registered = True
        return status

    async def dial(
        self, uri: str, *, from_uri: str | None = None, headers: list[tuple[str, str]] | None = None
    ) -> Call:
        """Send an INVITE to ``uri``; returns the :class:`Call` at once (await ``call.answered``)."""
        media = await self._open_media()
        addr = self._media_address(media)
        try:
            call_id = self._core_call(
                lambda core, now: core.invite(uri, now, media_address=addr, from_uri=from_uri, headers=headers)
            )
        except BaseException:
            if media is not None:
                await media.close()
            raise
        call = Call(self, call_id, "outbound", uri, from_uri or self.contact_uri, media)
        self._track(call)
        return call

    def _track(self, call: Call) -> None:
        """Keep ``call`` in :attr:`calls` while it lasts; a finished call is let go."""
        self.calls[call.id] = call
        call.finished.add_done_callback(lambda _f: self.calls.pop(call.id, None))

    async def options(self, uri: str, timeout: float = 40.0) -> int:
        """OPTIONS ping; returns the final status (408 on timeout)."""
        return await asyncio.wait_for(self._request(lambda core, now: core.options(uri, now)), timeout)

    def on_call(self, handler: CallHandler) -> None:
        """Run ``handler(call)`` for every incoming call (instead of queueing it for :meth:`incoming`)."""
        self._handler = handler

    async def incoming(self) -> AsyncIterator[Call]:
        """Incoming calls, in arrival order (when no :meth:`on_call` handler is set)."""
        while True:
            yield await self._incoming.get()

    # ------------------------------------------------------------------ driving the core

    def _require_loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            raise ConfigError("the user agent is not started: use `async with UserAgent(...)`")
        return self._loop

    def _core_call(self, fn: Callable[[UserAgentCore, float], T]) -> T:
        loop = self._require_loop()
        try:
            return fn(self.core, loop.time())
        finally:
            self._pump()

    async def _request(self, fn: Callable[[UserAgentCore, float], int]) -> int:
        loop = self._require_loop()
        token = self._core_call(fn)
        fut: asyncio.Future[int] = loop.create_future()
        self._requests[token] = fut
        return await fut

    def _on_datagram(self, data: Received, source: Address) -> None:
        now = self._require_loop().time()
        if isinstance(data, bytes):
            self.core.receive_datagram(data, source, now)
        else:
            self.core.receive_message(data, source, now)
        self._pump()

    def _on_transport_error(self, dest: Address, reason: str) -> None:
        log.info("transport error towards %s: %s", dest, reason)
        self.core.transport_error(dest, self._require_loop().time())
        self._pump()

    def _on_timer(self) -> None:
        self._timer = None
        self.core.handle_timer(self._require_loop().time())
        self._pump()

    def _pump(self) -> None:
        loop = self._require_loop()
        for trace in self.core.traces_to_send():
            self._write_trace(trace)
        for data, dest in self.core.datagrams_to_send():
            self.transport.send(data, dest)
        while (event := self.core.next_event()) is not None:
            try:
                self._dispatch(event)
            except Exception:
                log.exception("error while handling %s", event)
        deadline = self.core.next_deadline()
        if self._timer is not None and (deadline is None or self._timer_at != deadline):
            self._timer.cancel()
            self._timer = None
        if deadline is not None and self._timer is None:
            self._timer = loop.call_at(deadline, self._on_timer)
            self._timer_at = deadline

    def _spawn(self, coro: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("call task failed", exc_info=task.exception())

    def _write_trace(self, trace: MessageTrace) -> None:
        wall = time.time() - self._require_loop().time() + trace.at  # the core's clock is loop.time()
        stamp = time.strftime("%H:%M:%S", time.gmtime(wall)) + f".{int(wall * 1000) % 1000:03d}"
        direction = "sent to" if trace.direction == "sent" else "received from"
        where = f"{trace.transport.upper()} {format_hostport(trace.peer.host, trace.peer.port)}"
        text = trace.data.decode("utf-8", "replace").replace("\r\n", "\n").rstrip("\n")
        block = f"--- {stamp} {direction} {where} ({trace.size} bytes)\n{text}\n"
        if callable(self._trace):
            self._trace(block)
        else:
            assert self._trace is not None
            self._trace.write(block)
            self._trace.flush()

    # ------------------------------------------------------------------ events -> calls

    def _dispatch(self, event: ev.Event) -> None:
        if isinstance(event, ev.IncomingCall):
            self._spawn(self._incoming_call(event))
            return
        if isinstance(event, ev.SourceBlocked):  # once per ban or throttling episode
            span = f" for {event.seconds:g} s" if event.seconds else ""
            log.warning("blocking %s: %s%s", event.source, event.reason, span)
            return
        if isinstance(event, ev.RequestDone):
            fut = self._requests.pop(event.token, None)
            if fut is not None and not fut.done():
                fut.set_result(event.status)
            return
        if isinstance(event, ev.Registered | ev.RegistrationFailed):
            status = 200 if isinstance(event, ev.Registered) else event.status
            if self._registration is not None and not self._registration.done():
                self._registration.set_result(status)
            return
        call = self.calls.get(getattr(event, "call", ""))
        if call is None:
            return
        if isinstance(event, ev.CallProgress):
            call._set_progress(event.status)
        elif isinstance(event, ev.CallAnswered):
            call._set_answered()
            self._spawn(call._media_up(event.media))
        elif isinstance(event, ev.MediaChanged):
            self._spawn(call._media_up(event.media))
        elif isinstance(event, ev.CallFailed):
            self._spawn(call._finish(event.status, event.reason, None))
        elif isinstance(event, ev.CallEnded):
            by = "remote" if event.by_remote else "local"
            self._spawn(call._finish(200 if call._t_answer else 487, event.reason, by))
        elif isinstance(event, ev.DtmfReceived):
            if call.media is not None:
                call.media.inject_dtmf(event.digit, event.duration_ms)
        elif isinstance(event, ev.TransferRequested):
            call.transfer_requests.put_nowait(event.target)
            self._spawn(self._transferee(call, event.target))
        elif isinstance(event, ev.TransferProgress):
            call._transfer_report(event.status, event.final)

    async def _incoming_call(self, event: ev.IncomingCall) -> None:
        # no media sockets yet: they open when the call is answered (a rejected call needs none)
        call = Call(self, event.call, "inbound", event.caller, event.callee, None)
        call.user = event.user
        self._track(call)
        if self._handler is not None:
            result = self._handler(call)
            if inspect.isawaitable(result):
                await result
        else:
            self._incoming.put_nowait(call)

    async def _transferee(self, call: Call, target: str) -> None:
        """The peer asked us to call ``target`` (REFER): dial it, report with NOTIFY, hang up."""
        try:
            new = await self.dial(target)
            call.transferred_to = new
        except VoicebotError:
            self._core_call(lambda core, now: core.notify_transfer(call.id, 503, "Service Unavailable", now))
            return
        answered = await new.answered
        status = 200 if answered else (await new.finished).status
        reason = "OK" if answered else (await new.finished).reason
        if not call.finished.done():
            with contextlib.suppress(VoicebotError):
                self._core_call(lambda core, now: core.notify_transfer(call.id, status, reason, now))
        if answered and not call.finished.done():
            await call.hangup()

    # ------------------------------------------------------------------ media

    async def _open_media(self) -> Any:
        if not self._media_enabled:
            return None
        try:
            from voicebot.media.stream import MediaStream
        except ImportError as exc:  # pragma: no cover - the media engine ships with voicebot
            raise DependencyError(f"the media engine is unavailable: {exc}") from exc
        return await MediaStream.open(self._host, 0, inactivity_timeout=self._rtp_timeout)

    def _media_address(self, media: Any) -> tuple[str, int]:
        if media is None:
            return (self._advertise, 9)  # RFC 3264 discard port: signalling-only calls
        return (self._advertise, int(media.local_address[1]))


__all__ = ["Call", "RegistrationError", "UserAgent"]
