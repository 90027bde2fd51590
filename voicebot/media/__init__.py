"""The voice layer's media path: RTP audio streams, playback, recording and internal frames
(16 kHz mono int16, 20 ms)."""

from __future__ import annotations

from voicebot.media.frames import FRAME, RATE, read_wav, write_wav
from voicebot.media.stream import MediaStream

__all__ = ["FRAME", "RATE", "MediaStream", "read_wav", "write_wav"]
