"""The campaign store's side of a person's data (:class:`~voicebot.privacy.erasure.PersonalStore`).

:mod:`voicebot.store.schema` keeps personal data in a few places only: ``contact_personal``
(number, URI, name, CSV columns), ``attempt_content`` (slots, transcript), ``dnc.phone``,
``outbox.body`` and ``contacts.note``. Export reads them; erasure, in one write transaction,
deletes the personal and content rows and the undelivered outbox messages, clears the notes,
and turns the do-not-call entry into its keyed digest. What stays — contact and attempt rows
with statuses, SIP results, timings, RTP statistics — carries no number, name or words, so the
campaign's counts and reports still add up.

Deleted rows must not linger in the files either: SQLite runs with ``secure_delete`` for the
erasure (freed pages are zeroed) and its write-ahead log is checkpointed and truncated
afterwards; PostgreSQL's dead rows are vacuumed.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from voicebot.store.db import Db, Tx

PERSONAL_TABLES = ("contact_personal", "attempt_content", "outbox", "dnc")


def _marks(n: int) -> str:
    return ",".join("?" * n)


class CampaignPersonalStore:
    """:class:`~voicebot.privacy.erasure.PersonalStore` over the campaign database."""

    def __init__(self, db: Db) -> None:
        self.db = db

    def contacts_for_phone(self, phone: str) -> list[str]:
        with self.db.read() as tx:
            rows = tx.all("SELECT contact_id FROM contact_personal WHERE phone = ? ORDER BY contact_id", (phone,))
        return [str(r[0]) for r in rows]

    def person_records(self, contact_ids: Sequence[str], phone: str | None) -> dict[str, list[dict[str, Any]]]:
        ids = [int(c) for c in contact_ids if str(c).isdigit()]
        out: dict[str, list[dict[str, Any]]] = {"contacts": [], "attempts": [], "transcripts": [], "slots": [],
                                                "outbox": [], "dnc": []}  # fmt: skip
        with self.db.read() as tx:
            if ids:
                q = _marks(len(ids))
                for row in tx.all(
                    "SELECT c.id, k.name, c.status, c.outcome, c.attempts, p.phone, p.uri, p.name, p.fields_json "
                    "FROM contacts c JOIN campaigns k ON k.id = c.campaign_id "
                    f"LEFT JOIN contact_personal p ON p.contact_id = c.id WHERE c.id IN ({q}) ORDER BY c.id",
                    ids,
                ):
                    names = ("id", "campaign", "status", "outcome", "attempts", "phone", "uri", "name", "fields")
                    entry = dict(zip(names, row, strict=True))
                    entry["fields"] = json.loads(entry["fields"]) if entry["fields"] else {}
                    out["contacts"].append(entry)
                keys = ("id", "contact", "number", "state", "kind", "sip_status", "reason", "outcome", "dialled_at",
                        "talk_s", "mos")  # fmt: skip
                out["attempts"] = [
                    dict(zip(keys, r, strict=True))
                    for r in tx.all(
                        "SELECT id, contact_id, number, state, kind, sip_status, reason, outcome, dialled_at, talk_s, "
                        f"mos FROM attempts WHERE contact_id IN ({q}) ORDER BY id",
                        ids,
                    )
                ]
                for attempt, slots, transcript in tx.all(
                    "SELECT t.attempt_id, t.slots_json, t.transcript_json FROM attempt_content t "
                    f"JOIN attempts a ON a.id = t.attempt_id WHERE a.contact_id IN ({q}) ORDER BY t.attempt_id",
                    ids,
                ):
                    out["slots"].append({"attempt": attempt, "slots": json.loads(slots)})
                    out["transcripts"].append({"attempt": attempt, "turns": json.loads(transcript)})
                out["outbox"] = [
                    {"id": r[0], "url": r[1], "delivered_at": r[2], "body": json.loads(r[3])}
                    for r in tx.all(
                        f"SELECT id, url, delivered_at, body FROM outbox WHERE contact_id IN ({q}) ORDER BY id", ids
                    )
                ]
            if phone:
                out["dnc"] = [
                    {"phone": r[0], "source": r[1], "added_at": r[2]}
                    for r in tx.all("SELECT phone, source, added_at FROM dnc WHERE phone = ?", (phone,))
                ]
        return out

    def scrub_person(self, contact_ids: Sequence[str], phone: str | None, dnc_digest: str | None) -> dict[str, int]:
        ids = [int(c) for c in contact_ids if str(c).isdigit()]
        counts = dict.fromkeys(("contacts", "transcripts", "outbox", "dnc"), 0)
        sqlite = self.db.dialect.name == "sqlite"
        if sqlite:
            with self.db.read() as tx:  # a connection setting, outside any transaction
                tx.run("PRAGMA secure_delete = ON")
        with self.db.write() as tx:
            if ids:
                q = _marks(len(ids))
                counts["transcripts"] = tx.run(
                    "DELETE FROM attempt_content WHERE attempt_id IN "
                    f"(SELECT id FROM attempts WHERE contact_id IN ({q}))",
                    ids,
                )
                counts["contacts"] = tx.run(f"DELETE FROM contact_personal WHERE contact_id IN ({q})", ids)
                tx.run(f"UPDATE contacts SET note = NULL WHERE id IN ({q})", ids)
                counts["outbox"] = tx.run(f"DELETE FROM outbox WHERE contact_id IN ({q})", ids)
            if phone:
                counts["dnc"] = self._dnc_to_digest(tx, phone, dnc_digest)
        self._purge(sqlite)
        return counts

    @staticmethod
    def _dnc_to_digest(tx: Tx, phone: str, digest: str | None) -> int:
        """The person asked not to be called: the entry stays, as a digest nobody can read back."""
        if digest is None:
            return tx.run("DELETE FROM dnc WHERE phone = ?", (phone,))
        keep = f"erased:{digest}"
        if tx.value("SELECT 1 FROM dnc WHERE phone = ?", (keep,)) is not None:
            return tx.run("DELETE FROM dnc WHERE phone = ?", (phone,))
        return tx.run("UPDATE dnc SET phone = ?, source = 'erased on request' WHERE phone = ?", (keep, phone))

    def _purge(self, sqlite: bool) -> None:
        """Leave no copy of the deleted rows in the database files (reads run outside transactions)."""
        with self.db.read() as tx:
            if sqlite:
                tx.run("PRAGMA wal_checkpoint(TRUNCATE)")
            else:
                for table in (*PERSONAL_TABLES, "contacts"):
                    tx.run(f"VACUUM {table}")


__all__ = ["CampaignPersonalStore"]
