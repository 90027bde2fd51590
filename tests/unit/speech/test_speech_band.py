"""The line's band, told to a recogniser at open: from the codec, and what it selects."""

from __future__ import annotations

import pytest

from voicebot.asr.engine import Band
from voicebot.asr.pocketsphinx_engine import cmn_text, parse_cmn
from voicebot.asr.shipped import cepstral_means
from voicebot_codecs import get_codec


@pytest.mark.parametrize(
    ("codec", "band"),
    [
        ("PCMU/8000", Band.NARROW),
        ("PCMA/8000", Band.NARROW),
        ("L16/8000", Band.NARROW),
        ("L16/16000", Band.WIDE),
        ("opus/48000/2", Band.WIDE),  # decoded at 16 kHz: it may carry wideband speech
    ],
)
def test_a_codecs_audio_rate_gives_the_band(codec: str, band: Band) -> None:
    assert Band.of_rate(get_codec(codec).sample_rate) is band


def test_a_cepstral_mean_goes_to_the_decoder_and_back_as_text() -> None:
    mean = (32.1631, 3.9643, -17.4222, 0.0, -1.5)
    assert cmn_text(mean) == "32.1631,3.9643,-17.4222,0.0000,-1.5000"
    assert parse_cmn(cmn_text(mean)) == mean
    assert parse_cmn("40,3,-1,0") == (40.0, 3.0, -1.0, 0.0)  # as a new decoder reports it


def test_pocketsphinx_ships_a_narrowband_cepstral_mean() -> None:
    """Learnt by the speech benchmark: a μ-law line's, far below the model's initial 40, 3, -1
    in c2 (the band above 4 kHz is empty); 13 cepstral coefficients, like the model's."""
    means = cepstral_means("pocketsphinx")
    narrow = means[Band.NARROW]
    assert len(narrow) == 13
    assert narrow[2] < -10.0
    assert cepstral_means("vosk") == {}  # Vosk keeps no such state between turns

