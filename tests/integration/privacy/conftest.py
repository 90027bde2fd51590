"""Fixtures for privacy tests: the `voicebot serve` process, a real espeak-ng utterance, a key file."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.integration.campaign.conftest import callees  # noqa: F401 - real callees for a campaign
from tests.integration.media.conftest import speech_wav  # noqa: F401 - espeak-ng utterance fixture
from tests.integration.sip.conftest import pytest_pyfunc_call  # noqa: F401 - runs `async def` tests
from tests.interop.sip.conftest import serve, voicebot_cmd  # noqa: F401 - the `voicebot serve` fixture


@pytest.fixture
def key_file(tmp_path: Path) -> Path:
    path = tmp_path / "keys" / "recording-keys.json"
    path.parent.mkdir()
    done = subprocess.run(voicebot_cmd("keys", "generate", "-o", str(path)), capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return path
