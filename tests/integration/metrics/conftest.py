"""Fixtures for monitoring tests: the `voicebot serve` process, an espeak-ng utterance, scraping."""

from __future__ import annotations

import urllib.request

from prometheus_client.parser import text_string_to_metric_families

from tests.integration.media.conftest import speech_wav  # noqa: F401 - espeak-ng utterance fixture
from tests.integration.sip.conftest import pytest_pyfunc_call  # noqa: F401 - runs `async def` tests
from tests.interop.sip.conftest import serve  # noqa: F401 - the `voicebot serve` fixture


def scrape(port: int) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of ``http://127.0.0.1:port/metrics``: (name, sorted labels) -> value."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        text = response.read().decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), float("nan"))
