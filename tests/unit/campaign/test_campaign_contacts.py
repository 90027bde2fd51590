"""Contacts CSV: E.164 numbers, national numbers with a region, sip: URIs, zones, bad rows."""

from __future__ import annotations

from pathlib import Path

import pytest

from voicebot.campaign.contacts import number_zones, parse_rows, phone_key, read_contacts, trunk_uri
from voicebot.errors import ConfigError


def rows(*phones: str, **extra: str) -> list[tuple[int, dict[str, str]]]:
    return [(i + 2, {"phone": p, **extra}) for i, p in enumerate(phones)]


def test_numbers_uris_and_bad_rows() -> None:
    got = parse_rows(rows("+1 212 555 0123", "01 23 45 67 89", "sip:+82221234567@127.0.0.1:5070;transport=tcp",
                          "sip:alice@example.com", "", "12", "sips:", "+33 1 23 45 67 89"),
                     region="fr", trunk="sip:carrier.example:5080;transport=tcp")
    assert [(c.line, c.phone, c.uri) for c in got[:4]] == [
        (2, "+12125550123", "sip:+12125550123@carrier.example:5080;transport=tcp"),
        (3, "+33123456789", "sip:+33123456789@carrier.example:5080;transport=tcp"),
        (4, "+82221234567", "sip:+82221234567@127.0.0.1:5070;transport=tcp"),  # dialled as is
        (5, "sip:alice@example.com", "sip:alice@example.com"),
    ]
    assert [c.zones for c in got[:4]] == [("America/New_York",), ("Europe/Paris",), ("Asia/Seoul",), ()]
    errors = {c.line: c.error for c in got[4:]}
    assert errors[6] == "empty phone" and "not a valid phone number" in (errors[7] or "")
    assert "invalid SIP URI" in (errors[8] or "") and errors[9] == "same number as line 3"
    assert all(c.uri is None for c in got[4:])


def test_numbers_need_a_trunk_and_national_numbers_a_region() -> None:
    no_trunk, no_region = parse_rows(rows("+12125550123", "0123456789"))
    assert no_trunk.error == "a phone number needs --trunk to be dialled"
    assert "needs --region" in (no_region.error or "")


def test_timezone_column_and_context() -> None:
    (c,) = parse_rows(rows("+12125550123", timezone="America/Chicago", name="Ann", balance="12.50"), trunk="sip:t")
    assert c.zones == ("America/Chicago",) and c.name == "Ann"
    assert c.context == {"phone": "+12125550123", "timezone": "America/Chicago", "name": "Ann", "balance": "12.50"}
    (bad,) = parse_rows(rows("+12125550123", timezone="Mars/Olympus"), trunk="sip:t")
    assert "unknown time zone" in (bad.error or "")
    assert len(number_zones("+18005550123")) > 5  # toll-free: every North American zone


def test_keys_and_trunk() -> None:
    assert phone_key("sip:+33123456789@host") == "+33123456789"
    assert phone_key("sip:0123456789@host", "FR") == "+33123456789"
    assert phone_key("sip:alice@host") == "sip:alice@host"
    assert trunk_uri("+15551234567", "sips:gw.example") == "sips:+15551234567@gw.example"


def test_csv_files(tmp_path: Path) -> None:
    f = tmp_path / "c.csv"
    f.write_text("\ufeff Phone ,name\n+12125550123,Ann\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="no 'phone' column"):
        read_contacts(f)
    f.write_text('phone,name,note\n+12125550123,Ann,"two\nlines"\n+12125550124,Bob,\n', encoding="utf-8")
    got = read_contacts(f, trunk="sip:t")
    assert [c.line for c in got] == [3, 4] and got[0].fields["note"] == "two\nlines"
    with pytest.raises(ConfigError, match="cannot read"):
        read_contacts(tmp_path / "missing.csv")
