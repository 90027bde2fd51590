"""The project's error hierarchy (DESIGN.md rule 5: errors carry meaning).

``VoicebotError`` is the root. ``ProtocolError`` is raised by the I/O-free protocol cores
when bytes from the wire (or arguments from the user) break a protocol rule; it carries a
status hint so a server can answer with the right SIP response (400, 415, 416, 420, 481,
488, 505 ...). ``LocalProtocolError`` means *we* were asked to do something invalid;
``RemoteProtocolError`` means the peer sent something invalid.
"""

from __future__ import annotations


class VoicebotError(Exception):
    """Root of every error voicebot raises on purpose."""


class ConfigError(VoicebotError):
    """A setting, file or argument given by a person is wrong; the message says how to fix it."""


class DependencyError(VoicebotError):
    """A system library, model or package is missing; the message names what provides it."""


class ProtocolError(VoicebotError):
    """A protocol rule was broken. ``status`` is the SIP status code a server should answer."""

    def __init__(self, message: str, *, status: int = 400, extra_headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.extra_headers: dict[str, str] = dict(extra_headers or {})


class LocalProtocolError(ProtocolError):
    """We tried to do something the protocol forbids (a bug or a bad argument on our side)."""


class RemoteProtocolError(ProtocolError):
    """The peer sent something the protocol forbids."""


__all__ = [
    "ConfigError",
    "DependencyError",
    "LocalProtocolError",
    "ProtocolError",
    "RemoteProtocolError",
    "VoicebotError",
]
