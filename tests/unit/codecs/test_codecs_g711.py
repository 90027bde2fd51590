"""G.711 against the ITU-T formulas, code by code, and on a speech-like signal."""

from __future__ import annotations

import numpy as np
import pytest

from voicebot_codecs import CodecError, get_codec

from .conftest import snr_db, speech_like


def ulaw_formula(code: int) -> int:
    c = ~code & 0xFF
    exponent = (c >> 4) & 0x07
    mantissa = c & 0x0F
    magnitude = (((mantissa << 3) + 0x84) << exponent) - 0x84
    return -magnitude if c & 0x80 else magnitude


def alaw_formula(code: int) -> int:
    c = code ^ 0x55
    exponent = (c >> 4) & 0x07
    mantissa = c & 0x0F
    magnitude = (mantissa << 4) + 8 if exponent == 0 else ((mantissa << 4) + 0x108) << (exponent - 1)
    return magnitude if c & 0x80 else -magnitude


@pytest.mark.parametrize(("name", "formula"), [("PCMU/8000", ulaw_formula), ("PCMA/8000", alaw_formula)])
def test_every_code_decodes_by_formula_and_reencodes_to_itself(name: str, formula: object) -> None:
    codec = get_codec(name)
    decoded = codec.decoder().decode(bytes(range(256)))  # decoding takes any payload length
    assert [int(v) for v in decoded] == [formula(c) for c in range(256)]  # type: ignore[operator]
    enc = codec.encoder()
    padded = np.concatenate([decoded, np.zeros(64, np.int16)])
    back = enc.encode(padded[:160]) + enc.encode(padded[160:])
    # μ-law has two zeros (0x7F and 0xFF) that both decode to 0; every other code is exact
    for c in range(256):
        if name.startswith("PCMU") and c == 0x7F:
            assert back[c] == 0xFF
        else:
            assert back[c] == c, f"code {c:#04x} re-encoded as {back[c]:#04x}"


@pytest.mark.parametrize("name", ["PCMU/8000", "PCMA/8000"])
def test_speech_like_signal_keeps_35_db_snr(name: str) -> None:
    codec = get_codec(name)
    enc, dec = codec.encoder(), codec.decoder()
    sig = speech_like(8000, seconds=2.0)
    out = np.concatenate([dec.decode(enc.encode(sig[i : i + 160])) for i in range(0, len(sig), 160)])
    assert snr_db(sig, out) >= 35.0


def test_facts() -> None:
    u, a = get_codec("PCMU/8000"), get_codec("pcma/8000")
    assert (u.payload_type, u.sample_rate, u.frame_samples) == (0, 8000, 160)
    assert (a.payload_type, a.sample_rate, a.frame_samples) == (8, 8000, 160)


def test_concealment_repeats_voiced_audio_then_fades() -> None:
    codec = get_codec("PCMU/8000")
    enc, dec = codec.encoder(), codec.decoder()
    sig = speech_like(8000, seconds=0.2, level=0.5)
    for i in range(0, 1600, 160):
        dec.decode(enc.encode(sig[i : i + 160]))
    first = dec.conceal()
    assert len(first) == 160 and first.dtype == np.int16
    assert np.abs(first).max() > 1000  # substitutes the waveform, not silence
    frames = [dec.conceal() for _ in range(3)]
    assert np.abs(frames[-1]).max() == 0  # silent after 60 ms of loss
    # the next good packet resets the fade
    dec.decode(enc.encode(sig[:160]))
    assert np.abs(dec.conceal()).max() > 0


@pytest.mark.parametrize(
    ("pcm", "message"),
    [
        (np.zeros(160, np.float32), "dtype int16"),
        (np.zeros(159, np.int16), "160 samples"),
        (np.zeros((160, 2), np.int16), "mono"),
        ([0] * 160, "numpy int16 array"),
    ],
)
def test_bad_pcm_is_a_clear_error(pcm: object, message: str) -> None:
    enc = get_codec("PCMU/8000").encoder()
    with pytest.raises(CodecError, match=message):
        enc.encode(pcm)  # type: ignore[arg-type]


def test_empty_payload_is_a_clear_error() -> None:
    with pytest.raises(CodecError, match="empty"):
        get_codec("PCMA/8000").decoder().decode(b"")


def test_unknown_codec_names_the_supported_ones() -> None:
    with pytest.raises(CodecError, match="supported: PCMU/8000"):
        get_codec("G729/8000")
    with pytest.raises(CodecError, match="bad codec name"):
        get_codec("PCMU/eight")
