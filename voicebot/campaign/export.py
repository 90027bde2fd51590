"""Campaign results as files: one row (CSV) or object (JSON) per contact."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import Sequence
from typing import Any

CSV_COLUMNS = ("contact_id", "phone", "name", "status", "outcome", "note", "attempt_count", "attempts")


def iso(t: float | None) -> str | None:
    return None if t is None else dt.datetime.fromtimestamp(t, dt.UTC).isoformat(timespec="milliseconds")


def contact_object(r: dict[str, Any]) -> dict[str, Any]:
    """The exported shape of one contact (``results`` rows from the store)."""
    return {
        "contact_id": r["contact_id"],
        "phone": r["phone"],
        "name": r["name"],
        "status": r["status"],
        "outcome": r["outcome"],
        "note": r["note"],
        "attempts": [
            {"started_at": iso(a["started_at"]), "sip_status": a["sip_status"], "outcome": a["outcome"] or a["kind"],
             "duration_s": None if a["duration_s"] is None else round(a["duration_s"], 3)}
            for a in r["attempts"]
        ],
        "slots": r["slots"],
    }


def to_json(results: Sequence[dict[str, Any]]) -> str:
    return json.dumps([contact_object(r) for r in results], ensure_ascii=False, indent=2, default=str) + "\n"


def to_csv(results: Sequence[dict[str, Any]]) -> str:
    """CSV with the attempts as a JSON list in one column and each slot in a ``slot_<name>`` column."""
    objects = [contact_object(r) for r in results]
    slot_names = sorted({name for o in objects for name in o["slots"]})
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([*CSV_COLUMNS, *(f"slot_{n}" for n in slot_names)])
    for o in objects:
        writer.writerow([
            o["contact_id"], o["phone"], o["name"] or "", o["status"], o["outcome"] or "", o["note"] or "",
            len(o["attempts"]),
            json.dumps(o["attempts"], ensure_ascii=False),
            *("" if o["slots"].get(n) is None else o["slots"][n] for n in slot_names),
        ])
    return out.getvalue()
