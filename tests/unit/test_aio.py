"""first_of: the winner's result, and losers cancelled *and awaited* whatever ends the race."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

import pytest

from voicebot.aio import first_of, settled


class Racer:
    """A coroutine factory that records how it ended; its cleanup takes an await, so a
    caller that only cancels (without awaiting) returns before ``cleaned`` is set."""

    def __init__(self) -> None:
        self.cancelled = False
        self.cleaned = False

    async def run(self, delay: float, value: object = None, *, fail: BaseException | None = None,
                  fail_on_cancel: BaseException | None = None) -> object:
        try:
            await asyncio.sleep(delay)
            if fail is not None:
                raise fail
            return value
        except asyncio.CancelledError:
            self.cancelled = True
            await asyncio.sleep(0.001)
            if fail_on_cancel is not None:
                raise fail_on_cancel from None
            raise
        finally:
            self.cleaned = True


def sync(scenario: Callable[[], Coroutine[Any, Any, None]]) -> Callable[[], None]:
    """The scenario as a plain test run on a fresh event loop (the suite has no async plugin)."""

    def test() -> None:
        asyncio.run(scenario())

    test.__name__ = scenario.__name__
    return test


def others() -> set[asyncio.Task[object]]:
    return asyncio.all_tasks() - {asyncio.current_task()}  # type: ignore[operator]


@sync
async def test_first_wins_and_the_losers_are_cancelled_and_awaited() -> None:
    slow, fast = Racer(), Racer()
    assert await first_of(slow.run(10, "slow"), fast.run(0, "fast")) == (1, "fast")
    assert slow.cancelled and slow.cleaned and not fast.cancelled
    assert not others()


@sync
async def test_timeout_returns_none_and_leaves_no_task() -> None:
    a, b = Racer(), Racer()
    assert await first_of(a.run(10), b.run(10), timeout=0.01) is None
    assert a.cleaned and b.cleaned and a.cancelled and b.cancelled
    assert not others()


@sync
async def test_a_winner_that_raises_propagates_after_the_losers_are_gone() -> None:
    bad, slow = Racer(), Racer()
    with pytest.raises(KeyError, match="boom"):
        await first_of(bad.run(0, fail=KeyError("boom")), slow.run(10))
    assert slow.cancelled and slow.cleaned
    assert not others()


@sync
async def test_a_loser_failing_while_cancelled_is_not_dropped() -> None:
    win, loser = Racer(), Racer()
    with pytest.raises(RuntimeError, match="cleanup failed"):
        await first_of(win.run(0, 1), loser.run(10, fail_on_cancel=RuntimeError("cleanup failed")))
    assert loser.cleaned
    assert not others()


@sync
async def test_cancelling_the_caller_cancels_and_awaits_every_racer() -> None:
    a, b = Racer(), Racer()
    outer = asyncio.create_task(first_of(a.run(10), b.run(10)))
    await asyncio.sleep(0.01)
    outer.cancel()
    with pytest.raises(asyncio.CancelledError):
        await outer
    assert a.cancelled and a.cleaned and b.cancelled and b.cleaned
    assert not others()


@sync
async def test_futures_handed_in_are_watched_not_cancelled() -> None:
    ended: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    other = Racer()
    asyncio.get_running_loop().call_later(0.01, ended.set_result, "bye")
    assert await first_of(other.run(10), ended) == (1, "bye")
    still: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    assert await first_of(still, other.run(0, "done")) == (1, "done")
    assert not still.cancelled() and not still.done()


@sync
async def test_ties_go_to_the_earliest_argument() -> None:
    first: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    second: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    first.set_result("a")
    second.set_result("b")
    assert await first_of(second, first) == (0, "b")
    assert await first_of(first, second) == (0, "a")


@sync
async def test_nothing_to_race_is_a_mistake() -> None:
    with pytest.raises(ValueError):
        await first_of()


@sync
async def test_settled_waits_for_someone_elses_future_without_touching_it() -> None:
    loop = asyncio.get_running_loop()
    failed: asyncio.Future[str] = loop.create_future()
    loop.call_later(0.01, failed.set_exception, RuntimeError("its owner reads this"))
    stop = asyncio.Event()
    assert await first_of(stop.wait(), settled(failed)) == (1, None)  # done, however it ended
    with pytest.raises(RuntimeError):
        failed.result()
    pending: asyncio.Future[str] = loop.create_future()
    assert await first_of(settled(pending), timeout=0.01) is None
    assert not pending.cancelled()
    pending.cancel()
