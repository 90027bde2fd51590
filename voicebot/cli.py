"""The ``voicebot`` command line.

Exit codes shared by every command: 0 success, 1 the work failed (the message says why),
2 bad arguments (argparse's convention). Commands document further codes in their ``--help``.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import pkgutil
import sys
from collections.abc import Sequence
from typing import NoReturn

import voicebot.commands
from voicebot import __version__
from voicebot.errors import ConfigError, DependencyError, VoicebotError

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2


class _Parser(argparse.ArgumentParser):
    """Bad arguments get one line (which command, what is wrong) and exit 2; --help has the rest."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: {message} (see --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="voicebot",
        description="SIP/RTP softphone engine for voice bots and outbound calling.",
    )
    parser.add_argument("--version", action="version", version=f"voicebot {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for info in sorted(pkgutil.iter_modules(voicebot.commands.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"voicebot.commands.{info.name}")
        register = getattr(module, "register", None)
        if register is not None:
            register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.WARNING - 10 * min(args.verbose, 2),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    try:
        return int(handler(args))
    except ConfigError as exc:
        print(f"voicebot {args.command}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except DependencyError as exc:
        print(f"voicebot {args.command}: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except VoicebotError as exc:
        print(f"voicebot {args.command}: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        return 130
