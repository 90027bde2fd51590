"""Fixtures shared by every test area. Area-specific fixtures live in each area's conftest."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent

# No test reaches past loopback. The shipped dialogs' webhooks name hosts such as clinic.example;
# every flow a test runs (in process or in a `voicebot` subprocess, which inherits this) sends
# them to a closed loopback port instead, so the flow takes its webhook error path as it would
# with the CRM down, unless the test points them at a stand-in of its own (--webhook-base).
os.environ.setdefault("VOICEBOT_WEBHOOK_BASE", "http://127.0.0.1:9")


def corpora_dir() -> Path | None:
    """The shared test corpora: ``$VOICEBOT_CORPORA`` or ``../shared/corpora`` beside the repo."""
    env = os.environ.get("VOICEBOT_CORPORA")
    candidates = [Path(env)] if env else []
    candidates.append(REPO_ROOT.parent / "shared" / "corpora")
    for c in candidates:
        if c.is_dir():
            return c
    return None


@pytest.fixture(scope="session")
def corpora() -> Path:
    path = corpora_dir()
    if path is None:
        pytest.skip(
            "shared SIP corpora not found: set VOICEBOT_CORPORA or place them at ../shared/corpora "
            "(they are present in CI; on a user's machine these tests are skipped)"
        )
    return path


@pytest.fixture
def repo_root() -> Path:
    return REPO_ROOT
