"""A network address as the sockets give it: ``(host, port)``.

Defined here, on the ground floor, so every layer that handles one (RTP sessions, the media
transport, media streams) names the same type. SIP's ``(transport, host, port)`` is a
different thing: :class:`voicebot.sip.transaction.TransportAddress`.
"""

from __future__ import annotations

Address = tuple[str, int]

__all__ = ["Address"]
