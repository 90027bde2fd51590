"""Reading WAV files with a precise complaint for every way one can be unusable.

A RIFF/WAVE file is a 12-byte header (``RIFF``, size, ``WAVE``) and chunks (4-byte id,
little-endian 32-bit size, data, a pad byte after odd sizes). ``fmt `` gives the format tag
(1 = integer PCM; 0xFFFE = extensible, whose sub-format GUID starts with the real tag),
channels, sample rate, block alignment and bits per sample; ``data`` holds the frames. The
standard library's ``wave`` module says "unknown format: 3" or nothing at all for an empty or
cut file; here each case gets a sentence a user can act on. Integer PCM of 8 (unsigned), 16,
24 or 32 bits is read and returned as mono int16 (channels averaged).

The only WAV reader: media plays files with it, TTS reads espeak-ng's output with it, the
voiceprint and speech commands read their inputs with it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from voicebot.errors import ConfigError
from voicebot_codecs.base import PCM

PCM_FORMAT = 1
EXTENSIBLE = 0xFFFE
# Writers that stream (to a pipe) cannot go back to fill in the length: they write a huge
# placeholder (espeak-ng --stdout: 0x7FFFF000; others 0xFFFFFFFF). Sizes this large mean
# "until the end of the file", not a promise a 2 GiB file would have to keep.
STREAMING_SIZE = 0x7FFF0000
FORMAT_NAMES = {2: "Microsoft ADPCM", 3: "IEEE float", 6: "A-law", 7: "μ-law", 17: "IMA ADPCM", 85: "MP3"}
CONVERT = "convert it with e.g. `sox IN -b 16 -e signed-integer OUT.wav`"


def parse_wav(data: bytes, name: str = "WAV") -> tuple[PCM, int]:
    """``(mono int16 samples, sample rate)`` of a PCM WAV file's bytes, or ``ConfigError``."""
    if not data:
        raise ConfigError(f"{name}: the file is empty (0 bytes), not a WAV file")
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        if data[:4] == b"RIFF" and len(data) < 12:
            raise ConfigError(f"{name}: truncated WAV: the file ends inside its {len(data)}-byte header")
        raise ConfigError(f"{name}: not a WAV file (no RIFF/WAVE header)")
    fmt: bytes | None = None
    pos = 12
    while pos + 8 <= len(data):
        chunk, size = data[pos : pos + 4], int.from_bytes(data[pos + 4 : pos + 8], "little")
        if size >= STREAMING_SIZE:
            size = len(data) - pos - 8
        body = data[pos + 8 : pos + 8 + size]
        if chunk == b"fmt ":
            if len(body) < 16:
                raise ConfigError(f"{name}: truncated WAV: the format chunk is cut short")
            fmt = body
        elif chunk == b"data":
            if fmt is None:
                raise ConfigError(f"{name}: not a usable WAV file: audio data comes before the format chunk")
            return _decode(fmt, body, size, name)
        pos += 8 + size + (size & 1)
    if fmt is None:
        raise ConfigError(f"{name}: truncated WAV: the file ends before its format chunk ({len(data)} bytes)")
    raise ConfigError(f"{name}: truncated WAV: the file ends before its audio data ({len(data)} bytes)")


def _decode(fmt: bytes, body: bytes, declared: int, name: str) -> tuple[PCM, int]:
    tag = int.from_bytes(fmt[0:2], "little")
    channels = int.from_bytes(fmt[2:4], "little")
    rate = int.from_bytes(fmt[4:8], "little")
    align = int.from_bytes(fmt[12:14], "little")
    bits = int.from_bytes(fmt[14:16], "little")
    if tag == EXTENSIBLE and len(fmt) >= 26:
        tag = int.from_bytes(fmt[24:26], "little")
    if tag != PCM_FORMAT:
        what = FORMAT_NAMES.get(tag, f"format {tag:#06x}")
        raise ConfigError(f"{name}: the WAV holds {what} audio, not PCM: {CONVERT}")
    width = bits // 8
    if bits not in (8, 16, 24, 32) or channels < 1 or rate <= 0 or align != width * channels:
        raise ConfigError(
            f"{name}: unsupported PCM layout ({bits}-bit, {channels} channels, {rate} Hz, "
            f"{align}-byte frames): {CONVERT}"
        )
    if len(body) < declared:
        raise ConfigError(
            f"{name}: truncated WAV: the header promises {declared / (align * rate):.2f} s of audio, "
            f"the file holds {len(body) / (align * rate):.2f} s"
        )
    body = body[: len(body) - len(body) % align]
    if width == 1:
        samples = (np.frombuffer(body, dtype=np.uint8).astype(np.int32) - 128) << 8
    elif width == 3:
        raw = np.frombuffer(body, dtype=np.uint8).reshape(-1, 3).astype(np.int32)
        samples = ((raw[:, 0] | (raw[:, 1] << 8) | (raw[:, 2] << 16)) << 8) >> 16
    else:
        samples = np.frombuffer(body, dtype=f"<i{width}").astype(np.int64) >> (8 * width - 16)
    frames = np.asarray(samples, dtype=np.int64).reshape(-1, channels)
    mono = frames[:, 0] if channels == 1 else np.round(frames.mean(axis=1))
    return mono.astype(np.int16), rate


def load_wav(source: bytes | str | Path) -> tuple[PCM, int]:
    """``parse_wav`` of a file (a path) or of bytes already in memory, at the file's own rate.

    :func:`voicebot.media.frames.read_wav` is the same at the internal rate (resampled)."""
    if isinstance(source, bytes):
        return parse_wav(source)
    path = Path(source)
    try:
        data = path.read_bytes()
    except FileNotFoundError as exc:
        raise ConfigError(f"{path}: no such file") from exc
    except IsADirectoryError as exc:
        raise ConfigError(f"{path}: is a directory, not a WAV file") from exc
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read it ({exc.strerror or exc})") from exc
    return parse_wav(data, str(path))


__all__ = ["load_wav", "parse_wav"]
