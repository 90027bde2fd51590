"""VAD, endpointing and barge-in on constructed audio (speech, silence, speech) with known onsets,
with the real WebRTC VAD and the real Vosk recogniser."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from tests.sim.channel import frames_of
from voicebot.asr.events import PartialResult
from voicebot.asr.vosk_engine import VoskEngine
from voicebot.errors import ConfigError
from voicebot.media.endpoint import (
    BargeInConfig,
    BargeInDetector,
    EndOfUtterance,
    EndpointConfig,
    Endpointer,
    NoInput,
    SpeechStarted,
)
from voicebot.media.vad import Vad
from voicebot.tts import EspeakEngine

KOREAN = ["네 맞습니다", "아니요", "나중에 다시 전화 주세요", "상담원 연결해 주세요"]
F = 0.02
Speak = Callable[..., np.ndarray]


def silence(seconds: float) -> np.ndarray:
    return np.zeros(round(16000 * seconds), dtype=np.int16)


def speech_span(pcm: np.ndarray) -> tuple[float, float]:
    """First and last sample above the silence threshold, in seconds."""
    loud = np.flatnonzero(np.abs(pcm.astype(np.int32)) > 300)
    return loud[0] / 16000, (loud[-1] + 1) / 16000


@pytest.fixture(scope="module")
def phrase_a(tts_cli: EspeakEngine) -> np.ndarray:
    return tts_cli.synthesize("상담원 연결해 주세요", voice="ko", rate=175)


@pytest.fixture(scope="module")
def phrase_b(tts_cli: EspeakEngine) -> np.ndarray:
    return tts_cli.synthesize("네 맞습니다", voice="ko", rate=175)


def test_speech_silence_speech_segments_at_known_onsets(phrase_a: np.ndarray, phrase_b: np.ndarray) -> None:
    audio = np.concatenate([silence(0.5), phrase_a, silence(1.0), phrase_b, silence(1.0)])
    a_on, a_off = speech_span(phrase_a)
    b_on, b_off = speech_span(phrase_b)
    onsets = [0.5 + a_on, 0.5 + len(phrase_a) / 16000 + 1.0 + b_on]
    ends = [0.5 + a_off, 0.5 + len(phrase_a) / 16000 + 1.0 + b_off]
    vad = Vad(2)
    cfg = EndpointConfig(trailing_silence=0.5, early_silence=0.15, no_input_timeout=3.0)
    ep = Endpointer(cfg, started_at=0.0)
    utterances: list[EndOfUtterance] = []
    starts: list[SpeechStarted] = []
    for i, frame in enumerate(frames_of(audio)):
        now = i * F
        for ev in ep.feed(now=now, speech=vad.is_speech(frame)):
            if isinstance(ev, SpeechStarted):
                starts.append(ev)
            elif isinstance(ev, EndOfUtterance):
                utterances.append(ev)
                ep = Endpointer(cfg, started_at=ev.at)  # next turn
    assert len(starts) == 2 and len(utterances) == 2
    for got, want in zip(starts, onsets, strict=True):
        assert got.onset == pytest.approx(want, abs=0.06)
        assert got.at - got.onset <= 0.2
    for got, want in zip(utterances, ends, strict=True):
        assert got.reason == "silence"
        # the VAD hangs on a little after the waveform decays below the amplitude threshold
        assert want - 0.05 <= got.speech_end <= want + 0.2
        assert got.delay == pytest.approx(0.5, abs=0.021)


def test_no_input_on_line_noise() -> None:
    rng = np.random.default_rng(3)
    noise = rng.normal(0, 30, 16000 * 4).astype(np.int16)  # quiet line hiss, 4 s
    vad = Vad(2)
    ep = Endpointer(EndpointConfig(no_input_timeout=3.0), started_at=0.0)
    events = []
    for i, frame in enumerate(frames_of(noise)):
        events += ep.feed(now=i * F, speech=vad.is_speech(frame))
    # WebRTC VAD may flag a few frames while it settles on the noise: never an utterance
    assert not any(isinstance(e, EndOfUtterance) for e in events)
    assert isinstance(events[-1], NoInput)
    assert events[-1].at == pytest.approx(3.0, abs=F)


def test_complete_phrase_ends_the_turn_early(vosk_engine: VoskEngine, phrase_a: np.ndarray) -> None:
    audio = np.concatenate([silence(0.4), phrase_a, silence(1.0)])
    vad = Vad(2)
    cfg = EndpointConfig(trailing_silence=0.8, early_silence=0.15)
    ep = Endpointer(cfg, started_at=0.0)
    rec = vosk_engine.recognizer(KOREAN)
    end: EndOfUtterance | None = None
    for i, frame in enumerate(frames_of(audio)):
        ev = rec.accept(frame)
        if isinstance(ev, PartialResult):
            ep.partial(ev.match.phrase if ev.match else None)
        for e in ep.feed(now=i * F, speech=vad.is_speech(frame)):
            if isinstance(e, EndOfUtterance):
                end = e
        if end is not None:
            break
    result = rec.finish()
    assert end is not None
    assert end.reason == "phrase" and end.phrase == "상담원 연결해 주세요"
    assert end.delay < cfg.trailing_silence
    assert result.match is not None and result.match.phrase == "상담원 연결해 주세요"


def test_barge_in_stops_within_200ms_and_its_speech_is_recognised(
    vosk_engine: VoskEngine, phrase_b: np.ndarray
) -> None:
    # The prompt plays from t=0; the caller starts talking 1.2 s into it.
    caller = np.concatenate([silence(1.2), phrase_b, silence(0.8)])
    onset = 1.2 + speech_span(phrase_b)[0]
    vad = Vad(2)
    detector = BargeInDetector(BargeInConfig(start_frames=3, pre_roll=0.3))
    frames = frames_of(caller)
    fired_at = None
    barge = None
    for i, frame in enumerate(frames):
        barge = detector.feed(now=i * F, frame=frame, speech=vad.is_speech(frame))
        if barge is not None:
            fired_at = i
            break
    assert barge is not None and fired_at is not None
    assert barge.onset == pytest.approx(onset, abs=0.06)
    assert barge.at - onset <= 0.2  # playback stops within 200 ms of the caller's onset
    # The words that interrupted the prompt are kept and recognised with what follows.
    rec = vosk_engine.recognizer(KOREAN)
    for frame in barge.frames:
        rec.accept(frame)
    ep = Endpointer(EndpointConfig(trailing_silence=0.5), started_at=barge.at, in_speech_since=barge.onset)
    for i in range(fired_at + 1, len(frames)):
        rec.accept(frames[i])
        if any(isinstance(e, EndOfUtterance) for e in ep.feed(now=i * F, speech=vad.is_speech(frames[i]))):
            break
    result = rec.finish()
    assert result.match is not None and result.match.phrase == "네 맞습니다"


def test_vad_input_checks() -> None:
    vad = Vad(3)
    assert vad.is_speech(np.zeros(160, dtype=np.int16)) is False
    with pytest.raises(ConfigError):
        vad.is_speech(np.zeros(100, dtype=np.int16))
    with pytest.raises(ConfigError):
        Vad(4)
    with pytest.raises(ConfigError):
        Vad(1, sample_rate=11025)
