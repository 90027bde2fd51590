"""Call recording: 16-bit, 16 kHz, two-channel audio — channel 0 the caller (as played out of
the jitter buffer), channel 1 the bot (as sent). Both channels are written on the same 20 ms
tick, so they stay time-aligned by construction.

The frames go into a sink: a plain WAV file (:class:`WavSink`, what a path gives) or anything
with ``write(bytes)``/``flush()``/``close()`` taking interleaved little-endian samples — the
encrypted recordings of :mod:`voicebot.privacy` are such a sink.
"""

from __future__ import annotations

import wave
from pathlib import Path
from typing import Protocol

import numpy as np

from voicebot.errors import ConfigError
from voicebot.media.frames import PCM, RATE

CHANNELS = 2
SAMPLE_WIDTH = 2  # bytes: 16-bit little-endian samples


class AudioSink(Protocol):
    """Where a recording goes: interleaved 16-bit little-endian frames at ``RATE``, ``CHANNELS``."""

    def write(self, data: bytes) -> None: ...
    def flush(self) -> None: ...
    def close(self) -> None: ...


class WavSink:
    """A plain, unencrypted WAV file; its header is brought up to date on every flush, so a
    crash leaves a readable file."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        try:
            self._file = self.path.open("wb")  # kept open for the whole call
        except OSError as exc:
            raise ConfigError(f"cannot record to {self.path}: {exc.strerror or exc}") from exc
        self._wav = wave.open(self._file, "wb")  # noqa: SIM115
        self._wav.setnchannels(CHANNELS)
        self._wav.setsampwidth(SAMPLE_WIDTH)
        self._wav.setframerate(RATE)

    def write(self, data: bytes) -> None:
        self._wav.writeframes(data)

    def flush(self) -> None:
        self._file.flush()

    def close(self) -> None:
        self._wav.close()
        self._file.close()


class Recorder:
    """Streams frames to a sink (a path means a plain WAV); buffers about a second between writes."""

    def __init__(self, target: str | Path | AudioSink, *, flush_frames: int = 50) -> None:
        self.sink: AudioSink = WavSink(target) if isinstance(target, str | Path) else target
        self._pending: list[bytes] = []
        self._flush_frames = flush_frames
        self.frames_written = 0

    def write(self, caller: PCM, bot: PCM) -> None:
        pair = np.empty((len(caller), CHANNELS), dtype="<i2")
        pair[:, 0] = caller
        pair[:, 1] = bot
        self._pending.append(pair.tobytes())
        self.frames_written += 1
        if len(self._pending) >= self._flush_frames:
            self.flush()

    def flush(self) -> None:
        if self._pending:
            self.sink.write(b"".join(self._pending))
            self._pending.clear()
            self.sink.flush()

    def close(self) -> None:
        self.flush()
        self.sink.close()
