"""The dialer: claims contacts from the store and places calls until the campaign is done.

One :class:`Dialer` is one worker. Several workers (processes, machines) share a campaign
through the store: every rule is checked inside the store's claim transaction
(:mod:`voicebot.campaign.claims`), so the dialer itself only paces, places and records.

Time: the rules (windows, caps, retry times, pacing) read the injected :class:`Clock`;
worker heartbeats and webhook retries read the wall clock (``wall``), because they are about
processes and a CRM that live in real time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
import time
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any, Literal, Protocol, TypeVar

from voicebot.aio import first_of
from voicebot.campaign import campaigns, claims, outbox, rules, webhooks
from voicebot.campaign.claims import Claim, Idle, Worker
from voicebot.campaign.placer import Attempt, AttemptOutcome, CallPlacer
from voicebot.store.db import Db

if TYPE_CHECKING:
    from voicebot.campaign.settings import Campaign
    from voicebot.flow import Flow

log = logging.getLogger(__name__)
T = TypeVar("T")


class Clock(Protocol):
    def now(self) -> float: ...

    async def sleep(self, seconds: float) -> None: ...


class SystemClock:
    def now(self) -> float:
        return time.time()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


@dataclass(frozen=True, slots=True, kw_only=True)
class RunOptions:
    """``until``: ``done`` waits through closed windows, caps and retry delays until every
    contact is final; ``idle`` returns as soon as nothing can be dialled now."""

    until: Literal["done", "idle"] = "done"
    poll: float = 2.0  # real seconds between looks when other workers hold the lines
    max_sleep: float = 30.0  # longest wait on the clock before looking again
    lease: float = 15.0  # a worker silent this long is dead; its calls are interrupted
    heartbeat: float = 3.0
    drain_timeout: float = 30.0  # how long to keep delivering webhooks after the last call
    max_call: float = 600.0


@dataclass(frozen=True, slots=True, kw_only=True)
class RunResult:
    """``reason``: done (every contact final), paused, stopped (signal), or — with
    ``until=idle`` — waiting / capped (contacts remain for later)."""

    reason: str
    placed: int
    recovered: int
    webhooks_pending: int
    counts: dict[str, Any]  # campaigns.counts() at the end


def this_worker() -> Worker:
    host = socket.gethostname()
    pid = os.getpid()
    return Worker(id=f"{host}:{pid}:{secrets.token_hex(4)}", host=host, pid=pid)


def process_alive(host: str, pid: int) -> bool:
    """False only for a process of this host that is gone (other hosts: trust the lease)."""
    if host != socket.gethostname():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class Dialer:
    """Runs one campaign from this process; see :meth:`run`."""

    def __init__(self, db: Db, name: str, placer: CallPlacer, *, clock: Clock | None = None,
                 options: RunOptions | None = None, wall: Callable[[], float] = time.time,
                 dnc_digest: Callable[[str], str | None] | None = None) -> None:
        self.db = db
        self.name = name
        self.placer = placer
        self.clock = clock or SystemClock()
        self.options = options or RunOptions()
        self.wall = wall
        self.dnc_digest = dnc_digest  # matches erased people's do-not-call entries (claims.claim)
        self.worker = this_worker()
        self.placed = 0
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="voicebot-db")  # the one DB thread
        self._changed = asyncio.Event()
        self._stopping = asyncio.Event()

    async def _db(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._pool, partial(fn, self.db, *args))

    def stop(self) -> None:
        """Stop claiming; calls in flight finish and are recorded."""
        self._stopping.set()
        self._changed.set()

    async def counts(self) -> dict[str, Any]:
        campaign = await self._db(campaigns.get, self.name)
        return await self._db(campaigns.counts, campaign.id)

    async def run(self) -> RunResult:
        from voicebot.flow import Flow

        campaign = await self._db(campaigns.get, self.name)
        flow = await asyncio.to_thread(Flow.load, campaign.flow_path)
        await self._db(claims.register, self.worker, self.wall(), campaign.id)
        recovered = await self._recover()
        helpers_done = asyncio.Event()
        try:
            async with asyncio.TaskGroup() as tg:
                tg.create_task(self._heartbeat(helpers_done))
                deliveries = tg.create_task(self._deliver(campaign.id, helpers_done))
                try:
                    reason = await self._dial(campaign, flow)
                finally:
                    helpers_done.set()
                await deliveries
            pending, _ = await self._db(outbox.pending, campaign.id)
            counts = await self._db(campaigns.counts, campaign.id)
        finally:
            with contextlib.suppress(Exception):
                await self._db(claims.unregister, self.worker)
            self._pool.shutdown(wait=False)
        return RunResult(reason=reason, placed=self.placed, recovered=recovered, webhooks_pending=pending,
                         counts=counts)

    async def _recover(self) -> int:
        n = await self._db(claims.recover, self.wall(), self.options.lease, process_alive, self.clock.now())
        if n:
            log.warning("%d call(s) of a stopped dialer recorded as interrupted", n)
        return n

    async def _heartbeat(self, done: asyncio.Event) -> None:
        while not done.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(done.wait(), self.options.heartbeat)
            await self._db(claims.heartbeat, self.worker, self.wall())
            if await self._recover():
                self._changed.set()

    # ------------------------------------------------------------------ dialling

    async def _dial(self, campaign: Campaign, flow: Flow) -> str:
        lines = asyncio.Semaphore(campaign.concurrency)
        in_flight = 0

        def ended(_task: asyncio.Task[None]) -> None:
            nonlocal in_flight
            in_flight -= 1
            lines.release()
            self._changed.set()

        async with asyncio.TaskGroup() as calls:
            while True:
                if self._stopping.is_set():
                    return "stopped"
                await lines.acquire()
                now = self.clock.now()
                start = await self._db(claims.reserve_dial, campaign, now)
                if start > now:
                    await self.clock.sleep(start - now)
                self._changed.clear()
                got = await self._db(claims.claim, campaign, self.worker, self.clock.now(), 16, self.dnc_digest)
                if isinstance(got, Claim):
                    in_flight += 1
                    task = calls.create_task(self._call(got, campaign, flow))
                    task.add_done_callback(ended)
                    continue
                lines.release()
                verdict = self._verdict(got, in_flight)
                if verdict is not None:
                    return verdict
                await self._wait(got, in_flight)

    def _verdict(self, idle: Idle, in_flight: int) -> str | None:
        """The run's end, or None to wait and look again."""
        if in_flight:
            return None
        if idle.reason in ("done", "paused"):
            return idle.reason
        later = idle.until is None or idle.until > self.clock.now()
        if self.options.until == "idle" and idle.reason in ("waiting", "capped") and later:
            return idle.reason
        return None

    async def _wait(self, idle: Idle, in_flight: int) -> None:
        """Until one of our calls ends, or the clock reaches ``idle.until``, or a poll interval."""
        now = self.clock.now()
        if idle.reason in ("waiting", "capped") and idle.until is not None and idle.until <= now:
            return
        waits: list[Coroutine[Any, Any, Any]] = [self._changed.wait()]
        if idle.reason in ("waiting", "capped") and idle.until is not None and not in_flight:
            waits.append(self.clock.sleep(min(idle.until - now, self.options.max_sleep)))
        else:
            waits.append(asyncio.sleep(self.options.poll))
        await first_of(*waits)

    async def _call(self, c: Claim, campaign: Campaign, flow: Flow) -> None:
        dialled_at = self.clock.now()
        attempt = Attempt(
            attempt_id=c.attempt_id, contact_id=c.contact_id, campaign=campaign.name, uri=c.uri, flow=flow,
            context=c.context, caller_id=campaign.caller_id or None, ring_timeout=campaign.ring_timeout,
            max_duration=self.options.max_call,
        )
        try:
            result = await self.placer.place(attempt)
        except Exception as exc:  # recorded as a local failure and retried like one
            log.exception("placing attempt %d failed", c.attempt_id)
            result = AttemptOutcome(kind=rules.LOCAL_FAILURE, sip_status=None, reason=f"{type(exc).__name__}: {exc}")
        await self._db(claims.finish, campaign, c, result, dialled_at, self.clock.now())
        self.placed += 1

    # ------------------------------------------------------------------ webhooks

    async def _deliver(self, campaign_id: int, dialling_done: asyncio.Event) -> None:
        """Deliver due webhooks while dialling, then until the outbox is empty or the drain time ends."""
        drain_until: float | None = None
        while True:
            due = await self._db(outbox.take_due, campaign_id, self.wall(), 60.0)
            for d in due:
                error = await asyncio.to_thread(webhooks.post, d)
                if error is None:
                    await self._db(outbox.delivered, d.id, self.wall())
                else:
                    log.info("webhook %d to %s failed (%s); retrying", d.id, d.url, error)
                    await self._db(outbox.failed, d.id, error, self.wall() + webhooks.retry_delay(d.tries + 1))
            if due:
                continue
            pending, next_at = await self._db(outbox.pending, campaign_id)
            if dialling_done.is_set():
                drain_until = drain_until or self.wall() + self.options.drain_timeout
                if pending == 0 or self.wall() >= drain_until:
                    return
            delay = 1.0 if next_at is None else min(max(next_at - self.wall(), 0.05), 1.0)
            if dialling_done.is_set():
                await asyncio.sleep(delay)
            else:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(dialling_done.wait(), delay)
