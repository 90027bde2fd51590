"""Errors of the codec layer (kept here: ``voicebot_codecs`` never imports ``voicebot``)."""

from __future__ import annotations


class CodecError(ValueError):
    """Audio or payload given to a codec is invalid (wrong dtype, length, corrupt payload)."""


class CodecUnavailable(CodecError):
    """A codec's system library is missing; the message names the package that provides it."""
