"""Store fields sealed with the recording keys: the :class:`~voicebot.store.content.ContentSealer`
of campaigns that keep their transcripts encrypted.

Each value is one AES-256-GCM container (:func:`~voicebot.privacy.container.seal_bytes`: its
own data key, wrapped by the current master key, whose id the header names) in base64 after the
store's ``sealed:`` mark, so rotated keys still open old rows and a changed byte is refused.
"""

from __future__ import annotations

import base64
import binascii

from voicebot.privacy.container import SealedFileError, open_bytes, seal_bytes
from voicebot.privacy.keys import Keyring
from voicebot.store.content import SEALED, is_sealed

CONTENT_TYPE = "application/json;charset=utf-8"


class FieldSealer:
    def __init__(self, keyring: Keyring) -> None:
        self.keyring = keyring

    def seal(self, text: str) -> str:
        blob = seal_bytes(text.encode("utf-8"), self.keyring.current, content_type=CONTENT_TYPE)
        return SEALED + base64.b64encode(blob).decode("ascii")

    def open(self, text: str) -> str:
        if not is_sealed(text):
            return text
        try:
            blob = base64.b64decode(text[len(SEALED) :], validate=True)
        except (binascii.Error, ValueError):
            raise SealedFileError("a stored transcript is damaged (not base64)") from None
        return open_bytes(blob, self.keyring, name="a stored transcript")[1].decode("utf-8")


__all__ = ["FieldSealer"]
