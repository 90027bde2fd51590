"""Prometheus metrics scraped during real loopback calls: `voicebot serve --metrics-port` with a
`voicebot dial` caller, and a bot call that hears a caller speak (espeak-ng, pocketsphinx):
the metrics follow the call's own progress events."""

from __future__ import annotations

import asyncio
import json
import logging
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from tests.integration.metrics.conftest import scrape, value
from tests.interop.sip.conftest import Served, voicebot_cmd
from tests.procs import free_port
from voicebot.agent import UserAgent
from voicebot.asr import get_engine
from voicebot.call import Call
from voicebot.metrics import AlertRule, Metrics
from voicebot.runtime import BUCKETS
from voicebot.tts import EspeakEngine, Synthesizer
from voicebot.voice import Speech


def test_serve_exposes_call_media_and_alert_metrics_while_calls_run(
    serve: Callable[..., Served], speech_wav: Path, tmp_path: Path
) -> None:
    rules = tmp_path / "alerts.yaml"
    rules.write_text(
        "alerts:\n"
        "  - {name: mos_low, signal: mos, window: 10, below: 3.5, min_samples: 1}\n"
        "  - {name: calls_with_media, signal: rtp_loss, window: 5, below: 0.5, min_samples: 1}\n"
    )
    port, stats = free_port(), tmp_path / "stats.json"
    served = serve("--echo", "--metrics-port", str(port), "--alerts", str(rules), "--stats", str(stats))
    assert f"metrics on http://127.0.0.1:{port}/metrics" in served.output()
    before = scrape(port)
    assert value(before, "voicebot_alert_active", alert="mos_low") == 0
    dial = subprocess.Popen(voicebot_cmd("dial", served.uri, "--play", str(speech_wav), "--hangup-after", "6"),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
    try:
        deadline = time.monotonic() + 15
        during = scrape(port)
        while value(during, "voicebot_calls_active", direction="inbound") != 1:
            assert time.monotonic() < deadline, during
            time.sleep(0.1)
            during = scrape(port)
        time.sleep(1.5)
        during = scrape(port)
        assert value(during, "voicebot_calls_active", direction="inbound") == 1
        assert value(during, "voicebot_event_loop_lag_seconds_count") >= 20  # measured all along
        _runtime_histograms(during)
        assert value(during, "voicebot_calls_total", direction="inbound", outcome="completed", sip_status="200") != 1
        out, err = dial.communicate(timeout=30)
    finally:
        if dial.poll() is None:
            dial.kill()
    assert dial.returncode == 0, out + err
    deadline = time.monotonic() + 10
    after = scrape(port)
    while value(after, "voicebot_calls_active", direction="inbound") != 0:
        assert time.monotonic() < deadline, after
        time.sleep(0.1)
        after = scrape(port)
    assert value(after, "voicebot_calls_total", direction="inbound", outcome="completed", sip_status="200") == 1
    assert value(after, "voicebot_drop_ratio") == 0
    assert value(after, "voicebot_rtp_packets_total", kind="received") > 150  # about 6 s of 20 ms packets
    assert value(after, "voicebot_call_mos_count") == 1 and value(after, "voicebot_call_mos_sum") > 4.0
    assert value(after, "voicebot_rtp_jitter_seconds_count") == 1
    assert value(after, "voicebot_alert_active", alert="calls_with_media") == 1
    assert value(after, "voicebot_alert_active", alert="mos_low") == 0
    log = served.stop()
    assert log.count("alert calls_with_media FIRING") == 1, log
    assert "WARNING" in log
    # the scrapes read the histograms `serve --stats` writes on exit: the same counts, grown since
    kept = json.loads(stats.read_text())
    assert value(after, "voicebot_gc_objects_frozen") == kept["gc_frozen"] > 1000
    scraped_lag = value(after, "voicebot_event_loop_lag_seconds_count")
    assert scraped_lag <= kept["loop_lag"]["count"] <= scraped_lag + 20 * 15  # 20 probes a second, stopped in 15 s
    for generation, h in kept["gc_pauses"].items():
        assert value(after, "voicebot_gc_pause_seconds_count", generation=generation) <= h["count"]


def _runtime_histograms(samples: dict[tuple[str, tuple[tuple[str, str], ...]], float]) -> None:
    """Loop lag and GC pauses as Prometheus histograms: voicebot.runtime's buckets, cumulative."""
    lag = [samples[("voicebot_event_loop_lag_seconds_bucket", (("le", str(b)),))] for b in BUCKETS]
    assert lag == sorted(lag) and lag[-1] <= value(samples, "voicebot_event_loop_lag_seconds_count")
    assert value(samples, "voicebot_event_loop_lag_seconds_bucket", le="+Inf") == value(
        samples, "voicebot_event_loop_lag_seconds_count")
    for generation in "012":
        assert value(samples, "voicebot_gc_pause_seconds_count", generation=generation) >= 0


async def test_a_tracked_call_reports_asr_turn_and_tts_metrics(caplog: pytest.LogCaptureFixture) -> None:
    metrics = Metrics([AlertRule(name="asr_confidence_low", signal="asr_confidence", window=5, below=1.01)])
    speech = Speech(synthesizer=Synthesizer(voice="en-us"), asr=await asyncio.to_thread(get_engine, "pocketsphinx"))
    await speech.prepare(["Thank you."])
    heard: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    scraped = asyncio.Event()  # the bot keeps the call up until the test has scraped during it

    async def answer(call: Call) -> None:
        metrics.track(call)
        call.speech = speech
        await call.answer()
        got = await call.listen(["yes", "no"], timeout=8)
        await call.say("Thank you.")
        heard.set_result(got.phrase or got.kind)
        await asyncio.wait_for(scraped.wait(), 30)
        await call.hangup()

    caplog.set_level(logging.WARNING, logger="voicebot.alerts")
    async with (
        metrics.serving(0) as (_host, port),
        UserAgent("127.0.0.1:0", user="bot") as bot_ua,
        UserAgent("127.0.0.1:0", user="caller") as caller_ua,
    ):
        bot_ua.on_call(answer)
        host, sip_port = bot_ua.local_address
        call = await caller_ua.dial(f"sip:bot@{host}:{sip_port}")
        assert await call.answered and call.media is not None
        # the caller speaks through the espeak-ng command: the same samples whatever ran before
        words = await Synthesizer(EspeakEngine(backend="espeak-ng"), voice="en-us", rate=150).synthesize("yes")
        await asyncio.sleep(1.0)
        call.media.play(np.concatenate([words, np.zeros(4800, np.int16)]))
        assert await asyncio.wait_for(heard, 30) == "yes"
        during = await asyncio.to_thread(scrape, port)
        scraped.set()
        await call.finished
        await asyncio.sleep(0.2)
        after = await asyncio.to_thread(scrape, port)
    assert value(during, "voicebot_calls_active", direction="inbound") == 1
    assert value(during, "voicebot_asr_confidence_count") == 1
    assert 0 < value(during, "voicebot_asr_confidence_sum") <= 1
    assert value(during, "voicebot_asr_latency_seconds_count") == 1
    assert value(during, "voicebot_turn_latency_seconds_count") == 1
    assert value(during, "voicebot_tts_synthesis_seconds_count") >= 1
    assert value(during, "voicebot_alert_active", alert="asr_confidence_low") == 1
    assert value(after, "voicebot_calls_active", direction="inbound") == 0
    assert value(after, "voicebot_calls_total", direction="inbound", outcome="completed", sip_status="200") == 1
    fired = [r for r in caplog.records if "asr_confidence_low FIRING" in r.getMessage()]
    assert len(fired) == 1 and fired[0].levelno == logging.WARNING
