"""The campaign store's schema and its migrations.

:data:`MIGRATIONS` is the ordered list of schema versions; each is a list of statements with
``{pk}``, ``{real}`` and ``{bigint}`` standing for the dialect's spellings. :func:`migrate`
applies the missing ones in one write transaction (on PostgreSQL under an advisory lock, so
workers starting together do not race) and records the version in ``schema_version``.

Personal data lives only in these places, so that erasure and export of one person's data
(and encryption) can find all of it:

* ``contact_personal`` — the phone number, the URI dialled (it holds the number), the name and
  every other CSV column;
* ``attempt_content`` — what a call collected and what was said: slots and transcript;
* ``dnc.phone`` — numbers on the do-not-call list;
* ``outbox.body`` — the result sent to the CRM (phone, slots), kept until delivered;
* ``contacts.note`` — why a row was refused, which may quote what was in its phone column.

Everything else (statuses, counts, SIP results, timings, RTP statistics) is keyed by ids.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from voicebot.store.db import Db

V1 = [
    """CREATE TABLE campaigns (
        id {pk},
        name TEXT NOT NULL UNIQUE,
        flow_path TEXT NOT NULL,
        trunk TEXT,
        caller_id TEXT NOT NULL,
        region TEXT,
        timezone TEXT NOT NULL,
        concurrency INTEGER NOT NULL,
        cps {real} NOT NULL,
        window_start INTEGER NOT NULL,
        window_end INTEGER NOT NULL,
        max_attempts INTEGER NOT NULL,
        retry_after_s {real} NOT NULL,
        ring_timeout_s {real} NOT NULL,
        daily_cap INTEGER NOT NULL,
        webhook_url TEXT,
        webhook_secret TEXT,
        state TEXT NOT NULL,
        next_dial_at {real} NOT NULL DEFAULT 0,
        created_at {real} NOT NULL)""",
    """CREATE TABLE contacts (
        id {pk},
        campaign_id {bigint} NOT NULL REFERENCES campaigns(id),
        line INTEGER NOT NULL,
        status TEXT NOT NULL,
        outcome TEXT,
        note TEXT,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_at {real} NOT NULL DEFAULT 0,
        active_attempt {bigint},
        zones TEXT NOT NULL DEFAULT '',
        updated_at {real} NOT NULL,
        UNIQUE (campaign_id, line))""",
    "CREATE INDEX contacts_due ON contacts (campaign_id, status, next_at)",
    """CREATE TABLE contact_personal (
        contact_id {bigint} PRIMARY KEY REFERENCES contacts(id),
        phone TEXT NOT NULL,
        uri TEXT,
        name TEXT,
        fields_json TEXT NOT NULL)""",
    "CREATE INDEX contact_personal_phone ON contact_personal (phone)",
    """CREATE TABLE attempts (
        id {pk},
        contact_id {bigint} NOT NULL REFERENCES contacts(id),
        campaign_id {bigint} NOT NULL REFERENCES campaigns(id),
        number INTEGER NOT NULL,
        worker TEXT NOT NULL,
        caller_id TEXT NOT NULL,
        state TEXT NOT NULL,
        queued_at {real} NOT NULL,
        dialled_at {real},
        answered_at {real},
        ended_at {real},
        kind TEXT,
        sip_status INTEGER,
        reason TEXT,
        ended_by TEXT,
        outcome TEXT,
        setup_s {real},
        talk_s {real},
        codec TEXT,
        rtp_json TEXT,
        mos {real},
        UNIQUE (contact_id, number))""",
    "CREATE INDEX attempts_campaign ON attempts (campaign_id, state)",
    """CREATE TABLE attempt_content (
        attempt_id {bigint} PRIMARY KEY REFERENCES attempts(id),
        slots_json TEXT NOT NULL,
        transcript_json TEXT NOT NULL)""",
    """CREATE TABLE dial_slots (
        campaign_id {bigint} NOT NULL REFERENCES campaigns(id),
        slot INTEGER NOT NULL,
        attempt_id {bigint},
        PRIMARY KEY (campaign_id, slot))""",
    """CREATE TABLE caller_daily (
        caller_id TEXT NOT NULL,
        day TEXT NOT NULL,
        calls INTEGER NOT NULL,
        PRIMARY KEY (caller_id, day))""",
    """CREATE TABLE dnc (
        phone TEXT PRIMARY KEY,
        source TEXT NOT NULL,
        added_at {real} NOT NULL)""",
    """CREATE TABLE workers (
        id TEXT PRIMARY KEY,
        host TEXT NOT NULL,
        pid INTEGER NOT NULL,
        started_at {real} NOT NULL,
        heartbeat_at {real} NOT NULL)""",
    """CREATE TABLE outbox (
        id {pk},
        campaign_id {bigint} NOT NULL REFERENCES campaigns(id),
        contact_id {bigint} NOT NULL REFERENCES contacts(id),
        url TEXT NOT NULL,
        body TEXT NOT NULL,
        tries INTEGER NOT NULL DEFAULT 0,
        next_at {real} NOT NULL,
        delivered_at {real},
        last_error TEXT,
        created_at {real} NOT NULL)""",
    "CREATE INDEX outbox_due ON outbox (delivered_at, next_at)",
]

# workers say which campaign they dial, so that the lines are shared among them
V2 = ["ALTER TABLE workers ADD COLUMN campaign_id {bigint}"]

MIGRATIONS: list[list[str]] = [V1, V2]
ADVISORY_LOCK = 0x766F6963  # "voic": serialises migrations across PostgreSQL clients


def version(db: Db) -> int:
    with db.read() as tx:
        try:
            return int(tx.value("SELECT MAX(version) FROM schema_version") or 0)
        except Exception:  # no table yet: a fresh database
            return 0


def migrate(db: Db) -> int:
    """Apply every migration the database lacks; returns the schema version now in force."""
    d = db.dialect
    with db.write() as tx:
        if d.name == "postgresql":
            tx.run("SELECT pg_advisory_xact_lock(?)", (ADVISORY_LOCK,))
        tx.run("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL, applied_at TEXT NOT NULL)")
        current = int(tx.value("SELECT COALESCE(MAX(version), 0) FROM schema_version") or 0)
        for number, statements in enumerate(MIGRATIONS, start=1):
            if number <= current:
                continue
            for statement in statements:
                tx.run(statement.format(pk=d.pk, real=d.real, bigint=d.bigint))
            tx.run("INSERT INTO schema_version (version, applied_at) VALUES (?, CURRENT_TIMESTAMP)", (number,))
        return len(MIGRATIONS)
