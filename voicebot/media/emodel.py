"""The ITU-T G.107 E-model: a call's transmission rating R and its MOS estimate.

Pure arithmetic, no I/O, no clock (DESIGN.md rules 1-2). ``R = Ro - Is - Id - Ie,eff + A``:

* ``Ro`` basic signal-to-noise ratio (G.107 §7.2), ``Is`` simultaneous impairments (§7.3),
* ``Id`` delay impairments (§7.4): talker echo ``Idte``, listener echo ``Idle``, absolute
  delay ``Idd``,
* ``Ie,eff`` the codec's equipment impairment under packet loss (§7.5):
  ``Ie + (95 - Ie) * Ppl / (Ppl / BurstR + Bpl)``,
* ``A`` the advantage factor (0 for wired calls).

With every input at its default value the model gives R = 93.2 (MOS 4.41). Annex B maps R to
MOS. The codec values (``Ie``, ``Bpl``) of G.711 come from ITU-T G.113 Appendix I (with
packet-loss concealment: Ie 0, Bpl 25.1); Opus has no narrowband value there, and we rate
it like G.711 with concealment (its wideband quality cannot show on this narrowband scale).
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True, slots=True, kw_only=True)
class CodecImpairment:
    """``ie``: equipment impairment without loss; ``bpl``: packet-loss robustness;
    ``delay_ms``: algorithmic delay (look-ahead) beyond the packet time."""

    ie: float
    bpl: float
    delay_ms: float = 0.0


CODECS: dict[str, CodecImpairment] = {
    "PCMU": CodecImpairment(ie=0.0, bpl=25.1),
    "PCMA": CodecImpairment(ie=0.0, bpl=25.1),
    "opus": CodecImpairment(ie=0.0, bpl=25.1, delay_ms=6.5),
}


@dataclass(frozen=True, slots=True, kw_only=True)
class EModel:
    """The G.107 inputs, each with its default value (Table 3). Delays in ms, levels in dB."""

    slr: float = 8.0  # send loudness rating
    rlr: float = 2.0  # receive loudness rating
    stmr: float = 15.0  # sidetone masking rating
    lstr: float = 18.0  # listener sidetone rating
    ds: float = 3.0  # D-value of the telephone, send side
    dr: float = 3.0  # D-value of the telephone, receive side
    telr: float = 65.0  # talker echo loudness rating
    wepl: float = 110.0  # weighted echo path loss
    t: float = 0.0  # mean one-way delay of the echo path
    tr: float = 0.0  # round-trip delay in a 4-wire loop
    ta: float = 0.0  # absolute (mouth-to-ear) delay
    qdu: float = 1.0  # quantizing distortion units
    ie: float = 0.0  # equipment impairment factor
    bpl: float = 4.3  # packet-loss robustness factor
    ppl: float = 0.0  # random packet-loss probability, percent
    burst_r: float = 1.0  # burst ratio (1: random loss)
    nc: float = -70.0  # circuit noise referred to the 0 dBr point, dBm0p
    nfor: float = -64.0  # noise floor at the receive side, dBmp
    ps: float = 35.0  # room noise at the send side, dB(A)
    pr: float = 35.0  # room noise at the receive side, dB(A)
    a: float = 0.0  # advantage factor
    st: float = 1.0  # delay sensitivity (sT)
    mt: float = 100.0  # minimum perceivable delay (mT), ms


@dataclass(frozen=True, slots=True, kw_only=True)
class Rating:
    """R, its impairment factors and the MOS (Annex B) it maps to."""

    r: float
    ro: float
    is_: float
    idte: float
    idle: float
    idd: float
    ie_eff: float
    a: float

    @property
    def id(self) -> float:
        return self.idte + self.idle + self.idd

    @property
    def mos(self) -> float:
        return mos_from_r(self.r)

    def as_dict(self) -> dict[str, float]:
        return {
            "r": round(self.r, 1),
            "mos": round(self.mos, 2),
            "ro": round(self.ro, 2),
            "is": round(self.is_, 2),
            "id": round(self.id, 2),
            "idd": round(self.idd, 2),
            "ie_eff": round(self.ie_eff, 2),
            "a": round(self.a, 1),
        }


def _db_sum(*levels: float) -> float:
    return 10 * math.log10(sum(10 ** (x / 10) for x in levels))


def rate(m: EModel) -> Rating:
    """R for the inputs ``m`` (G.107 §7)."""
    olr = m.slr + m.rlr
    # §7.2 basic signal-to-noise ratio
    nfo = m.nfor + m.rlr
    pre = m.pr + 10 * math.log10(1 + 10 ** ((10 - m.lstr) / 10))
    nor = m.rlr - 121 + pre + 0.008 * (pre - 35) ** 2
    nos = m.ps - m.slr - m.ds - 100 + 0.004 * (m.ps - olr - m.ds - 14) ** 2
    no = _db_sum(m.nc, nos, nor, nfo)
    ro = 15 - 1.5 * (m.slr + no)
    # §7.3 simultaneous impairments
    xolr = olr + 0.2 * (64 + no - m.rlr)
    iolr = 20 * ((1 + (xolr / 8) ** 8) ** (1 / 8) - xolr / 8)
    stmro = -10 * math.log10(10 ** (-m.stmr / 10) + math.exp(-m.t / 4) * 10 ** (-m.telr / 10))
    ist = (
        12 * (1 + ((stmro - 13) / 6) ** 8) ** (1 / 8)
        - 28 * (1 + ((stmro + 1) / 19.4) ** 35) ** (1 / 35)
        - 13 * (1 + ((stmro - 3) / 33) ** 13) ** (1 / 13)
        + 29
    )
    q = 37 - 15 * math.log10(m.qdu)
    g = 1.07 + 0.258 * q + 0.0602 * q * q
    y = (ro - 100) / 15 + 46 / 8.4 - g / 9
    z = 46 / 30 - g / 40
    iq = 15 * math.log10(1 + 10**y + 10**z)
    is_ = iolr + ist + iq
    # §7.4 delay impairments
    terv = m.telr - 40 * math.log10((1 + m.t / 10) / (1 + m.t / 150)) + 6 * math.exp(-0.3 * m.t * m.t)
    if m.stmr < 9:
        terv += ist / 2
    re = 80 + 2.5 * (terv - 14)
    roe = -1.5 * (no - m.rlr)
    idte = ((roe - re) / 2 + math.sqrt((roe - re) ** 2 / 4 + 100) - 1) * (1 - math.exp(-m.t))
    if m.stmr > 20:
        idte = math.sqrt(idte * idte + ist * ist)
    rle = 10.5 * (m.wepl + 7) * (m.tr + 1) ** -0.25
    idle = (ro - rle) / 2 + math.sqrt((ro - rle) ** 2 / 4 + 169)
    idd = 0.0
    if m.ta > m.mt:
        x = math.log10(m.ta / m.mt) / math.log10(2)
        k = 6 * m.st
        idd = 25 * ((1 + x**k) ** (1 / k) - 3 * (1 + (x / 3) ** k) ** (1 / k) + 2)
    # §7.5 effective equipment impairment
    ie_eff = m.ie + (95 - m.ie) * m.ppl / (m.ppl / m.burst_r + m.bpl) if m.ppl > 0 else m.ie
    r = ro - is_ - (idte + idle + idd) - ie_eff + m.a
    return Rating(r=r, ro=ro, is_=is_, idte=idte, idle=idle, idd=idd, ie_eff=ie_eff, a=m.a)


def mos_from_r(r: float) -> float:
    """G.107 Annex B: the estimated mean opinion score (conversational quality) for R."""
    if r <= 0:
        return 1.0
    if r >= 100:
        return 4.5
    return 1 + 0.035 * r + r * (r - 60) * (100 - r) * 7e-6


def burst_ratio(loss_fraction: float, mean_burst_frames: float) -> float:
    """BurstR of a two-state Markov loss model with the given loss rate and mean burst length
    (1.0 for random loss; > 1 when losses come in bursts)."""
    if loss_fraction <= 0 or loss_fraction >= 1 or mean_burst_frames <= 1:
        return 1.0
    q = 1 / mean_burst_frames  # P(found | lost)
    p = loss_fraction * q / (1 - loss_fraction)  # P(lost | found)
    return 1 / (p + q)


def call_rating(
    codec: str, *, one_way_delay_ms: float, loss_fraction: float, mean_burst_frames: float = 1.0
) -> Rating:
    """R for a VoIP call: the codec's impairments, the mouth-to-ear delay (echo paths taken as
    that delay, echo cancelled to the default TELR/WEPL) and the packet loss seen."""
    base = codec.split("/")[0]
    imp = CODECS.get(base) or CODECS.get(base.upper()) or CODECS.get(base.lower()) or CodecImpairment(ie=0, bpl=4.3)
    ta = max(0.0, one_way_delay_ms + imp.delay_ms)
    return rate(
        EModel(
            t=ta,
            tr=2 * ta,
            ta=ta,
            ie=imp.ie,
            bpl=imp.bpl,
            ppl=100 * max(0.0, loss_fraction),
            burst_r=burst_ratio(loss_fraction, mean_burst_frames),
        )
    )


__all__ = ["CODECS", "CodecImpairment", "EModel", "Rating", "burst_ratio", "call_rating", "mos_from_r", "rate"]
