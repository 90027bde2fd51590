"""``voicebot serve --workers N``: N worker processes behind a Kamailio dispatcher.

Each worker is an ordinary ``voicebot serve`` with its own SIP port and its own event loop on
the same host as the public address (so the media addresses in its SDP are reachable the same
way). Kamailio listens on the public ``--listen`` address, spreads new dialogs over the
workers, probes them with OPTIONS and skips one that is down or full; the
:class:`~voicebot.workers.supervisor.Supervisor` restarts a worker that exits.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import sys
import tempfile
from pathlib import Path

from voicebot import runtime
from voicebot.errors import ConfigError
from voicebot.transport.sip import advertised_address, format_hostport, split_hostport
from voicebot.workers.argv import namespace_argv, worker_path
from voicebot.workers.kamailio import DispatcherConfig, kamailio_binary, module_path, render_config, render_list
from voicebot.workers.ports import free_ports
from voicebot.workers.supervisor import ProcessSpec, Supervisor

# options that do not pass to a worker as they are (the worker gets its own value or none), and
# what run_serve derived from the options (the worker derives it again)
NOT_FOR_WORKERS = {"workers", "listen", "advertise", "record_wav", "stats", "duration", "metrics_port", "recording"}


def default_workers() -> int:
    """One worker per core this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def worker_command(args: argparse.Namespace, index: int, listen: str, dispatcher: str | None = None) -> list[str]:
    """The ``voicebot serve`` command line of worker ``index`` (0-based). Every request a worker
    gets comes from the ``dispatcher`` host, so that host is exempt from its per-source limits."""
    argv = [sys.executable, "-m", "voicebot", *(["-" + "v" * args.verbose] if args.verbose else []), "serve"]
    argv += ["--listen", listen, *namespace_argv(args, skip=NOT_FOR_WORKERS)]
    if dispatcher is not None and not getattr(args, "no_defence", False):
        argv += ["--trusted", dispatcher]
    if args.advertise:
        argv += ["--advertise", args.advertise]
    for name in ("record_wav", "stats"):
        path = getattr(args, name, None)
        if path is not None:
            argv += [f"--{name.replace('_', '-')}", str(worker_path(Path(path), index))]
    port = getattr(args, "metrics_port", None)
    if port is not None:
        argv += ["--metrics-port", str(port + index)]  # worker i serves /metrics on PORT + i
    return argv


def kamailio_argv(run_dir: Path) -> list[str]:
    """Kamailio in the foreground on ``run_dir/kamailio.cfg``, logging to stderr."""
    cfg, pid = str(run_dir / "kamailio.cfg"), str(run_dir / "kamailio.pid")
    return [kamailio_binary(), "-f", cfg, "-DD", "-E", "-m", "64", "-M", "8", "-Y", str(run_dir), "-P", pid]


def serve_with_workers(args: argparse.Namespace) -> int:
    if args.register:
        raise ConfigError("--register with --workers: register the dispatcher's address, not each worker")
    if args.workers < 1:
        raise ConfigError("--workers needs at least 1")
    return runtime.run(_run(args))


async def _run(args: argparse.Namespace) -> int:
    host, port = split_hostport(args.listen)
    worker_host = advertised_address(host) if host in ("0.0.0.0", "::") else host
    ports = free_ports(host, args.workers, exclude={port})
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)

    def report(line: str) -> None:
        print(f"voicebot serve: {line}", file=sys.stderr, flush=True)

    with tempfile.TemporaryDirectory(prefix="voicebot-dispatcher-") as tmp:
        run_dir = Path(tmp)
        cfg = DispatcherConfig(
            listen=format_hostport(host, port),
            workers=tuple(format_hostport(worker_host, p) for p in ports),
            list_file=str(run_dir / "dispatcher.list"),
            advertise=args.advertise,
            module_path=module_path(),
            children=max(2, min(args.workers, 8)),
            max_calls=args.max_calls,
        )
        (run_dir / "dispatcher.list").write_text(render_list(cfg))
        (run_dir / "kamailio.cfg").write_text(render_config(cfg))
        kamailio_log = open(run_dir / "kamailio.log", "wb")  # noqa: SIM115 - closed below
        try:
            async with Supervisor(report) as sup:
                for i, wport in enumerate(ports):
                    await sup.start(
                        ProcessSpec(
                            name=f"worker {i + 1}",
                            argv=worker_command(args, i, format_hostport(host, wport), worker_host),
                            address=(worker_host, wport),
                        )
                    )
                try:
                    await sup.start(
                        ProcessSpec(
                            name="kamailio",
                            argv=kamailio_argv(run_dir),
                            address=(worker_host, port),
                            output=kamailio_log,
                        )
                    )
                except RuntimeError as exc:
                    tail = (run_dir / "kamailio.log").read_text(errors="replace")[-2000:]
                    raise ConfigError(f"{exc}; its log ends:\n{tail}") from None
                print(
                    f"voicebot serve: listening on udp+tcp {format_hostport(host, port)} as "
                    f"sip:{args.user}@{format_hostport(host, port)} (Kamailio dispatcher in front of "
                    f"{args.workers} workers on ports {', '.join(map(str, ports))})",
                    flush=True,
                )
                if args.duration is not None:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), args.duration)
                else:
                    await stop.wait()
        finally:
            kamailio_log.close()
    return 0


__all__ = ["default_workers", "serve_with_workers", "worker_command"]
