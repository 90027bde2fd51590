"""A person's data: everything held about one person, exported or erased.

A person is found by telephone number or campaign contact id. Their recordings and
transcripts are the files under their subjects' folders in the vault (the phone subject for
plain ``serve``/``dial`` calls, one contact subject per campaign contact with that number).
Their rows — contacts, attempts, transcripts, slots, do-not-call entry — live in the campaign
store, which takes part through :class:`PersonalStore`:

* export: the store's rows plus the list of recordings;
* erase: recordings are shredded first (header and wrapped data key overwritten, then the file
  removed: :func:`voicebot.privacy.container.shred`), then the store scrubs the person's rows —
  transcripts, slots and personal fields removed, anonymous counts kept for the statistics.
  A do-not-call entry must outlive the erasure (the person asked not to be called): the store
  keeps it as the keyed hash :meth:`Keyring.subject_digest` of the phone subject, which blocks
  the number without anyone being able to read it.

Without a store (plain calls, or before the campaign store exists) only the recordings are
exported or erased, and the report says so.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from voicebot.errors import ConfigError
from voicebot.privacy.vault import (
    VOICEPRINT_FILE,
    RecordingInfo,
    Vault,
    contact_subject,
    normalise_phone,
    phone_subject,
)


class PersonalStore(Protocol):
    """What a store offers for one person's data (the campaign store implements it)."""

    def contacts_for_phone(self, phone: str) -> list[str]:
        """Ids of the contacts whose number is ``phone`` (as :func:`normalise_phone` gives it)."""
        ...

    def person_records(self, contact_ids: Sequence[str], phone: str | None) -> dict[str, list[dict[str, Any]]]:
        """Every row about them, by table: contacts, attempts, transcripts, slots, dnc."""
        ...

    def scrub_person(self, contact_ids: Sequence[str], phone: str | None, dnc_digest: str | None) -> dict[str, int]:
        """Remove transcripts, slots and personal fields in one transaction (keeping anonymous
        counts, and the DNC entry as ``dnc_digest``); returns rows changed per table."""
        ...


@dataclass(frozen=True, slots=True)
class Person:
    phone: str | None
    contact_ids: tuple[str, ...]

    @property
    def subjects(self) -> tuple[str, ...]:
        own = (phone_subject(self.phone),) if self.phone else ()
        return own + tuple(contact_subject(c) for c in self.contact_ids)


@dataclass(slots=True)
class PersonReport:
    person: Person
    recordings: list[str] = field(default_factory=list)
    voiceprints: list[str] = field(default_factory=list)  # the subjects that have one
    store: dict[str, Any] = field(default_factory=dict)
    store_note: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "phone": self.person.phone,
            "contacts": list(self.person.contact_ids),
            "recordings": self.recordings,
            "voiceprints": self.voiceprints,
            "store": self.store,
            **({"note": self.store_note} if self.store_note else {}),
        }


NO_STORE = "no campaign store given: recordings only"


def find_person(store: PersonalStore | None, *, phone: str | None = None, contact: str | None = None) -> Person:
    if (phone is None) == (contact is None):
        raise ConfigError("give exactly one of --phone and --contact")
    if phone is not None:
        number = normalise_phone(phone)
        ids = tuple(store.contacts_for_phone(number)) if store is not None else ()
        return Person(number, ids)
    assert contact is not None
    return Person(None, (str(contact).strip(),))


def export_person(vault: Vault, store: PersonalStore | None, person: Person) -> PersonReport:
    report = PersonReport(person)
    infos: list[RecordingInfo] = [i for s in person.subjects for i in vault.recordings_of(s)]
    report.recordings = [i.id for i in infos]
    report.voiceprints = _voiceprints(vault, person)
    if store is None:
        report.store_note = NO_STORE
    else:
        report.store = dict(store.person_records(person.contact_ids, person.phone))
    return report


def erase_person(vault: Vault, store: PersonalStore | None, person: Person) -> PersonReport:
    """Shred their recordings and transcripts, then scrub their rows; report what went."""
    report = PersonReport(person)
    report.voiceprints = _voiceprints(vault, person)
    for subject in person.subjects:
        report.recordings += vault.erase(subject)
    if store is None:
        report.store_note = NO_STORE
    else:
        ring = vault.keyring
        digest = ring.subject_digest(phone_subject(person.phone)) if ring is not None and person.phone else None
        report.store = dict(store.scrub_person(person.contact_ids, person.phone, digest))
    return report


def _voiceprints(vault: Vault, person: Person) -> list[str]:
    return [s for s in person.subjects if (vault.folder(s) / VOICEPRINT_FILE).exists()]


def describe(report: PersonReport, *, erased: bool) -> list[str]:
    """Lines for a person: what was (or is) held."""
    verb = "removed" if erased else "held"
    who = f"phone {report.person.phone}" if report.person.phone else f"contact {report.person.contact_ids[0]}"
    lines = [f"{who}: {len(report.recordings)} recording(s) {verb}"]
    lines += [f"  recording {r}" for r in report.recordings]
    lines += [f"  voiceprint of {s} {verb}" for s in report.voiceprints]
    for table, value in sorted(report.store.items()):
        count = value if isinstance(value, int) else len(value) if isinstance(value, Sequence | Mapping) else value
        lines.append(f"  {table}: {count} {verb}")
    if report.store_note:
        lines.append(f"  ({report.store_note})")
    return lines


__all__ = ["NO_STORE", "Person", "PersonReport", "PersonalStore", "describe", "erase_person", "export_person",
           "find_person"]  # fmt: skip
