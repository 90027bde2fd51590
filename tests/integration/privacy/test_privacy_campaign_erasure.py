"""A person's data in a real campaign, exported and erased: `voicebot campaign create/run`
calls two real callees over SIP/RTP (one says "stop calling me", heard by the bot's recogniser,
and lands on the do-not-call list; one answers and hangs up); the first person also has an
encrypted recording in the data folder. `voicebot data erase --phone` then removes them, and the
raw SQLite files and the folder are searched byte by byte: nothing of the number, the name, the
words or the audio is left (the campaign is created --plain, so its words are in the file until
the erasure: the hardest case), while the other person's data and the campaign's counts remain.
The opt-out outlives the erasure: the number imported again in a new campaign is never dialled
(the dialer matches it against the keyed digest the entry became, so it needs the key)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from tests.integration.campaign.callees import Callees
from tests.integration.campaign.conftest import FLOW, voicebot, write_csv
from tests.integration.privacy.test_privacy_recording import run
from voicebot.campaign import campaigns
from voicebot.media.recorder import Recorder
from voicebot.privacy import Keyring, Vault, contact_subject
from voicebot.store import open_db

ANN, BOB = "+33612340001", "+33612340002"


def _raw(*paths: Path) -> bytes:
    out = b""
    for path in paths:
        for p in [path, *path.rglob("*")] if path.is_dir() else [path]:
            out += str(p).encode() + (p.read_bytes() if p.is_file() else b"")
    return out


def test_data_erase_leaves_nothing_of_the_person_in_the_store_or_the_folder(
    callees: Callees, key_file: Path, tmp_path: Path
) -> None:
    optout, answers = callees.opts_out(), callees.answers()
    callees.wait_ready()
    rows = [{"phone": f"sip:{ANN}@{optout}", "name": "Annabelle Quux", "timezone": "Europe/Paris"},
            {"phone": f"sip:{BOB}@{answers}", "name": "Bertrand Zed", "timezone": "Europe/Paris"}]  # fmt: skip
    db = str(tmp_path / "voicebot.db")
    contacts = write_csv(tmp_path / "c.csv", rows)
    created = voicebot("campaign", "create", "spring", "--flow", str(FLOW), "--contacts", str(contacts),
                       "--window", "00:00-00:00", "--cps", "0", "--plain", db=db)  # fmt: skip
    assert created.returncode == 0, created.stderr
    ran = voicebot("campaign", "run", "spring", "--no-progress", "--json", db=db, timeout=180)
    assert ran.returncode == 0, ran.stdout + ran.stderr

    with open_db(db) as handle:
        results = campaigns.results(handle, campaigns.get(handle, "spring").id)
    ann = next(r for r in results if r["phone"] == ANN)
    assert ann["outcome"] == "opted_out", results
    spoken = " ".join(t["text"] for t in ann["transcript"] if t["who"] == "caller")
    assert "stop calling me" in spoken, ann["transcript"]

    data = tmp_path / "data"
    vault = Vault(data, Keyring.from_file(key_file))
    sink = vault.new_recording(contact_subject(ann["contact_id"]))
    rec = Recorder(sink)
    audio = (np.sin(np.arange(32000) * 0.07) * 7000).astype(np.int16)
    for i in range(0, len(audio), 320):
        rec.write(audio[i : i + 320], audio[i : i + 320])
    rec.close()

    common = ("--key-file", str(key_file), "--data-dir", str(data), "--db", db)
    exported = run("data", "export", "--phone", "+33 6 12 34 00 01", "--json", *common)
    assert exported.returncode == 0, exported.stderr
    held = json.loads(exported.stdout)
    assert held["recordings"] == [sink.id] and held["contacts"] == [str(ann["contact_id"])]
    store = held["store"]
    assert store["contacts"][0]["name"] == "Annabelle Quux" and store["dnc"][0]["phone"] == ANN
    assert any("stop calling me" in json.dumps(t) for t in store["transcripts"])

    before = _raw(Path(db))
    assert ANN.encode() in before and b"Annabelle" in before  # what the search below must not find
    erased = run("data", "erase", "--phone", ANN, *common)
    assert erased.returncode == 0, erased.stderr
    assert f"phone {ANN}: 1 recording(s) removed" in erased.stdout, erased.stdout

    files = [Path(db), *[Path(db + s) for s in ("-wal", "-shm", "-journal") if os.path.exists(db + s)], data]
    raw = _raw(*files)
    for secret in (ANN.encode(), ANN[1:].encode(), ANN[3:].encode(), b"Annabelle", b"Quux",
                   b"stop calling me", sink.id.encode()):  # fmt: skip
        assert secret not in raw, secret
    pcm = np.repeat(audio, 2).astype("<i2").tobytes()
    assert not any(pcm[i : i + 32] in raw for i in range(0, len(pcm) - 32, 1009))

    assert BOB.encode() in raw and b"Bertrand" in raw  # the other person is untouched
    with open_db(db) as handle:
        after = campaigns.results(handle, campaigns.get(handle, "spring").id)
        with handle.read() as tx:
            attempts = tx.value("SELECT COUNT(*) FROM attempts")
    assert attempts >= 2  # anonymous counts stay
    assert [r["phone"] for r in after] == [BOB]
    again = json.loads(run("data", "export", "--phone", ANN, "--json", *common).stdout)
    assert again["recordings"] == [] and again["store"]["contacts"] == [] and again["store"]["dnc"] == []

    # the number comes back in a new campaign, at a callee that would answer: it is not dialled
    again_at = callees.answers()
    callees.wait_ready()
    back = write_csv(tmp_path / "back.csv", [{"phone": f"sip:{ANN}@{again_at}", "timezone": "Europe/Paris"}])
    created = voicebot("campaign", "create", "autumn", "--flow", str(FLOW), "--contacts", str(back),
                       "--window", "00:00-00:00", "--cps", "0", "--plain", db=db)  # fmt: skip
    assert created.returncode == 0, created.stderr
    no_key = run("campaign", "run", "autumn", "--no-progress", "--db", db)
    assert no_key.returncode == 2 and "erased people's numbers as keyed digests" in no_key.stderr, no_key.stderr
    ran = run("campaign", "run", "autumn", "--no-progress", "--json", "--key-file", str(key_file), "--db", db)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert json.loads(ran.stdout)["placed"] == 0
    with open_db(db) as handle:
        [autumn] = campaigns.results(handle, campaigns.get(handle, "autumn").id)
    assert autumn["status"] == "dnc" and autumn["attempts"] == [], autumn
