"""Answering-machine detection over real loopback calls; async tests run under asyncio.run."""

from __future__ import annotations

from tests.integration.sip.conftest import pytest_pyfunc_call  # noqa: F401 - runs `async def` tests
