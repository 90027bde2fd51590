"""The confidence calibration each engine ships with, and the thresholds that go with it.

``calibration.json`` (beside this module) is written by the speech benchmark
(``.venv/bin/python benchmarks/speech.py --quick --write-calibration``), never by hand: per
engine, the weights of ``voicebot.asr.nbest.Calibration`` fitted on the benchmark's
calibration split, ``accept`` (the lowest confidence at which wrong and false accepts stay
within 2 % on that split: above it an answer is taken without asking) and ``floor`` (below
it a candidate is more likely wrong than right: a no-match, a reprompt). Between the two an
answer is worth confirming ("Did you say ...?"), see ``Policy``. ``confirm_accept``: the
confidence at which the caller's "yes" to that read-back is taken, fitted apart from
``accept`` on the same split (the lowest at which no reply the caller said "no" to, and at
most 2 % of out-of-grammar sounds offered as the reply, were heard as a yes), never above
it: a yes to a read-back is one of two short words the caller was just asked for, and on a
telephone line most of them scored under the answer's own threshold.

An engine's entry may instead hold ``bands``: per line band, its own such policy, fitted on
that band's turns only (pocketsphinx: a telephone line's scores are spread differently from a
16 kHz one's, and one policy for both let each pull the other's threshold; Vosk: one for
both let more than 2 % of the out-of-grammar turns on μ-law lines through as phrases).
An engine's entry may also hold ``cmn_prior``: per line band, the cepstral mean a
pocketsphinx decoder starts each listening turn from (``cepstral_means``), learnt by the same
run from the calibration split's turns on such a line.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from voicebot.asr.engine import Band
from voicebot.asr.nbest import Calibration

FILE = "calibration.json"


@dataclass(frozen=True, slots=True, kw_only=True)
class Policy:
    """What to do with an answer of a given calibrated confidence."""

    calibration: Calibration
    accept: float  # at or above: take the answer
    floor: float  # below: no-match (reprompt); in [floor, accept): confirm it first
    confirm_accept: float  # at or above: the caller's "yes" to a read-back confirms it

    def decision(self, confidence: float) -> str:
        """One of "accept", "confirm" or "reject" for a candidate heard with ``confidence``."""
        if confidence >= self.accept:
            return "accept"
        return "confirm" if confidence >= self.floor else "reject"

    def to_json(self) -> dict[str, Any]:
        return {
            **self.calibration.to_json(),
            "accept": self.accept,
            "floor": self.floor,
            "confirm_accept": self.confirm_accept,
        }

    @staticmethod
    def from_json(data: dict[str, Any]) -> Policy:
        """A policy written before ``confirm_accept`` was fitted takes a yes at ``accept``."""
        accept = float(data["accept"])
        return Policy(
            calibration=Calibration.from_json(data),
            accept=accept,
            floor=float(data["floor"]),
            confirm_accept=float(data.get("confirm_accept", accept)),
        )


@cache
def _entry(engine: str) -> dict[str, Any]:
    text = resources.files("voicebot.asr").joinpath(FILE).read_text(encoding="utf-8")
    entry: dict[str, Any] = json.loads(text)["engines"][engine]
    return entry


def shipped(engine: str, band: Band | None = None) -> Policy:
    """The policy shipped for ``engine`` ("vosk" or "pocketsphinx") on a line of ``band``
    (None: not known, the wideband one); an engine with one policy uses it on every line."""
    return policy_of(_entry(engine), band)


def policy_of(entry: dict[str, Any], band: Band | None) -> Policy:
    """The policy an engine's entry in ``calibration.json`` holds for a line of ``band``: its
    band's under ``bands`` (None: the wideband one), else the entry's one for every line."""
    bands: dict[str, Any] | None = entry.get("bands")
    return Policy.from_json(bands[str(band or Band.WIDE)] if bands is not None else entry)


def policies(
    engine: str,
    *,
    calibration: Calibration | None = None,
    accept: float | None = None,
    floor: float | None = None,
) -> dict[Band, Policy]:
    """The policy shipped for ``engine`` per line band; what a caller passes (e.g. the
    benchmark's ablation) replaces that part of every band's. A read-back's yes is then taken
    at the band's shipped ``confirm_accept`` kept within the new [floor, accept]."""
    own = {band: shipped(engine, band) for band in Band}
    out = {}
    for band, policy in own.items():
        high = accept if accept is not None else policy.accept
        low = floor if floor is not None else policy.floor
        out[band] = Policy(
            calibration=calibration if calibration is not None else policy.calibration,
            accept=high,
            floor=low,
            confirm_accept=min(high, max(low, policy.confirm_accept)),
        )
    return out


def cepstral_means(engine: str) -> dict[Band, tuple[float, ...]]:
    """The cepstral mean shipped for ``engine`` per line band (none: the model's own)."""
    return {Band(band): tuple(float(x) for x in mean) for band, mean in _entry(engine).get("cmn_prior", {}).items()}


__all__ = ["FILE", "Policy", "cepstral_means", "policies", "policy_of", "shipped"]
