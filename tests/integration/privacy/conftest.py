"""Fixtures for privacy tests: the `voicebot serve` process, a real espeak-ng utterance, a key file."""

from __future__ import annotations

import asyncio
import inspect
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.integration.media.conftest import speech_wav  # noqa: F401 - espeak-ng utterance fixture
from tests.interop.sip.conftest import serve, voicebot_cmd  # noqa: F401 - the `voicebot serve` fixture


@pytest.fixture
def key_file(tmp_path: Path) -> Path:
    path = tmp_path / "keys" / "recording-keys.json"
    path.parent.mkdir()
    done = subprocess.run(voicebot_cmd("keys", "generate", "-o", str(path)), capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return path


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    """Run ``async def`` tests with ``asyncio.run`` (no pytest-asyncio needed)."""
    if inspect.iscoroutinefunction(pyfuncitem.obj):
        args: dict[str, Any] = {name: pyfuncitem.funcargs[name] for name in pyfuncitem._fixtureinfo.argnames}
        asyncio.run(asyncio.wait_for(pyfuncitem.obj(**args), 120))
        return True
    return None
