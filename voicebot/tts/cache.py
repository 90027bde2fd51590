"""Rendered-prompt cache: in memory (LRU, bounded in bytes) and optionally on disk.

The key is a SHA-256 of (engine, voice, rate, markup kind, text), so a change of any of them
renders again. On disk every prompt is a 16 kHz mono WAV named ``<key>.wav``, written to a
temporary name first and renamed, so a crash never leaves half a prompt behind and several
processes can share one directory.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import threading
import wave
from collections import OrderedDict
from pathlib import Path

import numpy as np

from voicebot.errors import ConfigError
from voicebot.tts.engine import SAMPLE_RATE, Pcm

log = logging.getLogger(__name__)

ENV_CACHE_DIR = "VOICEBOT_TTS_CACHE"


def prompt_key(*, engine: str, voice: str, rate: int, text: str, ssml: bool = False) -> str:
    material = "\x1f".join((engine, voice, str(rate), "ssml" if ssml else "text", text))
    return hashlib.sha256(material.encode("utf-8")).hexdigest()


def write_wav(path: Path, pcm: Pcm, rate: int = SAMPLE_RATE) -> None:
    """Write mono int16 PCM as a WAV file, atomically (temporary file + rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".wav")
    try:
        with os.fdopen(fd, "wb") as f, wave.open(f, "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(rate)
            w.writeframes(np.asarray(pcm, dtype="<i2").tobytes())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class PromptCache:
    """``get(key)`` / ``put(key, pcm)``; ``directory=None`` keeps it in memory only."""

    def __init__(self, directory: str | os.PathLike[str] | None = None, *, max_bytes: int = 64 << 20) -> None:
        self.directory = Path(directory) if directory is not None else None
        if self.directory is not None:
            try:
                self.directory.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise ConfigError(f"cannot use {self.directory} as the prompt cache: {exc}") from exc
        self.max_bytes = max_bytes
        self._memory: OrderedDict[str, Pcm] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def _path(self, key: str) -> Path | None:
        return self.directory / f"{key}.wav" if self.directory is not None else None

    def get(self, key: str) -> Pcm | None:
        with self._lock:
            pcm = self._memory.get(key)
            if pcm is not None:
                self._memory.move_to_end(key)
                self.hits += 1
                return pcm
        path = self._path(key)
        if path is not None and path.is_file():
            try:
                with wave.open(str(path), "rb") as w:
                    pcm = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.int16)
            except (wave.Error, EOFError, OSError) as exc:
                log.warning("unreadable cached prompt %s (%s); rendering again", path, exc)
                path.unlink(missing_ok=True)
            else:
                self._remember(key, pcm)
                with self._lock:
                    self.hits += 1
                return pcm
        with self._lock:
            self.misses += 1
        return None

    def put(self, key: str, pcm: Pcm) -> None:
        pcm = np.ascontiguousarray(pcm, dtype=np.int16)
        pcm.setflags(write=False)
        self._remember(key, pcm)
        path = self._path(key)
        if path is not None:
            try:
                write_wav(path, pcm)
            except OSError as exc:
                log.warning("cannot write cached prompt %s: %s", path, exc)

    def _remember(self, key: str, pcm: Pcm) -> None:
        with self._lock:
            old = self._memory.pop(key, None)
            if old is not None:
                self._bytes -= old.nbytes
            self._memory[key] = pcm
            self._bytes += pcm.nbytes
            while self._bytes > self.max_bytes and len(self._memory) > 1:
                _, dropped = self._memory.popitem(last=False)
                self._bytes -= dropped.nbytes

    def clear_memory(self) -> None:
        with self._lock:
            self._memory.clear()
            self._bytes = 0


__all__ = ["ENV_CACHE_DIR", "PromptCache", "prompt_key", "write_wav"]
