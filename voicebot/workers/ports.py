"""Choosing the workers' SIP ports: free for UDP and TCP alike on the workers' host."""

from __future__ import annotations

import socket

from voicebot.errors import ConfigError


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def free_ports(host: str, count: int, *, exclude: set[int] | None = None) -> list[int]:
    """``count`` distinct ports on ``host`` that are free for both UDP and TCP right now."""
    taken = set(exclude or ())
    out: list[int] = []
    for _ in range(count * 50):
        if len(out) == count:
            return out
        try:
            with socket.socket(_family(host), socket.SOCK_DGRAM) as udp:
                udp.bind((host, 0))
                port = int(udp.getsockname()[1])
                with socket.socket(_family(host), socket.SOCK_STREAM) as tcp:
                    tcp.bind((host, port))
        except OSError as exc:
            if exc.errno in (99, 22):  # EADDRNOTAVAIL / EINVAL: not an address of this machine
                raise ConfigError(f"cannot bind worker ports on {host}: {exc}") from None
            continue
        if port not in taken:
            taken.add(port)
            out.append(port)
    if len(out) == count:
        return out
    raise ConfigError(f"found only {len(out)} of {count} free port(s) on {host}")


__all__ = ["free_ports"]
