"""What a call said, sealed in the store: the transcript and slots of each attempt and the CRM
message built from them. Campaigns keep them encrypted by default (``campaign create`` refuses
without a key); only one created ``--plain`` stores them as plain JSON.

The store only knows the spelling: a sealed value is ``sealed:`` followed by a base64
container (:class:`voicebot.privacy.fields.FieldSealer` makes and opens them with the recording
keys). A database handle carries the sealer as :attr:`Db.content` when its opener holds the
key; :func:`unseal` refuses with a one-line error when it does not, and leaves plain values
(``--plain`` campaigns, rows written before sealing became the default) as they are.
"""

from __future__ import annotations

from typing import Protocol

from voicebot.errors import ConfigError

SEALED = "sealed:"
NEEDS_KEY = ("this campaign keeps its transcripts encrypted; reading them needs the recording key "
             "(--key-file FILE or $VOICEBOT_RECORDING_KEY)")


class ContentSealer(Protocol):
    def seal(self, text: str) -> str:
        """``text`` as ``sealed:...``."""
        ...

    def open(self, text: str) -> str:
        """The text of a ``sealed:...`` value (an error for a wrong key or a changed byte)."""
        ...


def is_sealed(text: str) -> bool:
    return text.startswith(SEALED)


def seal(sealer: ContentSealer | None, text: str, *, sealed: bool) -> str:
    """``text`` as the store keeps it: sealed when its campaign encrypts (``sealed``)."""
    if not sealed:
        return text
    if sealer is None:
        raise ConfigError(NEEDS_KEY)
    return sealer.seal(text)


def unseal(sealer: ContentSealer | None, text: str) -> str:
    if not is_sealed(text):
        return text
    if sealer is None:
        raise ConfigError(NEEDS_KEY)
    return sealer.open(text)


__all__ = ["NEEDS_KEY", "SEALED", "ContentSealer", "is_sealed", "seal", "unseal"]
