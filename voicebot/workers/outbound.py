"""Outbound calls in bulk: ``voicebot dial URI --calls M [--concurrency C] [--workers N]``.

One process places its calls from one user agent, at most ``C`` at a time; each call is
dialled and, once answered, does what a single ``dial`` does with its call (the ``talk``
the command hands in: digits, ``--say``/``--play``, a flow, ``--hangup-after``), then is hung
up if it is still up. With ``--workers N`` the calls are split
into N shares (:func:`shares`) and N worker processes, each with its own SIP port and event
loop, place one share each (the same ``voicebot dial`` with ``--calls share``); their
per-call results come back as JSON lines and are added up here. Campaign workers split
their contact lists the same way.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import statistics
import sys
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

from voicebot import runtime
from voicebot.agent import UserAgent
from voicebot.call import Call, CallResult
from voicebot.errors import ConfigError, VoicebotError
from voicebot.workers.argv import namespace_argv

AgentFactory = Callable[[argparse.Namespace], UserAgent]
Talk = Callable[[Call], Awaitable[None]]  # what to do with an answered call until it should end
EXIT_ALL_ANSWERED = 0
EXIT_SOME_NOT_ANSWERED = 1
# options that do not pass to a worker as they are
NOT_FOR_WORKERS = {"workers", "calls", "concurrency", "json", "record", "record_wav", "recording", "listen", "uri"}
SPELLED = {"from_uri": "--from"}


def shares(total: int, parts: int) -> list[int]:
    """``total`` split into ``parts`` shares that differ by at most one (larger ones first)."""
    if parts < 1:
        raise ConfigError("the calls must be split over at least one worker")
    base, extra = divmod(total, parts)
    return [base + (1 if i < extra else 0) for i in range(parts)]


def summarise(results: list[dict[str, Any]]) -> dict[str, Any]:
    """Counts and setup times of per-call results (``CallResult.as_dict()`` + ``exit_code``)."""
    setups = sorted(r["setup_time"] for r in results if r["answered"])
    return {
        "calls": len(results),
        "answered": sum(1 for r in results if r["answered"]),
        "by_exit_code": dict(sorted(Counter(str(r["exit_code"]) for r in results).items())),
        "setup_p50": round(statistics.median(setups), 3) if setups else None,
        "setup_max": round(setups[-1], 3) if setups else None,
    }


async def _one(
    ua: UserAgent, args: argparse.Namespace, talk: Talk, exit_code_for: Callable[[CallResult], int]
) -> dict[str, Any]:
    call: Call = await ua.dial(args.uri, from_uri=args.from_uri)
    try:
        answered = await asyncio.wait_for(asyncio.shield(call.answered), args.timeout)
    except TimeoutError:
        answered = False
    if answered:
        with contextlib.suppress(VoicebotError):
            await talk(call)
    if not call.ended.done():
        with contextlib.suppress(TimeoutError, VoicebotError):
            await call.hangup(grace=10)
    try:
        result = await asyncio.wait_for(asyncio.shield(call.finished), 10)
    except TimeoutError:
        return {"answered": answered, "status": 408, "reason": "no end", "setup_time": 0.0, "exit_code": 4}
    return {**result.as_dict(), "exit_code": exit_code_for(result)}


async def _place(
    args: argparse.Namespace,
    exit_code_for: Callable[[CallResult], int],
    agent: AgentFactory,
    talk: Talk,
    before: Callable[[], Awaitable[None]] | None,
) -> list[dict[str, Any]]:
    if before is not None:
        await before()
    ua = agent(args)
    results: list[dict[str, Any]] = []
    gate = asyncio.Semaphore(args.concurrency)

    async def one() -> None:
        async with gate:
            try:
                row = await _one(ua, args, talk, exit_code_for)
            except VoicebotError as exc:
                row = {"answered": False, "status": 0, "reason": str(exc), "setup_time": 0.0, "exit_code": 1}
            results.append(row)
            if args.json:
                print(json.dumps({"result": row}), flush=True)

    async with ua:
        runtime.settle_gc()
        async with asyncio.TaskGroup() as tg:
            for _ in range(args.calls):
                tg.create_task(one())
    return results


async def _from_workers(args: argparse.Namespace) -> list[dict[str, Any]]:
    per_worker = shares(args.calls, args.workers)
    concurrency = shares(max(args.concurrency, args.workers), args.workers)
    host = args.listen.rsplit(":", 1)[0] if ":" in args.listen else args.listen
    results: list[dict[str, Any]] = []

    async def worker(n: int, c: int) -> None:
        if n == 0:
            return
        options = namespace_argv(args, skip=NOT_FOR_WORKERS, spelled=SPELLED)
        share = ["--listen", f"{host}:0", "--calls", str(n), "--concurrency", str(max(1, c)), "--json"]
        argv = [sys.executable, "-m", "voicebot", "dial", *options, *share, args.uri]
        proc = await asyncio.create_subprocess_exec(*argv, stdout=asyncio.subprocess.PIPE)
        assert proc.stdout is not None
        async for line in proc.stdout:
            with contextlib.suppress(ValueError):
                data = json.loads(line)
                if isinstance(data, dict) and "result" in data:
                    results.append(data["result"])
        await proc.wait()

    async with asyncio.TaskGroup() as tg:
        for n, c in zip(per_worker, concurrency, strict=True):
            tg.create_task(worker(n, c))
    return results


def dial_bulk(
    args: argparse.Namespace,
    exit_code_for: Callable[[CallResult], int],
    agent: AgentFactory,
    talk: Talk,
    before: Callable[[], Awaitable[None]] | None = None,
) -> int:
    """Place ``args.calls`` calls (over ``args.workers`` processes when given); print a summary.
    ``agent(args)`` makes the user agent that places them and ``talk(call)`` runs on each
    answered call, as the single-call ``dial`` does; ``before()`` runs once first (warming the
    speech engines)."""
    if args.calls < 1 or args.concurrency < 1:
        raise ConfigError("--calls and --concurrency must be at least 1")
    if getattr(args, "record", False) or getattr(args, "record_wav", None) is not None:
        raise ConfigError("--record is for one call; bulk calls are not recorded")
    if args.workers:
        results = runtime.run(_from_workers(args))
    else:
        results = runtime.run(_place(args, exit_code_for, agent, talk, before))
    summary = summarise(results)
    if args.workers:
        summary["workers"] = args.workers
    if args.json:
        print(json.dumps({"summary": summary}), flush=True)
    else:
        print(
            f"{summary['answered']} of {summary['calls']} calls answered; exit codes {summary['by_exit_code']}; "
            f"setup median {summary['setup_p50']} s, max {summary['setup_max']} s",
            flush=True,
        )
    return EXIT_ALL_ANSWERED if summary["answered"] == summary["calls"] == args.calls else EXIT_SOME_NOT_ANSWERED


__all__ = ["dial_bulk", "shares", "summarise"]
