"""voicebot's codec layer: G.711 μ-law/A-law, Opus, L16 and streaming resampling.

Everything turns wire payloads into mono 16-bit PCM (numpy ``int16``) and back, one 20 ms
frame at a time, with per-stream state objects. This package never imports ``voicebot``.
"""

from __future__ import annotations

from voicebot_codecs.base import FRAME_MS, PCM, Codec, CodecInfo, Decoder, Encoder
from voicebot_codecs.errors import CodecError, CodecUnavailable
from voicebot_codecs.g711 import G711
from voicebot_codecs.l16 import L16
from voicebot_codecs.opus import BANDWIDTHS, Opus, OpusDecoder, OpusEncoder
from voicebot_codecs.registry import SUPPORTED, get_codec
from voicebot_codecs.resample import Resampler, resample

__all__ = [
    "BANDWIDTHS",
    "FRAME_MS",
    "G711",
    "L16",
    "PCM",
    "SUPPORTED",
    "Codec",
    "CodecError",
    "CodecInfo",
    "CodecUnavailable",
    "Decoder",
    "Encoder",
    "Opus",
    "OpusDecoder",
    "OpusEncoder",
    "Resampler",
    "get_codec",
    "resample",
]
