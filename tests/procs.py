"""Ports and processes for tests and benchmarks that start real peers (SIPp, Kamailio, serve...).

One home for the three things every harness needs: a free port, a peer that dies with us, and
stopping a peer with its whole process group. ``benchmarks/_procs.py`` imports them from here.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import socket
import subprocess

_OTHER = {socket.SOCK_DGRAM: socket.SOCK_STREAM, socket.SOCK_STREAM: socket.SOCK_DGRAM}


def _bindable(host: str, port: int, kind: int) -> bool:
    try:
        with socket.socket(socket.AF_INET, kind) as s:
            s.bind((host, port))
    except OSError:
        return False
    return True


def free_port(kind: int = socket.SOCK_DGRAM, host: str = "127.0.0.1", *, pair: bool = False) -> int:
    """A port free for both UDP and TCP on ``host`` right now.

    ``pair``: an even port whose odd neighbour is free for UDP too (RTP and RTCP, SIPp's
    ``-mp``)."""
    while True:
        with socket.socket(socket.AF_INET, kind) as s:
            s.bind((host, 0))
            port = int(s.getsockname()[1])
        if pair:
            port &= ~1
            if not (_bindable(host, port, kind) and _bindable(host, port + 1, socket.SOCK_DGRAM)):
                continue
        if _bindable(host, port, _OTHER[kind]):
            return port


def stop_process(proc: subprocess.Popen[bytes], grace: float = 5.0) -> None:
    """Stop a process we started and its process group (Kamailio and serve fork children):
    SIGTERM, then SIGKILL after ``grace`` seconds."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    else:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)


try:  # loaded here, in the parent: the pre-exec hook must not import or allocate much
    _LIBC: ctypes.CDLL | None = ctypes.CDLL("libc.so.6", use_errno=True)
except OSError:
    _LIBC = None


def die_with_parent() -> None:
    """``preexec_fn`` for peers: SIGTERM the child if the test process dies (Linux prctl), so a
    killed run leaves no SIPp/Kamailio/serve behind. Also makes it a session leader."""
    os.setsid()
    if _LIBC is not None:
        _LIBC.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
