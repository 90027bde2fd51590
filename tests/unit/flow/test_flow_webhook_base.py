"""Sending a flow's webhooks to another host (``--webhook-base``, ``$VOICEBOT_WEBHOOK_BASE``):
the pure URL rewrite, and the runner's handling of a base that is no URL."""

from __future__ import annotations

import asyncio

import pytest

from voicebot.flow.events import Webhook
from voicebot.flowio.webhook import BASE_ENV, check_base, rebase, runner


@pytest.mark.parametrize(
    ("url", "base", "sent"),
    [
        ("https://clinic.example/api/appointments", "http://127.0.0.1:8080", "http://127.0.0.1:8080/api/appointments"),
        ("https://billing.example/api/accounts/7?full=1", "http://crm.local/staging/",
         "http://crm.local/staging/api/accounts/7?full=1"),
        ("https://survey.example", "https://[::1]:9443", "https://[::1]:9443/"),
    ],
)  # fmt: skip
def test_rebase_keeps_the_path_and_query_and_takes_the_bases_origin(url: str, base: str, sent: str) -> None:
    assert rebase(url, base) == sent


@pytest.mark.parametrize("base", ["crm.local:8080", "ftp://crm.local", "http://", "http://crm.local/?x=1"])
def test_a_base_must_be_an_http_url_with_a_host(base: str) -> None:
    with pytest.raises(ValueError, match="not an http"):
        check_base(base)


def test_a_bad_base_from_the_environment_fails_each_webhook_with_the_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(BASE_ENV, "crm.local")
    result = asyncio.run(runner()(Webhook(url="https://clinic.example/api")))
    assert not result.ok and BASE_ENV in result.error and "not an http" in result.error
