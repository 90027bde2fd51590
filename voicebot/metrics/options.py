"""``--metrics-port`` / ``--metrics-host`` / ``--alerts`` for the commands that run calls
(``serve`` and ``campaign run``): one function adds them, one context manager serves."""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path

from voicebot.errors import ConfigError
from voicebot.metrics.alerts import DEFAULT_RULES, load_rules
from voicebot.metrics.prometheus import Metrics


def _port(value: str) -> int:
    try:
        port = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a port number, got {value!r}") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError("a port is 0..65535 (0: any free port)")
    return port


def add_metrics_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("monitoring")
    group.add_argument("--metrics-port", type=_port, metavar="PORT", help="serve Prometheus /metrics on PORT")
    group.add_argument("--metrics-host", default="127.0.0.1", metavar="HOST", help="address for it (default 127.0.0.1)")
    group.add_argument(
        "--alerts",
        type=Path,
        metavar="FILE.yaml",
        help="alert rules (default: ASR confidence < 0.85, drop rate > 5%%, MOS < 3.5, loop lag)",
    )


@contextlib.asynccontextmanager
async def serve_metrics(
    args: argparse.Namespace, *, say: Callable[[str], None] = print
) -> AsyncIterator[Metrics | None]:
    """Metrics served as the options ask, or None when ``--metrics-port`` was not given."""
    port, alerts = getattr(args, "metrics_port", None), getattr(args, "alerts", None)
    if port is None:
        if alerts is not None:
            raise ConfigError("--alerts needs --metrics-port (alerts are exposed as metrics)")
        yield None
        return
    rules = DEFAULT_RULES if alerts is None else load_rules(alerts)
    metrics = Metrics(rules)
    async with metrics.serving(port, args.metrics_host) as (host, bound):
        say(f"metrics on http://{host}:{bound}/metrics")
        yield metrics


__all__ = ["add_metrics_options", "serve_metrics"]
