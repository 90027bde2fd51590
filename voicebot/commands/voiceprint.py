"""``voicebot voiceprint enroll|verify``: a person's voice, enrolled from WAV files and checked.

``enroll --id ID FILE.wav...`` embeds each file's speech with the GE2E speaker encoder and keeps
the person's voiceprint encrypted in their folder of the data directory (``--add`` adds to an
existing print instead of replacing it). ``verify --id ID FILE.wav`` prints the score (cosine
similarity to the print) and the decision. The id is the person's contact id: ``voicebot data
export|erase --contact ID`` lists or removes the print with the rest of their data. Both need
the recording key (``--key-file`` or ``$VOICEBOT_RECORDING_KEY``) and the model (``make setup``
fetches it).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from voicebot.errors import ConfigError
from voicebot.privacy.keys import require_keyring
from voicebot.privacy.options import add_store_options
from voicebot.privacy.vault import Vault, data_dir
from voicebot.privacy.voiceprints import VaultPrintStore
from voicebot.voiceprint.prints import as_dict, check_id
from voicebot.voiceprint.verify import (
    ENROL_MIN_SECONDS,
    FULL_BAND_THRESHOLD,
    MATCH,
    NOT_ENROLLED,
    TELEPHONE_BAND_THRESHOLD,
    VERIFY_MIN_SECONDS,
    Speech,
    SpeechError,
    enroll,
    read_speech,
    verify,
)

EXIT_NO_MATCH = 3
EPILOG = (
    "exit codes: 0 enrolled / match, 3 no match (verify), 1 failure (model missing, damaged print, wrong key), "
    "2 bad arguments or input (silent, too short, not a 16-bit PCM WAV, unknown id, no key)"
)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    vp = subparsers.add_parser(
        "voiceprint",
        help="enrol a person's voice from WAV files, or verify a WAV file against it",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=EPILOG,
    )
    sub = vp.add_subparsers(dest="voiceprint_command", metavar="ACTION", required=True)
    en = sub.add_parser("enroll", help="enrol (or re-enrol) a person from WAV files", epilog=EPILOG)
    en.add_argument("--id", required=True, metavar="ID", help="the person's contact id")
    en.add_argument("files", nargs="+", type=Path, metavar="FILE.wav", help="16-bit PCM WAV files of their speech")
    en.add_argument("--add", action="store_true", help="add to the existing print instead of replacing it")
    en.add_argument("--min-seconds", type=float, default=ENROL_MIN_SECONDS, metavar="S",
                    help=f"speech needed in all files together (default {ENROL_MIN_SECONDS:g})")  # fmt: skip
    en.add_argument("--json", action="store_true", help="print the result as JSON")
    add_store_options(en)
    en.set_defaults(handler=run_enroll)
    ve = sub.add_parser("verify", help="score a WAV file against a person's print", epilog=EPILOG)
    ve.add_argument("--id", required=True, metavar="ID", help="the person's contact id")
    ve.add_argument("file", type=Path, metavar="FILE.wav", help="16-bit PCM WAV file of the speaker to check")
    ve.add_argument("--threshold", type=float, metavar="T",
                    help=f"lowest score that matches (cosine; default {FULL_BAND_THRESHOLD:g} when the file and the "
                    f"print are full band, else {TELEPHONE_BAND_THRESHOLD:g})")  # fmt: skip
    ve.add_argument("--min-seconds", type=float, default=VERIFY_MIN_SECONDS, metavar="S",
                    help=f"speech needed (default {VERIFY_MIN_SECONDS:g})")  # fmt: skip
    ve.add_argument("--json", action="store_true", help="print the result as JSON")
    add_store_options(ve)
    ve.set_defaults(handler=run_verify)


def _store(args: argparse.Namespace) -> VaultPrintStore:
    ring = require_keyring(args.key_file, why="voiceprints (they are kept encrypted)")
    return VaultPrintStore(Vault(data_dir(args.data_dir), ring))


def _seconds(value: float) -> float:
    if not 0.5 <= value <= 600:
        raise ConfigError(f"--min-seconds {value:g}: use 0.5 to 600 seconds")
    return value


def run_enroll(args: argparse.Namespace) -> int:
    from voicebot.voiceprint.encoder import SpeakerEncoder

    person, need = check_id(args.id), _seconds(args.min_seconds)
    store = _store(args)
    speeches: list[Speech] = [read_speech(p).require(0.01) for p in args.files]  # each file: not silent
    total = sum(s.seconds for s in speeches)
    if total < need:
        raise SpeechError(f"too short: {total:.1f} s of speech in {len(speeches)} file(s), at least {need:g} s needed")
    voiceprint = enroll(SpeakerEncoder(), store, person, speeches, add=args.add)
    summary = {**as_dict(voiceprint), "files": [str(p) for p in args.files], "added_seconds": round(total, 2)}
    if args.json:
        print(json.dumps(summary, ensure_ascii=False))
    else:
        print(f"enrolled {person}: {total:.1f} s of speech from {len(speeches)} file(s); the print holds "
              f"{len(voiceprint.utterances)} utterance(s), {voiceprint.seconds:.1f} s")  # fmt: skip
    return 0


def run_verify(args: argparse.Namespace) -> int:
    from voicebot.voiceprint.encoder import SpeakerEncoder

    person, need = check_id(args.id), _seconds(args.min_seconds)
    if args.threshold is not None and not -1.0 <= args.threshold <= 1.0:
        raise ConfigError(f"--threshold {args.threshold:g}: a cosine score threshold is from -1 to 1")
    store = _store(args)
    speech = read_speech(args.file).require(need)
    verdict = verify(SpeakerEncoder(), store, person, speech, min_seconds=need, threshold=args.threshold)
    if verdict.result == NOT_ENROLLED:
        raise ConfigError(
            f"unknown id {person!r}: no voiceprint enrolled under {data_dir(args.data_dir)} "
            f"(enrol with `voicebot voiceprint enroll --id {person} FILE.wav`)"
        )
    if args.json:
        print(json.dumps({"id": person, "file": str(args.file), **verdict.as_dict()}, ensure_ascii=False))
    else:
        assert verdict.score is not None
        print(f"{person}: {verdict.result.replace('_', ' ')} (score {verdict.score:.3f}, threshold "
              f"{verdict.threshold:g} in the {verdict.band} band, {verdict.seconds:.1f} s of speech)")  # fmt: skip
    return 0 if verdict.result == MATCH else EXIT_NO_MATCH
