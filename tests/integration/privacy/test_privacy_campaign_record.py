"""A recorded campaign through the real path: `voicebot campaign create --record` refuses
without a key; `voicebot campaign run --metrics-port` calls a real `voicebot serve` callee over
SIP/RTP while the Prometheus endpoint is scraped; the call is recorded encrypted in its contact's
folder under the campaign's data directory, `voicebot recording export` gives the audio back;
the transcript is sealed in the database (`campaign export` reads it only with the key);
`voicebot keys rotate --db` re-encrypts both; and `voicebot data export|erase --phone` (without
--data-dir: it reads the campaign's) lists and removes them."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import wave
from pathlib import Path

from tests.integration.campaign.callees import Callees
from tests.integration.campaign.conftest import FLOW, REPO, write_csv
from tests.integration.metrics.conftest import scrape, value
from tests.integration.privacy.test_privacy_recording import _env, run
from tests.procs import die_with_parent, free_port, stop_process
from voicebot.campaign import campaigns
from voicebot.privacy import Keyring, Vault, contact_subject
from voicebot.privacy.fields import FieldSealer
from voicebot.store import open_db

CAROL = "+33612340003"


def test_recorded_campaign_is_encrypted_per_contact_scraped_exported_and_erased(
    callees: Callees, key_file: Path, tmp_path: Path
) -> None:
    answers = callees.answers(talk=5.0)
    callees.wait_ready()
    db = str(tmp_path / "voicebot.db")
    data = tmp_path / "recorded"
    contacts = write_csv(tmp_path / "c.csv", [{"phone": f"sip:{CAROL}@{answers}", "name": "Carolyn Vexby",
                                               "timezone": "Europe/Paris"}])  # fmt: skip
    create = ("campaign", "create", "rec", "--flow", str(FLOW), "--contacts", str(contacts), "--window",
              "00:00-00:00", "--cps", "0", "--record", "--data-dir", str(data), "--db", db)  # fmt: skip

    refused = run(*create)  # no key anywhere: refused before anything is stored
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert "--record" in refused.stderr and "needs a recording key" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1 and "Traceback" not in refused.stderr
    unrecorded = run(*(a for a in create if a != "--record"))  # transcripts are encrypted all the same
    assert unrecorded.returncode == 2 and "keeps its transcripts encrypted, which needs a recording key" in (
        unrecorded.stderr), unrecorded.stderr
    assert not Path(db).exists()

    created = run(*create, "--key-file", str(key_file))
    assert created.returncode == 0, created.stderr
    assert f"recorded, encrypted, under {data.resolve()}" in created.stdout

    no_key = run("campaign", "run", "rec", "--no-progress", "--db", db)
    assert no_key.returncode == 2 and "campaign rec records its calls" in no_key.stderr, no_key.stderr
    assert len(no_key.stderr.strip().splitlines()) == 1

    port = free_port()
    log = tmp_path / "run.log"
    with log.open("wb") as fh:
        dialer = subprocess.Popen(
            [sys.executable, "-m", "voicebot", "campaign", "run", "rec", "--no-progress", "--json", "--db", db,
             "--key-file", str(key_file), "--metrics-port", str(port)],
            stdout=fh, stderr=subprocess.STDOUT, cwd=REPO, env=_env(), preexec_fn=die_with_parent,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while f"metrics on http://127.0.0.1:{port}/metrics" not in log.read_text():
            assert dialer.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        during = scrape(port)
        while value(during, "voicebot_calls_active", direction="outbound") != 1:
            assert dialer.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
            during = scrape(port)
        assert value(during, "voicebot_event_loop_lag_seconds_count") >= 1
        assert dialer.wait(timeout=90) == 0, log.read_text()
    finally:
        stop_process(dialer)

    with open_db(db) as handle:
        handle.content = FieldSealer(Keyring.from_file(key_file))
        [result] = campaigns.results(handle, campaigns.get(handle, "rec").id)
    [attempt] = result["attempts"]
    assert attempt["kind"] == "answered" and attempt["recording"], result
    rid = attempt["recording"]

    vault = Vault(data, Keyring.from_file(key_file))
    [info] = vault.recordings_of(contact_subject(result["contact_id"]))
    assert info.id == rid
    raw = info.path.read_bytes()
    assert not raw.startswith(b"RIFF") and CAROL.encode() not in raw
    assert all(CAROL not in part and CAROL[1:] not in part for part in info.path.parts)
    out = tmp_path / "call.wav"
    exported = run("recording", "export", rid, "-o", str(out), "--key-file", str(key_file), "--data-dir", str(data))
    assert exported.returncode == 0, exported.stderr
    with wave.open(str(out)) as w:
        seconds = w.getnframes() / w.getframerate()
        assert w.getnchannels() == 2
    assert seconds > 2.0, seconds  # the callee stayed five seconds; the bot spoke its question

    files = [Path(db), *(Path(db + s) for s in ("-wal", "-journal") if Path(db + s).exists())]
    assert not any(b"short test call" in f.read_bytes() for f in files)  # the bot's words, sealed
    plain = run("campaign", "export", "rec", "-o", str(tmp_path / "r.json"), "--db", db)
    assert plain.returncode == 2 and "transcripts encrypted" in plain.stderr, plain.stderr
    assert len(plain.stderr.strip().splitlines()) == 1
    old_key = Keyring.from_file(key_file).current_id
    rotated = run("keys", "rotate", "--key-file", str(key_file), "--db", db, "--json")
    assert rotated.returncode == 0, rotated.stderr
    rotation = json.loads(rotated.stdout)
    assert rotation["reencrypted"] == 1 and rotation["resealed"] == 2 and rotation["retired"] == [old_key], rotation
    vault = Vault(data, Keyring.from_file(key_file))
    assert vault.recordings_of(contact_subject(result["contact_id"]))[0].key_id == rotation["new_key"]
    opened = run("campaign", "export", "rec", "-o", str(tmp_path / "r.json"), "--key-file", str(key_file), "--db", db)
    assert opened.returncode == 0, opened.stderr
    [row] = json.loads((tmp_path / "r.json").read_text())
    assert row["slots"] == result["slots"] and row["status"] == result["status"], row

    common = ("--key-file", str(key_file), "--db", db)  # no --data-dir: the campaign's is found
    held = json.loads(run("data", "export", "--phone", CAROL, "--json", *common).stdout)
    assert held["recordings"] == [rid], held
    assert held["store"]["attempts"][0]["recording"] == rid
    assert "short test call" in json.dumps(held["store"]["transcripts"])  # opened with the rotated key
    erased = run("data", "erase", "--phone", CAROL, *common)
    assert erased.returncode == 0, erased.stderr
    assert f"phone {CAROL}: 1 recording(s) removed" in erased.stdout, erased.stdout
    assert vault.all_files() == [] and not info.path.exists()
    assert rid.encode() not in Path(db).read_bytes()
