"""The confidence calibration each engine ships with, and the thresholds that go with it.

``calibration.json`` (beside this module) is written by the speech benchmark
(``.venv/bin/python benchmarks/speech.py --quick --write-calibration``), never by hand: per
engine, the weights of ``voicebot.asr.nbest.Calibration`` fitted on the benchmark's
calibration split, ``accept`` (the lowest confidence at which wrong and false accepts stay
within 2 % on that split: above it an answer is taken without asking) and ``floor`` (below
it a candidate is more likely wrong than right: a no-match, a reprompt). Between the two an
answer is worth confirming ("Did you say ...?"), see ``Policy``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from voicebot.asr.nbest import Calibration

FILE = "calibration.json"


@dataclass(frozen=True, slots=True, kw_only=True)
class Policy:
    """What to do with an answer of a given calibrated confidence."""

    calibration: Calibration
    accept: float  # at or above: take the answer
    floor: float  # below: no-match (reprompt); in [floor, accept): confirm it first

    def decision(self, confidence: float) -> str:
        """One of "accept", "confirm" or "reject" for a candidate heard with ``confidence``."""
        if confidence >= self.accept:
            return "accept"
        return "confirm" if confidence >= self.floor else "reject"

    def to_json(self) -> dict[str, Any]:
        return {**self.calibration.to_json(), "accept": self.accept, "floor": self.floor}

    @staticmethod
    def from_json(data: dict[str, Any]) -> Policy:
        return Policy(
            calibration=Calibration.from_json(data),
            accept=float(data["accept"]),
            floor=float(data["floor"]),
        )


@cache
def shipped(engine: str) -> Policy:
    """The policy shipped for ``engine`` ("vosk" or "pocketsphinx")."""
    text = resources.files("voicebot.asr").joinpath(FILE).read_text(encoding="utf-8")
    return Policy.from_json(json.loads(text)["engines"][engine])


__all__ = ["FILE", "Policy", "shipped"]
