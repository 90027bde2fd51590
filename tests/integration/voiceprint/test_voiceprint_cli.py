"""`voicebot voiceprint enroll|verify` as a user runs them: real espeak-ng speech, the real model,
prints encrypted in a data folder that `data export|erase` and `keys rotate` handle like any other
personal data; every bad input gets one line and exit code 2 and changes nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from voicebot.voiceprint.verify import FULL_BAND_THRESHOLD

from .conftest import new_key_file, voicebot


def _raw(folder: Path) -> bytes:
    return b"".join((p.read_bytes() if p.is_file() else b"") + str(p).encode() for p in folder.rglob("*"))


def _common(key_file: Path, data: Path) -> tuple[str, ...]:
    return ("--key-file", str(key_file), "--data-dir", str(data))


def _enrol(wavs: dict[str, Path], key_file: Path, data: Path) -> dict[str, object]:
    done = voicebot("voiceprint", "enroll", "--id", "c-1001", *(str(wavs[f"enrol{i}"]) for i in range(3)),
                    "--json", *_common(key_file, data))  # fmt: skip
    assert done.returncode == 0, done.stderr
    result: dict[str, object] = json.loads(done.stdout)
    return result


def test_enrol_then_verify_the_same_voice_and_another(wavs: dict[str, Path], key_file: Path, tmp_path: Path) -> None:
    data = tmp_path / "data"
    enrolled = _enrol(wavs, key_file, data)
    assert enrolled["id"] == "c-1001" and enrolled["utterances"] == 3 and enrolled["wideband"] is True
    assert 8 < float(enrolled["seconds"]) < 20  # type: ignore[arg-type]
    raw = _raw(data)
    assert b"c-1001" not in raw and b"narrow" not in raw and b"voicebot-voiceprint" not in raw  # sealed
    same = voicebot("voiceprint", "verify", "--id", "c-1001", str(wavs["test"]), "--json", *_common(key_file, data))
    verdict = json.loads(same.stdout)
    assert verdict["band"] == "full" and verdict["threshold"] == FULL_BAND_THRESHOLD and verdict["seconds"] > 2
    assert same.returncode == (0 if verdict["result"] == "match" else 3), same.stderr
    assert verdict["result"] == ("match" if verdict["score"] >= FULL_BAND_THRESHOLD else "no_match")
    other = voicebot("voiceprint", "verify", "--id", "c-1001", str(wavs["other"]), "--json", *_common(key_file, data))
    assert other.returncode == 3 and json.loads(other.stdout)["result"] == "no_match"
    assert verdict["score"] > json.loads(other.stdout)["score"] + 0.1  # a man's voice against a woman's
    loose = ("--threshold", "0.8", *_common(key_file, data))
    hit = voicebot("voiceprint", "verify", "--id", "c-1001", str(wavs["test"]), *loose)
    assert hit.returncode == 0 and hit.stdout.startswith("c-1001: match (score 0.")
    assert "threshold 0.8 in the full band" in hit.stdout
    miss = voicebot("voiceprint", "verify", "--id", "c-1001", str(wavs["other"]), *loose)
    assert miss.returncode == 3 and miss.stdout.startswith("c-1001: no match (score 0.")


@pytest.fixture(scope="module")
def enrolled(wavs: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A data folder with c-1001 enrolled, and its key file (shared: the tests below change nothing)."""
    folder = tmp_path_factory.mktemp("enrolled")
    key_file = new_key_file(folder)
    _enrol(wavs, key_file, folder / "data")
    return key_file, folder / "data"


def _files(folder: Path) -> dict[Path, bytes]:
    return {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("verify", "--id", "c-404", "{test}"), "unknown id 'c-404': no voiceprint enrolled"),
        (("verify", "--id", "c-1001", "{short}"), "short.wav: too short: 0."),
        (("verify", "--id", "c-1001", "{silent}"), "silent.wav: no speech in it (silent)"),
        (("verify", "--id", "c-1001", "{text}"), "text.wav: wrong format: not a PCM WAV file"),
        (("verify", "--id", "c-1001", "{pcm8}"), "pcm8.wav: wrong format: "),
        (("verify", "--id", "c-1001", "{missing}"), "missing.wav: no such file"),
        (("verify", "--id", "c-1001", "{test}", "--threshold", "2"), "--threshold 2: a cosine score threshold"),
        (("verify", "--id", " ", "{test}"), "bad voiceprint id"),
        (("enroll", "--id", "c-1001", "--add", "{short}"), "too short: 0."),
        (("enroll", "--id", "c-1001", "--add", "{enrol0}", "{silent}"), "silent.wav: no speech in it (silent)"),
        (("enroll", "--id", "c-1001", "{enrol0}", "--min-seconds", "0"), "--min-seconds 0: use 0.5 to 600"),
    ],
)
def test_bad_input_gets_one_line_exit_2_and_loses_nothing(
    wavs: dict[str, Path], enrolled: tuple[Path, Path], tmp_path: Path, args: tuple[str, ...], message: str
) -> None:
    key_file, data = enrolled
    before = _files(data)
    files = {**{k: str(v) for k, v in wavs.items()}, "missing": str(tmp_path / "missing.wav")}
    done = voicebot("voiceprint", *(a.format(**files) for a in args), *_common(key_file, data))
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("voicebot voiceprint: ")
    assert message in done.stderr and "Traceback" not in done.stderr
    assert _files(data) == before  # the print is as it was


def test_without_a_key_nothing_is_stored(wavs: dict[str, Path], tmp_path: Path) -> None:
    done = voicebot("voiceprint", "enroll", "--id", "c-1", str(wavs["enrol0"]), "--data-dir", str(tmp_path / "d"))
    assert done.returncode == 2 and "needs a recording key" in done.stderr and done.stderr.count("\n") == 1
    assert not (tmp_path / "d").exists()


def test_data_export_lists_and_erase_shreds_the_voiceprint(
    wavs: dict[str, Path], key_file: Path, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    _enrol(wavs, key_file, data)
    listed = voicebot("data", "export", "--contact", "c-1001", "--json", *_common(key_file, data))
    assert listed.returncode == 0 and json.loads(listed.stdout)["voiceprints"] == ["contact:c-1001"]
    other = voicebot("data", "export", "--contact", "c-2002", "--json", *_common(key_file, data))
    assert json.loads(other.stdout)["voiceprints"] == []
    erased = voicebot("data", "erase", "--contact", "c-1001", *_common(key_file, data))
    assert erased.returncode == 0 and "voiceprint of contact:c-1001 removed" in erased.stdout
    assert not any(p.is_file() for p in data.rglob("*"))
    gone = voicebot("voiceprint", "verify", "--id", "c-1001", str(wavs["test"]), *_common(key_file, data))
    assert gone.returncode == 2 and "unknown id 'c-1001'" in gone.stderr


def test_keys_rotate_reencrypts_the_voiceprint(wavs: dict[str, Path], key_file: Path, tmp_path: Path) -> None:
    data = tmp_path / "data"
    _enrol(wavs, key_file, data)
    old_keys = tmp_path / "old.json"
    old_keys.write_bytes(key_file.read_bytes())
    old_keys.chmod(0o600)
    before = voicebot("voiceprint", "verify", "--id", "c-1001", str(wavs["test"]), "--json", *_common(key_file, data))
    rotated = voicebot("keys", "rotate", "--json", *_common(key_file, data))
    assert rotated.returncode == 0 and json.loads(rotated.stdout)["reencrypted"] == 1, rotated.stderr
    after = voicebot("voiceprint", "verify", "--id", "c-1001", str(wavs["test"]), "--json", *_common(key_file, data))
    assert json.loads(after.stdout) == json.loads(before.stdout)
    stale = voicebot("voiceprint", "verify", "--id", "c-1001", str(wavs["test"]), *_common(old_keys, data))
    assert stale.returncode == 1 and stale.stderr.count("\n") == 1 and stale.stderr.endswith("wrong key\n")
