"""Structured "first of several" for asyncio (DESIGN.md rule 8: no orphan tasks).

:func:`first_of` runs awaitables side by side until one finishes, then cancels the rest and
waits for them to be gone before it returns, whatever ends the wait: a winner, the timeout,
an exception, or the caller's own cancellation. ``asyncio.TaskGroup`` cannot say this (it
waits for all and turns errors into groups); ``asyncio.wait(..., FIRST_COMPLETED)`` says it
only with a hand-written ``finally`` that each caller got slightly different.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Sequence
from typing import Any, overload


@overload
async def first_of(*aws: Awaitable[Any]) -> tuple[int, Any]: ...
@overload
async def first_of(*aws: Awaitable[Any], timeout: float | None) -> tuple[int, Any] | None: ...


async def first_of(*aws: Awaitable[Any], timeout: float | None = None) -> tuple[int, Any] | None:
    """``(index, result)`` of the first of ``aws`` to finish, or None when ``timeout`` passes first.

    Coroutines (and other awaitables that are not futures) become tasks owned by this call:
    every one is cancelled and awaited before it returns. Futures and tasks handed in are
    someone else's (a call's ``ended``, say): they are watched, never cancelled. When several
    finish in the same step, the earliest in argument order wins. The winner's exception
    propagates; so does one an owned task raised instead of finishing or being cancelled (no
    exception is dropped); a loser's result is dropped.
    """
    if not aws:
        raise ValueError("first_of needs at least one awaitable")
    owned: list[asyncio.Future[Any]] = []
    racers: list[asyncio.Future[Any]] = []
    try:
        for aw in aws:
            if asyncio.isfuture(aw):
                racers.append(aw)
            else:
                task = asyncio.ensure_future(aw)
                owned.append(task)
                racers.append(task)
        done, _ = await asyncio.wait(racers, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        await _cancel_and_wait(owned)
    winner = next((i for i, fut in enumerate(racers) if fut in done), None)
    failures = [exc for task in owned if (exc := _failure(task)) is not None]  # all retrieved
    if winner is not None and (exc := _failure(racers[winner])) is not None:
        raise exc
    if failures:
        raise failures[0]
    return None if winner is None else (winner, racers[winner].result())


async def settled(fut: asyncio.Future[Any]) -> None:
    """Until ``fut`` is done, however it ended; its result or exception stays for its owner
    to read, and cancelling this wait leaves ``fut`` alone. For racing someone else's future
    on "it is over" alone: ``await first_of(stop.wait(), settled(call.ended))``."""
    await asyncio.wait([fut])


def _failure(fut: asyncio.Future[Any]) -> BaseException | None:
    return None if fut.cancelled() else fut.exception()


async def _cancel_and_wait(tasks: Sequence[asyncio.Future[Any]]) -> None:
    """Cancel ``tasks`` and wait until each has finished, even if we are cancelled meanwhile
    (the cancellation is passed on once they are gone)."""
    for task in tasks:
        task.cancel()
    interrupted: asyncio.CancelledError | None = None
    while pending := [t for t in tasks if not t.done()]:
        try:
            await asyncio.wait(pending)
        except asyncio.CancelledError as exc:
            interrupted = exc
    if interrupted is not None:
        raise interrupted


__all__ = ["first_of", "settled"]
