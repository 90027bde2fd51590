"""Privacy: recordings and transcripts encrypted at rest (AES-256-GCM, chunked while the call
runs), keys and their rotation, storage sharded by a keyed hash of the person, and a person's
data exported or erased. See :mod:`voicebot.privacy.container` for the file format."""

from __future__ import annotations

from voicebot.privacy.container import (
    KeyUnavailableError,
    SealedFileError,
    SealedReader,
    SealedWriter,
    TamperedError,
    TruncatedError,
)
from voicebot.privacy.keys import Keyring, MasterKey, load_keyring
from voicebot.privacy.vault import Vault, contact_subject, party_subject, phone_subject

__all__ = [
    "KeyUnavailableError",
    "Keyring",
    "MasterKey",
    "SealedFileError",
    "SealedReader",
    "SealedWriter",
    "TamperedError",
    "TruncatedError",
    "Vault",
    "contact_subject",
    "load_keyring",
    "party_subject",
    "phone_subject",
]
