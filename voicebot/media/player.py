"""The bot's outgoing audio queue: 16 kHz int16 clips played back to back, 20 ms at a time."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

import numpy as np

from voicebot.media.frames import FRAME, PCM, silence


class Player:
    """Queue of clips. ``read()`` returns the next 20 ms frame and whether anything was playing;
    a clip's ``done`` callback runs once its last sample has been read, or when it is stopped."""

    def __init__(self) -> None:
        self._clips: deque[tuple[PCM, Callable[[], None] | None]] = deque()
        self._pos = 0

    @property
    def active(self) -> bool:
        return bool(self._clips)

    def queue(self, pcm: PCM, done: Callable[[], None] | None = None) -> None:
        arr = np.asarray(pcm)
        if arr.ndim != 1 or arr.dtype != np.int16:
            raise ValueError("play() takes 1-D int16 audio at 16 kHz")
        if len(arr) == 0:
            if done is not None:
                done()
            return
        self._clips.append((arr, done))

    def read(self, n: int = FRAME) -> tuple[PCM, bool]:
        """The next ``n`` samples (a view of the clip, not a copy, when they lie within one
        clip: clips are never written to, and the encoder only reads them)."""
        if not self._clips:
            return silence(n), False
        clip, done = self._clips[0]
        if len(clip) - self._pos > n:
            self._pos += n
            return clip[self._pos - n : self._pos], True
        out = np.zeros(n, dtype=np.int16)
        filled = 0
        while filled < n and self._clips:
            clip, done = self._clips[0]
            k = min(n - filled, len(clip) - self._pos)
            out[filled : filled + k] = clip[self._pos : self._pos + k]
            filled += k
            self._pos += k
            if self._pos >= len(clip):
                self._clips.popleft()
                self._pos = 0
                if done is not None:
                    done()
        return out, True

    def stop(self) -> None:
        clips = list(self._clips)
        self._clips.clear()
        self._pos = 0
        for _, done in clips:
            if done is not None:
                done()
