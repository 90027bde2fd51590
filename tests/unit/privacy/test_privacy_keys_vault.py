"""Key files, environment keys, subjects and the recording folder (real files, real crypto)."""

from __future__ import annotations

import base64
import os
import stat
from pathlib import Path

import numpy as np
import pytest

from voicebot.errors import ConfigError
from voicebot.media.recorder import Recorder
from voicebot.privacy.container import TamperedError
from voicebot.privacy.keys import ENV_KEY, ENV_KEY_FILE, Keyring, MasterKey, load_keyring
from voicebot.privacy.vault import Vault, contact_subject, normalise_phone, party_subject, phone_subject


def test_key_file_round_trip_is_private_and_checked(tmp_path: Path) -> None:
    ring = Keyring.new()
    path = tmp_path / "keys.json"
    ring.save(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    back = load_keyring(path, env={})
    assert back is not None and back.current_id == ring.current_id and back.path_key == ring.path_key
    path.write_text(path.read_text().replace(ring.current_id, "0" * 16))
    with pytest.raises(ConfigError, match="key file"):
        Keyring.from_file(path)
    path.write_text("{not json")
    with pytest.raises(ConfigError, match="key file"):
        Keyring.from_file(path)


def test_environment_key_in_hex_or_base64_and_bad_values(tmp_path: Path) -> None:
    raw = os.urandom(32)
    by_hex = load_keyring(None, env={ENV_KEY: raw.hex()})
    by_b64 = load_keyring(None, env={ENV_KEY: base64.b64encode(raw).decode()})
    assert by_hex is not None and by_b64 is not None
    assert by_hex.current_id == by_b64.current_id == MasterKey(raw).id
    assert by_hex.path_key == by_b64.path_key != raw  # derived, stable, not the key itself
    for bad in ("short", raw.hex()[:-2], base64.b64encode(raw[:16]).decode()):
        with pytest.raises(ConfigError, match=ENV_KEY):
            load_keyring(None, env={ENV_KEY: bad})
    assert load_keyring(None, env={}) is None
    ring = Keyring.new()
    ring.save(tmp_path / "k.json")
    both = load_keyring(None, env={ENV_KEY_FILE: str(tmp_path / "k.json"), ENV_KEY: raw.hex()})
    assert both is not None and both.current_id == ring.current_id and MasterKey(raw).id in both.keys


def test_subjects() -> None:
    assert normalise_phone("+1 (555) 123-4567") == "+15551234567"
    assert phone_subject("010-1234-5678") == "phone:01012345678"
    assert party_subject("sip:+15551234567@carrier.example;user=phone") == "phone:+15551234567"
    assert party_subject("tel:+1-555-123-4567") == "phone:+15551234567"
    assert party_subject("sip:Alice@Example.COM:5060") == "sip:Alice@example.com"
    assert contact_subject(42) == "contact:42"
    with pytest.raises(ConfigError):
        normalise_phone("call me")


def _record(vault: Vault, subject: str, seconds: float) -> tuple[str, np.ndarray]:
    sink = vault.new_recording(subject)
    rec = Recorder(sink)
    rng = np.random.default_rng(1)
    frames = rng.integers(-3000, 3000, size=(int(seconds * 50), 2, 320), dtype=np.int16)
    for caller, bot in frames:
        rec.write(caller, bot)
    rec.close()
    return sink.id, frames


def test_recordings_are_sharded_by_keyed_hash_and_never_named_by_number(tmp_path: Path) -> None:
    vault = Vault(tmp_path / "data", Keyring.new())
    rid, frames = _record(vault, phone_subject("+15551234567"), 1.5)
    path = vault.locate(rid)
    assert "5551234567" not in str(path)
    digest = path.parent.name
    assert path.parent.parent.name == digest[2:4] and path.parent.parent.parent.name == digest[:2]
    # another key holder (another path key) cannot find the folder from the number
    assert Vault(tmp_path / "data", Keyring.new()).folder(phone_subject("+15551234567")) != path.parent
    out = tmp_path / "out.wav"
    vault.export_wav(rid, out)
    from voicebot.media.frames import read_wav

    assert out.stat().st_size > 0 and len(read_wav(out)) == len(frames) * 320  # read_wav mixes to mono
    assert [r.id for r in vault.recordings_of(phone_subject("+15551234567"))] == [rid]


def test_erase_shreds_a_persons_folder_only(tmp_path: Path) -> None:
    vault = Vault(tmp_path, Keyring.new())
    mine, _ = _record(vault, phone_subject("+15550001111"), 0.5)
    theirs, _ = _record(vault, phone_subject("+15550002222"), 0.5)
    vault.save_transcript(mine, [{"speaker": "caller", "text": "my secret words"}])
    folder = vault.locate(mine).parent
    assert vault.transcript(mine) == [{"speaker": "caller", "text": "my secret words"}]
    assert vault.erase(phone_subject("+15550001111")) == [mine]
    assert not folder.exists()
    assert vault.locate(theirs).exists()
    with pytest.raises(ConfigError, match="no recording"):
        vault.locate(mine)


def test_rotation_reencrypts_and_keeps_the_audio(tmp_path: Path) -> None:
    ring = Keyring.new()
    vault = Vault(tmp_path, ring)
    rid, _ = _record(vault, contact_subject(7), 1.0)
    before = tmp_path / "before.wav"
    vault.export_wav(rid, before)
    old = ring.current_id
    ring.add(MasterKey.generate(), current=True)
    assert vault.reencrypt(vault.locate(rid)) is True
    assert vault.reencrypt(vault.locate(rid)) is False  # already under the current key
    ring.retire_all_but_current()
    assert old not in ring.keys
    after = tmp_path / "after.wav"
    vault.export_wav(rid, after)
    assert after.read_bytes() == before.read_bytes()
    assert [r.key_id for r in vault.recordings_of()] == [ring.current_id]


def test_a_tampered_recording_exports_nothing(tmp_path: Path) -> None:
    vault = Vault(tmp_path, Keyring.new())
    rid, _ = _record(vault, contact_subject(1), 3.0)
    path = vault.locate(rid)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x80
    path.write_bytes(bytes(data))
    out = tmp_path / "x.wav"
    with pytest.raises(TamperedError):
        vault.export_wav(rid, out)
    assert not out.exists() and list(tmp_path.glob(".x.wav*")) == []
