"""``voicebot demo``: the most complete real thing the project can do today."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser("demo", help="run the end-to-end demo on this machine")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    print(
        "voicebot demo: the call engine does not exist yet. Once SIP and media land this runs a\n"
        "real loopback call: `voicebot serve --echo` answers, `voicebot dial --play` calls it,\n"
        "and the recording of both directions is written to out/demo.wav."
    )
    return 0
