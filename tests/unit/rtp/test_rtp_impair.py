"""The deterministic impairment model and the bandwidth controller."""

from __future__ import annotations

import statistics

import pytest

from tests.sim.impair import GilbertElliott, Impairment
from voicebot.rtp.adapt import BandwidthController

SENT = [(i * 0.02, i) for i in range(20000)]


def test_same_seed_same_trace_and_effects_are_independent() -> None:
    a = Impairment(seed=3, loss=0.05, jitter=0.02).apply(SENT[:2000])
    b = Impairment(seed=3, loss=0.05, jitter=0.02).apply(SENT[:2000])
    c = Impairment(seed=4, loss=0.05, jitter=0.02).apply(SENT[:2000])
    assert a == b and a != c
    lost_only = {i for _, i in Impairment(seed=3, loss=0.05).apply(SENT[:2000])}
    assert lost_only == {i for _, i in a}  # adding jitter did not change which packets are lost


@pytest.mark.parametrize(("rate", "burst"), [(0.05, 3.0), (0.02, 1.5), (0.10, 5.0)])
def test_gilbert_elliott_hits_rate_and_burst_length(rate: float, burst: float) -> None:
    lost = GilbertElliott(7, rate, burst).lost(200_000)
    assert sum(lost) / len(lost) == pytest.approx(rate, rel=0.1)
    runs, run = [], 0
    for x in lost:
        if x:
            run += 1
        elif run:
            runs.append(run)
            run = 0
    assert statistics.mean(runs) == pytest.approx(burst, rel=0.1)


def test_pareto_jitter_has_the_mean_and_a_heavy_tail() -> None:
    out = Impairment(seed=1, base_delay=0.0, jitter=0.020, jitter_kind="pareto").apply(SENT)
    delays = sorted(a - i * 0.02 for a, i in out)
    assert statistics.mean(delays) == pytest.approx(0.020, rel=0.15)
    assert delays[int(0.999 * len(delays))] > 6 * statistics.median(delays)


def test_reorder_duplicate_and_route_change() -> None:
    out = Impairment(seed=2, reorder=0.1, duplicate=0.05).apply(SENT[:5000])
    order = [i for _, i in out]
    assert order != sorted(order)
    assert len(order) - len(set(order)) == pytest.approx(250, rel=0.25)
    step = Impairment(seed=2, base_delay=0.01, route_change_at=50.0, route_change_step=0.08).apply(SENT[:5000])
    before = [a - i * 0.02 for a, i in step if i * 0.02 < 50.0]
    after = [a - i * 0.02 for a, i in step if i * 0.02 >= 50.0]
    assert max(before) == pytest.approx(0.01) and min(after) == pytest.approx(0.09)


def test_bandwidth_controller_has_hysteresis() -> None:
    c = BandwidthController()
    assert c.update(0.01).bandwidth == "wideband"
    assert c.update(0.12).bandwidth == "narrowband"  # smoothed 6.5 % > 5 %: step down at once
    assert c.setting().bitrate == c.narrow_bitrate
    assert c.update(0.03).bandwidth == "narrowband"  # 4.75 %: between the thresholds, stay
    assert c.update(0.0).bandwidth == "narrowband"  # first good report
    assert c.update(0.0).bandwidth == "narrowband"  # smoothed loss now 1.2 %: first below low
    assert c.update(0.0).bandwidth == "wideband"  # second consecutive report below 2 %
    assert c.switches == 2
