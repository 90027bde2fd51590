"""Alert rules: a statistic of a signal over its last N observations, compared with a threshold.

Pure: observations go in, :class:`AlertChange` events come out only when a rule starts or stops
firing (so each transition is logged once). A rules file is YAML::

    alerts:
      - name: asr_confidence_low        # the label on voicebot_alert_active{alert=...}
        signal: asr_confidence          # one of SIGNALS
        window: 20                      # the last 20 observations
        below: 0.85                     # or above: X
        stat: mean                      # mean (default), max, min or p95
        min_samples: 5                  # stay quiet until this many (default: window // 4, >= 1)

Signals, one observation each: ``asr_confidence``, ``asr_latency``, ``turn_latency`` (per
recognised turn), ``tts_seconds`` (per prompt), ``dropped`` (1/0 per answered call),
``answered`` (1/0 per outbound call), ``mos``, ``rtp_loss``, ``jitter`` (per call with media),
``loop_lag`` (the largest event-loop lag of each second), ``amd_unknown`` (1/0 per detection).
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from voicebot.errors import ConfigError

SIGNALS = frozenset(
    {"asr_confidence", "asr_latency", "turn_latency", "tts_seconds", "dropped", "answered", "mos", "rtp_loss",
     "jitter", "loop_lag", "amd_unknown"}
)  # fmt: skip
STATS = ("mean", "max", "min", "p95")


@dataclass(frozen=True, slots=True, kw_only=True)
class AlertRule:
    name: str
    signal: str
    window: int
    below: float | None = None
    above: float | None = None
    stat: str = "mean"
    min_samples: int = 1

    def describe(self) -> str:
        op, limit = ("<", self.below) if self.below is not None else (">", self.above)
        return f"{self.stat} {self.signal} over the last {self.window} {op} {limit}"


@dataclass(frozen=True, slots=True, kw_only=True)
class AlertChange:
    """A rule started (``firing``) or stopped firing; ``value`` is the statistic that decided."""

    rule: AlertRule
    firing: bool
    value: float
    samples: int


DEFAULT_RULES = (
    AlertRule(name="asr_confidence_low", signal="asr_confidence", window=20, below=0.85, min_samples=5),
    AlertRule(name="drop_rate_high", signal="dropped", window=50, above=0.05, min_samples=10),
    AlertRule(name="mos_low", signal="mos", window=10, below=3.5, min_samples=3),
    AlertRule(name="event_loop_lag_high", signal="loop_lag", window=10, above=0.020, stat="p95", min_samples=5),
)


def _stat(values: Iterable[float], stat: str) -> float:
    v = sorted(values)
    if stat == "mean":
        return sum(v) / len(v)
    if stat == "max":
        return v[-1]
    if stat == "min":
        return v[0]
    return v[max(0, math.ceil(0.95 * len(v)) - 1)]  # nearest rank


class AlertBook:
    """The state of every rule; :meth:`observe` returns the transitions one observation caused."""

    def __init__(self, rules: Iterable[AlertRule] = DEFAULT_RULES) -> None:
        self.rules = tuple(rules)
        self._windows = {r.name: deque[float](maxlen=r.window) for r in self.rules}
        self.firing: dict[str, bool] = {r.name: False for r in self.rules}
        self.values: dict[str, float | None] = {r.name: None for r in self.rules}

    def observe(self, signal: str, value: float) -> list[AlertChange]:
        changes = []
        for rule in self.rules:
            if rule.signal != signal:
                continue
            window = self._windows[rule.name]
            window.append(float(value))
            if len(window) < rule.min_samples:
                continue
            stat = _stat(window, rule.stat)
            self.values[rule.name] = stat
            bad = stat < rule.below if rule.below is not None else stat > (rule.above or 0.0)
            if bad != self.firing[rule.name]:
                self.firing[rule.name] = bad
                changes.append(AlertChange(rule=rule, firing=bad, value=stat, samples=len(window)))
        return changes


def parse_rules(data: Any, *, source: str = "alert rules") -> tuple[AlertRule, ...]:
    """Rules from the YAML structure described in the module docstring; ConfigError naming the
    rule and the field otherwise."""
    if not isinstance(data, Mapping) or not isinstance(data.get("alerts"), list):
        raise ConfigError(f"{source}: expected a mapping with an 'alerts:' list")
    rules, names = [], set()
    for i, entry in enumerate(data["alerts"], 1):
        where = f"{source}: alert {i}"
        if not isinstance(entry, Mapping):
            raise ConfigError(f"{where}: expected a mapping")
        unknown = set(entry) - {"name", "signal", "window", "below", "above", "stat", "min_samples"}
        if unknown:
            raise ConfigError(f"{where}: unknown field(s) {', '.join(sorted(map(str, unknown)))}")
        name, signal = str(entry.get("name") or ""), str(entry.get("signal") or "")
        if not name or name in names:
            raise ConfigError(f"{where}: needs a unique 'name'")
        where = f"{source}: alert {name!r}"
        if signal not in SIGNALS:
            raise ConfigError(f"{where}: signal must be one of {', '.join(sorted(SIGNALS))}, got {signal!r}")
        if ("below" in entry) == ("above" in entry):
            raise ConfigError(f"{where}: give exactly one of 'below' and 'above'")
        stat = str(entry.get("stat", "mean"))
        if stat not in STATS:
            raise ConfigError(f"{where}: stat must be one of {', '.join(STATS)}, got {stat!r}")
        try:
            window = int(entry.get("window", 20))
            limit = float(entry["below"] if "below" in entry else entry["above"])
            min_samples = int(entry.get("min_samples", max(1, window // 4)))
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"{where}: {exc}") from None
        if window < 1 or not 1 <= min_samples <= window:
            raise ConfigError(f"{where}: window must be >= 1 and min_samples 1..window")
        names.add(name)
        rules.append(
            AlertRule(
                name=name, signal=signal, window=window, stat=stat, min_samples=min_samples,
                below=limit if "below" in entry else None, above=limit if "above" in entry else None,
            )
        )  # fmt: skip
    return tuple(rules)


def load_rules(path: Path) -> tuple[AlertRule, ...]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read alert rules {path}: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"alert rules {path}: not YAML ({exc})") from None
    return parse_rules(data, source=str(path))


__all__ = ["DEFAULT_RULES", "SIGNALS", "AlertBook", "AlertChange", "AlertRule", "load_rules", "parse_rules"]
