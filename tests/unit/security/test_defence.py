"""The per-source defence table (pure, synthetic clock): rate, dialogs, backoff, bans, bounds."""

from __future__ import annotations

import pytest

from voicebot.errors import LocalProtocolError
from voicebot.sip.defence import Defence, DefenceConfig


def test_request_rate_is_a_token_bucket_per_source() -> None:
    d = Defence(DefenceConfig(request_rate=10, request_burst=5))
    assert [d.admit("10.0.0.1", 0.0) for _ in range(7)] == [True] * 5 + [False] * 2
    assert d.admit("10.0.0.2", 0.0)  # another source has its own bucket
    assert not d.admit("10.0.0.1", 0.05)  # half a token
    assert d.admit("10.0.0.1", 0.1)  # one token refilled
    notes = d.notices()
    assert [n.source for n in notes] == ["10.0.0.1"] and "rate" in notes[0].reason
    assert not d.admit("10.0.0.1", 0.1)
    assert d.notices() == []  # the same throttling episode is reported once


def test_a_new_throttling_episode_is_reported_again() -> None:
    d = Defence(DefenceConfig(request_rate=10, request_burst=4))
    for _ in range(6):
        d.admit("h", 0.0)
    assert len(d.notices()) == 1
    assert d.admit("h", 10.0)  # refilled: the episode is over
    for _ in range(6):
        d.admit("h", 10.0)
    assert len(d.notices()) == 1


def test_dialogs_in_progress_per_source() -> None:
    d = Defence(DefenceConfig(dialogs_per_source=2))
    for _ in range(2):
        assert not d.dialogs_full("a", 0.0)
        d.open_dialog("a", 0.0)
    assert d.dialogs_full("a", 0.0) and not d.dialogs_full("b", 0.0)
    d.close_dialog("a")
    assert not d.dialogs_full("a", 0.0)
    d.close_dialog("nobody")  # unknown: ignored


def test_backoff_grows_then_ban_refuses_everything_then_ends() -> None:
    cfg = DefenceConfig(auth_free_failures=2, auth_backoff=1.0, auth_ban_failures=5, ban_time=100.0)
    d = Defence(cfg)
    now = 0.0
    d.auth_failed("x", "alice", now)
    d.auth_failed("x", "alice", now)
    assert d.may_authenticate("x", "alice", now)  # two free failures
    d.auth_failed("x", "alice", now)  # third: 1 s backoff
    assert not d.may_authenticate("x", "alice", now + 0.9)
    assert d.may_authenticate("x", "alice", now + 1.0)
    d.auth_failed("x", "alice", 1.0)  # fourth: 2 s
    assert not d.may_authenticate("x", "alice", 2.9) and d.may_authenticate("x", "alice", 3.0)
    d.auth_failed("x", "alice", 3.0)  # fifth: banned
    assert d.banned("x", 3.0)
    assert not d.admit("x", 50.0)  # everything is ignored while banned
    notes = d.notices()
    assert sum("banned" in n.reason for n in notes) == 1
    assert d.admit("x", 103.5)  # the ban is over, and forgotten
    assert not d.banned("x", 103.5) and d.may_authenticate("x", "bob", 103.5)


def test_backoff_per_user_across_sources_but_no_user_ban() -> None:
    d = Defence(DefenceConfig(auth_free_failures=1, auth_backoff=4.0, auth_ban_failures=3))
    for i in range(6):  # six sources, one guess each at the same user
        d.auth_failed(f"10.0.0.{i}", "alice", 0.0)
    assert not d.may_authenticate("10.9.9.9", "alice", 1.0)  # the user is backed off everywhere
    assert d.may_authenticate("10.9.9.9", "bob", 1.0)
    assert not any(d.banned(f"10.0.0.{i}", 1.0) for i in range(6))
    d.auth_succeeded("10.9.9.9", "alice", 1.0)
    assert d.may_authenticate("10.9.9.9", "alice", 1.0)


def test_success_forgives_failures_but_not_a_ban() -> None:
    d = Defence(DefenceConfig(auth_free_failures=1, auth_ban_failures=2, ban_time=10.0))
    d.auth_failed("x", "u", 0.0)
    d.auth_failed("x", "u", 0.0)
    d.auth_succeeded("x", "u", 1.0)
    assert d.banned("x", 1.0)


def test_trusted_networks_are_never_limited() -> None:
    d = Defence(DefenceConfig(request_rate=1, request_burst=1, dialogs_per_source=1, trusted=("192.0.2.0/24",)))
    assert all(d.admit("192.0.2.7", 0.0) for _ in range(50))
    d.open_dialog("192.0.2.7", 0.0)
    assert not d.dialogs_full("192.0.2.7", 0.0)
    for _ in range(20):
        d.auth_failed("192.0.2.7", "u", 0.0)
    assert not d.banned("192.0.2.7", 0.0)


def test_tables_are_bounded_and_quiet_sources_forgotten() -> None:
    d = Defence(DefenceConfig(max_sources=100, forget_after=10.0))
    for i in range(1000):
        d.admit(f"10.{i // 256}.{i % 256}.1", float(i) / 1000)
    assert d.tracked <= 100
    d2 = Defence(DefenceConfig(forget_after=10.0))
    for i in range(50):
        d2.admit(f"h{i}", 0.0)
    for i in range(50):
        d2.admit(f"new{i}", 100.0)
    assert d2.tracked < 100  # the quiet ones went as new ones came


@pytest.mark.parametrize("bad", [{"request_rate": -1}, {"dialogs_per_source": -2}, {"trusted": ("nope",)}])
def test_bad_settings_are_refused(bad: dict[str, object]) -> None:
    with pytest.raises(LocalProtocolError):
        DefenceConfig(**bad)  # type: ignore[arg-type]
