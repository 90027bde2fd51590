"""Noise bed, narrowband detection and band fill on synthetic signals."""

from __future__ import annotations

import numpy as np

from voicebot.asr.conditioning import BandFill, Conditioner, NarrowbandDetector, NoiseCursor, NoiseFloor

RATE = 16000


def tone(hz: float, seconds: float = 0.5, amp: float = 8000.0) -> np.ndarray:
    t = np.arange(int(RATE * seconds)) / RATE
    return (amp * np.sin(2 * np.pi * hz * t)).astype(np.int16)


def frames(pcm: np.ndarray) -> list[np.ndarray]:
    return [pcm[i : i + 320] for i in range(0, len(pcm) - 319, 320)]


def band_energy(pcm: np.ndarray, lo: float, hi: float) -> float:
    power = np.abs(np.fft.rfft(pcm.astype(np.float64))) ** 2
    f = np.fft.rfftfreq(len(pcm), 1 / RATE)
    return float(power[(f >= lo) & (f < hi)].sum())


def test_detector_needs_loud_frames_then_tells_the_band() -> None:
    detector = NarrowbandDetector()
    for f in frames(np.zeros(RATE // 2, dtype=np.int16)):
        assert detector.feed(f) is None  # silence says nothing
    verdicts = [detector.feed(f) for f in frames(tone(1000) + tone(2500))]
    assert verdicts[3] is None and verdicts[-1] is True
    wide = NarrowbandDetector()
    assert [wide.feed(f) for f in frames(tone(1000) + tone(6000, amp=2000))][-1] is False


def test_band_fill_mirrors_the_low_band_into_the_high_band() -> None:
    fill = BandFill(0.5)
    out = np.concatenate([fill.apply(f) for f in frames(tone(1000))])
    spectrum = np.abs(np.fft.rfft(out.astype(np.float64)))
    f = np.fft.rfftfreq(len(out), 1 / RATE)
    peaks = sorted(f[np.argsort(spectrum)[-2:]])
    assert peaks == [1000.0, 7000.0]  # 1 kHz and its mirror at 8 - 1 kHz
    ratio = band_energy(out, 6900, 7100) / band_energy(out, 900, 1100)
    assert 0.2 < ratio < 0.3  # gain 0.5 -> a quarter of the power


def test_conditioner_fills_only_narrowband_lines_and_always_adds_the_floor() -> None:
    floor = NoiseFloor(20.0, low_hz=4000.0)
    narrow = Conditioner(floor, fill_gain=1.0)
    out = np.concatenate([narrow.apply(f) for f in frames(tone(1500, seconds=1.0))])
    tail = out[RATE // 2 :]
    assert narrow.narrowband is True and band_energy(tail, 6400, 6600) > 1e3 * band_energy(tail, 5000, 5200)
    wide = Conditioner(floor, fill_gain=1.0)
    signal = tone(1500, seconds=1.0) + tone(6000, seconds=1.0, amp=2000)
    out = np.concatenate([wide.apply(f) for f in frames(signal)])
    # no mirror image of the 1.5 kHz tone at 6.5 kHz: only the noise bed is added
    assert wide.narrowband is False and band_energy(out, 6400, 6600) < 1e-4 * band_energy(out, 1400, 1600)
    silent = Conditioner(floor)
    quiet = np.concatenate([silent.apply(f) for f in frames(np.zeros(RATE, dtype=np.int16))])
    assert 15 < np.sqrt(np.mean(quiet.astype(np.float64) ** 2)) < 25
    assert band_energy(quiet, 0, 3800) < 1e-3 * band_energy(quiet, 4200, 8000)


def test_the_noise_bed_loops_seamlessly_whatever_the_chunk_sizes() -> None:
    """A stream fed in frames, odd sizes or chunks longer than the bed gets the same bed as
    one fed all at once: the cursor continues exactly where the last chunk ended."""
    floor = NoiseFloor(20.0, seconds=0.25)  # a 4,000-sample bed: the chunks below wrap it
    silence = np.zeros(3 * RATE, dtype=np.int16)
    whole = floor.cursor().apply(silence)
    cursor, cuts = floor.cursor(), [320, 320, 7, 9_000, 1, 3_999, 4_000, 4_001]
    ends = [*np.cumsum(cuts), len(silence)]
    pieces = [cursor.apply(silence[a:b]) for a, b in zip([0, *ends[:-1]], ends, strict=True)]
    assert np.array_equal(np.concatenate(pieces), whole)
    assert np.array_equal(whole[:4000], whole[4000:8000])  # looped, and on the same grid


def test_a_shifted_bed_starts_that_far_into_the_same_loop() -> None:
    floor = NoiseFloor(20.0, seconds=0.25)
    silence = np.zeros(RATE, dtype=np.int16)
    whole = floor.cursor().apply(silence)
    later = floor.shifted(1000)
    assert (later.rms, later.low_hz) == (floor.rms, floor.low_hz)
    assert np.array_equal(later.cursor().apply(silence[:3000]), whole[1000:4000])
    assert np.array_equal(floor.cursor().apply(silence), whole)  # the original is untouched


def test_with_an_onset_level_the_bed_under_the_words_does_not_depend_on_when_they_came() -> None:
    """The same words after 0.1 s or 0.77 s of quiet (and again in the next utterance) get
    the same stretch of bed: it starts again at the utterance's first loud frame."""
    floor = NoiseFloor(20.0, onset_rms=300.0)
    words = tone(700, seconds=0.6, amp=3000)

    def under_words(lead: float, cursor: NoiseCursor) -> np.ndarray:
        audio = np.concatenate([np.zeros(round(lead * RATE), dtype=np.int16), words])
        out = np.concatenate([cursor.apply(f) for f in frames(audio)])
        return out[-len(words) :]

    first = under_words(0.1, floor.cursor())
    cursor = floor.cursor()
    assert np.array_equal(under_words(0.78, cursor), first)
    cursor.next_utterance()
    assert np.array_equal(under_words(0.34, cursor), first)
    looped = NoiseFloor(20.0)  # without: which stretch depends on the lead
    assert not np.array_equal(under_words(0.78, looped.cursor()), under_words(0.1, looped.cursor()))
