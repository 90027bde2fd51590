"""`voicebot keys rotate` and `voicebot data export|erase` as a user runs them, on real
encrypted recordings in a data folder; afterwards the raw folder is searched byte by byte."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np

from tests.integration.privacy.test_privacy_recording import run
from voicebot.media.recorder import Recorder
from voicebot.privacy import Keyring, Vault, phone_subject

NUMBER = "+821012345678"


def _recordings(data: Path, key_file: Path) -> tuple[dict[str, str], bytes]:
    vault = Vault(data, Keyring.from_file(key_file))
    pcm = (np.sin(np.arange(16000 * 2) * 0.05) * 9000).astype(np.int16)
    ids = {}
    for who in (NUMBER, "+821099990000"):
        sink = vault.new_recording(phone_subject(who))
        rec = Recorder(sink)
        for i in range(0, len(pcm), 320):
            rec.write(pcm[i : i + 320], pcm[i : i + 320])
        rec.close()
        vault.save_transcript(sink.id, [{"speaker": "caller", "text": f"my number is {who}, call me Annabelle"}])
        ids[who] = sink.id
    stereo = np.repeat(pcm, 2).astype("<i2").tobytes()
    return ids, stereo


def _raw(folder: Path) -> bytes:
    return b"".join((p.read_bytes() if p.is_file() else b"") + str(p).encode() for p in folder.rglob("*"))


def test_keys_rotate_reencrypts_every_recording(key_file: Path, tmp_path: Path) -> None:
    data = tmp_path / "data"
    ids, _ = _recordings(data, key_file)
    old_keys = tmp_path / "old-keys.json"
    shutil.copy(key_file, old_keys)
    before = tmp_path / "before.wav"
    assert run("recording", "export", ids[NUMBER], "-o", str(before), "--key-file", str(key_file),
               "--data-dir", str(data)).returncode == 0  # fmt: skip
    done = run("keys", "rotate", "--key-file", str(key_file), "--data-dir", str(data), "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["reencrypted"] == 4 and result["failed"] == [] and len(result["retired"]) == 1  # 2 audio + 2 text
    listed = run("keys", "list", "--key-file", str(key_file))
    assert listed.stdout.count("\n") == 1 and result["new_key"] in listed.stdout
    after = tmp_path / "after.wav"
    assert run("recording", "export", ids[NUMBER], "-o", str(after), "--key-file", str(key_file),
               "--data-dir", str(data)).returncode == 0  # fmt: skip
    assert after.read_bytes() == before.read_bytes()
    stale = run("recording", "export", ids[NUMBER], "-o", str(tmp_path / "x.wav"), "--key-file", str(old_keys),
                "--data-dir", str(data))  # fmt: skip
    assert stale.returncode == 3 and "wrong key" in stale.stderr
    # the folder layout did not change: the path key survives rotation
    assert run("data", "export", "--phone", NUMBER, "--key-file", str(key_file), "--data-dir", str(data),
               "--json").stdout.count(ids[NUMBER]) == 1  # fmt: skip


def test_data_erase_leaves_nothing_of_the_person_readable(key_file: Path, tmp_path: Path) -> None:
    data = tmp_path / "data"
    ids, audio = _recordings(data, key_file)
    common = ("--key-file", str(key_file), "--data-dir", str(data))
    exported = run("data", "export", "--phone", "+82 10-1234-5678", "--json", *common)
    assert exported.returncode == 0 and json.loads(exported.stdout)["recordings"] == [ids[NUMBER]]
    erased = run("data", "erase", "--phone", NUMBER, *common)
    assert erased.returncode == 0, erased.stderr
    assert f"phone {NUMBER}: 1 recording(s) removed" in erased.stdout and ids[NUMBER] in erased.stdout
    raw = _raw(data)
    for secret in (NUMBER.encode(), NUMBER[3:].encode(), b"Annabelle", ids[NUMBER].encode(), b"RIFF"):
        assert secret not in raw, secret
    assert not any(audio[i : i + 32] in raw for i in range(0, len(audio) - 32, 997))
    gone = run("recording", "export", ids[NUMBER], "-o", str(tmp_path / "g.wav"), *common)
    assert gone.returncode == 2 and "no recording" in gone.stderr
    kept = run("recording", "export", ids["+821099990000"], "-o", str(tmp_path / "k.wav"), *common)
    assert kept.returncode == 0  # the other person's recording is untouched
    again = run("data", "erase", "--phone", NUMBER, "--json", *common)
    assert json.loads(again.stdout)["recordings"] == []
