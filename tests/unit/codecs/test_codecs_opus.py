"""Opus through the real libopus: round trip, concealment, FEC and bandwidth switching."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from voicebot_codecs import CodecError, Opus, OpusEncoder, get_codec, resample

from .conftest import aligned_correlation, speech_like, voice_band


def _frames(sig: np.ndarray, n: int) -> list[np.ndarray]:
    return [sig[i : i + n] for i in range(0, len(sig) - n + 1, n)]


def test_round_trip_keeps_voice_band_signal() -> None:
    codec = get_codec("opus/48000/2")
    # the RTP clock is 48 kHz; PCM goes in and out at voicebot's internal 16 kHz
    assert (codec.payload_type, codec.clock_rate, codec.sample_rate, codec.frame_samples) == (111, 48000, 16000, 320)
    assert codec.info.frame_timestamp_step == 960
    enc, dec = codec.encoder(), codec.decoder()
    sig = voice_band(16000, seconds=2.0)
    out = np.concatenate([dec.decode(enc.encode(f)) for f in _frames(sig, 320)])
    corr, lag = aligned_correlation(sig, out, max_lag=320)
    assert corr >= 0.9, (corr, lag)


@pytest.mark.parametrize("complexity", [0, 5, 10])
def test_every_complexity_codes_speech_and_the_encoder_runs_at_the_one_asked(complexity: int) -> None:
    enc = OpusEncoder(complexity=complexity)
    assert enc.complexity == complexity
    assert OpusEncoder().complexity == 10  # the default (why: the module docstring, benchmarks/codecs.py)
    dec = get_codec("opus/48000/2").decoder()
    sig = speech_like(16000, seconds=2.0)
    out = np.concatenate([dec.decode(enc.encode(f)) for f in _frames(sig, 320)])
    corr, _ = aligned_correlation(sig, out, max_lag=320)
    assert corr >= 0.8, corr  # a parametric coder: the waveform is only roughly kept (10 gives 0.85)
    with pytest.raises(CodecError, match="complexity"):
        OpusEncoder(complexity=11)


def test_pcm_rate_48k_on_request() -> None:
    codec = Opus(pcm_rate=48000)
    enc, dec = codec.encoder(), codec.decoder()
    sig = resample(voice_band(16000, seconds=1.0), 16000, 48000)
    out = np.concatenate([dec.decode(enc.encode(f)) for f in _frames(sig, 960)])
    assert aligned_correlation(sig, out, max_lag=960)[0] >= 0.9
    with pytest.raises(CodecError, match="PCM rate"):
        Opus(pcm_rate=44100)


def test_conceal_and_fec_return_whole_frames_and_fec_beats_plc() -> None:
    codec = get_codec("opus/48000/2")
    enc = codec.encoder()
    assert isinstance(enc, OpusEncoder) and enc.inband_fec
    enc.set_expected_loss(20)
    sig = speech_like(16000, seconds=1.0, level=0.5)
    frames = _frames(sig, 320)
    packets = [enc.encode(f) for f in frames]
    lost = 25
    plc_dec, fec_dec, ref_dec = codec.decoder(), codec.decoder(), codec.decoder()
    ref = [ref_dec.decode(p) for p in packets]
    plc_out, fec_out = [], []
    for i, p in enumerate(packets):
        if i == lost:
            plc_out.append(plc_dec.conceal())
            fec_out.append(fec_dec.decode_fec(packets[i + 1]))  # type: ignore[attr-defined]
        else:
            plc_out.append(plc_dec.decode(p))
            fec_out.append(fec_dec.decode(p))
    assert len(plc_out[lost]) == 320 and len(fec_out[lost]) == 320
    err_plc = float(np.sum((plc_out[lost].astype(float) - ref[lost]) ** 2))
    err_fec = float(np.sum((fec_out[lost].astype(float) - ref[lost]) ** 2))
    assert err_fec < err_plc  # the FEC copy is closer to what was lost than a guess


def test_bandwidth_switch_changes_the_coded_band() -> None:
    enc = get_codec("opus/48000/2").encoder()
    assert isinstance(enc, OpusEncoder)
    dec = get_codec("opus/48000/2").decoder()
    # a 6 kHz tone: inside wideband (8 kHz audio band), outside narrowband (4 kHz)
    t = np.arange(16000) / 16000
    tone = (np.sin(2 * np.pi * 6000 * t) * 10000).astype(np.int16)

    def run(bandwidth: str) -> tuple[float, set[int]]:
        enc.set_bandwidth(bandwidth)
        packets = [enc.encode(f) for f in _frames(tone, 320)]
        out = np.concatenate([dec.decode(p) for p in packets])
        # RFC 6716 §3.1: the TOC byte's top five bits say mode and audio bandwidth
        return float(np.mean(out[3200:].astype(float) ** 2)), {p[0] >> 3 for p in packets}

    wide, wide_configs = run("wideband")
    narrow, narrow_configs = run("narrowband")
    assert enc.bandwidth == "narrowband"
    assert narrow < wide / 100  # the 6 kHz tone is cut at once, mid-stream
    assert narrow_configs <= {0, 1, 2, 3, 16, 17, 18, 19}  # SILK-NB or CELT-NB packets only
    assert not wide_configs & {0, 1, 2, 3}
    wide_again, _ = run("wideband")
    assert wide_again > wide / 2
    with pytest.raises(CodecError, match="unknown Opus bandwidth"):
        enc.set_bandwidth("ultraband")
    with pytest.raises(CodecError, match="bitrate"):
        enc.set_bitrate(1000)


@pytest.mark.parametrize(("payload", "message"), [(b"", "empty"), (b"\xff\xff\xff", "corrupt Opus"), ("x", "bytes")])
def test_bad_payload_is_a_clear_error(payload: object, message: str) -> None:
    dec = get_codec("opus/48000/2").decoder()
    with pytest.raises(CodecError, match=message):
        dec.decode(payload)  # type: ignore[arg-type]


def test_wrong_frame_length_is_a_clear_error() -> None:
    with pytest.raises(CodecError, match="320 samples"):
        get_codec("opus/48000/2").encoder().encode(np.zeros(960, np.int16))


def test_missing_libopus_names_the_package() -> None:
    code = (
        "import ctypes.util\n"
        "ctypes.util.find_library = lambda name: None\n"
        "from voicebot_codecs import get_codec, CodecUnavailable\n"
        "try:\n"
        "    get_codec('opus/48000/2').encoder()\n"
        "except CodecUnavailable as exc:\n"
        "    print(exc)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "libopus0" in out.stdout
