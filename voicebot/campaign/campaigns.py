"""Campaigns, their contacts and results in the store (no dialling here: see claims.py)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from voicebot.campaign.rules import FINAL, INVALID, PENDING, STATUSES
from voicebot.campaign.settings import ACTIVE, Campaign
from voicebot.campaign.spec import Window
from voicebot.errors import ConfigError

if TYPE_CHECKING:
    from voicebot.campaign.contacts import Contact
    from voicebot.store.db import Db, Tx

_COLUMNS = (
    "id, name, flow_path, trunk, caller_id, region, timezone, concurrency, cps, window_start, window_end, "
    "max_attempts, retry_after_s, ring_timeout_s, daily_cap, webhook_url, webhook_secret, state"
)


def _campaign(row: Sequence[Any]) -> Campaign:
    (cid, name, flow, trunk, caller, region, tz, conc, cps, ws, we, maxa, retry, ring, cap, url, secret, state) = row
    return Campaign(
        id=int(cid), name=name, flow_path=flow, trunk=trunk, caller_id=caller, region=region, timezone=tz,
        concurrency=int(conc), cps=float(cps), window=Window(start=int(ws), end=int(we)), max_attempts=int(maxa),
        retry_after=float(retry), ring_timeout=float(ring), daily_cap=int(cap), webhook_url=url,
        webhook_secret=secret, state=state,
    )


def create(db: Db, c: Campaign, contacts: Iterable[Contact], now: float) -> int:
    """Store a new campaign with its contacts (bad rows as ``invalid``); returns its id."""
    with db.write() as tx:
        if tx.value("SELECT id FROM campaigns WHERE name = ?", (c.name,)) is not None:
            raise ConfigError(f"campaign {c.name!r} already exists")
        cid = int(tx.value(
            "INSERT INTO campaigns (name, flow_path, trunk, caller_id, region, timezone, concurrency, cps, "
            "window_start, window_end, max_attempts, retry_after_s, ring_timeout_s, daily_cap, webhook_url, "
            "webhook_secret, state, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "RETURNING id",
            (c.name, c.flow_path, c.trunk, c.caller_id, c.region, c.timezone, c.concurrency, c.cps,
             c.window.start, c.window.end, c.max_attempts, c.retry_after, c.ring_timeout, c.daily_cap,
             c.webhook_url, c.webhook_secret, ACTIVE, now),
        ))
        for slot in range(c.concurrency):
            tx.run("INSERT INTO dial_slots (campaign_id, slot) VALUES (?, ?)", (cid, slot))
        for contact in contacts:
            status, outcome = (PENDING, None) if contact.error is None else (INVALID, INVALID)
            kid = tx.value(
                "INSERT INTO contacts (campaign_id, line, status, outcome, note, zones, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
                (cid, contact.line, status, outcome, contact.error, ",".join(contact.zones), now),
            )
            tx.run(
                "INSERT INTO contact_personal (contact_id, phone, uri, name, fields_json) VALUES (?, ?, ?, ?, ?)",
                (kid, contact.phone, contact.uri, contact.name, json.dumps(dict(contact.fields), ensure_ascii=False)),
            )
        return cid


def get(db: Db, name: str) -> Campaign:
    with db.read() as tx:
        row = tx.one(f"SELECT {_COLUMNS} FROM campaigns WHERE name = ?", (name,))
    if row is None:
        raise ConfigError(f"no campaign named {name!r} (see: voicebot campaign list)")
    return _campaign(row)


def get_by_id(tx: Tx, cid: int) -> Campaign:
    row = tx.one(f"SELECT {_COLUMNS} FROM campaigns WHERE id = ?", (cid,))
    assert row is not None
    return _campaign(row)


def all_campaigns(db: Db) -> list[Campaign]:
    with db.read() as tx:
        return [_campaign(r) for r in tx.all(f"SELECT {_COLUMNS} FROM campaigns ORDER BY id")]


def set_state(db: Db, name: str, state: str) -> Campaign:
    c = get(db, name)
    with db.write() as tx:
        tx.run("UPDATE campaigns SET state = ? WHERE id = ?", (state, c.id))
    return get(db, name)


def counts(db: Db, cid: int) -> dict[str, Any]:
    """Contacts by status and by outcome, calls in flight, attempts made."""
    with db.read() as tx:
        by_status = dict.fromkeys(STATUSES, 0)
        by_status.update({s: int(n) for s, n in tx.all(
            "SELECT status, COUNT(*) FROM contacts WHERE campaign_id = ? GROUP BY status", (cid,))})
        outcomes = {o or "": int(n) for o, n in tx.all(
            "SELECT outcome, COUNT(*) FROM contacts WHERE campaign_id = ? AND status IN (?, ?, ?, ?) "
            "GROUP BY outcome ORDER BY COUNT(*) DESC", (cid, *FINAL))}
        in_flight = int(tx.value(
            "SELECT COUNT(*) FROM attempts WHERE campaign_id = ? AND state = 'dialling'", (cid,)) or 0)
        attempts = int(tx.value("SELECT COUNT(*) FROM attempts WHERE campaign_id = ?", (cid,)) or 0)
        undelivered = int(tx.value(
            "SELECT COUNT(*) FROM outbox WHERE campaign_id = ? AND delivered_at IS NULL", (cid,)) or 0)
    total = sum(by_status.values())
    final = sum(by_status[s] for s in FINAL)
    return {"contacts": total, "final": final, "status": by_status, "outcomes": outcomes,
            "in_flight": in_flight, "attempts": attempts, "webhooks_pending": undelivered}


_ATTEMPT_FIELDS = ("queued_at, dialled_at, answered_at, ended_at, state, kind, sip_status, reason, ended_by, "
                   "outcome, setup_s, talk_s, codec, rtp_json, mos, worker, caller_id")


def _attempt(row: Sequence[Any]) -> dict[str, Any]:
    (number, queued, dialled, answered, ended, state, kind, sip, reason, by, outcome, setup, talk, codec, rtp, mos,
     worker, caller) = row
    duration = (float(setup or 0) + float(talk or 0)) if ended is not None else None
    return {
        "number": number, "started_at": dialled if dialled is not None else queued, "queued_at": queued,
        "dialled_at": dialled, "answered_at": answered, "ended_at": ended, "state": state, "kind": kind,
        "sip_status": sip, "reason": reason, "ended_by": by, "outcome": outcome, "setup_s": setup, "talk_s": talk,
        "duration_s": duration, "codec": codec, "rtp": json.loads(rtp) if rtp else None, "mos": mos,
        "worker": worker, "caller_id": caller,
    }


def contact_results(tx: Tx, cid: int, contact_ids: Sequence[int] | None = None) -> list[dict[str, Any]]:
    """One object per contact as export and the CRM webhook give it: id, phone, name, status,
    outcome, the attempts (with their call records) and the flow's slots of the last answered call."""
    where, params = "c.campaign_id = ?", [cid]
    if contact_ids is not None:
        where += f" AND c.id IN ({', '.join('?' for _ in contact_ids)})"
        params += list(contact_ids)
    rows = tx.all(
        "SELECT c.id, c.line, c.status, c.outcome, c.note, c.attempts, p.phone, p.name, p.fields_json FROM contacts c "
        f"JOIN contact_personal p ON p.contact_id = c.id WHERE {where} ORDER BY c.id", params)
    by_contact: dict[int, list[dict[str, Any]]] = {int(r[0]): [] for r in rows}
    slots: dict[int, dict[str, Any]] = {}
    transcripts: dict[int, list[Any]] = {}
    if rows:
        marks = ", ".join("?" for _ in by_contact)
        for r in tx.all(
            f"SELECT a.contact_id, a.number, {', '.join('a.' + f for f in _ATTEMPT_FIELDS.split(', '))}, "
            "t.slots_json, t.transcript_json FROM attempts a LEFT JOIN attempt_content t ON t.attempt_id = a.id "
            f"WHERE a.contact_id IN ({marks}) ORDER BY a.contact_id, a.number", list(by_contact)):
            kid = int(r[0])
            attempt = _attempt(r[1:-2])
            by_contact[kid].append(attempt)
            if r[-2] is not None and attempt["kind"] == "answered":
                slots[kid] = json.loads(r[-2])
                transcripts[kid] = json.loads(r[-1])
    out = []
    for kid, line, status, outcome, note, attempts, phone, name, fields in rows:
        out.append({
            "contact_id": int(kid), "line": int(line), "phone": phone, "name": name, "status": status,
            "outcome": outcome, "note": note, "attempt_count": int(attempts), "attempts": by_contact[int(kid)],
            "slots": slots.get(int(kid), {}), "transcript": transcripts.get(int(kid), []),
            "fields": json.loads(fields),
        })
    return out


def results(db: Db, cid: int) -> list[dict[str, Any]]:
    with db.read() as tx:
        return contact_results(tx, cid)


def invalid_rows(db: Db, cid: int) -> list[tuple[int, str]]:
    with db.read() as tx:
        return [(int(line), str(why)) for line, why in tx.all(
            "SELECT line, note FROM contacts WHERE campaign_id = ? AND status = ? ORDER BY line", (cid, INVALID))]


def not_final(db: Db, cid: int) -> int:
    with db.read() as tx:
        return int(tx.value("SELECT COUNT(*) FROM contacts WHERE campaign_id = ? AND status NOT IN (?, ?, ?, ?)",
                            (cid, *FINAL)) or 0)

