"""The WAV reader: every integer PCM layout read right, every unusable file named precisely."""

from __future__ import annotations

import io
import struct
import wave

import numpy as np
import pytest

from voicebot.errors import ConfigError
from voicebot.media.wav import parse_wav


def wav_bytes(samples: np.ndarray, *, width: int, channels: int = 1, rate: int = 8000) -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(width)
        w.setframerate(rate)
        w.writeframes(samples.tobytes())
    return buf.getvalue()


RAMP = np.array([-32768, -256, 0, 255, 32767], dtype=np.int16)


def test_16_bit_mono_and_stereo() -> None:
    pcm, rate = parse_wav(wav_bytes(RAMP, width=2))
    assert rate == 8000 and np.array_equal(pcm, RAMP)
    stereo = np.stack([RAMP, np.zeros_like(RAMP)], axis=1).astype("<i2")
    pcm, _ = parse_wav(wav_bytes(stereo, width=2, channels=2))
    assert np.array_equal(pcm, np.round(RAMP / 2).astype(np.int16))


def test_8_24_and_32_bit_integer_pcm_become_16_bit() -> None:
    u8 = ((RAMP.astype(np.int32) >> 8) + 128).astype(np.uint8)
    assert np.array_equal(parse_wav(wav_bytes(u8, width=1))[0], (RAMP.astype(np.int32) >> 8 << 8).astype(np.int16))
    s32 = RAMP.astype(np.int32) << 16
    assert np.array_equal(parse_wav(wav_bytes(s32.astype("<i4"), width=4))[0], RAMP)
    s24 = b"".join((int(v) << 8).to_bytes(3, "little", signed=True) for v in RAMP)
    assert np.array_equal(parse_wav(wav_bytes(np.frombuffer(s24, dtype=np.uint8), width=3))[0], RAMP)


def test_extensible_pcm_and_streaming_length() -> None:
    data = RAMP.tobytes()
    fmt = struct.pack("<HHIIHHHHI", 0xFFFE, 1, 16000, 32000, 2, 16, 22, 16, 4) + struct.pack("<H", 1) + bytes(14)
    head = b"RIFF" + struct.pack("<I", 0x7FFFF000) + b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt
    pcm, rate = parse_wav(head + b"data" + struct.pack("<I", 0x7FFFF000) + data)
    assert rate == 16000 and np.array_equal(pcm, RAMP)


@pytest.mark.parametrize(
    ("data", "needle"),
    [
        (b"", "empty"),
        (b"RIFF", "ends inside its 4-byte header"),
        (b"RIFF\0\0\0\0WAVE", "ends before its format chunk"),
        (wav_bytes(RAMP, width=2)[:40], "ends before its audio data"),
        (wav_bytes(RAMP, width=2)[:-2], "promises 0.00 s"),
        (b"RIFF\0\0\0\0WAVEdata\2\0\0\0\0\0", "audio data comes before the format chunk"),
    ],
)
def test_broken_files(data: bytes, needle: str) -> None:
    with pytest.raises(ConfigError, match=needle.replace("(", r"\(")):
        parse_wav(data, "x.wav")


def test_pcm_layouts_it_cannot_read() -> None:
    odd = bytearray(wav_bytes(RAMP, width=2))
    odd[34:36] = struct.pack("<H", 12)  # 12-bit samples in 2-byte frames
    with pytest.raises(ConfigError, match="unsupported PCM layout"):
        parse_wav(bytes(odd))
    alaw = bytearray(wav_bytes(RAMP, width=2))
    alaw[20:22] = struct.pack("<H", 6)
    with pytest.raises(ConfigError, match="A-law audio, not PCM"):
        parse_wav(bytes(alaw))
