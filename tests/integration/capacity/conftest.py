"""Async tests here run under ``asyncio.run``; ``serve`` starts ``voicebot serve`` processes."""

from __future__ import annotations

from tests.interop.sip.conftest import pytest_pyfunc_call, serve

__all__ = ["pytest_pyfunc_call", "serve"]
