"""Handing a parsed command line on to worker processes.

Every option of the commands that run workers is spelled ``--name-with-dashes`` for the
attribute ``name_with_dashes`` (argparse's own convention), so a parsed namespace turns back
into arguments without a second list of the options: flags that are on become the bare flag,
values become ``--name value``, and options left at None are left out. A list is a repeated
option, except that ``(flag, value)`` pairs in it are options that share one list to keep
their order (``--say``/``--play``: ``--flag value`` each); a tuple is one comma-separated
value (``--codec pcmu,pcma``).
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable
from pathlib import Path

# attributes argparse or the CLI put in every namespace that are not options of the command
_NOT_OPTIONS = {"handler", "command", "verbose"}


def namespace_argv(
    args: argparse.Namespace,
    *,
    skip: Iterable[str] = (),
    positional: Iterable[str] = (),
    spelled: dict[str, str] | None = None,
) -> list[str]:
    """``args`` back as command-line arguments (options first, then ``positional`` values);
    ``spelled`` names the options whose flag is not the attribute's name (``from_uri``: ``--from``)."""
    leave = _NOT_OPTIONS | set(skip) | set(positional)
    out: list[str] = []
    for name, value in sorted(vars(args).items()):
        if name in leave or value is None or value is False or callable(value):
            continue
        flag = (spelled or {}).get(name) or "--" + name.replace("_", "-")
        if value is True:
            out.append(flag)
        elif isinstance(value, tuple):
            out += [flag, ",".join(map(str, value))]
        elif isinstance(value, list):
            for item in value:
                if isinstance(item, tuple) and len(item) == 2:
                    out += ["--" + str(item[0]), str(item[1])]
                else:
                    out += [flag, str(item)]
        else:
            out += [flag, str(value)]
    for name in positional:
        value = getattr(args, name)
        out += [str(v) for v in value] if isinstance(value, list | tuple) else [str(value)]
    return out


def worker_path(path: Path, index: int) -> Path:
    """``out/call.wav`` -> ``out/call-w1.wav`` for worker 0: each worker writes its own files."""
    return path.with_name(f"{path.stem}-w{index + 1}{path.suffix}")


__all__ = ["namespace_argv", "worker_path"]
