"""The speaker encoder (resemblyzer 0.1.4's weights, fetched by ``make setup``) and the
deterministic test signals, shared by the voiceprint tests."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

from voicebot.voiceprint.encoder import SpeakerEncoder

DATA = Path(__file__).resolve().parents[2] / "data" / "voiceprint"


def _signals() -> ModuleType:
    spec = importlib.util.spec_from_file_location("voiceprint_signals", DATA / "signals.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def signals() -> ModuleType:
    return _signals()


@pytest.fixture(scope="session")
def encoder() -> SpeakerEncoder:
    return SpeakerEncoder()
