"""Webhook signatures, the MOS estimate, and the export's shape."""

from __future__ import annotations

import csv
import io
import json

from voicebot.campaign.export import to_csv, to_json
from voicebot.campaign.sipcall import estimate_mos
from voicebot.campaign.webhooks import retry_delay, sign, verify


def test_signature_is_hmac_sha256_of_the_body() -> None:
    # RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?"
    expected = "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    assert sign("Jefe", b"what do ya want for nothing?") == f"sha256={expected}"
    assert verify("Jefe", b"what do ya want for nothing?", f"sha256={expected}")
    assert not verify("Jefe", b"what do ya want for nothing!", f"sha256={expected}")
    assert [retry_delay(n) for n in (1, 2, 3, 12)] == [1, 2, 4, 300]


def test_mos_estimate_falls_with_loss_and_delay() -> None:
    clean = {"codec": "PCMU/8000", "inbound-rtp": {"packetsReceived": 1000, "packetsLost": 0, "jitter": 0.001}}
    lossy = {"codec": "PCMU/8000", "inbound-rtp": {"packetsReceived": 950, "packetsLost": 50, "jitter": 0.001}}
    late = {"codec": "PCMU/8000", "inbound-rtp": {"packetsReceived": 1000, "packetsLost": 0, "jitter": 0.05},
            "remote-inbound-rtp": {"roundTripTime": 0.6}}
    assert 4.3 <= estimate_mos(clean) <= 4.5  # the E-model's ceiling for narrowband voice
    assert estimate_mos(lossy) < estimate_mos(clean) - 0.3
    assert estimate_mos(late) < 3.6
    assert estimate_mos({"inbound-rtp": {"packetsReceived": 1000}}) is None  # no codec: no media to rate


RESULT = {
    "contact_id": 7, "line": 8, "phone": "+33612000001", "name": "Ann", "status": "done", "outcome": "reached",
    "note": None, "attempt_count": 2, "slots": {"good_time": True}, "transcript": [], "fields": {},
    "attempts": [
        {"started_at": 0.0, "sip_status": 486, "outcome": None, "kind": "busy", "duration_s": 0.25},
        {"started_at": 90.5, "sip_status": 200, "outcome": "reached", "kind": "answered", "duration_s": 12.3456},
    ],
}


def test_export_shapes() -> None:
    (obj,) = json.loads(to_json([RESULT]))
    assert obj["attempts"] == [
        {"started_at": "1970-01-01T00:00:00.000+00:00", "sip_status": 486, "outcome": "busy", "duration_s": 0.25},
        {"started_at": "1970-01-01T00:01:30.500+00:00", "sip_status": 200, "outcome": "reached", "duration_s": 12.346},
    ]
    (row,) = csv.DictReader(io.StringIO(to_csv([RESULT])))
    assert row["slot_good_time"] == "True" and row["attempt_count"] == "2" and json.loads(row["attempts"])[1][
        "sip_status"] == 200
