"""Alert rules, call outcomes and call quality: pure code, synthetic observations."""

from __future__ import annotations

from pathlib import Path

import pytest

from voicebot.errors import ConfigError
from voicebot.media.emodel import call_rating
from voicebot.metrics.alerts import AlertBook, AlertRule, load_rules, parse_rules
from voicebot.metrics.observer import classify
from voicebot.metrics.quality import media_quality


def test_a_rule_reports_each_transition_once() -> None:
    book = AlertBook([AlertRule(name="conf", signal="asr_confidence", window=4, below=0.85, min_samples=2)])
    assert book.observe("asr_confidence", 0.5) == []  # fewer than min_samples: quiet
    fired = book.observe("asr_confidence", 0.6)
    assert [(c.firing, round(c.value, 2)) for c in fired] == [(True, 0.55)]
    assert book.observe("asr_confidence", 0.7) == []  # still firing: nothing new
    assert book.observe("turn_latency", 9.0) == []  # other signals do not touch it
    book.observe("asr_confidence", 1.0)
    resolved = book.observe("asr_confidence", 1.0)  # window 0.6 0.7 1 1 -> 0.825: still low
    assert resolved == []
    resolved = book.observe("asr_confidence", 1.0)  # 0.7 1 1 1 -> 0.925
    assert [c.firing for c in resolved] == [False] and book.firing == {"conf": False}


def test_rule_statistics_and_above() -> None:
    book = AlertBook([AlertRule(name="lag", signal="loop_lag", window=20, above=0.02, stat="p95", min_samples=1)])
    for _ in range(19):
        assert book.observe("loop_lag", 0.001) == []
    assert book.observe("loop_lag", 0.5) == []  # one spike in 20 is above the 95th percentile
    assert [c.firing for c in book.observe("loop_lag", 0.5)] == [True]


def test_rules_file(tmp_path: Path) -> None:
    path = tmp_path / "alerts.yaml"
    path.write_text("alerts:\n  - {name: mos_low, signal: mos, window: 10, below: 3.5}\n")
    (rule,) = load_rules(path)
    assert rule.min_samples == 2 and rule.below == 3.5 and rule.stat == "mean"
    bad = [
        ({"alerts": [{"name": "x", "signal": "nope", "below": 1}]}, "signal must be one of"),
        ({"alerts": [{"name": "x", "signal": "mos", "below": 1, "above": 2}]}, "exactly one"),
        ({"alerts": [{"name": "x", "signal": "mos", "below": "low"}]}, "could not convert"),
        ({"alerts": [{"name": "x", "signal": "mos", "below": 1, "windw": 3}]}, "unknown field"),
        ({"alerts": [{"name": "x", "signal": "mos", "below": 1, "stat": "median"}]}, "stat must be"),
        ({"rules": []}, "'alerts:' list"),
    ]
    for data, message in bad:
        with pytest.raises(ConfigError, match=message):
            parse_rules(data)
    path.write_text("alerts: [\n")
    with pytest.raises(ConfigError, match="not YAML"):
        load_rules(path)


def test_outcomes() -> None:
    assert classify(True, 200, "BYE") == "completed"
    assert classify(True, 200, "media timeout (no RTP for 30 s)") == "dropped"
    assert classify(False, 486, "Busy Here") == "busy"
    assert classify(False, 487, "no answer") == "no_answer"
    assert classify(False, 407, "Proxy Authentication Required") == "auth_failed"
    assert classify(False, 408, "No Response") == "network"
    assert classify(False, 404, "Not Found") == "rejected"
    assert classify(False, 503, "port unreachable") == "network"


def test_call_quality_is_the_reports_e_model() -> None:
    stats = {
        "codec": "PCMU/8000",
        "inbound-rtp": {"packetsReceived": 950, "packetsLost": 50, "jitter": 0.004,
                        "jitterBufferEmittedCount": 8000, "jitterBufferDelay": 320.0, "concealedSamples": 400},
        "remote-inbound-rtp": {"roundTripTime": 0.1},
    }  # fmt: skip
    q = media_quality(stats)
    assert q is not None
    assert q.packets_received == 950 and q.packets_lost == 50 and q.jitter_s == pytest.approx(0.004)
    assert q.loss_ratio == pytest.approx(0.05) and q.concealment_ratio == pytest.approx(400 / 8400, abs=1e-4)
    # half the round trip + the mean playout delay (320 s of delay over 8000 samples) + one packet
    assert q.one_way_delay_s == pytest.approx(0.05 + 0.04 + 0.02)
    rating = call_rating("PCMU/8000", one_way_delay_ms=110, loss_fraction=0.05)
    assert q.mos == pytest.approx(rating.mos, abs=0.01)  # the one E-model, nothing computed twice
    clean = media_quality({**stats, "inbound-rtp": {**stats["inbound-rtp"], "packetsLost": 0}})
    assert clean is not None and 4.3 < clean.mos <= 4.5 and q.mos < clean.mos - 0.3
    assert media_quality({"inbound-rtp": {"packetsReceived": 10}}) is None  # no codec: no media
