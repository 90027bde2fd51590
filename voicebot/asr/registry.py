"""Which engine a name means, and the one of each per process.

Apart from the package face so that ``voicebot.asr.host`` can load an engine in a host process
without importing the package (which imports the host module).
"""

from __future__ import annotations

import os
import threading
from typing import Any

from voicebot.asr.engine import AsrEngine
from voicebot.errors import ConfigError

ENGINES = ("vosk", "pocketsphinx")

_ENGINES: dict[tuple[str, str | None], AsrEngine] = {}
_LOCK = threading.Lock()


def _engine_class(name: str) -> Any:
    """The class of engine ``name`` (its module imported on first use; no model loaded)."""
    if name == "vosk":
        from voicebot.asr.vosk_engine import VoskEngine

        return VoskEngine
    if name == "pocketsphinx":
        from voicebot.asr.pocketsphinx_engine import PocketsphinxEngine

        return PocketsphinxEngine
    raise ConfigError(f"unknown ASR engine '{name}': choose one of {', '.join(ENGINES)}")


def get_engine(name: str = "vosk", model_dir: str | os.PathLike[str] | None = None) -> AsrEngine:
    """The process-wide engine ``name`` (created on first use, then shared)."""
    key = (name, os.fspath(model_dir) if model_dir is not None else None)
    with _LOCK:
        engine = _ENGINES.get(key)
        if engine is None:
            cls = _engine_class(name)
            if model_dir is None:
                engine = cls()
            elif name == "pocketsphinx":  # its model directory is the acoustic model's
                engine = cls(hmm=os.fspath(model_dir))
            else:
                engine = cls(model_dir)
            _ENGINES[key] = engine
        return engine


def holds_gil(name: str) -> bool:
    """Whether engine ``name``'s decoder keeps the GIL (its class says so; no model is loaded)."""
    return bool(_engine_class(name).holds_gil)


__all__ = ["ENGINES", "get_engine", "holds_gil"]
