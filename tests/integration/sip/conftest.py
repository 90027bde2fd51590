"""Integration tests of the SIP engine run on asyncio; each test gets its own event loop."""

from __future__ import annotations

import asyncio
import inspect
from typing import Any

import pytest

from tests.interop.sip.conftest import serve  # noqa: F401 - the `voicebot serve` process fixture


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    """Run ``async def`` tests with ``asyncio.run`` (no pytest-asyncio needed)."""
    if inspect.iscoroutinefunction(pyfuncitem.obj):
        args: dict[str, Any] = {name: pyfuncitem.funcargs[name] for name in pyfuncitem._fixtureinfo.argnames}
        asyncio.run(asyncio.wait_for(pyfuncitem.obj(**args), 120))
        return True
    return None
