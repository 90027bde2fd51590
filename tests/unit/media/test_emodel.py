"""The G.107 E-model against the standard's reference values."""

from __future__ import annotations

import pytest

from voicebot.media.emodel import EModel, burst_ratio, call_rating, mos_from_r, rate


def test_default_values_give_the_reference_rating() -> None:
    # G.107 §7.7: with all inputs at their default values, R = 93.2
    r = rate(EModel())
    assert r.r == pytest.approx(93.2, abs=0.05)
    assert r.ro == pytest.approx(94.77, abs=0.01)  # Ro = 15 - 1.5 (SLR + No)
    assert r.is_ == pytest.approx(1.41, abs=0.01)
    assert r.id == pytest.approx(0.15, abs=0.01)  # listener echo only (T = Tr = Ta = 0)
    assert r.ie_eff == 0 and r.mos == pytest.approx(4.41, abs=0.01)


ANNEX_B = [(0, 1.0), (50, 2.58), (60, 3.10), (70, 3.60), (80, 4.02), (90, 4.34), (100, 4.5)]


@pytest.mark.parametrize(("r", "mos"), ANNEX_B)
def test_annex_b_maps_r_to_mos(r: float, mos: float) -> None:
    assert mos_from_r(r) == pytest.approx(mos, abs=0.005)


def test_absolute_delay_impairment_starts_at_mt() -> None:
    assert rate(EModel(ta=100)).idd == 0
    # X = log2(200/100) = 1: Idd = 25 ((1 + 1)^(1/6) - 3 (1 + (1/3)^6)^(1/6) + 2)
    assert rate(EModel(ta=200)).idd == pytest.approx(3.04, abs=0.01)
    assert rate(EModel(ta=400)).idd > rate(EModel(ta=200)).idd


def test_effective_equipment_impairment_under_random_loss() -> None:
    # G.711 with concealment (G.113 Appendix I): Ie 0, Bpl 25.1
    assert rate(EModel(ie=0, bpl=25.1, ppl=1)).ie_eff == pytest.approx(95 / 26.1, abs=0.01)
    assert rate(EModel(ie=0, bpl=25.1, ppl=2)).ie_eff == pytest.approx(190 / 27.1, abs=0.01)
    # bursty loss hurts more than the same amount of random loss
    assert rate(EModel(ie=0, bpl=25.1, ppl=2, burst_r=3)).ie_eff > rate(EModel(ie=0, bpl=25.1, ppl=2)).ie_eff


def test_burst_ratio_of_a_two_state_loss_model() -> None:
    assert burst_ratio(0.05, 1.0) == 1.0  # random loss
    assert burst_ratio(0.05, 3.0) == pytest.approx(1 / (0.05 / 3 / 0.95 + 1 / 3), rel=1e-9)
    assert burst_ratio(0.0, 5.0) == 1.0


def test_call_rating_falls_with_delay_and_loss() -> None:
    clean = call_rating("PCMU/8000", one_way_delay_ms=20, loss_fraction=0.0)
    late = call_rating("PCMU/8000", one_way_delay_ms=300, loss_fraction=0.0)
    lossy = call_rating("PCMU/8000", one_way_delay_ms=20, loss_fraction=0.03)
    assert clean.mos > 4.3
    assert late.r < clean.r - 15  # 300 ms mouth to ear: noticeably worse (G.114)
    assert lossy.ie_eff == pytest.approx(95 * 3 / (3 + 25.1), abs=0.01) and lossy.r < clean.r
    assert call_rating("opus/48000/2", one_way_delay_ms=20, loss_fraction=0).idd == 0
