"""Call recording: a 16-bit, 16 kHz, two-channel WAV — channel 0 the caller (as played out of
the jitter buffer), channel 1 the bot (as sent). Both channels are written on the same 20 ms
tick, so they stay time-aligned by construction."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np

from voicebot.errors import ConfigError
from voicebot.media.frames import PCM, RATE


class Recorder:
    """Streams frames to a stereo WAV; buffers about a second between disk writes."""

    def __init__(self, path: str | Path, *, flush_frames: int = 50) -> None:
        self.path = Path(path)
        try:
            self._file = self.path.open("wb")  # kept open for the whole call
        except OSError as exc:
            raise ConfigError(f"cannot record to {self.path}: {exc.strerror or exc}") from exc
        self._wav = wave.open(self._file, "wb")  # noqa: SIM115
        self._wav.setnchannels(2)
        self._wav.setsampwidth(2)
        self._wav.setframerate(RATE)
        self._pending: list[bytes] = []
        self._flush_frames = flush_frames
        self.frames_written = 0

    def write(self, caller: PCM, bot: PCM) -> None:
        pair = np.empty((len(caller), 2), dtype="<i2")
        pair[:, 0] = caller
        pair[:, 1] = bot
        self._pending.append(pair.tobytes())
        self.frames_written += 1
        if len(self._pending) >= self._flush_frames:
            self.flush()

    def flush(self) -> None:
        if self._pending:
            self._wav.writeframes(b"".join(self._pending))
            self._pending.clear()

    def close(self) -> None:
        self.flush()
        self._wav.close()
        self._file.close()
