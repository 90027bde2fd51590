"""Persistence: the database (SQLite or PostgreSQL, :mod:`voicebot.store.db`) with its schema and
migrations, the do-not-call list, callee profiles (Redis). The campaign's own queries (campaigns,
claims, the webhook outbox) live in :mod:`voicebot.campaign`, above this package."""

from __future__ import annotations

import os

from voicebot.store.db import Db, connect
from voicebot.store.schema import migrate

DEFAULT_DB = "voicebot.db"


def db_url(explicit: str | None) -> str:
    """``--db`` when given, else ``$VOICEBOT_DB``, else ``voicebot.db`` in the current directory."""
    return explicit or os.environ.get("VOICEBOT_DB") or DEFAULT_DB


def open_db(url: str) -> Db:
    """Connect to ``url`` and bring its schema up to date (see :mod:`voicebot.store.schema`)."""
    db = connect(url)
    try:
        migrate(db)
    except BaseException:
        db.close()
        raise
    return db


__all__ = ["DEFAULT_DB", "Db", "db_url", "open_db"]
