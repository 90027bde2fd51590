"""``voicebot data export|erase``: everything held about one person, shown or removed.

``export --phone N`` lists it; ``erase --phone N | --contact ID`` shreds the person's
recordings and transcripts (their encrypted headers and wrapped keys are overwritten before
the files go) and prints what it removed. Recordings are found through the keyed hash of the
person's number or contact id, so the key file (or ``VOICEBOT_RECORDING_KEY``) is needed.
Recordings are looked for under ``--data-dir`` (else ``$VOICEBOT_DATA``, else ``voicebot-data``
beside the campaign database) and under every data directory a campaign records into.
With a campaign database (``--db URL``, else ``$VOICEBOT_DB``, else ``./voicebot.db`` when it
exists) its rows join in: contacts, attempts, transcripts, slots, undelivered CRM messages and
the do-not-call entry are exported, and erased — the do-not-call entry is kept as a keyed
digest, and the contact and attempt rows stay without anything personal, for the statistics.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from voicebot.privacy.campaign_store import campaign_store
from voicebot.privacy.erasure import describe, erase_person, export_person, find_person
from voicebot.privacy.fields import FieldSealer
from voicebot.privacy.keys import require_keyring
from voicebot.privacy.options import add_store_options
from voicebot.privacy.vault import Vault, data_dir


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


def run_export(args: argparse.Namespace) -> int:
    return _run(args, erase=False)


def run_erase(args: argparse.Namespace) -> int:
    return _run(args, erase=True)




def _run(args: argparse.Namespace, *, erase: bool) -> int:
    ring = require_keyring(args.key_file, why=f"data {args.data_command}")
    with campaign_store(args.db, FieldSealer(ring)) as store:
        vaults = [Vault(data_dir(args.data_dir, db=store.db.url if store else None), ring)]
        vaults += [Vault(Path(d), ring) for d in (store.recording_dirs() if store else [])]
        person = find_person(store, phone=args.phone, contact=args.contact)
        report = (erase_person if erase else export_person)(vaults, store, person)
    print(json.dumps(report.as_dict(), default=str) if args.json else "\n".join(describe(report, erased=erase)))
    return 0
