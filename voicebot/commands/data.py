"""``voicebot data export|erase``: everything held about one person, shown or removed.

``export --phone N`` lists it; ``erase --phone N | --contact ID`` shreds the person's
recordings and transcripts (their encrypted headers and wrapped keys are overwritten before
the files go) and prints what it removed. Recordings are found through the keyed hash of the
person's number or contact id, so the key file (or ``VOICEBOT_RECORDING_KEY``) is needed.
The campaign store's rows (contacts, attempts, transcripts, slots, DNC) join once that store
exists; until then these commands cover the recordings and say so.
"""

from __future__ import annotations

import argparse
import json

from voicebot.privacy.erasure import describe, erase_person, export_person, find_person
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
        add_store_options(p)
        p.set_defaults(handler=handler)


def _vault(args: argparse.Namespace, what: str) -> Vault:
    return Vault(data_dir(args.data_dir), require_keyring(args.key_file, why=what))


def run_export(args: argparse.Namespace) -> int:
    return _run(args, erase=False)


def run_erase(args: argparse.Namespace) -> int:
    return _run(args, erase=True)


def _run(args: argparse.Namespace, *, erase: bool) -> int:
    vault = Vault(data_dir(args.data_dir), require_keyring(args.key_file, why=f"data {args.data_command}"))
    person = find_person(None, phone=args.phone, contact=args.contact)
    report = (erase_person if erase else export_person)(vault, None, person)
    print(json.dumps(report.as_dict()) if args.json else "\n".join(describe(report, erased=erase)))
    return 0
