"""Which engine a name means, and the one of each per process.

Apart from the package face so that ``voicebot.asr.host`` can load an engine in a host process
without importing the package (which imports the host module).
"""

from __future__ import annotations

import os
import threading

from voicebot.asr.engine import AsrEngine
from voicebot.errors import ConfigError

ENGINES = ("vosk", "pocketsphinx")

_ENGINES: dict[tuple[str, str | None], AsrEngine] = {}
_LOCK = threading.Lock()


def get_engine(name: str = "vosk", model_dir: str | os.PathLike[str] | None = None) -> AsrEngine:
    """The process-wide engine ``name`` (created on first use, then shared)."""
    key = (name, os.fspath(model_dir) if model_dir is not None else None)
    with _LOCK:
        engine = _ENGINES.get(key)
        if engine is None:
            if name == "vosk":
                from voicebot.asr.vosk_engine import VoskEngine

                engine = VoskEngine(model_dir)
            elif name == "pocketsphinx":
                from voicebot.asr.pocketsphinx_engine import PocketsphinxEngine

                engine = PocketsphinxEngine(hmm=os.fspath(model_dir)) if model_dir is not None else PocketsphinxEngine()
            else:
                raise ConfigError(f"unknown ASR engine '{name}': choose one of {', '.join(ENGINES)}")
            _ENGINES[key] = engine
        return engine


def holds_gil(name: str) -> bool:
    """Whether engine ``name``'s decoder keeps the GIL (its class says so; nothing is loaded)."""
    if name == "pocketsphinx":
        from voicebot.asr.pocketsphinx_engine import PocketsphinxEngine

        return PocketsphinxEngine.holds_gil
    return False  # Vosk's cffi calls release it


__all__ = ["ENGINES", "get_engine", "holds_gil"]
