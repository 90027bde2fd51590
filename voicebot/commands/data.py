"""``voicebot data export|erase``: everything held about one person, shown or removed.

``export --phone N`` lists it; ``erase --phone N | --contact ID`` shreds the person's
recordings and transcripts (their encrypted headers and wrapped keys are overwritten before
the files go) and prints what it removed. Recordings are found through the keyed hash of the
person's number or contact id, so the key file (or ``VOICEBOT_RECORDING_KEY``) is needed.
With a campaign database (``--db URL``, else ``$VOICEBOT_DB``, else ``./voicebot.db`` when it
exists) its rows join in: contacts, attempts, transcripts, slots, undelivered CRM messages and
the do-not-call entry are exported, and erased — the do-not-call entry is kept as a keyed
digest, and the contact and attempt rows stay without anything personal, for the statistics.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
from collections.abc import Iterator
from pathlib import Path

from voicebot.privacy.campaign_store import CampaignPersonalStore
from voicebot.privacy.erasure import PersonalStore, describe, erase_person, export_person, find_person
from voicebot.privacy.keys import require_keyring
from voicebot.privacy.options import add_store_options
from voicebot.privacy.vault import Vault, data_dir
from voicebot.store import DEFAULT_DB, open_db


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    data = subparsers.add_parser(
        "data",
        help="export or erase everything held about one person",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="exit codes: 0 done, 1 failure, 2 bad arguments (or no key)",
    )
    sub = data.add_subparsers(dest="data_command", metavar="ACTION", required=True)
    for name, helptext, handler in (
        ("export", "show what is held about one person", run_export),
        ("erase", "remove one person's recordings and data", run_erase),
    ):
        p = sub.add_parser(name, help=helptext)
        who = p.add_mutually_exclusive_group(required=True)
        who.add_argument("--phone", metavar="NUMBER", help="the person's telephone number")
        who.add_argument("--contact", metavar="ID", help="a campaign contact id")
        p.add_argument("--json", action="store_true", help="print the result as JSON")
        p.add_argument(
            "--db", metavar="URL", help="campaign database (default $VOICEBOT_DB, else ./voicebot.db if any)"
        )
        add_store_options(p)
        p.set_defaults(handler=handler)


def _vault(args: argparse.Namespace, what: str) -> Vault:
    return Vault(data_dir(args.data_dir), require_keyring(args.key_file, why=what))


def run_export(args: argparse.Namespace) -> int:
    return _run(args, erase=False)


def run_erase(args: argparse.Namespace) -> int:
    return _run(args, erase=True)


@contextlib.contextmanager
def _store(explicit: str | None) -> Iterator[PersonalStore | None]:
    url = explicit or os.environ.get("VOICEBOT_DB") or (DEFAULT_DB if Path(DEFAULT_DB).exists() else None)
    if url is None:
        yield None
        return
    with open_db(url) as db:
        yield CampaignPersonalStore(db)


def _run(args: argparse.Namespace, *, erase: bool) -> int:
    vault = Vault(data_dir(args.data_dir), require_keyring(args.key_file, why=f"data {args.data_command}"))
    with _store(args.db) as store:
        person = find_person(store, phone=args.phone, contact=args.contact)
        report = (erase_person if erase else export_person)(vault, store, person)
    print(json.dumps(report.as_dict(), default=str) if args.json else "\n".join(describe(report, erased=erase)))
    return 0
