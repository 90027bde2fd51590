"""The Redis context store against a real redis-server, and profiles carried across calls."""

from __future__ import annotations

import datetime as dt
import threading
from pathlib import Path

from voicebot.flow import CallRecord, ContextStore, Flow, MemoryContextStore, SilenceTimeout, Utterance, WebhookResult
from voicebot.store.redis_context import RedisContextStore

ROOT = Path(__file__).resolve().parents[3]


def test_memory_and_redis_satisfy_the_protocol(redis_url: str) -> None:
    store = RedisContextStore(redis_url)
    try:
        assert isinstance(store, ContextStore)
        assert isinstance(MemoryContextStore(), ContextStore)
    finally:
        store.close()


def _exercise(store: ContextStore) -> None:
    assert store.profile("+1555").calls == 0 and store.profile("+1555").last_outcome is None
    rec = CallRecord(flow="f", outcome="no_input", at=1.0, slots={"when": dt.date(2026, 1, 8), "n": 2})
    p = store.record("+1555", rec)
    assert p.calls == 1 and p.last_outcome == "no_input" and not p.do_not_call
    p = store.record("+1555", CallRecord(flow="f", outcome="opted_out", at=2.0, do_not_call=True))
    assert p.calls == 2 and p.do_not_call and p.outcomes() == ["no_input", "opted_out"]
    assert store.profile("+1555").records[0].slots == {"when": "2026-01-08", "n": 2} or isinstance(
        store, MemoryContextStore
    )
    assert store.profile("+1666").calls == 0
    assert store.erase("+1555") is True
    assert store.erase("+1555") is False
    assert store.profile("+1555").calls == 0


def test_memory_store() -> None:
    _exercise(MemoryContextStore())


def test_redis_store(redis_url: str) -> None:
    store = RedisContextStore(redis_url, prefix="t1:")
    try:
        _exercise(store)
    finally:
        store.close()


def test_redis_trims_records_and_expires(redis_url: str) -> None:
    store = RedisContextStore(redis_url, prefix="t2:", max_records=3, ttl_s=3600)
    try:
        for i in range(5):
            store.record("c", CallRecord(flow="f", outcome=f"o{i}", at=float(i)))
        p = store.profile("c")
        assert p.outcomes() == ["o2", "o3", "o4"] and p.calls == 5
        ttl = store.client.ttl("t2:c:calls")
        assert 0 < ttl <= 3600
    finally:
        store.close()


def test_redis_concurrent_writers_lose_nothing(redis_url: str) -> None:
    stores = [RedisContextStore(redis_url, prefix="t3:", max_records=1000) for _ in range(4)]

    def work(s: RedisContextStore, k: int) -> None:
        for i in range(25):
            s.record("shared", CallRecord(flow="f", outcome=f"{k}-{i}", at=float(i)))

    threads = [threading.Thread(target=work, args=(s, k)) for k, s in enumerate(stores)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    p = stores[0].profile("shared")
    assert p.calls == 100 and len(p.records) == 100 and len(set(p.outcomes())) == 100
    for s in stores:
        s.close()


def test_profile_carries_across_calls_in_two_processes_worth_of_stores(redis_url: str) -> None:
    flow = Flow.load(ROOT / "dialogs" / "appointment_reminder.yaml")
    ctx = {"appointment_date": "2026-01-08"}
    dialer_a = RedisContextStore(redis_url, prefix="t4:")
    dialer_b = RedisContextStore(redis_url, prefix="t4:")
    try:
        s = flow.start(ctx, profile=dialer_a.profile("+1777"), today=dt.date(2026, 1, 5))
        s.begin()
        for _ in range(3):
            s.handle(SilenceTimeout())
        assert s.outcome == "no_input"
        dialer_a.record("+1777", CallRecord.from_result(s.result()))
        s2 = flow.start(ctx, profile=dialer_b.profile("+1777"), today=dt.date(2026, 1, 6))
        first = s2.begin()
        assert any("We tried to reach you before" in getattr(a, "text", "") for a in first)
        s2.handle(Utterance(text="yes"))
        s2.handle(WebhookResult(ok=True))
        p = dialer_b.record("+1777", CallRecord.from_result(s2.result()))
        assert p.outcomes() == ["no_input", "confirmed"]
        assert p.records[-1].slots["confirmed"] is True
    finally:
        dialer_a.close()
        dialer_b.close()
