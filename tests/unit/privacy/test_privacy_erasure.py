"""A person's export and erasure: real vault files, and a store that records what it was asked."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from voicebot.errors import ConfigError
from voicebot.media.recorder import Recorder
from voicebot.privacy import Keyring, Vault, contact_subject, phone_subject
from voicebot.privacy.erasure import describe, erase_person, export_person, find_person


class Store:
    """An in-memory stand-in for the campaign store's side of PersonalStore."""

    def __init__(self) -> None:
        self.rows = {"contacts": [{"id": "7", "phone": "+15550001111", "name": "Ann"}],
                     "transcripts": [{"contact": "7", "text": "yes please"}]}  # fmt: skip
        self.scrubbed: list[tuple[tuple[str, ...], str | None, str | None]] = []

    def contacts_for_phone(self, phone: str) -> list[str]:
        return [c["id"] for c in self.rows["contacts"] if c["phone"] == phone]

    def person_records(self, contact_ids: Sequence[str], phone: str | None) -> dict[str, list[dict[str, Any]]]:
        return {t: [r for r in rows if r.get("id", r.get("contact")) in contact_ids] for t, rows in self.rows.items()}

    def scrub_person(self, contact_ids: Sequence[str], phone: str | None, dnc_digest: str | None) -> dict[str, int]:
        self.scrubbed.append((tuple(contact_ids), phone, dnc_digest))
        return {"transcripts": 1, "contacts": 1}


def _record(vault: Vault, subject: str) -> str:
    sink = vault.new_recording(subject)
    rec = Recorder(sink)
    rec.write(np.full(320, 1000, np.int16), np.zeros(320, np.int16))
    rec.close()
    return sink.id


def test_erase_covers_the_number_and_its_contacts_and_keeps_a_dnc_digest(tmp_path: Path) -> None:
    vault, store = Vault(tmp_path, Keyring.new()), Store()
    by_phone = _record(vault, phone_subject("+1 555 000 1111"))
    by_contact = _record(vault, contact_subject("7"))
    other = _record(vault, phone_subject("+15550002222"))
    person = find_person(store, phone="+1 (555) 000-1111")
    assert person.contact_ids == ("7",)
    exported = export_person(vault, store, person)
    assert sorted(exported.recordings) == sorted([by_phone, by_contact])
    assert exported.store["transcripts"] == [{"contact": "7", "text": "yes please"}]
    report = erase_person(vault, store, person)
    assert sorted(report.recordings) == sorted([by_phone, by_contact])
    assert store.scrubbed == [(("7",), "+15550001111", vault.keyring.subject_digest("phone:+15550001111"))]  # type: ignore[union-attr]
    assert [r.id for r in vault.recordings_of()] == [other]
    assert describe(report, erased=True)[0] == "phone +15550001111: 2 recording(s) removed"


def test_without_a_store_recordings_only_and_bad_arguments(tmp_path: Path) -> None:
    vault = Vault(tmp_path, Keyring.new())
    rid = _record(vault, contact_subject("c-9"))
    report = erase_person(vault, None, find_person(None, contact="c-9"))
    assert report.recordings == [rid] and report.as_dict()["note"].startswith("no campaign store")
    with pytest.raises(ConfigError, match="exactly one"):
        find_person(None)
    with pytest.raises(ConfigError, match="not a telephone number"):
        find_person(None, phone="drop table")
