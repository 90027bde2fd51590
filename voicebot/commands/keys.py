"""``voicebot keys generate|rotate|list``: the master keys that encrypt recordings.

``generate -o FILE`` writes a new key file (refusing to overwrite one); ``generate --print``
prints one key for ``VOICEBOT_RECORDING_KEY``. ``rotate`` adds a new current key to the key
file, re-encrypts every recording and transcript under the data directory with it (each gets a
new data key too), and then drops the old keys from the file unless ``--keep-old``; a file it
cannot read keeps the old keys in place and is named.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from voicebot.errors import ConfigError
from voicebot.privacy.container import SealedFileError
from voicebot.privacy.keys import ENV_KEY_FILE, Keyring, MasterKey, load_keyring
from voicebot.privacy.options import add_store_options
from voicebot.privacy.vault import Vault, data_dir

EXIT_OK, EXIT_FAILED = 0, 1


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    keys = subparsers.add_parser(
        "keys",
        help="make and rotate the keys that encrypt recordings",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="exit codes: 0 done, 1 some files could not be re-encrypted (named), 2 bad arguments",
    )
    sub = keys.add_subparsers(dest="keys_command", metavar="ACTION", required=True)
    gen = sub.add_parser("generate", help="make a new key file (or print one key)")
    target = gen.add_mutually_exclusive_group(required=True)
    target.add_argument("-o", "--output", type=Path, metavar="FILE", help="write a new key file here")
    target.add_argument("--print", action="store_true", help="print one key for VOICEBOT_RECORDING_KEY")
    gen.set_defaults(handler=run_generate)

    rot = sub.add_parser("rotate", help="new current key; re-encrypt every recording with it")
    add_store_options(rot)
    rot.add_argument("--keep-old", action="store_true", help="keep the old keys in the file (to read backups)")
    rot.add_argument("--json", action="store_true", help="print the result as JSON")
    rot.set_defaults(handler=run_rotate)

    lst = sub.add_parser("list", help="show the keys' ids (never the keys)")
    lst.add_argument("--key-file", type=Path, metavar="FILE", help=f"key file (default ${ENV_KEY_FILE})")
    lst.set_defaults(handler=run_list)


def run_generate(args: argparse.Namespace) -> int:
    if args.print:
        key = MasterKey.generate()
        print(key.encoded())
        print(f"key id {key.id}", file=sys.stderr)
        return EXIT_OK
    path = Path(args.output)
    if path.exists():
        raise ConfigError(f"{path} exists; `voicebot keys rotate --key-file {path}` adds a new key to it")
    if not path.parent.exists():
        raise ConfigError(f"directory {path.parent} does not exist")
    ring = Keyring.new()
    ring.save(path)
    print(f"wrote {path} (mode 600) with key {ring.current_id}; keep it away from the data directory")
    return EXIT_OK


def run_rotate(args: argparse.Namespace) -> int:
    new_file = args.key_file is not None and not args.key_file.exists()  # moving an environment key into a file
    ring = load_keyring(None if new_file else args.key_file)
    if ring is None:
        raise ConfigError("keys rotate needs the current keys: --key-file FILE (or VOICEBOT_KEY_FILE / "
                          "VOICEBOT_RECORDING_KEY, then --key-file names the file to write)")  # fmt: skip
    target = args.key_file or ring.file
    if target is None:
        raise ConfigError("the key comes from VOICEBOT_RECORDING_KEY: give --key-file FILE to write the new key to")
    vault = Vault(data_dir(args.data_dir), ring)
    old = [*sorted(k for k in ring.keys if k != ring.current_id), ring.current_id]
    new = MasterKey.generate()
    ring.add(new, current=True)
    ring.save(target)  # the new key is safe on disk before any file depends on it
    files = vault.all_files()
    done, failed = 0, []
    for i, path in enumerate(files, 1):
        try:
            done += vault.reencrypt(path)
        except SealedFileError as exc:
            failed.append(f"{path.name}: {exc}")
        if sys.stderr.isatty() or i == len(files) or i % 100 == 0:
            print(f"\rre-encrypted {i}/{len(files)}", end="" if i < len(files) else "\n", file=sys.stderr)
    retired: list[str] = []
    if not failed and not args.keep_old:
        retired = ring.retire_all_but_current()
        ring.save(target)
    result = {"key_file": str(target), "new_key": new.id, "old_keys": old, "reencrypted": done,
              "failed": failed, "retired": retired}  # fmt: skip
    if args.json:
        print(json.dumps(result))
    else:
        print(f"new current key {new.id} in {target}; re-encrypted {done} file(s) under {vault.root}")
        if retired:
            print(f"removed old key(s) {', '.join(retired)} from {target}")
        for line in failed:
            print(f"not re-encrypted (old keys kept): {line}", file=sys.stderr)
    return EXIT_FAILED if failed else EXIT_OK


def run_list(args: argparse.Namespace) -> int:
    ring = load_keyring(args.key_file)
    if ring is None:
        raise ConfigError("no keys: give --key-file FILE or set VOICEBOT_KEY_FILE / VOICEBOT_RECORDING_KEY")
    for key in ring.keys.values():
        mark = "current" if key.id == ring.current_id else "old"
        print(f"{key.id}  {mark:7}  {key.created or '-'}")
    return EXIT_OK
