"""The streaming resampler: quality, chunking invariance and exact long-run sample counts."""

from __future__ import annotations

import numpy as np
import pytest

from voicebot_codecs import CodecError, Resampler, get_codec, resample

from .conftest import snr_db


def tone(rate: int, seconds: float, freq: float = 1000.0) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    return (np.sin(2 * np.pi * freq * t) * 16000).astype(np.int16)


def test_1khz_tone_8k_16k_8k_keeps_50_db() -> None:
    sig = tone(8000, 1.0)
    back = resample(resample(sig, 8000, 16000), 16000, 8000)
    assert len(back) == len(sig)
    # compare away from the edges, where the filter has no history
    assert snr_db(sig[400:-400], back[400:-400]) >= 50.0


RATE_PAIRS = [(8000, 16000), (16000, 8000), (16000, 48000), (48000, 16000), (8000, 48000), (32000, 48000)]


@pytest.mark.parametrize(("a", "b"), RATE_PAIRS)
def test_chunked_equals_one_shot(a: int, b: int) -> None:
    sig = tone(a, 0.5, 700.0)
    one = resample(sig, a, b)
    assert len(one) == len(sig) * b // a
    r = Resampler(a, b)
    step = a // 50
    chunks = [r.process(sig[i : i + step]) for i in range(0, len(sig), step)]
    assert {len(c) for c in chunks} == {b // 50}  # every 20 ms in gives 20 ms out
    chunked = np.concatenate([*chunks, r.flush()])
    # the stream is causal: it lags the aligned one-shot result by its constant group delay
    assert np.array_equal(one, chunked[r.delay :])
    assert r.delay * 1000 / b <= 3.0  # at most 3 ms of added latency


@pytest.mark.parametrize(("a", "b"), RATE_PAIRS)
def test_silence_between_words_comes_out_as_computed(a: int, b: int) -> None:
    """Zeros into an empty filter are skipped (a silent bot's frames); the output is the same,
    sample for sample, as filtering the whole signal, across the words' tails and starts."""
    gap = np.zeros(a // 5, dtype=np.int16)  # 200 ms: longer than the filter
    sig = np.concatenate([gap, tone(a, 0.1, 700.0), gap, gap[: a // 50], tone(a, 0.1, 300.0), gap])
    whole = Resampler(a, b)
    expected = np.concatenate([whole.process(sig), whole.flush()])
    r = Resampler(a, b)
    step = a // 50
    chunks = [r.process(sig[i : i + step]) for i in range(0, len(sig), step)]
    assert {len(c) for c in chunks} == {b // 50}
    assert np.array_equal(np.concatenate([*chunks, r.flush()]), expected)
    assert not np.any(chunks[0]) and np.any(expected)


def test_ten_minutes_of_20ms_chunks_give_the_exact_count() -> None:
    r = Resampler(8000, 16000)
    chunk = np.zeros(160, np.int16)
    total = 0
    for _ in range(10 * 60 * 50):
        total += len(r.process(chunk))
    assert total == 10 * 60 * 16000  # exact, with no drift and nothing held back
    assert len(r.flush()) == r.delay


def test_arbitrary_ratio_goes_through_soxr() -> None:
    sig = tone(22050, 1.0, 440.0)
    out = resample(sig, 22050, 16000)
    assert len(out) == 16000
    ref = tone(16000, 1.0, 440.0)
    assert snr_db(ref[1000:-1000], out[1000:-1000]) >= 40.0


def test_same_rate_is_a_copy() -> None:
    r = Resampler(16000, 16000)
    x = tone(16000, 0.02)
    assert np.array_equal(r.process(x), x) and len(r.flush()) == 0


def test_bad_input() -> None:
    with pytest.raises(CodecError, match="int16"):
        Resampler(8000, 16000).process(np.zeros(160, np.float64))  # type: ignore[arg-type]
    with pytest.raises(CodecError, match="positive"):
        Resampler(0, 16000)
    r = Resampler(8000, 16000)
    r.flush()
    with pytest.raises(CodecError, match="flushed"):
        r.process(np.zeros(160, np.int16))


def test_l16_round_trip_and_network_order() -> None:
    codec = get_codec("L16/16000")
    x = tone(16000, 0.02)
    payload = codec.encoder().encode(x)
    assert payload[:2] == int(x[0]).to_bytes(2, "big", signed=True)
    assert np.array_equal(codec.decoder().decode(payload), x)
    with pytest.raises(CodecError, match="whole 16-bit"):
        codec.decoder().decode(b"\x00\x01\x02")
