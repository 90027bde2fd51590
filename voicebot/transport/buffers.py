"""Socket receive buffers sized for bursts, and kernel receive timestamps.

:func:`size_receive_buffer` asks for ``SO_RCVBUF`` and reads back what the kernel granted;
Linux caps the request at ``net.core.rmem_max`` (and reports double the usable size), so a
capped buffer is logged once with the sysctl that lifts the cap.

:func:`enable_timestamps` turns on ``SO_TIMESTAMPNS``: every datagram then carries the time
the kernel received it, which :func:`arrival_time` turns into the event loop's clock. A
process that was not scheduled for a while (a CPU hog, a GC pause, a slow callback) reads its
queued packets late, but their arrival times stay true, so the jitter buffer does not mistake
our own stall for network jitter.
"""

from __future__ import annotations

import logging
import socket
import struct
import time
from pathlib import Path

log = logging.getLogger(__name__)

RMEM_MAX = Path("/proc/sys/net/core/rmem_max")
_SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)  # Linux value where Python lacks the name
_TIMESPEC = struct.Struct("@qq")
ANCILLARY_SPACE = socket.CMSG_SPACE(_TIMESPEC.size)
_capped_logged = False


def kernel_receive_cap() -> int | None:
    """``net.core.rmem_max`` (bytes), or None where it cannot be read."""
    try:
        return int(RMEM_MAX.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def size_receive_buffer(sock: socket.socket, want: int) -> int:
    """Ask for a ``want``-byte receive buffer; returns the usable size the kernel granted."""
    global _capped_logged
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, want)
        got = int(sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)) // 2  # Linux doubles it
    except OSError as exc:
        log.warning("cannot size the receive buffer to %d bytes: %s", want, exc)
        return 0
    if got < want and not _capped_logged:
        _capped_logged = True
        cap = kernel_receive_cap()
        log.warning(
            "receive buffer capped at %d bytes (asked %d; net.core.rmem_max=%s): a burst beyond it is "
            "dropped by the kernel; raise it with sysctl -w net.core.rmem_max=%d",
            got,
            want,
            cap,
            want,
        )
    return got


def enable_timestamps(sock: socket.socket) -> bool:
    """Have the kernel stamp every datagram with its receive time (Linux ``SO_TIMESTAMPNS``)."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, _SO_TIMESTAMPNS, 1)
    except OSError:
        return False
    return True


def arrival_time(ancillary: list[tuple[int, int, bytes]], realtime_to_loop: float) -> float | None:
    """The kernel receive time in the loop's clock (``realtime - realtime_to_loop``), if stamped."""
    for level, kind, data in ancillary:
        if level == socket.SOL_SOCKET and kind == _SO_TIMESTAMPNS and len(data) >= _TIMESPEC.size:
            sec, nsec = _TIMESPEC.unpack_from(data)
            return float(sec + nsec * 1e-9 - realtime_to_loop)
    return None


def realtime_offset() -> float:
    """``time.time() - time.monotonic()``: subtract from a kernel (realtime) stamp to get loop time."""
    return time.time() - time.monotonic()


__all__ = [
    "ANCILLARY_SPACE",
    "arrival_time",
    "enable_timestamps",
    "kernel_receive_cap",
    "realtime_offset",
    "size_receive_buffer",
]
