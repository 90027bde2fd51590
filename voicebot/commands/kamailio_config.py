"""``voicebot kamailio-config``: the dispatcher config for a Kamailio you run yourself.

Prints the same config ``voicebot serve --workers`` generates, for workers listed by address
(on this machine or on others). With ``--output DIR`` it writes ``DIR/kamailio.cfg`` and
``DIR/dispatcher.list`` and prints the command that runs Kamailio on them.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from voicebot.commands._security_options import count
from voicebot.errors import ConfigError
from voicebot.sip.uacore.records import MAX_SESSIONS
from voicebot.workers.kamailio import DispatcherConfig, render_config, render_list


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser(
        "kamailio-config",
        help="print a Kamailio dispatcher config for voicebot workers",
        description=(
            "Print a Kamailio config whose dispatcher spreads new calls over the workers given by "
            "address, probes them with OPTIONS, skips one that is down or full, and keeps in-dialog "
            "requests on their worker. Run each worker as `voicebot serve --listen HOST:PORT ...`."
        ),
        epilog="exit codes: 0 printed/written, 2 bad arguments",
    )
    p.add_argument("--listen", required=True, metavar="HOST:PORT", help="the public address Kamailio listens on")
    p.add_argument(
        "--worker", action="append", required=True, metavar="HOST:PORT", help="a worker's SIP address (repeat)"
    )
    p.add_argument("--advertise", metavar="HOST[:PORT]", help="public address when Kamailio is behind NAT")
    p.add_argument(
        "--list-file", default="/etc/kamailio/dispatcher.list", metavar="PATH", help="where the worker list lives"
    )
    p.add_argument("--ping-interval", type=int, default=1, metavar="S", help="seconds between OPTIONS probes")
    p.add_argument("--retry-after", type=int, default=5, metavar="S", help="Retry-After of the 503 when all are busy")
    p.add_argument("--max-calls", type=count, default=MAX_SESSIONS, metavar="N",
                   help="calls each worker takes at most: its `serve --max-calls` (at least 1)")  # fmt: skip
    p.add_argument("--children", type=int, default=4, metavar="N", help="Kamailio receiver processes")
    p.add_argument("--module-path", metavar="DIR", help="Kamailio's module directory (default: its built-in one)")
    p.add_argument("--output", type=Path, metavar="DIR", help="write kamailio.cfg and dispatcher.list into DIR")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    list_file = str((args.output / "dispatcher.list").resolve()) if args.output else args.list_file
    cfg = DispatcherConfig(
        listen=args.listen,
        workers=tuple(args.worker),
        list_file=list_file,
        advertise=args.advertise,
        ping_interval=args.ping_interval,
        retry_after=args.retry_after,
        max_calls=args.max_calls,
        children=args.children,
        module_path=args.module_path,
    )
    text, workers = render_config(cfg), render_list(cfg)
    if args.output is None:
        sys.stdout.write(text)
        sys.stdout.write(f"\n# {list_file} must hold the workers:\n")
        sys.stdout.write("".join(f"#   {line}\n" for line in workers.splitlines()))
        return 0
    if not args.output.is_dir():
        raise ConfigError(f"--output: no such directory {args.output}")
    (args.output / "kamailio.cfg").write_text(text)
    (args.output / "dispatcher.list").write_text(workers)
    cfg_path = args.output / "kamailio.cfg"
    print(f"wrote {cfg_path} and {list_file}; run: kamailio -f {cfg_path} -DD -E")
    return 0
