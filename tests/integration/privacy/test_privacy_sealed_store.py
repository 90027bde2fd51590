"""What calls said, sealed in the campaign store on real SQLite and PostgreSQL: a campaign that
encrypts writes its transcripts, slots and CRM messages as AES-256-GCM containers through the
store's own claim and finish transactions; they read back only with the key, survive a key
rotation (`reseal`), and a changed byte is refused."""

from __future__ import annotations

import json

import pytest

from tests.integration.campaign.conftest import db_url, pg_server, pg_url  # noqa: F401 - both databases
from tests.integration.campaign.test_campaign_store import W1, at, make, outcome
from voicebot.campaign import campaigns, claims, outbox
from voicebot.campaign.claims import Claim
from voicebot.campaign.placer import TurnRecord
from voicebot.errors import ConfigError
from voicebot.privacy import Keyring, MasterKey, SealedFileError
from voicebot.privacy.campaign_store import CampaignPersonalStore
from voicebot.privacy.fields import FieldSealer
from voicebot.store.db import Db

WORDS = "my card ends in four two four two"


def _raw(db: Db) -> str:
    with db.read() as tx:
        rows = tx.all("SELECT slots_json, transcript_json FROM attempt_content")
        rows += tx.all("SELECT body, '' FROM outbox")
    return json.dumps([list(r) for r in rows])


def test_sealed_campaign_keeps_transcripts_slots_and_crm_messages_encrypted(db_url: str) -> None:  # noqa: F811
    ring = Keyring.new()
    db, c = make(db_url, n=1, webhook_url="http://127.0.0.1:9/crm", sealed=True)
    assert isinstance(db, Db) and c.sealed
    got = claims.claim(db, c, W1, at(2, 10))
    assert isinstance(got, Claim)
    said = outcome("answered", outcome="reached", slots={"last_four": "4242"},
                   transcript=(TurnRecord(who="caller", text=WORDS),))  # fmt: skip
    with pytest.raises(ConfigError, match="needs the recording key"):  # never written in the clear
        claims.finish(db, c, got, said, at(2, 10), at(2, 10))
    db.content = FieldSealer(ring)
    claims.finish(db, c, got, said, at(2, 10), at(2, 10))

    raw = _raw(db)
    assert WORDS not in raw and "4242" not in raw and raw.count("sealed:") == 3
    [row] = campaigns.results(db, c.id)
    assert row["transcript"][0]["text"] == WORDS and row["slots"] == {"last_four": "4242"}
    [delivery] = outbox.take_due(db, c.id, at(2, 11), 60.0)
    assert json.loads(delivery.body)["slots"] == {"last_four": "4242"}  # the CRM gets the plain result

    store = CampaignPersonalStore(db)
    ring.add(MasterKey.generate(), current=True)
    assert store.reseal(FieldSealer(ring)) == 3
    ring.retire_all_but_current()
    assert campaigns.results(db, c.id)[0]["transcript"][0]["text"] == WORDS  # the new key alone opens them
    assert WORDS in json.dumps(store.person_records([str(row["contact_id"])], None)["transcripts"])

    db.content = None
    with pytest.raises(ConfigError, match="needs the recording key"):
        campaigns.results(db, c.id)
    with db.write() as tx:
        value = str(tx.value("SELECT transcript_json FROM attempt_content"))
        flipped = value[:-8] + ("A" if value[-8] != "A" else "B") + value[-7:]
        tx.run("UPDATE attempt_content SET transcript_json = ?", (flipped,))
    db.content = FieldSealer(ring)
    with pytest.raises(SealedFileError):
        campaigns.results(db, c.id)
    db.close()


def test_a_campaign_that_does_not_encrypt_stores_plain_json_with_or_without_a_key(db_url: str) -> None:  # noqa: F811
    db, c = make(db_url, n=1)
    assert isinstance(db, Db) and not c.sealed
    db.content = FieldSealer(Keyring.new())
    got = claims.claim(db, c, W1, at(2, 10))
    assert isinstance(got, Claim)
    claims.finish(db, c, got, outcome("answered", transcript=(TurnRecord(who="caller", text=WORDS),)),
                  at(2, 10), at(2, 10))  # fmt: skip
    assert WORDS in _raw(db) and "sealed:" not in _raw(db)
    db.content = None
    assert campaigns.results(db, c.id)[0]["transcript"][0]["text"] == WORDS
    db.close()
