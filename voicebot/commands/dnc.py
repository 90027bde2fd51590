"""``voicebot dnc add|remove|list|import``: the do-not-call list every campaign checks.

Numbers are stored in E.164 (national numbers need ``--region``); ``sip:`` URIs whose user part
is a number are stored as that number. ``import FILE`` reads one number per line, or a CSV
with a ``phone`` column. Exit codes: 0 done, 1 failure, 2 bad arguments (a bad number included).
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import time
from pathlib import Path

from voicebot.errors import ConfigError
from voicebot.store import db_url, dnc, open_db


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser("dnc", help="the do-not-call list", description=__doc__,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="dnc_command", metavar="SUBCOMMAND", required=True)
    for name, what, handler in (
        ("add", "add a number", run_add),
        ("remove", "remove a number", run_remove),
        ("list", "print the list", run_list),
        ("import", "add every number of a file", run_import),
    ):
        sp = sub.add_parser(name, help=what, description=what)
        sp.add_argument("--db", metavar="URL", help="database (default $VOICEBOT_DB or ./voicebot.db)")
        sp.set_defaults(handler=handler)
        if name in ("add", "remove", "import"):
            sp.add_argument("--region", metavar="CC", help="country of national numbers, e.g. FR")
        if name in ("add", "remove"):
            sp.add_argument("number", metavar="NUMBER")
        if name == "import":
            sp.add_argument("file", type=Path, metavar="FILE")
        if name == "list":
            sp.add_argument("--json", action="store_true")


def key(text: str, region: str | None) -> str:
    """The list's key for a number or URI as a person writes it."""
    from voicebot.campaign.contacts import normalize_number, phone_key
    from voicebot.errors import RemoteProtocolError

    text = text.strip()
    if text.lower().startswith(("sip:", "sips:")):
        try:
            return phone_key(text, region)
        except RemoteProtocolError:
            raise ConfigError(f"{text!r} is not a valid SIP URI") from None
    return normalize_number(text, region)


def run_add(args: argparse.Namespace) -> int:
    number = key(args.number, args.region)
    with open_db(db_url(args.db)) as db:
        new = dnc.add(db, [number], "dnc add", time.time())
    print(f"{number}: {'added' if new else 'already listed'}")
    return 0


def run_remove(args: argparse.Namespace) -> int:
    number = key(args.number, args.region)
    with open_db(db_url(args.db)) as db:
        gone = dnc.remove(db, number)
    print(f"{number}: {'removed' if gone else 'was not listed'}")
    return 0


def run_list(args: argparse.Namespace) -> int:
    with open_db(db_url(args.db)) as db:
        rows = dnc.entries(db)
    if args.json:
        print(json.dumps([{"phone": p, "source": s, "added_at": a} for p, s, a in rows]))
    for phone, source, added in rows if not args.json else ():
        print(f"{phone}\t{dt.datetime.fromtimestamp(added, dt.UTC):%Y-%m-%d %H:%M}Z\t{source}")
    return 0


def _numbers(path: Path) -> list[tuple[int, str]]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text") from None
    lines = text.splitlines()
    if lines and "phone" in [h.strip() for h in lines[0].split(",")]:
        reader = csv.DictReader(lines)
        reader.fieldnames = [h.strip() for h in reader.fieldnames or []]
        return [(i + 2, (row.get("phone") or "").strip()) for i, row in enumerate(reader)]
    return [(i + 1, line.strip()) for i, line in enumerate(lines) if line.strip() and not line.startswith("#")]


def run_import(args: argparse.Namespace) -> int:
    numbers, bad = [], []
    for line, raw in _numbers(args.file):
        try:
            numbers.append(key(raw, args.region))
        except ConfigError as exc:
            bad.append(f"{args.file}:{line}: {exc}")
    if bad:  # nothing is imported from a file with mistakes: fix it and import again
        raise ConfigError(f"{len(bad)} bad line(s), nothing imported:\n  " + "\n  ".join(bad))
    with open_db(db_url(args.db)) as db:
        new = dnc.add(db, numbers, f"import {args.file.name}", time.time())
    print(f"{args.file}: {len(numbers)} numbers, {new} new")
    return 0
