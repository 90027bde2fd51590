"""TLS settings, connection limits and the rate-limited log: refusals of bad settings and the
one-line-a-second promise."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from voicebot.errors import ConfigError
from voicebot.ratelog import RateLimitedLog
from voicebot.transport.stream import ConnectionLimits, fd_limit
from voicebot.transport.tls import TlsConfig


def test_tls_settings_are_checked(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        TlsConfig(cert=str(tmp_path / "missing.pem"))
    junk = tmp_path / "junk.pem"
    junk.write_text("not a certificate")
    with pytest.raises(ConfigError, match="cannot load"):
        TlsConfig(cert=str(junk)).server_context()
    with pytest.raises(ConfigError, match="listen"):
        TlsConfig().server_context()
    with pytest.raises(ConfigError, match="needs"):
        TlsConfig(require_client_cert=True)
    assert not TlsConfig().can_listen
    ctx = TlsConfig(verify=False).client_context()
    assert not ctx.check_hostname


def test_connection_limits_follow_the_descriptor_limit() -> None:
    assert ConnectionLimits(max_connections=7).total == 7
    assert ConnectionLimits().total == max(16, (fd_limit() - 100) // 2)
    with pytest.raises(ConfigError):
        ConnectionLimits(idle_timeout=0)
    with pytest.raises(ConfigError):
        ConnectionLimits(per_source=-1)


def test_rate_limited_log_lets_one_line_a_second_through(caplog: pytest.LogCaptureFixture) -> None:
    now = [0.0]
    rl = RateLimitedLog(logging.getLogger("test.ratelog"), interval=1.0, clock=lambda: now[0])
    with caplog.at_level(logging.WARNING, logger="test.ratelog"):
        sent = [rl.log("accept", logging.WARNING, "refused %s", i) for i in range(1000)]
        now[0] = 1.5
        rl.log("accept", logging.WARNING, "refused %s", "again")
        rl.log("other", logging.WARNING, "a different kind")
    assert sent.count(True) == 1
    assert [r.getMessage() for r in caplog.records] == [
        "refused 0",
        "refused again (and 999 more like it since the last report)",
        "a different kind",
    ]
    assert rl.held_back == 0
