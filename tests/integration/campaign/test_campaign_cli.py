"""``voicebot campaign`` and ``voicebot dnc`` through the command-line entry point: bad input gets one line and exit 2,
and nothing is stored from a refused command."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.integration.campaign.conftest import FLOW, TEST_KEY, cli, write_csv


@pytest.fixture
def csv_ok(tmp_path: Path) -> Path:
    return write_csv(tmp_path / "ok.csv", [
        {"phone": "+33612000001", "name": "Ann", "good_time": "yes"},
        {"phone": "06 12 00 00 02", "name": "Bob", "good_time": "banana"},  # not a yes/no for the flow's slot
        {"phone": "sip:bob@", "name": "Cy", "good_time": ""},
    ])


def create(db: str, csv_path: Path, *extra: str, keep: str = "--plain") -> subprocess.CompletedProcess[str]:
    return cli("campaign", "create", "c1", "--flow", str(FLOW), "--contacts", str(csv_path), "--region", "FR",
                    "--trunk", "sip:127.0.0.1:9", *extra, *([keep] if keep else []), db=db)


@pytest.mark.parametrize("extra, message", [
    (("--window", "9-17"), "HH:MM"),
    (("--retry-after", "5 minutes"), "duration like 90s"),
    (("--cps", "-1"), "must not be negative"),
    (("--concurrency", "0"), "whole number"),
    (("--timezone", "Mars/Olympus"), "unknown time zone"),
    (("--trunk", "sip:"), "--trunk"),
    (("--webhook-secret", "x"), "--webhook-secret needs --webhook"),
    (("--webhook", "ftp://crm"), "http:// or https://"),
])
def test_bad_create_arguments_exit_2_and_store_nothing(tmp_path: Path, csv_ok: Path, extra: tuple[str, ...],
                                                       message: str) -> None:
    db = str(tmp_path / "v.db")
    done = create(db, csv_ok, *extra)
    assert done.returncode == 2 and message in done.stderr, done.stderr
    assert "Traceback" not in done.stderr
    listed = cli("campaign", "list", "--json", db=db)
    assert listed.returncode == 0 and json.loads(listed.stdout) == []


def test_contacts_file_problems(tmp_path: Path, csv_ok: Path) -> None:
    db = str(tmp_path / "v.db")
    no_phone = write_csv(tmp_path / "nophone.csv", [{"number": "+33612000001"}])
    done = create(db, no_phone)
    assert done.returncode == 2 and "no 'phone' column" in done.stderr and len(done.stderr.splitlines()) == 1
    binary = tmp_path / "bin.csv"
    binary.write_bytes(b"phone\n\xff\xfe\x00")
    assert create(db, binary).returncode == 2
    done = create(db, csv_ok, "--json")
    assert done.returncode == 0, done.stderr
    bad = {i["line"]: i["error"] for i in json.loads(done.stdout)["invalid"]}
    assert set(bad) == {3, 4} and "good_time" in bad[3] and "SIP URI" in bad[4]
    again = create(db, csv_ok)
    assert again.returncode == 2 and "already exists" in again.stderr


def test_state_export_and_lookup_errors(tmp_path: Path, csv_ok: Path) -> None:
    db = str(tmp_path / "v.db")
    assert create(db, csv_ok).returncode == 0
    assert cli("campaign", "pause", "c1", db=db).stdout.strip() == "campaign c1: paused"
    ran = cli("campaign", "run", "c1", "--no-progress", "--json", db=db)
    summary = json.loads(ran.stdout)
    assert ran.returncode == 3 and summary["reason"] == "paused" and summary["attempts"] == 0
    assert cli("campaign", "resume", "c1", db=db).returncode == 0
    status = json.loads(cli("campaign", "status", "c1", "--json", db=db).stdout)
    assert status["state"] == "active" and status["status"]["pending"] == 1 and status["status"]["invalid"] == 2
    assert cli("campaign", "status", "nope", db=db).returncode == 2
    assert cli("campaign", "export", "c1", "-o", str(tmp_path / "r.txt"), db=db).returncode == 2
    assert cli("campaign", "list", db="mysql://x/y").returncode == 2
    unwritable = cli("campaign", "export", "c1", "-o", str(tmp_path / "no" / "r.csv"), db=db)
    assert unwritable.returncode == 2 and "cannot write" in unwritable.stderr


def test_transcripts_are_encrypted_unless_created_plain(tmp_path: Path, csv_ok: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    db = str(tmp_path / "v.db")
    monkeypatch.delenv("VOICEBOT_RECORDING_KEY", raising=False)
    monkeypatch.delenv("VOICEBOT_KEY_FILE", raising=False)
    refused = create(db, csv_ok, keep="")  # no key anywhere, no --plain: one line naming both ways out
    assert refused.returncode == 2 and len(refused.stderr.strip().splitlines()) == 1, refused.stderr
    assert "voicebot keys generate" in refused.stderr and "--plain" in refused.stderr
    for both in (("--plain", "--encrypt"), ("--plain", "--record")):
        clash = create(db, csv_ok, *both, keep="")
        assert clash.returncode == 2 and "Traceback" not in clash.stderr, clash.stderr
    assert json.loads(cli("campaign", "list", "--json", db=db).stdout) == []  # nothing stored

    monkeypatch.setenv("VOICEBOT_RECORDING_KEY", TEST_KEY)
    sealed = create(db, csv_ok, keep="")
    assert sealed.returncode == 0 and "kept encrypted" in sealed.stdout, sealed.stderr
    plain = cli("campaign", "create", "c2", "--flow", str(FLOW), "--contacts", str(csv_ok), "--region", "FR",
                "--plain", db=db)
    assert plain.returncode == 0 and "kept PLAIN" in plain.stdout, plain.stderr
    listed = {e["campaign"]: e["transcripts"] for e in json.loads(cli("campaign", "list", "--json", db=db).stdout)}
    assert listed == {"c1": "encrypted", "c2": "PLAIN (created --plain)"}
    assert "transcripts PLAIN" in cli("campaign", "list", db=db).stdout
    assert "transcripts PLAIN" in cli("campaign", "status", "c2", db=db).stdout
    assert "transcripts encrypted" in cli("campaign", "status", "c1", db=db).stdout


def test_dnc_commands(tmp_path: Path) -> None:
    db = str(tmp_path / "v.db")
    assert cli("dnc", "add", "06 12 00 00 09", "--region", "FR", db=db).stdout.startswith("+33612000009: added")
    assert "already listed" in cli("dnc", "add", "sip:+33612000009@carrier", db=db).stdout
    bad = cli("dnc", "add", "12345", db=db)
    assert bad.returncode == 2 and "--region" in bad.stderr
    listing = tmp_path / "list.txt"
    listing.write_text("# opted out by letter\n+33612000010\nnot a number\n")
    refused = cli("dnc", "import", str(listing), db=db)
    assert refused.returncode == 2 and "list.txt:3" in refused.stderr and "nothing imported" in refused.stderr
    listing.write_text("phone,name\n+33612000010,Dee\n+33612000011,Eve\n")
    assert cli("dnc", "import", str(listing), db=db).stdout.strip().endswith("2 numbers, 2 new")
    assert "removed" in cli("dnc", "remove", "+33612000010", db=db).stdout
    listed = json.loads(cli("dnc", "list", "--json", db=db).stdout)
    assert [e["phone"] for e in listed] == ["+33612000009", "+33612000011"]
