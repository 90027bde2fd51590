"""Voiceprints: who is speaking, offline and without torch.

The speaker encoder is resemblyzer 0.1.4's trained GE2E model, read from its wheel by a
restricted unpickler (:mod:`.torchfile`, :mod:`.model`) and run in numpy (:mod:`.features`,
:mod:`.encoder`); its embeddings equal resemblyzer's own to 1e-4 cosine. :mod:`.prints` is a
person's voiceprint, :mod:`.verify` enrols and scores speech (``verify.enroll``,
``verify.verify``), and :mod:`.live` does both on a call's audio in a worker thread. Prints are stored encrypted by
:mod:`voicebot.privacy.voiceprints`.
"""

from __future__ import annotations

from voicebot.voiceprint.encoder import SpeakerEncoder, cosine
from voicebot.voiceprint.live import CallerVoice
from voicebot.voiceprint.prints import MemoryPrintStore, PrintStore, Voiceprint
from voicebot.voiceprint.verify import Speech, SpeechError, Verdict

__all__ = [
    "CallerVoice",
    "MemoryPrintStore",
    "PrintStore",
    "SpeakerEncoder",
    "Speech",
    "SpeechError",
    "Verdict",
    "Voiceprint",
    "cosine",
]
