"""``voicebot recording export|list``: read back encrypted call recordings.

``export ID -o out.wav`` decrypts one recording for whoever holds its key. A wrong key, a
tampered file or one cut short is refused with a one-line reason and nothing is written;
``--partial`` accepts a recording that lost its end (a crash during the call) and writes every
chunk that authenticates. ``list`` shows recording ids (all, or one person's).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from voicebot.errors import ConfigError
from voicebot.privacy.container import KeyUnavailableError, SealedFileError, TamperedError, TruncatedError
from voicebot.privacy.keys import load_keyring, require_keyring
from voicebot.privacy.options import add_store_options
from voicebot.privacy.vault import Vault, contact_subject, data_dir, phone_subject

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_WRONG_KEY, EXIT_TAMPERED, EXIT_TRUNCATED = 0, 1, 2, 3, 4, 5

EXIT_CODES = """exit codes:
  0  done
  1  other failure (the message says why)
  2  bad arguments, no such recording, no key given
  3  wrong key: the recording was encrypted with a key that was not given
  4  tampered or damaged: some byte fails authentication; nothing written
  5  cut short (no final chunk, e.g. a crash during the call); --partial exports what is there
"""


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    rec = subparsers.add_parser(
        "recording",
        help="export or list encrypted call recordings",
        description=__doc__,
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = rec.add_subparsers(dest="recording_command", metavar="ACTION", required=True)
    exp = sub.add_parser("export", help="decrypt one recording to a WAV file", epilog=EXIT_CODES,
                         formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    exp.add_argument("id", metavar="ID", help="recording id (as `serve`/`dial --record` and `recording list` print)")
    exp.add_argument("-o", "--output", type=Path, required=True, metavar="OUT.wav", help="where to write the WAV")
    exp.add_argument("--partial", action="store_true", help="accept a recording that lost its end")
    exp.add_argument("--transcript", type=Path, metavar="OUT.jsonl", help="also write its transcript, if kept")
    add_store_options(exp)
    exp.set_defaults(handler=run_export)

    lst = sub.add_parser("list", help="list recordings (ids, sizes, key ids)")
    who = lst.add_mutually_exclusive_group()
    who.add_argument("--phone", metavar="NUMBER", help="only this number's recordings (needs the key)")
    who.add_argument("--contact", metavar="ID", help="only this campaign contact's recordings (needs the key)")
    lst.add_argument("--json", action="store_true", help="one JSON object per recording")
    add_store_options(lst)
    lst.set_defaults(handler=run_list)


def run_export(args: argparse.Namespace) -> int:
    if not args.output.parent.exists():
        raise ConfigError(f"directory {args.output.parent} does not exist")
    vault = Vault(data_dir(args.data_dir), require_keyring(args.key_file, why="recording export"))
    try:
        header, cut = vault.export_wav(args.id, args.output, partial=args.partial)
        if args.transcript is not None:
            turns = vault.transcript(args.id)
            args.transcript.write_text("".join(json.dumps(t, ensure_ascii=False) + "\n" for t in turns))
    except KeyUnavailableError as exc:
        return _refuse(exc, EXIT_WRONG_KEY)
    except TamperedError as exc:
        return _refuse(exc, EXIT_TAMPERED)
    except TruncatedError as exc:
        return _refuse(ConfigError(f"{exc}; --partial exports what is there"), EXIT_TRUNCATED)
    except SealedFileError as exc:
        return _refuse(exc, EXIT_FAILED)
    note = " (cut short: its end was lost)" if cut else ""
    print(f"wrote {args.output} from recording {args.id} (key {header.key_id}){note}")
    return EXIT_OK


def _refuse(exc: Exception, code: int) -> int:
    print(f"voicebot recording export: {exc}", file=sys.stderr)
    return code


def run_list(args: argparse.Namespace) -> int:
    subject = None
    if args.phone is not None:
        subject = phone_subject(args.phone)
    elif args.contact is not None:
        subject = contact_subject(args.contact)
    ring = (
        require_keyring(args.key_file, why="listing one person's recordings")
        if subject
        else load_keyring(args.key_file)
    )
    for info in Vault(data_dir(args.data_dir), ring).recordings_of(subject):
        if args.json:
            print(json.dumps(info.as_dict()))
        else:
            print(f"{info.id}  {info.modified}  {info.size:>10} B  key {info.key_id}")
    return EXIT_OK
