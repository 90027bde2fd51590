"""Answering-machine detection as a pure state machine: synthetic frames, time passed in."""

from __future__ import annotations

import numpy as np
import pytest

from voicebot.media.amd import AmdConfig, AmdDecision, AnsweringMachineDetector, MessageCue
from voicebot.media.beep import BeepDetector, BeepHeard

SILENCE = np.zeros(320, np.int16)
NOISE = np.random.default_rng(3).integers(-4000, 4000, 320).astype(np.int16)  # stands for speech


def tone_frames(freq: float, seconds: float) -> list[np.ndarray]:
    t = np.arange(int(16000 * seconds)) / 16000
    pcm = (8000 * np.sin(2 * np.pi * freq * t)).astype(np.int16)
    return [pcm[i : i + 320] for i in range(0, len(pcm) - 319, 320)]


def run(script: list[tuple[str, float]], config: AmdConfig | None = None) -> list[object]:
    """``script``: ("speech"|"silence"|"beep:FREQ", seconds) pieces fed frame by frame."""
    det = AnsweringMachineDetector(config)
    events: list[object] = []
    i = 0
    for kind, seconds in script:
        if kind.startswith("beep:"):
            frames = tone_frames(float(kind[5:]), seconds)
            speech = True  # a VAD may well call a beep speech
        else:
            frames = [NOISE if kind == "speech" else SILENCE] * round(seconds / 0.02)
            speech = kind == "speech"
        for frame in frames:
            events += det.feed(now=i * 0.02, frame=frame, speech=speech)
            i += 1
    return events


def decision(events: list[object]) -> AmdDecision:
    found = [e for e in events if isinstance(e, AmdDecision)]
    assert len(found) == 1, events
    return found[0]


def test_a_short_greeting_then_silence_is_a_human() -> None:
    d = decision(run([("silence", 0.4), ("speech", 0.6), ("silence", 3.0)]))
    assert d.verdict == "human" and d.at == pytest.approx(0.4 + 0.6 + 0.8)
    assert d.greeting == pytest.approx(0.6)


def test_a_long_greeting_is_a_machine_as_soon_as_it_is_too_long() -> None:
    events = run([("silence", 0.3), ("speech", 1.2), ("silence", 0.3), ("speech", 3.0), ("silence", 2.0)])
    d = decision(events)
    assert d.verdict == "machine" and d.at == pytest.approx(0.3 + 2.0 + 0.02, abs=0.021)
    cue = [e for e in events if isinstance(e, MessageCue)]
    assert [c.after for c in cue] == ["silence"] and cue[0].at == pytest.approx(0.3 + 4.5 + 1.5)


def test_a_beep_decides_machine_and_cues_the_message() -> None:
    events = run([("speech", 0.8), ("silence", 0.3), ("beep:1000", 0.4), ("silence", 1.0)])
    beeps = [e for e in events if isinstance(e, BeepHeard)]
    assert len(beeps) == 1 and beeps[0].frequency == pytest.approx(1000, abs=32)
    assert beeps[0].duration == pytest.approx(0.4, abs=0.03)
    d = decision(events)
    assert d.verdict == "machine" and d.reason.startswith("beep") and d.at == pytest.approx(1.52, abs=0.05)
    assert [e.after for e in events if isinstance(e, MessageCue)] == ["beep"]


def test_silence_or_no_decision_is_unknown_within_the_deadline() -> None:
    d = decision(run([("silence", 5.0)]))
    assert d.verdict == "unknown" and d.at == pytest.approx(3.5)
    chatter = [("speech", 0.3), ("silence", 0.5)] * 6  # short bursts, short pauses: neither rule fires
    d = decision(run(chatter, AmdConfig(greeting_max=10, max_words=50, deadline=3.0)))
    assert d.verdict == "unknown" and d.at == pytest.approx(3.0)


def test_many_bursts_are_a_machine() -> None:
    d = decision(run([("speech", 0.12), ("silence", 0.2)] * 8, AmdConfig(max_words=5)))
    assert d.verdict == "machine" and "bursts" in d.reason


def test_voicemail_words_decide_machine() -> None:
    det = AnsweringMachineDetector()
    assert det.hear("hello who is this", 0.9) == []
    (d,) = det.hear("Please, leave a MESSAGE after the tone", 1.2)
    assert isinstance(d, AmdDecision) and d.verdict == "machine" and "leave a message" in d.reason
    assert det.hear("voicemail", 1.3) == []  # decided once
    assert AnsweringMachineDetector().hear("음성 사서함으로 연결됩니다", 1.0)[0].verdict == "machine"  # type: ignore[union-attr]


def test_beep_detector_ignores_noise_short_tones_and_gliding_pitch() -> None:
    det = BeepDetector()
    rng = np.random.default_rng(1)
    t = 0.0
    for _ in range(50):
        assert det.feed(rng.integers(-5000, 5000, 320).astype(np.int16), t) is None
        t += 0.02
    for frame in tone_frames(900, 0.1) + [SILENCE] * 3:  # 100 ms: a click of a tone, not a beep
        assert det.feed(frame, t) is None
        t += 0.02
    glide = [tone_frames(500 + 60 * i, 0.02)[0] for i in range(20)]  # pitch moves: not a beep
    assert all(det.feed(frame, t + 0.02 * i) is None for i, frame in enumerate(glide + [SILENCE] * 3))
