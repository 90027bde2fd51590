"""RFC 3550 §A.1/§A.3/§A.8 receiver statistics with a synthetic clock."""

from __future__ import annotations

import pytest

from voicebot.rtp.stats import SourceStatistics


def feed(stats: SourceStatistics, seqs: list[int], *, start: float = 0.0, step: float = 0.02) -> None:
    for i, seq in enumerate(seqs):
        stats.update(seq & 0xFFFF, (seq * 160) & 0xFFFFFFFF, start + i * step, 160)


def test_loss_fraction_and_cumulative() -> None:
    s = SourceStatistics(ssrc=1, clock_rate=8000)
    seqs = [i for i in range(100) if i % 10 != 5]  # 10 % lost
    feed(s, seqs)
    block = s.report_block(now=2.0)
    assert block.cumulative_lost == 10
    assert block.fraction_lost == (10 * 256) // 99  # expected counted from the validated packet
    assert block.highest_sequence == 99
    # the next interval without loss reports zero fraction but keeps the cumulative count
    feed(s, list(range(100, 150)), start=2.0)
    block2 = s.report_block(now=3.0)
    assert block2.fraction_lost == 0
    assert block2.cumulative_lost == 10


def test_extended_sequence_across_wrap() -> None:
    s = SourceStatistics(ssrc=1, clock_rate=8000)
    feed(s, list(range(65530, 65546)))
    assert s.cycles == 65536
    assert s.report_block(now=1.0).highest_sequence == 65545
    assert s.lost == 0


def test_jitter_zero_for_constant_transit_and_grows_with_variation() -> None:
    steady = SourceStatistics(ssrc=1, clock_rate=8000)
    feed(steady, list(range(200)))
    assert steady.jitter == pytest.approx(0.0, abs=1e-6)
    jittery = SourceStatistics(ssrc=1, clock_rate=8000)
    for i in range(400):
        arrival = i * 0.02 + (0.010 if i % 2 else 0.0)
        jittery.update(i, i * 160, arrival, 160)
    # |D| is 10 ms = 80 timestamp units on every packet; the §A.8 estimator converges to it
    assert jittery.jitter == pytest.approx(80, rel=0.02)


def test_duplicates_counted_and_sender_restart_resyncs() -> None:
    s = SourceStatistics(ssrc=1, clock_rate=8000)
    feed(s, [1, 2, 3, 3, 4])
    assert s.duplicates == 1
    # a jump far away is held as bad_seq once, then accepted as a restart on the next packet
    assert s.update(40000, 0, 1.0, 160) is False
    assert s.update(40001, 160, 1.02, 160) is True
    assert s.extended_max == 40001
