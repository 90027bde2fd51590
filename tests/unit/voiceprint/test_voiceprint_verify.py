"""Enrolment and verification on the deterministic test signals: results for every case
(match, no match, not enough speech, not enrolled), bands compared as they should be, and the
caller's audio of a call checked in a worker thread."""

from __future__ import annotations

from types import ModuleType

import numpy as np
import pytest

from tests.sim.channel import telephone_channel
from voicebot.errors import VoicebotError
from voicebot.voiceprint.encoder import SpeakerEncoder
from voicebot.voiceprint.live import CallerAudio, CallerVoice
from voicebot.voiceprint.prints import MemoryPrintStore, Voiceprint
from voicebot.voiceprint.verify import (
    FULL_BAND_THRESHOLD,
    TELEPHONE_BAND_THRESHOLD,
    Speech,
    SpeechError,
    enroll,
    full_band,
    score,
    verify,
)


def test_silence_and_short_speech_are_refused_with_what_was_heard(signals: ModuleType) -> None:
    with pytest.raises(SpeechError, match=r"quiet.wav: no speech in it \(silent\)"):
        Speech.from_pcm(np.zeros(48000, np.int16), "quiet.wav").require(1.0)
    short = Speech.from_pcm(signals.case("short_1s"), "short.wav")
    assert 1.0 < short.seconds < 1.7
    with pytest.raises(SpeechError, match=r"short.wav: too short: 1\.\d s of speech, at least 3 s needed"):
        short.require(3)
    assert short.require(1.0) is short


def test_telephone_audio_is_told_from_full_band_audio(signals: ModuleType) -> None:
    pcm = signals.case("low_voice_4s")
    assert Speech.from_pcm(pcm).wideband
    phone = Speech.from_pcm(telephone_channel(pcm)[0])
    assert not phone.wideband and phone.narrow is phone.audio
    assert Speech.from_pcm(np.zeros(1600, np.int16)).wideband is False


def test_verify_gives_every_result(signals: ModuleType, encoder: SpeakerEncoder) -> None:
    store = MemoryPrintStore()
    enrol = [Speech.from_pcm(signals.case(n)) for n in ("low_voice_4s", "mid_voice_long_pause")]
    vp = enroll(encoder, store, "c-1", enrol)
    assert vp.wideband and len(vp.utterances) == 2
    same = Speech.from_pcm(signals.case("low_voice_4s"))
    other = Speech.from_pcm(signals.case("high_voice_3s"))
    assert verify(encoder, store, "c-2", same).result == "not_enrolled"
    few = verify(encoder, store, "c-1", Speech.from_pcm(signals.case("short_1s")), min_seconds=2)
    assert few.result == "not_enough_speech" and few.score is None
    hit = verify(encoder, store, "c-1", same, threshold=0.9)
    miss = verify(encoder, store, "c-1", other, threshold=0.9)
    assert hit.result == "match" and hit.score is not None and hit.score > 0.9
    assert miss.score is not None and miss.score < hit.score
    assert verify(encoder, store, "c-1", other, threshold=miss.score + 1e-3).result == "no_match"
    assert hit.as_dict() == {"result": "match", "seconds": round(hit.seconds, 2), "score": round(hit.score, 4),
                             "threshold": 0.9, "band": "full"}  # fmt: skip
    default = verify(encoder, store, "c-1", same)
    assert default.threshold == FULL_BAND_THRESHOLD and default.band == "full"
    phone = verify(encoder, store, "c-1", Speech.from_pcm(telephone_channel(signals.case("low_voice_4s"))[0]))
    assert phone.threshold == TELEPHONE_BAND_THRESHOLD and phone.band == "telephone"


def test_telephone_speech_is_compared_in_the_telephone_band(signals: ModuleType, encoder: SpeakerEncoder) -> None:
    store = MemoryPrintStore()
    pcm = signals.case("low_voice_4s")
    vp = enroll(encoder, store, "c-1", [Speech.from_pcm(pcm)])
    phone = Speech.from_pcm(telephone_channel(pcm)[0])
    assert not full_band(vp, phone) and full_band(vp, Speech.from_pcm(pcm))
    in_band = score(encoder, vp, phone)
    across = float(encoder.embed_utterance(phone.audio) @ vp.embedding(wide=True))
    assert in_band > across  # the band mismatch costs more than the channel itself
    assert in_band > 0.95


def test_enrol_adds_or_replaces(signals: ModuleType, encoder: SpeakerEncoder) -> None:
    store = MemoryPrintStore()
    one = [Speech.from_pcm(signals.case("low_voice_4s"))]
    enroll(encoder, store, "c-1", one)
    assert len(enroll(encoder, store, "c-1", one).utterances) == 2
    assert len(enroll(encoder, store, "c-1", one, add=False).utterances) == 1


def test_caller_audio_keeps_the_newest_seconds() -> None:
    audio = CallerAudio(max_seconds=1.0)
    for i in range(100):  # 2 s of 20 ms frames numbered by their value
        audio.feed(np.full(320, i, np.int16))
    held = audio.snapshot()
    assert len(held) == 16000 and held[0] == 50 and held[-1] == 99 and audio.seconds >= 1.0


class BrokenStore(MemoryPrintStore):
    def save(self, voiceprint: Voiceprint) -> None:
        raise VoicebotError("disk full")


def test_a_call_enrols_and_verifies_the_caller_in_a_worker_thread(signals: ModuleType, encoder: SpeakerEncoder) -> None:
    store = MemoryPrintStore()
    voice = CallerVoice(store, encoder=encoder, threshold=0.9)
    try:
        assert voice.verify("c-1", 2.0).result(timeout=60).result == "not_enrolled"
        for frame in np.array_split(signals.case("low_voice_4s"), 230):
            voice.feed(frame)
        assert voice.enroll("c-1", 10.0).result(timeout=60).result == "not_enough_speech"
        enrolled = voice.enroll("c-1", 2.0).result(timeout=60)
        assert enrolled.result == "enrolled" and enrolled.seconds > 3
        verdict = voice.verify("c-1", 2.0).result(timeout=60)
        assert verdict.result == "match" and verdict.score is not None and verdict.score > 0.99
        assert voice.verify("c-1", 30.0).result(timeout=60).result == "not_enough_speech"
        broken = CallerVoice(BrokenStore(), encoder=encoder)
        broken.feed(signals.case("low_voice_4s"))
        failed = broken.enroll("c-1", 1.0).result(timeout=60)
        assert failed.result == "failed" and "disk full" in failed.error
        broken.close()
    finally:
        voice.close()
