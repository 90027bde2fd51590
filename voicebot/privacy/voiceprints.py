"""Voiceprints kept like every other piece of personal data: encrypted in the person's folder.

A voiceprint enrolled as id ``ID`` is the person with contact id ``ID``: it lives at
``<vault folder of contact:ID>/voiceprint.vbrec`` (:data:`~voicebot.privacy.vault.VOICEPRINT_FILE`),
sealed with the current recording key in the same AES-256-GCM container as recordings
(:func:`~voicebot.privacy.container.seal_bytes`). So ``voicebot data export --contact ID`` lists
it, ``voicebot data erase --contact ID`` shreds it with the person's recordings, and ``voicebot
keys rotate`` re-encrypts it. Writes are atomic (a temporary file replaced in one step).
"""

from __future__ import annotations

import os
from pathlib import Path

from voicebot.errors import ConfigError
from voicebot.privacy.container import SealedFileError, open_bytes, seal_bytes, shred
from voicebot.privacy.keys import Keyring
from voicebot.privacy.vault import SUFFIX, VOICEPRINT_FILE, Vault, contact_subject
from voicebot.voiceprint.prints import CONTENT_TYPE, Voiceprint, VoiceprintFileError, check_id

OLD_NAME = f".voiceprint-old{SUFFIX}"


class VaultPrintStore:
    """A :class:`~voicebot.voiceprint.prints.PrintStore` over an encrypted :class:`Vault`."""

    def __init__(self, vault: Vault) -> None:
        self.vault = vault

    def path(self, person: str) -> Path:
        return self.vault.folder(contact_subject(check_id(person))) / VOICEPRINT_FILE

    def find(self, person: str) -> Voiceprint | None:
        path = self.path(person)
        old = path.with_name(OLD_NAME)
        try:
            blob = path.read_bytes()
        except FileNotFoundError:
            if not old.exists():  # a save interrupted between its two renames keeps the old print
                return None
            blob = old.read_bytes()
        except OSError as exc:
            raise ConfigError(f"cannot read the voiceprint of {person!r}: {exc.strerror or exc}") from None
        try:
            header, data = open_bytes(blob, _ring(self.vault), name=f"voiceprint {person!r}")
        except SealedFileError as exc:
            raise VoiceprintFileError(str(exc)) from None
        if header.content_type != CONTENT_TYPE:
            raise VoiceprintFileError(f"voiceprint {person!r} holds {header.content_type!r}")
        return Voiceprint.from_bytes(data, name=f"voiceprint {person!r}")

    def save(self, voiceprint: Voiceprint) -> None:
        """Write the new print beside the old one, swap them, then shred the old one (so no
        earlier version stays decryptable on the disk). Every file is a ``.vbrec`` in the
        person's folder, so an erasure finds even those a crash left behind."""
        path = self.path(voiceprint.id)
        sealed = seal_bytes(voiceprint.to_bytes(), _ring(self.vault).current, content_type=CONTENT_TYPE)
        new, old = path.with_name(f".voiceprint-{os.getpid()}-new{SUFFIX}"), path.with_name(OLD_NAME)
        try:
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd = os.open(new, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(sealed)
                f.flush()
                os.fsync(f.fileno())
            if path.exists():
                os.replace(path, old)
            os.replace(new, path)
            if old.exists():
                shred(old)
        except OSError as exc:
            raise ConfigError(f"cannot store the voiceprint under {self.vault.root}: {exc.strerror or exc}") from None
        finally:
            if new.exists():
                shred(new)


def _ring(vault: Vault) -> Keyring:
    if vault.keyring is None:
        raise ConfigError("voiceprints are encrypted: no recording key given")
    return vault.keyring


__all__ = ["VaultPrintStore"]
