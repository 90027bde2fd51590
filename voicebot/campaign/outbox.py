"""The CRM webhook outbox: each final result is written here in the same transaction that
makes it final, and delivered later (any worker may deliver; a delivery being attempted is
leased by moving ``next_at`` forward, so two workers do not send the same row at once).

``body`` is the JSON sent, fixed when the row is written (it holds personal data).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING

from voicebot.campaign.campaigns import contact_results

if TYPE_CHECKING:
    from voicebot.campaign.settings import Campaign
    from voicebot.store.db import Db, Tx


@dataclass(frozen=True, slots=True, kw_only=True)
class Delivery:
    id: int
    url: str
    body: bytes
    tries: int
    secret: str | None


def enqueue_in(tx: Tx, campaign: Campaign, contact_id: int, now: float) -> None:
    """Queue the contact's final result for the campaign's CRM URL (nothing when it has none)."""
    if not campaign.webhook_url:
        return
    result = contact_results(tx, campaign.id, [contact_id])[0]
    body = {"event": "contact.final", "campaign": campaign.name, "sent_for": now, **result}
    tx.run(
        "INSERT INTO outbox (campaign_id, contact_id, url, body, next_at, created_at) VALUES (?, ?, ?, ?, ?, ?)",
        (campaign.id, contact_id, campaign.webhook_url, json.dumps(body, ensure_ascii=False, default=str), now, now),
    )


def take_due(db: Db, campaign_id: int, now: float, lease: float, limit: int = 16) -> list[Delivery]:
    """Lease up to ``limit`` due deliveries of one campaign for ``lease`` seconds."""
    with db.write() as tx:
        rows = tx.all(
            "SELECT o.id, o.url, o.body, o.tries, c.webhook_secret FROM outbox o "
            "JOIN campaigns c ON c.id = o.campaign_id WHERE o.campaign_id = ? AND o.delivered_at IS NULL "
            "AND o.next_at <= ? ORDER BY o.next_at, o.id LIMIT ?"
            + db.dialect.skip_locked("o"),
            (campaign_id, now, limit),
        )
        for row in rows:
            tx.run("UPDATE outbox SET next_at = ? WHERE id = ?", (now + lease, row[0]))
    return [Delivery(id=int(i), url=u, body=str(b).encode(), tries=int(t), secret=s) for i, u, b, t, s in rows]


def delivered(db: Db, delivery_id: int, now: float) -> None:
    with db.write() as tx:
        tx.run("UPDATE outbox SET delivered_at = ?, tries = tries + 1, last_error = NULL WHERE id = ?",
               (now, delivery_id))


def failed(db: Db, delivery_id: int, error: str, retry_at: float) -> None:
    with db.write() as tx:
        tx.run("UPDATE outbox SET tries = tries + 1, last_error = ?, next_at = ? WHERE id = ?",
               (error[:500], retry_at, delivery_id))


def pending(db: Db, campaign_id: int) -> tuple[int, float | None]:
    """Undelivered rows and when the next one is due."""
    with db.read() as tx:
        row = tx.one("SELECT COUNT(*), MIN(next_at) FROM outbox WHERE campaign_id = ? AND delivered_at IS NULL",
                     (campaign_id,))
    assert row is not None
    return int(row[0]), (float(row[1]) if row[1] is not None else None)
