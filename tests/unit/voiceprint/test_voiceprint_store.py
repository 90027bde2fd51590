"""Voiceprints in the encrypted vault: sealed in the person's folder, replaced without leaving an
older version readable, found again after a save that a crash cut between its two renames, and
shredded with the rest of the person's data."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from voicebot.errors import ConfigError
from voicebot.privacy.erasure import Person, erase_person, export_person
from voicebot.privacy.keys import Keyring
from voicebot.privacy.vault import Vault
from voicebot.privacy.voiceprints import OLD_NAME, VaultPrintStore
from voicebot.voiceprint.prints import Utterance, Voiceprint, VoiceprintFileError


def _print(person: str, seed: int) -> Voiceprint:
    v = np.random.default_rng(seed).random(256).astype(np.float32)
    return Voiceprint.new(person, [Utterance(v / np.linalg.norm(v), None, 3.0)])


def test_saved_sealed_replaced_and_erased(tmp_path: Path) -> None:
    store = VaultPrintStore(Vault(tmp_path, Keyring.new()))
    assert store.find("c-1") is None
    store.save(_print("c-1", 1))
    store.save(second := _print("c-1", 2))
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert files == [store.path("c-1")] and b"c-1" not in files[0].read_bytes()
    found = store.find("c-1")
    assert found is not None and np.array_equal(found.utterances[0].narrow, second.utterances[0].narrow)
    person = Person(None, ("c-1",))
    assert export_person(store.vault, None, person).voiceprints == ["contact:c-1"]
    report = erase_person(store.vault, None, person)
    assert report.voiceprints == ["contact:c-1"] and report.recordings == []
    assert not any(p.is_file() for p in tmp_path.rglob("*")) and store.find("c-1") is None


def test_a_save_cut_short_keeps_the_old_print_and_erasure_finds_every_file(tmp_path: Path) -> None:
    store = VaultPrintStore(Vault(tmp_path, Keyring.new()))
    store.save(_print("c-1", 1))
    path = store.path("c-1")
    os.replace(path, path.with_name(OLD_NAME))  # the first rename happened, the second did not
    path.with_name(f".voiceprint-{os.getpid()}-new.vbrec").write_bytes(b"half written")
    found = store.find("c-1")
    assert found is not None and found.id == "c-1"
    erase_person(store.vault, None, Person(None, ("c-1",)))
    assert not any(p.is_file() for p in tmp_path.rglob("*"))


def test_wrong_key_or_no_key(tmp_path: Path) -> None:
    ring = Keyring.new()
    VaultPrintStore(Vault(tmp_path, ring)).save(_print("c-1", 1))
    other = Keyring.new()  # another master key, the same folder names
    with pytest.raises(VoiceprintFileError, match="wrong key"):
        VaultPrintStore(Vault(tmp_path, Keyring(other.keys, other.current_id, ring.path_key))).find("c-1")
    with pytest.raises(ConfigError, match="no recording key"):
        VaultPrintStore(Vault(tmp_path, None)).find("c-1")
