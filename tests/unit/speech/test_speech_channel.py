"""The simulated telephone line: codec, loss through the jitter buffer, noise at a given SNR."""

from __future__ import annotations

import numpy as np
import pytest

from tests.sim.channel import add_noise, babble, speech_rms, telephone_channel, white_noise

RATE = 16000


def voice_like(seconds: float = 1.0) -> np.ndarray:
    t = np.arange(int(RATE * seconds)) / RATE
    envelope = 0.5 + 0.5 * np.sin(2 * np.pi * 3 * t)
    x = sum(np.sin(2 * np.pi * f * t) / k for k, f in enumerate((220, 440, 660, 880, 1320), start=1))
    return (6000 * envelope * x / 2).astype(np.int16)


def aligned(out: np.ndarray, ref: np.ndarray) -> np.ndarray:
    lag = int(np.argmax(np.correlate(out[: len(ref) + 2000].astype(float), ref.astype(float), "valid")))
    return out[lag : lag + len(ref)]


@pytest.mark.parametrize(("codec", "fidelity"), [("PCMU/8000", 0.97), ("PCMA/8000", 0.97), ("opus/48000/2", 0.9)])
def test_lossless_line_keeps_the_speech(codec: str, fidelity: float) -> None:
    ref = voice_like()
    out, lost = telephone_channel(ref, codec=codec)
    assert lost == 0 and len(out) >= len(ref)
    assert np.corrcoef(aligned(out, ref), ref)[0, 1] > fidelity  # Opus codes perception, not waveform


def test_loss_goes_through_the_jitter_buffer_and_is_concealed() -> None:
    ref = voice_like(3.0)
    out, lost = telephone_channel(ref, loss_rate=0.1, seed=4)
    assert 5 <= lost <= 30  # ~10 % of 150 packets, in bursts
    part = aligned(out, ref)
    assert len(part) == len(ref)
    assert np.corrcoef(part, ref)[0, 1] > 0.6  # concealed, not silenced
    again, lost_again = telephone_channel(ref, loss_rate=0.1, seed=4)
    assert lost_again == lost and np.array_equal(again, out)  # seeded: the same line every run


def test_noise_is_mixed_at_the_asked_snr() -> None:
    speech = np.concatenate([np.zeros(RATE // 2, dtype=np.int16), voice_like(), np.zeros(RATE // 2, dtype=np.int16)])
    for snr in (20.0, 10.0):
        noise = white_noise(len(speech), 1)
        mixed = add_noise(speech, noise, snr)
        added = mixed.astype(np.float64) - speech
        measured = 20 * np.log10(speech_rms(speech) / np.sqrt(np.mean(added**2)))
        assert measured == pytest.approx(snr, abs=0.3)
    crowd = babble(RATE, [voice_like(0.7), voice_like(0.9)[::-1].copy()], seed=2)
    assert len(crowd) == RATE and np.std(crowd) > 0
    with pytest.raises(ValueError):
        add_noise(speech, white_noise(10, 1), 10.0)
