"""The media layer's pure parts: sample FIFO, player queue, recorder, WAV loading, silence test."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import pytest

from voicebot.errors import ConfigError
from voicebot.media.frames import (
    SampleFifo,
    crossfade,
    mix,
    read_wav,
    silence_detector,
    telephone_band,
    write_wav,
)
from voicebot.media.player import Player
from voicebot.media.recorder import Recorder
from voicebot_codecs import get_codec


def test_fifo_pads_in_front_once_then_streams() -> None:
    f = SampleFifo()
    f.push(np.arange(1, 101, dtype=np.int16))
    first = f.take(320)
    assert list(first[:220]) == [0] * 220 and list(first[220:]) == list(range(1, 101))
    f.push(np.arange(500, 900, dtype=np.int16))
    assert list(f.take(320)) == list(range(500, 820))
    assert len(f) == 80


def test_player_plays_clips_in_order_and_reports_done() -> None:
    p = Player()
    done: list[str] = []
    p.queue(np.full(500, 7, dtype=np.int16), lambda: done.append("a"))
    p.queue(np.full(200, 9, dtype=np.int16), lambda: done.append("b"))
    f1, active1 = p.read(320)
    assert active1 and list(f1) == [7] * 320
    f2, _ = p.read(320)
    assert list(f2) == [7] * 180 + [9] * 140
    assert done == ["a"]
    f3, active3 = p.read(320)
    assert list(f3[:60]) == [9] * 60 and not f3[60:].any()
    assert done == ["a", "b"] and active3
    assert p.read(320)[1] is False
    p.queue(np.ones(10_000, dtype=np.int16), lambda: done.append("c"))
    p.stop()  # barge-in: the clip is dropped and its waiter released
    assert done[-1] == "c" and not p.active


def test_player_rejects_wrong_audio() -> None:
    with pytest.raises(ValueError):
        Player().queue(np.zeros(10, dtype=np.float32))


def test_recorder_writes_time_aligned_stereo(tmp_path: Path) -> None:
    r = Recorder(tmp_path / "r.wav", flush_frames=3)
    for i in range(10):
        r.write(np.full(320, i, dtype=np.int16), np.full(320, -i, dtype=np.int16))
    r.close()
    with wave.open(str(tmp_path / "r.wav")) as w:
        assert (w.getnchannels(), w.getsampwidth(), w.getframerate()) == (2, 2, 16000)
        data = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").reshape(-1, 2)
    assert len(data) == 3200
    assert (data[:, 0] == -data[:, 1]).all() and data[320 * 7, 0] == 7


def test_recorder_bad_path_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot record"):
        Recorder(tmp_path / "missing-dir" / "r.wav")


def test_read_wav_mixes_and_resamples(tmp_path: Path) -> None:
    t = np.arange(22050) / 22050
    tone = (np.sin(2 * np.pi * 440 * t) * 10000).astype(np.int16)
    write_wav(tmp_path / "s.wav", np.stack([tone, tone], axis=1), rate=22050)
    pcm = read_wav(tmp_path / "s.wav")
    assert pcm.dtype == np.int16 and abs(len(pcm) - 16000) <= 1
    assert 9000 < np.abs(pcm).max() <= 10100


def test_read_wav_errors_name_the_problem(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"nope\.wav: no such file"):
        read_wav(tmp_path / "nope.wav")
    (tmp_path / "junk.wav").write_bytes(b"not a wav at all")
    with pytest.raises(ConfigError, match="not a WAV file"):
        read_wav(tmp_path / "junk.wav")


def test_read_wav_takes_8_bit_and_bytes(tmp_path: Path) -> None:
    """8-bit (unsigned) PCM is read and scaled to int16; bytes in memory read like a file."""
    with wave.open(str(tmp_path / "8bit.wav"), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(1)
        w.setframerate(16000)
        w.writeframes(bytes([128, 255, 0]) * 100)
    pcm = read_wav(tmp_path / "8bit.wav")
    assert list(pcm[:3]) == [0, 127 << 8, -128 << 8]
    assert np.array_equal(read_wav((tmp_path / "8bit.wav").read_bytes()), pcm)


def test_mix_saturates() -> None:
    a = np.array([30000, -30000, 5], dtype=np.int16)
    assert list(mix(a, a)) == [32767, -32768, 10]


def test_silence_detector_per_codec() -> None:
    pcmu = silence_detector("PCMU/8000")
    assert pcmu is not None
    enc = get_codec("PCMU/8000").encoder()
    t = np.arange(160) / 8000
    assert pcmu(enc.encode(np.zeros(160, dtype=np.int16)))
    assert not pcmu(enc.encode((np.sin(2 * np.pi * 300 * t) * 3000).astype(np.int16)))
    opus = silence_detector("opus/48000/2")
    assert opus is not None
    oenc = get_codec("opus/48000/2").encoder()
    assert opus(oenc.encode(np.zeros(320, dtype=np.int16)))
    t16 = np.arange(320) / 16000
    assert not opus(oenc.encode((np.sin(2 * np.pi * 300 * t16) * 3000).astype(np.int16)))
    assert silence_detector("L16/16000") is None


def test_crossfade_starts_on_the_head_and_ends_on_the_tail() -> None:
    head = np.full(320, 1000, dtype=np.int16)
    tail = np.full(320, -1000, dtype=np.int16)
    out = crossfade(head, tail, 80)
    assert out[0] == 1000 and out[79] < 0 and (out[80:] == -1000).all()
    assert np.all(np.diff(out[:80].astype(int)) <= 0)  # monotone, no click
    assert (crossfade(head, tail, 0) == tail).all()


def test_telephone_band_keeps_speech_band_and_drops_the_rest() -> None:
    """G.711 through its 8 kHz rate: 1 kHz passes, 6 kHz is gone, nothing is cut off."""
    t = np.arange(16000) / 16000
    low = np.sin(2 * np.pi * 1000 * t) * 8000
    pcm = (low + np.sin(2 * np.pi * 6000 * t) * 8000).astype(np.int16)
    out = telephone_band(pcm)
    assert out.dtype == np.int16 and 16000 <= len(out) <= 16000 + 640  # plus a frame of padding and the filters
    spectrum = np.abs(np.fft.rfft(out[1600:14400].astype(np.float64)))
    freqs = np.fft.rfftfreq(12800, 1 / 16000)
    assert spectrum[freqs > 4200].sum() < 0.02 * spectrum.sum()
    assert spectrum[np.argmin(np.abs(freqs - 1000))] > 0.3 * spectrum.max()
