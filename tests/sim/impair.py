"""A deterministic network impairment model for tests and benchmarks.

Given ``(send_time, packet)`` pairs it returns ``(arrival_time, packet)`` pairs sorted by
arrival, after loss (Bernoulli, or Gilbert-Elliott bursts), delay jitter (uniform, normal
or Pareto-tailed), reordering, duplication and a route change (a step in the base delay at
a given time). Every effect draws from its own PRNG seeded from ``seed``, so the same seed
gives the same trace, and turning one effect on does not change the pattern of another.

The Gilbert-Elliott channel is the two-state Markov model (good/bad) used for bursty packet
loss (RFC 3611 §4.7.2 reports burst metrics in the same terms): ``p`` good->bad, ``r``
bad->good, loss probability ``good_loss`` and ``bad_loss`` in each state. With
``bad_loss=1, good_loss=0`` the mean burst length is ``1/r`` and the loss rate
``p / (p + r)``.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, TypeVar

T = TypeVar("T")

JitterKind = Literal["uniform", "normal", "pareto"]


class GilbertElliott:
    """Bursty loss with a given average ``loss_rate`` and ``mean_burst`` length (packets)."""

    def __init__(
        self, seed: int, loss_rate: float, mean_burst: float = 3.0, *, good_loss: float = 0.0, bad_loss: float = 1.0
    ) -> None:
        if not 0.0 <= loss_rate < 1.0:
            raise ValueError(f"loss_rate must be in [0, 1), got {loss_rate}")
        if mean_burst < 1.0:
            raise ValueError(f"mean_burst must be >= 1 packet, got {mean_burst}")
        self._rng = random.Random(seed)
        self.r = 1.0 / mean_burst
        # stationary probability of the bad state pi_b = p/(p+r); loss = pi_b*h + (1-pi_b)*k
        span = bad_loss - good_loss
        pi_b = 0.0 if span <= 0 else min(1.0, max(0.0, (loss_rate - good_loss) / span))
        self.p = 0.0 if pi_b == 0 else min(1.0, pi_b * self.r / (1.0 - pi_b))
        self.good_loss = good_loss
        self.bad_loss = bad_loss
        self.bad = False

    def step(self) -> bool:
        """Advance one packet; True if it is lost."""
        rng = self._rng
        self.bad = rng.random() >= self.r if self.bad else rng.random() < self.p
        return rng.random() < (self.bad_loss if self.bad else self.good_loss)

    def lost(self, n: int) -> list[bool]:
        return [self.step() for _ in range(n)]


@dataclass(frozen=True, slots=True, kw_only=True)
class Impairment:
    seed: int = 1
    base_delay: float = 0.010
    loss: float = 0.0  # Bernoulli loss probability
    burst_loss: float = 0.0  # Gilbert-Elliott average loss (0: off)
    mean_burst: float = 3.0
    jitter: float = 0.0  # seconds: uniform span, normal sigma, or Pareto mean
    jitter_kind: JitterKind = "uniform"
    pareto_shape: float = 3.0
    max_jitter: float = 1.0  # clamp of a single delay draw (seconds)
    reorder: float = 0.0  # probability that a packet is held back by ``reorder_delay``
    reorder_delay: float = 0.045
    duplicate: float = 0.0  # probability that a packet arrives twice
    route_change_at: float | None = None
    route_change_step: float = 0.0  # added to the base delay from ``route_change_at`` on
    drift_ppm: float = 0.0  # receiver clock rate error: arrival times scale by 1 + ppm/1e6

    def apply(self, packets: Sequence[tuple[float, T]]) -> list[tuple[float, T]]:
        """Impair ``(send_time, packet)`` pairs; returns ``(arrival_time, packet)`` by arrival."""
        channel = self.channel()
        out: list[tuple[float, int, T]] = []
        for send, pkt in packets:
            for arrival in channel.arrivals(send):
                out.append((arrival, len(out), pkt))
        out.sort(key=lambda x: (x[0], x[1]))
        return [(a, p) for a, _, p in out]

    def channel(self) -> ImpairedChannel:
        """A stateful per-packet channel (for impairing live traffic in order)."""
        return ImpairedChannel(self)

    def jitter_draw(self, rng: random.Random) -> float:
        if self.jitter <= 0:
            rng.random()
            return 0.0
        if self.jitter_kind == "uniform":
            x = rng.random() * self.jitter
        elif self.jitter_kind == "normal":
            x = abs(rng.gauss(0.0, self.jitter))
        else:
            # Lomax (Pareto II) with the given mean: scale = mean * (shape - 1)
            a = self.pareto_shape
            x = self.jitter * (a - 1) * ((1.0 - rng.random()) ** (-1.0 / a) - 1.0)
        return min(x, self.max_jitter)


class ImpairedChannel:
    """Applies an :class:`Impairment` to packets one at a time, in sending order."""

    def __init__(self, imp: Impairment) -> None:
        self.imp = imp
        seeds = random.Random(imp.seed)
        self._loss = random.Random(seeds.getrandbits(64))
        self._jitter = random.Random(seeds.getrandbits(64))
        self._reorder = random.Random(seeds.getrandbits(64))
        self._dup = random.Random(seeds.getrandbits(64))
        self._ge = GilbertElliott(seeds.getrandbits(64), imp.burst_loss, imp.mean_burst) if imp.burst_loss else None
        self.sent = 0
        self.lost = 0

    def arrivals(self, send: float) -> list[float]:
        """Arrival times of the packet sent at ``send``: none if lost, two if duplicated."""
        imp = self.imp
        self.sent += 1
        lost = self._loss.random() < imp.loss
        if self._ge is not None and self._ge.step():
            lost = True
        extra = imp.jitter_draw(self._jitter)
        held = self._reorder.random() < imp.reorder
        dup = self._dup.random() < imp.duplicate
        dup_gap = 0.001 + 0.01 * self._dup.random() if dup else 0.0
        if lost:
            self.lost += 1
            return []
        delay = imp.base_delay + extra
        if imp.route_change_at is not None and send >= imp.route_change_at:
            delay += imp.route_change_step
        if held:
            delay += imp.reorder_delay
        arrival = (send + max(0.0, delay)) * (1 + imp.drift_ppm * 1e-6)
        return [arrival, arrival + dup_gap] if dup else [arrival]
