"""The store's transactions on real SQLite and PostgreSQL: every calling rule as the claim and
finish transactions apply it, with the time passed in (no calls are placed here)."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections import Counter
from zoneinfo import ZoneInfo

from tests.integration.campaign.conftest import FLOW
from voicebot.campaign import campaigns, claims, outbox, rules
from voicebot.campaign.claims import Claim, Idle, Worker
from voicebot.campaign.contacts import Contact
from voicebot.campaign.placer import AttemptOutcome
from voicebot.campaign.settings import PAUSED, Campaign
from voicebot.campaign.spec import Window
from voicebot.store import dnc, open_db
from voicebot.store.schema import MIGRATIONS, version

W1 = Worker(id="w1", host="test-host", pid=1)
W2 = Worker(id="w2", host="test-host", pid=2)
SEOUL = ZoneInfo("Asia/Seoul")


def at(day: int, hour: int, minute: int = 0, tz: ZoneInfo = SEOUL) -> float:
    return dt.datetime(2026, 3, day, hour, minute, tzinfo=tz).timestamp()


def contacts(n: int, zones: tuple[str, ...] = ("Asia/Seoul",), start: int = 1) -> list[Contact]:
    return [Contact(line=i + 1, phone=f"+8210{start + i:08d}", uri=f"sip:+8210{start + i:08d}@127.0.0.1:9",
                    zones=zones, name=f"n{i}", fields={"name": f"n{i}"}) for i in range(n)]


def make(db_url: str, name: str = "c", n: int = 5, **kw: object) -> tuple[object, Campaign]:
    db = open_db(db_url)
    settings = Campaign(name=name, flow_path=str(FLOW), timezone="Asia/Seoul", caller_id="sip:shop@x",
                        window=Window.parse("09:00-20:00"), retry_after=60.0,
                        **{"sealed": False, **kw})  # type: ignore[arg-type]
    campaigns.create(db, settings, contacts(n, start=int(kw.pop("start", 1)) if "start" in kw else 1), at(2, 8))
    return db, campaigns.get(db, name)


def outcome(kind: str, **kw: object) -> AttemptOutcome:
    return AttemptOutcome(kind=kind, sip_status=kw.pop("sip_status", 200 if kind == "answered" else 486), **kw)  # type: ignore[arg-type]


def test_migrations_apply_once(db_url: str) -> None:
    db = open_db(db_url)
    assert version(db) == len(MIGRATIONS)
    db.close()
    db = open_db(db_url)  # a second open finds the schema current and changes nothing
    with db.read() as tx:
        assert tx.value("SELECT COUNT(*) FROM schema_version") == len(MIGRATIONS)


def test_window_in_callee_zone_defers_until_it_opens(db_url: str) -> None:
    db, c = make(db_url, n=2)
    early = at(2, 8, 30)  # 08:30 in Seoul: closed
    got = claims.claim(db, c, W1, early)
    assert isinstance(got, Idle) and got.until == early  # the contacts were pushed; look again
    got = claims.claim(db, c, W1, early)
    assert isinstance(got, Idle) and got.reason == "waiting" and got.until == at(2, 9)
    got = claims.claim(db, c, W1, at(2, 9))
    assert isinstance(got, Claim) and got.number == 1


def test_dnc_checked_at_claim_and_result_queued(db_url: str) -> None:
    db, c = make(db_url, n=2, webhook_url="http://127.0.0.1:9/crm")
    dnc.add(db, ["+821000000001"], "test", at(2, 8))
    got = claims.claim(db, c, W1, at(2, 10))
    assert isinstance(got, Claim) and got.phone == "+821000000002"
    rows = {r["phone"]: r for r in campaigns.results(db, c.id)}
    assert rows["+821000000001"]["status"] == "dnc" and rows["+821000000001"]["attempts"] == []
    assert outbox.pending(db, c.id)[0] == 1  # the final 'dnc' result goes to the CRM too


def test_daily_cap_counts_per_caller_id_across_campaigns(db_url: str) -> None:
    db, a = make(db_url, "a", n=4, daily_cap=3)
    settings_b = Campaign(name="b", flow_path=str(FLOW), timezone="Asia/Seoul", caller_id="sip:shop@x",
                          window=Window.parse("09:00-20:00"), daily_cap=3, sealed=False)
    campaigns.create(db, settings_b, contacts(4, start=10), at(2, 8))
    b = campaigns.get(db, "b")
    now = at(2, 10)
    got: Claim | Idle
    for cid in (a, b, a):
        got = claims.claim(db, cid, W1, now)
        assert isinstance(got, Claim)
        claims.finish(db, cid, got, outcome("answered", outcome="reached"), now, now)
    # a, b, a: the shared caller ID is spent for today, in whichever campaign
    assert claims.claim(db, b, W1, now) == Idle(reason="capped", until=at(3, 0))
    assert campaigns.counts(db, b.id)["status"]["capped"] == 3
    assert claims.claim(db, a, W1, now) == Idle(reason="capped", until=at(3, 0))
    assert claims.claim(db, a, W1, now) == Idle(reason="waiting", until=at(3, 0))
    got = claims.claim(db, b, W1, at(3, 9, 30))  # a new day in the campaign's zone
    assert isinstance(got, Claim)


def test_retry_backoff_then_failed_and_opt_out_adds_dnc(db_url: str) -> None:
    db, c = make(db_url, n=2, max_attempts=2)
    now = at(2, 10)
    first = claims.claim(db, c, W1, now)
    assert isinstance(first, Claim)
    decision = claims.finish(db, c, first, outcome("busy"), now, now)
    assert decision == rules.Decision(status="pending", retry_at=now + 60)
    second = claims.claim(db, c, W1, now)
    assert isinstance(second, Claim) and second.contact_id != first.contact_id
    claims.finish(db, c, second, outcome("answered", outcome="opted_out", do_not_call=True), now, now)
    with db.read() as tx:
        assert dnc.contains(tx, second.phone)
    again = claims.claim(db, c, W1, now + 60)
    assert isinstance(again, Claim) and again.contact_id == first.contact_id and again.number == 2
    assert claims.finish(db, c, again, outcome("no_answer", sip_status=487), now + 60, now + 61) == rules.Decision(
        status="failed")
    assert isinstance(claims.claim(db, c, W1, now + 120), Idle)
    assert campaigns.counts(db, c.id)["status"] | {} == {**dict.fromkeys(rules.STATUSES, 0), "failed": 1, "done": 1}


def test_dead_workers_calls_are_interrupted_and_counted(db_url: str) -> None:
    db, c = make(db_url, n=2, max_attempts=1, concurrency=2)
    now = at(2, 10)
    claims.register(db, W1, 1000.0)
    a = claims.claim(db, c, W1, now)
    b = claims.claim(db, c, W1, now)
    assert isinstance(a, Claim) and isinstance(b, Claim)
    assert isinstance(claims.claim(db, c, W1, now), Idle)  # both lines taken
    assert claims.recover(db, 1005.0, 15.0, lambda host, pid: True, now) == 0  # alive, within its lease
    assert claims.recover(db, 1005.0, 15.0, lambda host, pid: False, now) == 2  # its process is gone
    results = campaigns.results(db, c.id)
    assert {r["status"] for r in results} == {"failed"} and {r["outcome"] for r in results} == {"interrupted"}
    assert all(r["attempts"][0]["state"] == "interrupted" for r in results)
    # the dead worker's late result completes the record but changes nothing else
    assert claims.finish(db, c, a, outcome("answered"), now, now + 1) is None
    assert isinstance(claims.claim(db, c, W1, now), Idle)


def test_paused_campaign_claims_nothing(db_url: str) -> None:
    db, c = make(db_url, n=1)
    campaigns.set_state(db, "c", PAUSED)
    assert claims.claim(db, c, W1, at(2, 10)) == Idle(reason="paused")


def test_concurrent_claims_take_each_contact_once(db_url: str) -> None:
    _, c = make(db_url, n=40, concurrency=8)
    now = at(2, 10)
    taken: list[tuple[str, int]] = []
    errors: list[BaseException] = []

    def work(w: Worker) -> None:
        mine = open_db(db_url)  # each worker its own connection, as separate processes have
        try:
            while True:
                got = claims.claim(mine, c, w, now)
                if isinstance(got, Idle):
                    if got.reason == "lines":
                        continue
                    return
                taken.append((w.id, got.contact_id))
                time.sleep(0.01)  # the call: the other worker claims meanwhile
                claims.finish(mine, c, got, outcome("rejected", sip_status=403), now, now)
        except BaseException as exc:
            errors.append(exc)
        finally:
            mine.close()

    threads = [threading.Thread(target=work, args=(w,)) for w in (W1, W2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    per_contact = Counter(k for _, k in taken)
    assert len(per_contact) == 40 and set(per_contact.values()) == {1}
    assert {w for w, _ in taken} == {"w1", "w2"}  # both did some of the work
