"""The dialer's transactions: claim a contact, record how its attempt went, recover after a crash.

Each function is one write transaction, so every rule holds across processes and machines:

* :func:`claim` takes a free line (``dial_slots``, at most ``concurrency`` calls up; a worker
  holds at most its even share of them while other workers run the campaign), then due
  contacts (``FOR UPDATE SKIP LOCKED`` on PostgreSQL; SQLite's write lock serialises it), and
  for the first one that may be called now: checks the calling window in the callee's zones,
  the do-not-call list, and counts the call against the caller ID's daily cap — then writes
  the attempt (state ``dialling``, counted at once) before the INVITE is sent.
* :func:`finish` writes the call record and the contact's next status (:func:`rules.decide`),
  adds an opted-out callee to the do-not-call list, and queues the CRM webhook of a final result.
* :func:`recover` marks attempts of dead workers ``interrupted`` (they count) and frees their lines.
* :func:`reserve_dial` spaces new calls ``1/cps`` apart across all workers of a campaign.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from voicebot.campaign import outbox, rules
from voicebot.campaign.campaigns import get_by_id
from voicebot.campaign.settings import ACTIVE
from voicebot.campaign.spec import zone
from voicebot.store import dnc

if TYPE_CHECKING:
    from voicebot.campaign.placer import AttemptOutcome
    from voicebot.campaign.settings import Campaign
    from voicebot.store.db import Db, Tx

DIALLING, ENDED, INTERRUPTED = "dialling", "ended", "interrupted"


@dataclass(frozen=True, slots=True, kw_only=True)
class Claim:
    """A contact taken for one attempt; the attempt row exists (state ``dialling``)."""

    attempt_id: int
    contact_id: int
    number: int  # this attempt's number for the contact (1-based)
    phone: str
    uri: str
    context: dict[str, Any]
    queued_at: float


@dataclass(frozen=True, slots=True, kw_only=True)
class Idle:
    """Nothing to dial now. ``reason``: paused, lines (all in use), capped, waiting, done;
    ``until``: when something may be due (None: nothing waits)."""

    reason: str
    until: float | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Worker:
    id: str
    host: str
    pid: int


def _zones(text: str, campaign: Campaign) -> list[ZoneInfo]:
    return [zone(z) for z in text.split(",") if z] or [campaign.tz]


def _final(tx: Tx, campaign: Campaign, contact_id: int, status: str, outcome: str | None, now: float) -> None:
    tx.run("UPDATE contacts SET status = ?, outcome = ?, active_attempt = NULL, updated_at = ? WHERE id = ?",
           (status, outcome, now, contact_id))
    outbox.enqueue_in(tx, campaign, contact_id, now)


def reserve_dial(db: Db, campaign: Campaign, now: float) -> float:
    """The time at which this worker may send its next INVITE (``now`` when cps is unlimited)."""
    interval = campaign.dial_interval
    if interval <= 0:
        return now
    with db.write() as tx:
        nxt = tx.value(
            f"UPDATE campaigns SET next_dial_at = {db.dialect.greatest}(next_dial_at, ?) + ? WHERE id = ? "
            "RETURNING next_dial_at", (now, interval, campaign.id))
    return float(nxt) - interval


def claim(db: Db, campaign: Campaign, worker: Worker, now: float, batch: int = 16) -> Claim | Idle:
    """Take the next contact of ``campaign`` that may be dialled now, or say why none can be.

    ``campaign`` gives the settings (fixed at creation); its state (paused or not) is read here.
    """
    d = db.dialect
    with db.write() as tx:
        if _mine(tx, campaign, worker) >= _share(tx, campaign, worker):
            return Idle(reason="lines", until=now)
        slot = tx.value(
            "SELECT s.slot FROM dial_slots s JOIN campaigns c ON c.id = s.campaign_id WHERE s.campaign_id = ? "
            f"AND s.attempt_id IS NULL AND c.state = ? ORDER BY s.slot LIMIT 1{d.skip_locked('s')}",
            (campaign.id, ACTIVE))
        if slot is None:
            state = tx.value("SELECT state FROM campaigns WHERE id = ?", (campaign.id,))
            return Idle(reason="paused") if state != ACTIVE else Idle(reason="lines", until=now)
        # the do-not-call list is read here, in the transaction that takes the contact for its call
        rows = tx.all(
            "SELECT c.id, c.attempts, c.zones, p.phone, p.uri, p.fields_json, d.phone FROM contacts c "
            "JOIN contact_personal p ON p.contact_id = c.id LEFT JOIN dnc d ON d.phone = p.phone "
            "WHERE c.campaign_id = ? AND c.status IN (?, ?) AND c.active_attempt IS NULL AND c.next_at <= ? "
            f"ORDER BY c.next_at, c.id LIMIT ?{d.skip_locked('c')}",
            (campaign.id, *rules.WAITING, now, batch))
        for contact_id, attempts, zones_text, phone, uri, fields, listed in rows:
            zones = _zones(zones_text, campaign)
            if not rules.window_open(campaign.window, zones, now):
                opening = rules.next_opening(campaign.window, zones, now)
                if opening is None:
                    _final(tx, campaign, contact_id, rules.FAILED, "no_calling_window", now)
                else:
                    tx.run("UPDATE contacts SET next_at = ?, updated_at = ? WHERE id = ?", (opening, now, contact_id))
                continue
            if listed is not None:
                _final(tx, campaign, contact_id, rules.DNC, "dnc", now)
                continue
            counted = tx.value(
                "INSERT INTO caller_daily (caller_id, day, calls) VALUES (?, ?, 1) ON CONFLICT (caller_id, day) "
                "DO UPDATE SET calls = caller_daily.calls + 1 WHERE caller_daily.calls < ? RETURNING calls",
                (campaign.caller_id, rules.cap_day(campaign.tz, now), campaign.daily_cap))
            if counted is None:
                tomorrow = rules.next_day_start(campaign.tz, now)
                # every waiting contact of the campaign waits for tomorrow (rows other workers
                # hold are skipped: they meet the cap themselves)
                tx.run("UPDATE contacts SET status = ?, next_at = ?, updated_at = ? WHERE id IN (SELECT id FROM "
                       "contacts WHERE campaign_id = ? AND status IN (?, ?) AND active_attempt IS NULL AND next_at < ?"
                       f"{d.skip_locked('contacts')})", (rules.CAPPED, tomorrow, now, campaign.id, *rules.WAITING,
                                                        tomorrow))
                return Idle(reason="capped", until=tomorrow)
            number = int(attempts) + 1
            attempt_id = int(tx.value(
                "INSERT INTO attempts (contact_id, campaign_id, number, worker, caller_id, state, queued_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
                (contact_id, campaign.id, number, worker.id, campaign.caller_id, DIALLING, now)))
            tx.run("UPDATE contacts SET active_attempt = ?, attempts = ?, status = ?, updated_at = ? WHERE id = ?",
                   (attempt_id, number, rules.PENDING, now, contact_id))
            tx.run("UPDATE dial_slots SET attempt_id = ? WHERE campaign_id = ? AND slot = ?",
                   (attempt_id, campaign.id, slot))
            return Claim(attempt_id=attempt_id, contact_id=int(contact_id), number=number, phone=phone, uri=uri,
                         context=json.loads(fields) | {"phone": phone}, queued_at=now)
        if rows:  # some were pushed to their window: look again at once
            return Idle(reason="waiting", until=now)
        nxt = tx.value("SELECT MIN(next_at) FROM contacts WHERE campaign_id = ? AND status IN (?, ?) "
                       "AND active_attempt IS NULL", (campaign.id, *rules.WAITING))
        if nxt is not None:
            return Idle(reason="waiting", until=float(nxt))
        busy = tx.value("SELECT COUNT(*) FROM contacts WHERE campaign_id = ? AND active_attempt IS NOT NULL",
                        (campaign.id,))
        return Idle(reason="calls" if busy else "done")


def _mine(tx: Tx, campaign: Campaign, worker: Worker) -> int:
    return int(tx.value("SELECT COUNT(*) FROM dial_slots s JOIN attempts a ON a.id = s.attempt_id "
                        "WHERE s.campaign_id = ? AND a.worker = ?", (campaign.id, worker.id)) or 0)


def _share(tx: Tx, campaign: Campaign, worker: Worker) -> int:
    """The lines this worker may hold: ``concurrency`` split evenly (rounded up) among the
    workers registered on the campaign. Without it a worker that has just finished a call takes
    the line again at once, while the others only look every few seconds: one worker made
    56 of 60 calls while a second one stood by."""
    others = int(tx.value("SELECT COUNT(*) FROM workers WHERE campaign_id = ? AND id <> ?",
                          (campaign.id, worker.id)) or 0)
    return -(-campaign.concurrency // (others + 1))


def finish(db: Db, campaign: Campaign, c: Claim, o: AttemptOutcome, dialled_at: float,
           now: float) -> rules.Decision | None:
    """Record how the attempt went and decide the contact's next status (None: the attempt had
    been declared interrupted meanwhile, so only its record is completed)."""
    answered_at = dialled_at + o.setup_s if o.answered else None
    with db.write() as tx:
        # the row lock of this UPDATE orders it with recover(): 'ended' means it was still dialling
        state = tx.value(
            "UPDATE attempts SET state = CASE WHEN state = ? THEN ? ELSE state END, dialled_at = ?, answered_at = ?, "
            "ended_at = ?, kind = ?, sip_status = ?, reason = ?, ended_by = ?, outcome = ?, setup_s = ?, talk_s = ?, "
            "codec = ?, rtp_json = ?, mos = ? WHERE id = ? RETURNING state",
            (DIALLING, ENDED, dialled_at, answered_at, now, o.kind, o.sip_status, o.reason, o.ended_by, o.outcome,
             o.setup_s, o.talk_s, o.codec, json.dumps(dict(o.rtp), default=str), o.mos, c.attempt_id))
        tx.run("INSERT INTO attempt_content (attempt_id, slots_json, transcript_json) VALUES (?, ?, ?)",
               (c.attempt_id, json.dumps(dict(o.slots), ensure_ascii=False, default=str),
                json.dumps([t.as_dict() for t in o.transcript], ensure_ascii=False)))
        tx.run("UPDATE dial_slots SET attempt_id = NULL WHERE attempt_id = ?", (c.attempt_id,))
        if state != ENDED:
            return None
        if o.do_not_call:
            dnc.add_in(tx, c.phone, f"opt-out in campaign {campaign.name}", now)
        decision = rules.decide(o.kind, attempts=c.number, max_attempts=campaign.max_attempts,
                                retry_after=campaign.retry_after, now=now, outcome=o.outcome)
        outcome = (o.outcome or o.kind) if o.answered else o.kind
        if decision.final:
            _final(tx, campaign, c.contact_id, decision.status, outcome, now)
        else:
            tx.run("UPDATE contacts SET status = ?, outcome = ?, next_at = ?, active_attempt = NULL, updated_at = ? "
                   "WHERE id = ?", (decision.status, outcome, decision.retry_at, now, c.contact_id))
        return decision


# ------------------------------------------------------------------------------ workers


def register(db: Db, worker: Worker, now: float, campaign_id: int | None = None) -> None:
    with db.write() as tx:
        tx.run("INSERT INTO workers (id, host, pid, started_at, heartbeat_at, campaign_id) VALUES (?, ?, ?, ?, ?, ?)",
               (worker.id, worker.host, worker.pid, now, now, campaign_id))


def heartbeat(db: Db, worker: Worker, now: float) -> None:
    with db.write() as tx:
        tx.run("UPDATE workers SET heartbeat_at = ? WHERE id = ?", (now, worker.id))


def unregister(db: Db, worker: Worker) -> None:
    with db.write() as tx:
        tx.run("DELETE FROM workers WHERE id = ?", (worker.id,))


def recover(db: Db, now: float, lease: float, alive: Callable[[str, int], bool], clock_now: float) -> int:
    """End the attempts of workers that died (no heartbeat for ``lease`` s, or a process of this
    host that is gone) as ``interrupted``; returns how many. ``now`` is wall time (heartbeats),
    ``clock_now`` the dialer's clock (retry times)."""
    with db.write() as tx:
        dead = [w for w, host, pid, beat in tx.all("SELECT id, host, pid, heartbeat_at FROM workers")
                if float(beat) < now - lease or not alive(host, int(pid))]
        orphans = tx.all(
            "SELECT a.id, a.contact_id, a.number, a.campaign_id, a.worker FROM attempts a "
            "WHERE a.state = ? AND NOT EXISTS (SELECT 1 FROM workers w WHERE w.id = a.worker)"
            + db.dialect.skip_locked("a"),
            (DIALLING,))
        if dead:
            marks = ", ".join("?" for _ in dead)
            orphans += tx.all(f"SELECT id, contact_id, number, campaign_id, worker FROM attempts WHERE state = ? "
                              f"AND worker IN ({marks}){db.dialect.skip_locked('attempts')}", (DIALLING, *dead))
            tx.run(f"DELETE FROM workers WHERE id IN ({marks})", dead)
        campaigns: dict[int, Campaign] = {}
        for attempt_id, contact_id, number, campaign_id, _worker in orphans:
            campaign = campaigns.setdefault(int(campaign_id), get_by_id(tx, int(campaign_id)))
            tx.run("UPDATE attempts SET state = ?, kind = ?, outcome = ?, reason = ? WHERE id = ?",
                   (INTERRUPTED, rules.INTERRUPTED, rules.INTERRUPTED, "the dialer stopped during the call",
                    attempt_id))
            tx.run("UPDATE dial_slots SET attempt_id = NULL WHERE attempt_id = ?", (attempt_id,))
            decision = rules.decide(rules.INTERRUPTED, attempts=int(number), max_attempts=campaign.max_attempts,
                                    retry_after=campaign.retry_after, now=clock_now)
            if decision.final:
                _final(tx, campaign, int(contact_id), decision.status, rules.INTERRUPTED, clock_now)
            else:
                tx.run("UPDATE contacts SET status = ?, outcome = ?, next_at = ?, active_attempt = NULL, "
                       "updated_at = ? WHERE id = ?",
                       (decision.status, rules.INTERRUPTED, decision.retry_at, clock_now, contact_id))
        return len(orphans)
