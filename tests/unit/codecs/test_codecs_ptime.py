"""Packet times other than 20 ms: which ones each format sends, packets of 10-60 ms encoded
and decoded whole, and every packet's duration read back from the payload alone."""

from __future__ import annotations

import numpy as np
import pytest

from voicebot_codecs import CodecError, get_codec

from .conftest import aligned_correlation, voice_band


@pytest.mark.parametrize(
    ("name", "asked", "sent"),
    [
        ("PCMU/8000", 30, 30),
        ("PCMU/8000", 25, 20),  # not a 10 ms step: the longest below
        ("PCMU/8000", 200, 60),
        ("PCMU/8000", 5, 10),  # shorter than any we send: our shortest
        ("opus/48000/2", 30, 20),  # no 30 ms Opus frame (RFC 6716 §2.1.4)
        ("opus/48000/2", 60, 60),
        ("opus/48000/2", 120, 60),
    ],
)
def test_a_far_ends_ptime_is_fitted_to_what_the_format_can_send(name: str, asked: int, sent: int) -> None:
    assert get_codec(name).fit_ptime(asked) == sent


@pytest.mark.parametrize("name", ["PCMU/8000", "PCMA/8000", "opus/48000/2"])
@pytest.mark.parametrize("ptime", [10, 20, 30, 40, 60])
def test_packets_of_any_ptime_round_trip_and_tell_their_duration(name: str, ptime: int) -> None:
    codec = get_codec(name)
    if ptime not in codec.ptimes:
        with pytest.raises(CodecError, match=f"{ptime} ms"):
            codec.encoder(ptime)
        return
    enc, dec = codec.encoder(ptime), codec.decoder()
    n = codec.info.packet_samples(ptime)
    sig = voice_band(codec.sample_rate, seconds=1.2)
    packets = [enc.encode(sig[i : i + n]) for i in range(0, len(sig) - n + 1, n)]
    assert {codec.payload_duration(p) for p in packets} == {codec.info.packet_timestamp_step(ptime)}
    out = [dec.decode(p) for p in packets]
    assert {len(o) for o in out} == {n}  # one packet decodes to all of its audio
    corr, _lag = aligned_correlation(sig[: n * len(out)], np.concatenate(out), max_lag=n)
    assert corr >= 0.9


def test_an_encoder_refuses_a_frame_of_the_wrong_length() -> None:
    enc = get_codec("PCMU/8000").encoder(40)
    with pytest.raises(CodecError, match="320 samples"):
        enc.encode(np.zeros(160, dtype=np.int16))


def test_reading_a_packets_duration_looks_for_libopus_only_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """The duration is read for every received packet: looking libopus up again each time ran
    ``ldconfig`` in a subprocess per packet and stalled the event loop of every Opus call."""
    import ctypes.util

    codec = get_codec("opus/48000/2")
    packet = codec.encoder(20).encode(voice_band(codec.sample_rate, seconds=0.02))
    assert codec.payload_duration(packet) == 960

    def no_more_lookups(name: str) -> str | None:
        raise AssertionError(f"find_library({name!r}) on the packet path")

    monkeypatch.setattr(ctypes.util, "find_library", no_more_lookups)
    assert [codec.payload_duration(packet) for _ in range(3)] == [960] * 3
    assert len(codec.decoder().decode(packet)) == codec.info.packet_samples(20)
