"""The recording options of ``serve`` and ``dial`` (and later ``campaign``), in one place.

``--record`` records every call encrypted under the data directory, in the far end's folder
(:mod:`voicebot.privacy.vault`); it refuses to start without a key. ``--record-wav OUT.wav``
is the explicit way to get a plain, unencrypted WAV instead. A command adds the options with
:func:`add_recording_options`, turns the parsed arguments into a :class:`CallRecording` before
it starts (so a missing key is a usage error, exit 2, before any call), and calls
:meth:`CallRecording.start` for each call's media.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from voicebot.errors import ConfigError
from voicebot.media.recorder import AudioSink
from voicebot.privacy.keys import ENV_KEY, ENV_KEY_FILE, require_keyring
from voicebot.privacy.vault import ENV_DATA, Vault, data_dir, party_subject


class Recordable(Protocol):
    def start_recording(self, path: str | Path | AudioSink) -> None: ...


def add_recording_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("recording (encrypted at rest unless --record-wav)")
    group.add_argument(
        "--record",
        action="store_true",
        help=f"record calls (caller + bot, 2 channels) encrypted under --data-dir; needs --key-file or ${ENV_KEY}",
    )
    group.add_argument(
        "--record-wav", type=Path, metavar="OUT.wav", help="record to a plain, UNENCRYPTED WAV file instead"
    )
    add_store_options(group)


def add_store_options(parser: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    """``--data-dir`` and ``--key-file``: where encrypted data lives and the keys to it."""
    parser.add_argument(
        "--data-dir", type=Path, metavar="DIR", help=f"where recordings are kept (default ${ENV_DATA} or voicebot-data)"
    )
    parser.add_argument(
        "--key-file", type=Path, metavar="FILE", help=f"recording key file (default ${ENV_KEY_FILE}, else ${ENV_KEY})"
    )


@dataclass(slots=True)
class CallRecording:
    """How this process records calls: encrypted into ``vault``, or plain WAV at ``wav``."""

    vault: Vault | None = None
    wav: Path | None = None

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> CallRecording | None:
        """None when nothing is recorded; :class:`ConfigError` when the options cannot work."""
        encrypted, wav = bool(getattr(args, "record", False)), getattr(args, "record_wav", None)
        if encrypted and wav is not None:
            raise ConfigError("--record (encrypted) and --record-wav (plain) exclude each other")
        if wav is not None:
            if not wav.parent.exists():
                raise ConfigError(f"--record-wav: directory {wav.parent} does not exist")
            return cls(wav=wav)
        if not encrypted:
            return None
        ring = require_keyring(args.key_file, why="--record (recordings are encrypted; --record-wav writes plain WAV)")
        return cls(vault=Vault(data_dir(args.data_dir), ring))

    def start(self, media: Recordable, *, party: str, n: int = 1) -> str:
        """Record ``media`` (the call with ``party``, the n-th of this process); returns what to
        tell the user: the recording id, or the WAV path."""
        if self.vault is not None:
            sink = self.vault.new_recording(party_subject(party))
            media.start_recording(sink)
            return f"recording {sink.id} (encrypted)"
        assert self.wav is not None
        path = self.wav if n == 1 else self.wav.with_name(f"{self.wav.stem}-{n}{self.wav.suffix}")
        media.start_recording(path)
        return f"recording {path} (plain WAV)"


__all__ = ["CallRecording", "add_recording_options", "add_store_options"]
