"""Does the noise bed decide answers? (``speech.py --bed``, imported by speech.py)

The recogniser adds a looped noise bed under the caller's audio (``voicebot.asr.conditioning``).
Started at a turn's first frame, which stretch of the bed lies under a word depends on when,
after the turn opened, the caller spoke. Here every test turn is
decoded with the bed started at several phases, and beside it with other beds, each with
the shipped policy (``calibration.json``) as it is:

* ``looped@<s>``: the shipped bed started ``s`` seconds in;
* ``none``: no bed;
* ``half@<s>``: the shipped bed at half its level;
* ``frame``: a bed one 20 ms frame long, the same under every frame, so its phase is
  fixed by the frame grid and never by when the caller spoke;
* ``onset``: the looped bed started again at the utterance's first loud frame
  (``ONSET_RMS``), so the same stretch of it lies under the words whenever they came.

Per variant: correct / wrong / rejected (in-grammar turns), false accepts (out-of-grammar
turns), and ``changed``: the turns whose accepted answer (an intent or a reprompt) is not
the same at every phase of that bed (``changed_chosen``: the phrase chosen before any
threshold).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from _speech_eval import Row, accepted, decode, rates
from _speech_set import CONDITIONS, RATE, Turn

from voicebot.asr.conditioning import ONSET_RMS, NoiseFloor
from voicebot.asr.nbest import Calibration

PHASES = (0.0, 1 / 3, 2 / 3)  # seconds into the 1 s bed
BED_CONDITIONS = ("pcmu", "pcmu+loss5")


def variants(floor: NoiseFloor) -> dict[str, NoiseFloor | None]:
    """The beds compared, by name (a name ``x@phase`` is bed ``x`` started at that phase);
    all of ``floor``'s level, band and dither but ``half``."""
    looped = NoiseFloor(floor.rms, low_hz=floor.low_hz, dither=floor.dither)
    half = NoiseFloor(floor.rms / 2, low_hz=floor.low_hz, dither=floor.dither)
    out: dict[str, NoiseFloor | None] = {
        "none": None,
        "frame": NoiseFloor(floor.rms, low_hz=floor.low_hz, dither=floor.dither, seconds=0.02),
        "onset": NoiseFloor(floor.rms, low_hz=floor.low_hz, dither=floor.dither, onset_rms=ONSET_RMS),
    }
    for phase in PHASES:
        out[f"looped@{phase:.2f}"] = looped.shifted(round(phase * RATE))
    for phase in PHASES[:2]:
        out[f"half@{phase:.2f}"] = half.shifted(round(phase * RATE))
    return out


def changed(answers: Sequence[dict[str, str | None]]) -> int:
    """Turns whose answer differs between any two of ``answers`` (key -> answer)."""
    return sum(len({a[key] for a in answers}) > 1 for key in answers[0])


def bed_phases(
    engine: Any,
    turns: Sequence[Turn],
    groups: dict[str, dict[str, str]],
    talkers: list[Any],
    calibration: Calibration,
    accept: float,
    log: Callable[[str], None],
) -> dict[str, Any]:
    """Every variant under every ``BED_CONDITIONS`` condition; ``engine.noise_floor`` is
    swapped per variant (put back after)."""
    shipped = engine.noise_floor
    results: dict[str, Any] = {}
    try:
        for name in BED_CONDITIONS:
            per: dict[str, Any] = {}
            answers: dict[str, dict[str, str | None]] = {}
            chosen: dict[str, dict[str, str | None]] = {}
            for variant, floor in variants(shipped).items():
                engine.noise_floor = floor
                rows: list[Row] = decode(engine, None, turns, CONDITIONS[name], groups, talkers)
                answers[variant] = {r.key: accepted(r, calibration, accept) for r in rows}
                chosen[variant] = {r.key: r.chosen for r in rows}
                per[variant] = rates(rows, lambda r: accepted(r, calibration, accept))
                per[variant]["no_rejection_correct"] = rates(rows, lambda r: r.chosen)["correct"]
            for bed in ("looped", "half"):
                per[f"{bed}_changed"] = changed([a for v, a in answers.items() if v.startswith(f"{bed}@")])
                per[f"{bed}_changed_chosen"] = changed([a for v, a in chosen.items() if v.startswith(f"{bed}@")])
            per["turns"] = len(turns)
            results[name] = per
            for variant in variants(shipped):
                r = per[variant]
                log(
                    f"{name:>11} {variant:>12}: correct {r['correct']:.3f} wrong {r['wrong']:.3f} "
                    f"rejected {r['rejected']:.3f} FA {r['false_accepts_n']}/{r['out_of_grammar']} "
                    f"| no rejection {r['no_rejection_correct']:.3f}"
                )
            log(
                f"{name:>11} answers changed by the bed's phase: looped {per['looped_changed']} "
                f"(chosen phrase {per['looped_changed_chosen']}), half {per['half_changed']} "
                f"({per['half_changed_chosen']}) of {len(turns)} turns"
            )
    finally:
        engine.noise_floor = shipped
    return results
