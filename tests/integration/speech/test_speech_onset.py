"""Barge-in on arrival: real espeak-ng speech and real line noise, through the real encoders
(PCMU, Opus) into :class:`OnsetWatch`, one packet at a time with its arrival time."""

from __future__ import annotations

import numpy as np
import pytest

from voicebot.media.endpoint import BargeIn, BargeInConfig
from voicebot.media.onset import OnsetWatch
from voicebot.media.vad import Vad
from voicebot.tts import EspeakEngine
from voicebot_codecs import Resampler, get_codec

RATE = 16000


def hiss(seconds: float, seed: int = 3, level: float = 30.0) -> np.ndarray:
    return np.random.default_rng(seed).normal(0, level, round(RATE * seconds)).astype(np.int16)


def send(pcm: np.ndarray, codec_name: str, ptime: int, vad_rate: int | None = None) -> list[BargeIn]:
    """Encode ``pcm`` as the far end would and feed each packet as it arrives (at the end of
    the audio it carries); every barge-in the watch reports. The watch's VAD runs at
    ``vad_rate`` (None: the line's own rate, as a call's ``Voice`` gives it)."""
    codec = get_codec(codec_name)
    encoder = codec.encoder(ptime)
    audio = Resampler(RATE, codec.sample_rate).process(pcm)
    n = codec.info.packet_samples(ptime)
    watch = OnsetWatch(codec, Vad(2, vad_rate or codec.sample_rate), BargeInConfig())
    fired = []
    for k in range(len(audio) // n):
        event = watch.feed(encoder.encode(audio[k * n : (k + 1) * n]), arrival=(k + 1) * ptime / 1000)
        if event is not None:
            fired.append(event)
    return fired


@pytest.fixture(scope="module")
def cancel(tts_cli: EspeakEngine) -> np.ndarray:
    return tts_cli.synthesize("cancel", voice="en-us", rate=150)


VAD_RATES = [None, RATE]  # the line's own rate, and 16 kHz (the audio resampled first)


@pytest.mark.parametrize("vad_rate", VAD_RATES)
@pytest.mark.parametrize(("codec", "ptime"), [("PCMU/8000", 20), ("opus/48000/2", 20), ("PCMU/8000", 40)])
def test_speech_over_a_quiet_line_is_heard_at_its_onset(
    cancel: np.ndarray, codec: str, ptime: int, vad_rate: int | None
) -> None:
    line = hiss(1.0 + len(cancel) / RATE + 0.5)
    line[RATE : RATE + len(cancel)] += cancel
    onset = 1.0 + np.flatnonzero(np.abs(cancel.astype(np.int32)) > 300)[0] / RATE
    fired = send(line, codec, ptime, vad_rate)
    assert len(fired) == 1  # once: the watch is done after its barge-in
    event = fired[0]
    assert onset - 0.03 <= event.onset <= onset + 0.06
    assert event.at <= event.onset + 0.06 + ptime / 1000  # decided on the packet that confirmed it


@pytest.mark.parametrize("vad_rate", VAD_RATES)
def test_line_noise_clicks_and_a_knock_are_not_speech(vad_rate: int | None) -> None:
    line = hiss(4.0)
    for k in range(8):  # clicks: one sample-run of full scale
        line[8000 + 6000 * k : 8000 + 6000 * k + 40] = 20000
    knock = (np.random.default_rng(5).normal(0, 6000, 640) * np.exp(-np.arange(640) / 160)).astype(np.int16)
    line[40000 : 40000 + 640] += knock  # 40 ms, decaying: the VAD's hangover calls 100 ms of it speech
    for codec in ("PCMU/8000", "opus/48000/2"):
        assert send(line, codec, 20, vad_rate) == []


@pytest.mark.parametrize("vad_rate", VAD_RATES)
def test_a_louder_line_from_the_first_packet_is_not_speech(vad_rate: int | None) -> None:
    # WebRTC VAD calls the first frames of any noise speech while its estimate settles
    assert send(hiss(2.0, level=300.0), "PCMU/8000", 20, vad_rate) == []


def test_a_packet_that_does_not_decode_is_counted_and_skipped() -> None:
    codec = get_codec("opus/48000/2")
    watch = OnsetWatch(codec, Vad(2))
    assert watch.feed(b"\xff" * 3, arrival=0.02) is None
    assert watch.decode_errors == 1
