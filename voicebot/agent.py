"""The asyncio user agent: drives the I/O-free SIP core over :mod:`voicebot.transport.sip`.

```python
async with UserAgent(listen="127.0.0.1:5062", user="bot", password="pw",
                     register="sip:127.0.0.1:5060") as ua:
    call = await ua.dial("sip:alice@127.0.0.1:5070")
    if await call.answered:
        await call.say("Hello!")
        await call.hangup()
    print((await call.finished).as_dict())
```

Inbound: ``ua.on_call(handler)`` (``handler(call)`` may be a coroutine function) or
``async for call in ua.incoming()``; then ``await call.answer()`` / ``call.reject(486)``.
``ua.dial(uri, flow=Flow.load(...))`` runs a dialog flow on the call once it is answered.

The driver is thin (DESIGN.md rule 1): every datagram goes into
:class:`~voicebot.sip.useragent.UserAgentCore` with ``loop.time()``, what the core wants sent
goes to the transport, and one ``loop.call_at`` timer is re-armed at ``core.next_deadline()``.
Each call's SIP events go to its :class:`~voicebot.call.Call` through ``Call.handle``; the
call acts on its dialog through a :class:`_Leg`, the :class:`~voicebot.call.Signalling` the
agent gives it. The agent imports the call; the call never imports the agent.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TextIO

from voicebot.call import Call
from voicebot.errors import ConfigError, DependencyError, LocalProtocolError, VoicebotError
from voicebot.sip import events as ev
from voicebot.sip.defence import DefenceConfig
from voicebot.sip.sdes import DEFAULT_SUITES, check_policy, check_suites
from voicebot.sip.sdp import DEFAULT_CODECS, CodecSpec, choose_codecs
from voicebot.sip.trace import MessageTrace
from voicebot.sip.transaction import Timers, TransportAddress
from voicebot.sip.uacore.records import MAX_SESSIONS
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
from voicebot_codecs import get_codec

if TYPE_CHECKING:
    from voicebot.flow import Flow
    from voicebot.media.stream import MediaStream
    from voicebot.voice import Speech

log = logging.getLogger(__name__)

TRANSFER_RING_TIMEOUT = 30.0  # seconds we let a transfer target ring (REFER received)
CallHandler = Callable[[Call], Awaitable[None] | None]


class RegistrationError(VoicebotError):
    """REGISTER failed; ``status`` is the final SIP status (403, 408, ...)."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


class _Leg:
    """One call's view of the SIP core: the :class:`~voicebot.call.Signalling` its Call uses.

    The agent hands over what the leg needs (the core, its clock, and its ``after`` step that
    sends what the core queued and dispatches the core's events), so nothing reaches into
    another object's private state."""

    def __init__(
        self,
        core: UserAgentCore,
        call_id: str,
        *,
        clock: Callable[[], float],
        after: Callable[[], None],
        await_token: Callable[[int], Awaitable[int]],
        spawn: Callable[[Coroutine[Any, Any, Any]], asyncio.Task[Any]],
        open_media: Callable[[], Awaitable[MediaStream | None]],
        media_host: str,
    ) -> None:
        self._core = core
        self._id = call_id
        self._clock = clock
        self._after = after
        self._await_token = await_token
        self._spawn = spawn
        self._open_media = open_media
        self._media_host = media_host

    def now(self) -> float:
        return self._clock()

    def spawn(self, work: Coroutine[Any, Any, Any]) -> None:
        self._spawn(work)

    async def open_media(self) -> MediaStream | None:
        return await self._open_media()

    def ring(self) -> None:
        try:
            self._core.ring(self._id, self._clock())
        finally:
            self._after()

    def answer(self, media_port: int | None) -> None:
        port = 9 if media_port is None else media_port  # RFC 3264 discard port: no media
        try:
            self._core.answer(self._id, self._clock(), (self._media_host, port))
        finally:
            self._after()

    def reject(self, status: int, reason: str | None) -> None:
        try:
            self._core.reject(self._id, status, self._clock(), reason)
        finally:
            self._after()

    def hangup(self) -> None:
        try:
            self._core.hangup(self._id, self._clock())
        finally:
            self._after()

    async def _request(self, token: int) -> int:
        done = self._await_token(token)  # registered before the core's events are dispatched
        self._after()
        return await done

    async def hold(self) -> int:
        return await self._request(self._core.hold(self._id, self._clock()))

    async def resume(self) -> int:
        return await self._request(self._core.resume(self._id, self._clock()))

    async def update(self) -> int:
        return await self._request(self._core.update(self._id, self._clock()))

    async def refer(self, target: str) -> int:
        return await self._request(self._core.refer(self._id, target, self._clock()))

    async def info_dtmf(self, digit: str, duration_ms: int) -> int:
        return await self._request(self._core.send_dtmf_info(self._id, digit, self._clock(), duration_ms))


def _check_ptime(ptime: int | None, specs: Sequence[CodecSpec]) -> None:
    """A ``ptime`` at least one of the codecs can be sent with (the others send the nearest
    shorter one they can), else a :class:`ConfigError` naming the values that work."""
    if ptime is None:
        return
    codecs = [get_codec(s.codec_name) for s in specs if not s.is_telephone_event]
    if any(ptime in c.ptimes for c in codecs):
        return
    allowed = sorted({p for c in codecs for p in c.ptimes})
    names = ", ".join(c.info.encoding.lower() for c in codecs)
    raise ConfigError(f"ptime {ptime} ms is not possible with {names}: choose {', '.join(map(str, allowed))}")


class UserAgent:
    """A SIP user agent with its own transport and per-call media streams.

    ``codecs``: audio codec names in order of preference (``("pcmu", "pcma", "opus")``);
    ``ptime``: the packet time (ms) we ask the far end to send, in 10 ms steps (G.711 10-60,
    Opus 10, 20, 40 or 60); we send what the far end asks for (default: 20 in our offers,
    the offer's own in our answers);
    ``speech``: the engines every call speaks and listens with (default: chosen by the flow's
    language, or English on first use)."""

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
        codecs: Sequence[str] | None = None,
        ptime: int | None = None,
        rtp_timeout: float = 30.0,
        max_calls: int = MAX_SESSIONS,
        session_expires: int = 1800,
        timers: Timers | None = None,
        trace: TextIO | Callable[[str], None] | None = None,
        advertise: str | None = None,
        speech: Speech | None = None,
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
        try:
            specs = choose_codecs(codecs) if codecs is not None else DEFAULT_CODECS
        except LocalProtocolError as exc:
            raise ConfigError(str(exc)) from None
        _check_ptime(ptime, specs)
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
            codecs=specs,
            ptime=ptime,
            user_agent=user_agent,
            defence=defence,
            srtp=check_policy(srtp),
            srtp_suites=check_suites(srtp_suites),
        )
        self.speech = speech
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
        if self.speech is not None:
            await self.speech.prepare()  # no decoder gets built (freezing the loop) mid-call
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
        """Hang up every call (BYE or CANCEL), remove registrations, let call handlers finish
        (each wait bounded by ``timeout``), close the sockets."""
        if self._closing or self._loop is None:
            return
        self._closing = True
        calls = [c for c in self.calls.values() if not c.ended.done()]
        now = self._now()
        for call in calls:
            with contextlib.suppress(VoicebotError):
                self.core.hangup(call.id, now)
        self._pump()
        if calls:
            await asyncio.wait([c.ended for c in calls], timeout=timeout)
        if self.registered:
            self._registration = self._loop.create_future()
            self.core.unregister(self._now())
            self._pump()
            with contextlib.suppress(TimeoutError, VoicebotError):
                await asyncio.wait_for(self._registration, timeout)
            self.registered = False
        for call in calls:
            if not call.ended.done():  # the far end never confirmed: end it here
                if call.answered.done() and call.answered.result():
                    call.handle(ev.CallEnded(call=call.id, reason="user agent closed", by_remote=False))
                else:
                    call.handle(ev.CallFailed(call=call.id, status=408, reason="user agent closed"))
        # every call still here is unfinished (finished ones are let go), also one whose dialog
        # ended just before close: its result (and whoever awaits it) must not be cancelled away
        unfinished = [c.finished for c in self.calls.values() if not c.finished.done()]
        if unfinished:
            await asyncio.wait(unfinished, timeout=timeout)
        # every call is over now: a handler still busy with one (closing its recording, writing
        # its report) gets the same grace to finish before what is left is cancelled
        busy = [t for t in self._tasks if t is not asyncio.current_task()]
        if busy:
            await asyncio.wait(busy, timeout=timeout)
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
        try:
            self.core.register(registrar, loop.time(), expires=expires)
        finally:
            self._pump()
        status = await asyncio.wait_for(self._registration, timeout)
        if status >= 300:
            raise RegistrationError(f"registration at {registrar} failed with {status}", status)
        self.registered = True
        return status

    async def dial(
        self,
        uri: str,
        *,
        from_uri: str | None = None,
        headers: list[tuple[str, str]] | None = None,
        flow: Flow | None = None,
        context: Mapping[str, Any] | None = None,
        dtmf_only: bool = False,
    ) -> Call:
        """Send an INVITE to ``uri``; returns the :class:`Call` at once (await ``call.answered``).

        With ``flow``, the flow runs on the call once it is answered (with ``context``; by
        keypad alone with ``dtmf_only``), and ``await call.finished`` carries its outcome and
        slots in ``result.flow``."""
        loop = self._require_loop()
        media = await self._open_media()
        addr = self._media_address(media)
        try:
            call_id = self.core.invite(uri, loop.time(), media_address=addr, from_uri=from_uri, headers=headers)
        except BaseException:
            if media is not None:
                await media.close()
            raise
        finally:
            self._pump()
        local = from_uri or self.contact_uri
        call = Call(self._leg(call_id), call_id, "outbound", uri, local, media, speech=self.speech)
        self._track(call)
        if flow is not None:
            call.track(self._spawn(self._run_flow(call, flow, context, dtmf_only)))
        return call

    def _track(self, call: Call) -> None:
        """Keep ``call`` in :attr:`calls` while it lasts; a finished call (its dialog over and
        the work riding on it done) is let go."""
        self.calls[call.id] = call
        call.finished.add_done_callback(lambda _f: self.calls.pop(call.id, None))

    async def options(self, uri: str, timeout: float = 40.0) -> int:
        """OPTIONS ping; returns the final status (408 on timeout)."""
        token = self.core.options(uri, self._now())
        done = self._await_token(token)
        self._pump()
        return await asyncio.wait_for(done, timeout)

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

    def _now(self) -> float:
        return self._require_loop().time()

    def _leg(self, call_id: str) -> _Leg:
        return _Leg(
            self.core,
            call_id,
            clock=self._now,
            after=self._pump,
            await_token=self._await_token,
            spawn=self._spawn,
            open_media=self._open_media,
            media_host=self._advertise,
        )

    def _await_token(self, token: int) -> asyncio.Future[int]:
        fut: asyncio.Future[int] = self._require_loop().create_future()
        self._requests[token] = fut
        return fut

    def _on_datagram(self, data: Received, source: TransportAddress) -> None:
        now = self._require_loop().time()
        if isinstance(data, bytes):
            self.core.receive_datagram(data, source, now)
        else:
            self.core.receive_message(data, source, now)
        self._pump()

    def _on_transport_error(self, dest: TransportAddress, reason: str) -> None:
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

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

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
        call.handle(event)
        if isinstance(event, ev.TransferRequested):
            self._spawn(self._transferee(call, event.target))

    async def _incoming_call(self, event: ev.IncomingCall) -> None:
        # no media sockets yet: they open when the call is answered (a rejected call needs none)
        call = Call(
            self._leg(event.call), event.call, "inbound", event.caller, event.callee, None,
            user=event.user, speech=self.speech,
        )  # fmt: skip
        self._track(call)
        if self._handler is not None:
            result = self._handler(call)
            if inspect.isawaitable(result):
                await result
        else:
            self._incoming.put_nowait(call)

    async def _run_flow(self, call: Call, flow: Flow, context: Mapping[str, Any] | None, dtmf_only: bool) -> None:
        from voicebot.bot import VoiceBot

        if await call.answered:
            await VoiceBot(call).run(flow, context=context, dtmf_only=dtmf_only)

    def _notify_transfer(self, call: Call, status: int, reason: str) -> None:
        if call.ended.done():
            return
        with contextlib.suppress(VoicebotError):
            self.core.notify_transfer(call.id, status, reason, self._now())
        self._pump()

    async def _transferee(self, call: Call, target: str) -> None:
        """The peer asked us to call ``target`` (REFER): dial it, report with NOTIFY, hang up."""
        try:
            new = await self.dial(target)
            call.transferred_to = new
        except VoicebotError:
            self._notify_transfer(call, 503, "Service Unavailable")
            return
        try:
            answered = await asyncio.wait_for(asyncio.shield(new.answered), TRANSFER_RING_TIMEOUT)
        except TimeoutError:
            answered = False
            await new.hangup(grace=5.0)
        result = None if answered else await new.ended
        self._notify_transfer(call, 200 if result is None else result.status, "OK" if result is None else result.reason)
        if answered and not call.ended.done():
            await call.hangup()

    # ------------------------------------------------------------------ media

    async def _open_media(self) -> MediaStream | None:
        if not self._media_enabled:
            return None
        try:
            from voicebot.media.stream import MediaStream
        except ImportError as exc:  # pragma: no cover - the media engine ships with voicebot
            raise DependencyError(f"the media engine is unavailable: {exc}") from exc
        return await MediaStream.open(self._host, 0, inactivity_timeout=self._rtp_timeout)

    def _media_address(self, media: MediaStream | None) -> tuple[str, int]:
        if media is None:
            return (self._advertise, 9)  # RFC 3264 discard port: signalling-only calls
        return (self._advertise, int(media.local_address[1]))


__all__ = ["Call", "RegistrationError", "UserAgent"]
