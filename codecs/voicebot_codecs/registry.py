"""Codec lookup by RTP/SDP name (``encoding/clock[/channels]``, case-insensitive encoding)."""

from __future__ import annotations

from voicebot_codecs.base import Codec
from voicebot_codecs.errors import CodecError
from voicebot_codecs.g711 import G711
from voicebot_codecs.l16 import L16
from voicebot_codecs.opus import Opus

SUPPORTED = ("PCMU/8000", "PCMA/8000", "opus/48000/2", "L16/8000", "L16/16000", "L16/48000")


def get_codec(name: str) -> Codec:
    """The codec for an SDP rtpmap name such as ``"PCMU/8000"`` or ``"opus/48000/2"``."""
    if not isinstance(name, str):
        raise CodecError(f"codec name must be a string like 'PCMU/8000', got {type(name).__name__}")
    parts = name.strip().split("/")
    enc = parts[0].upper()
    try:
        rate = int(parts[1]) if len(parts) > 1 else None
        channels = int(parts[2]) if len(parts) > 2 else None
    except ValueError:
        raise CodecError(f"bad codec name {name!r}; expected encoding/clock[/channels]") from None
    if enc == "PCMU" and rate in (None, 8000) and channels in (None, 1):
        return G711("u")
    if enc == "PCMA" and rate in (None, 8000) and channels in (None, 1):
        return G711("a")
    if enc == "OPUS" and rate in (None, 48000) and channels in (None, 1, 2):
        return Opus()
    if enc == "L16" and rate is not None and rate in (8000, 16000, 48000) and channels in (None, 1):
        return L16(rate)
    raise CodecError(f"unsupported codec {name!r}; supported: {', '.join(SUPPORTED)}")
