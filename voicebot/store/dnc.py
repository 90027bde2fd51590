"""The do-not-call list: E.164 numbers (or URIs) that no campaign may dial.

The dialer checks it inside the claim transaction, just before each dial, so a number added
while a campaign runs is never dialled again. ``phone`` is personal data.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from voicebot.store.db import Db, Tx


def contains(tx: Tx, phone: str) -> bool:
    return tx.value("SELECT 1 FROM dnc WHERE phone = ?", (phone,)) is not None


def add_in(tx: Tx, phone: str, source: str, now: float) -> bool:
    """Add inside an open transaction; False when the number was already listed."""
    return tx.run("INSERT INTO dnc (phone, source, added_at) VALUES (?, ?, ?) ON CONFLICT (phone) DO NOTHING",
                  (phone, source, now)) > 0


def add(db: Db, phones: Iterable[str], source: str, now: float) -> int:
    """Add numbers; returns how many were new."""
    with db.write() as tx:
        return sum(add_in(tx, p, source, now) for p in phones)


def remove(db: Db, phone: str) -> bool:
    with db.write() as tx:
        return tx.run("DELETE FROM dnc WHERE phone = ?", (phone,)) > 0


def entries(db: Db) -> list[tuple[str, str, float]]:
    with db.read() as tx:
        rows = tx.all("SELECT phone, source, added_at FROM dnc ORDER BY phone")
    return [(str(p), str(s), float(a)) for p, s, a in rows]
