"""Endpointing, no-input and barge-in state machines on a synthetic clock."""

from __future__ import annotations

import numpy as np
import pytest

from voicebot.errors import ConfigError
from voicebot.media.endpoint import (
    BargeInConfig,
    BargeInDetector,
    EndOfUtterance,
    EndpointConfig,
    Endpointer,
    NoInput,
    SpeechStarted,
    State,
)

F = 0.02


def run(ep: Endpointer, pattern: str, t0: float = 0.0) -> list[object]:
    """Feed one frame per character: 's' speech, '.' silence."""
    events: list[object] = []
    for i, ch in enumerate(pattern):
        events += ep.feed(now=t0 + i * F, speech=ch == "s")
    return events


def test_speech_then_trailing_silence_ends_utterance() -> None:
    ep = Endpointer(EndpointConfig(trailing_silence=0.2), started_at=0.0)
    events = run(ep, "....." + "s" * 20 + "." * 10)
    assert isinstance(events[0], SpeechStarted)
    assert events[0].onset == pytest.approx(0.1)
    end = events[1]
    assert isinstance(end, EndOfUtterance) and end.reason == "silence"
    assert end.speech_end == pytest.approx(0.5)
    assert end.delay == pytest.approx(0.2)
    assert ep.state is State.DONE
    assert run(ep, "sss") == []


def test_short_pause_inside_utterance_does_not_end_it() -> None:
    ep = Endpointer(EndpointConfig(trailing_silence=0.2), started_at=0.0)
    events = run(ep, "s" * 10 + "." * 5 + "s" * 10 + "." * 10)
    ends = [e for e in events if isinstance(e, EndOfUtterance)]
    assert len(ends) == 1 and ends[0].speech_end == pytest.approx(0.5)


def test_isolated_clicks_do_not_start_speech() -> None:
    ep = Endpointer(EndpointConfig(start_frames=3, no_input_timeout=1.0), started_at=0.0)
    events = run(ep, "s.s.ss." * 8)
    assert [type(e) for e in events] == [NoInput]


def test_complete_phrase_ends_early() -> None:
    ep = Endpointer(EndpointConfig(trailing_silence=0.6, early_silence=0.1), started_at=0.0)
    run(ep, "s" * 20)
    ep.partial("네 맞습니다")
    events = run(ep, "." * 10, t0=0.4)
    (end,) = events
    assert isinstance(end, EndOfUtterance)
    assert end.reason == "phrase" and end.phrase == "네 맞습니다"
    assert end.delay == pytest.approx(0.1)


def test_partial_that_stops_being_complete_waits_full_silence() -> None:
    ep = Endpointer(EndpointConfig(trailing_silence=0.3, early_silence=0.1), started_at=0.0)
    run(ep, "s" * 10)
    ep.partial("yes")
    ep.partial(None)
    (end,) = run(ep, "." * 20, t0=0.2)
    assert isinstance(end, EndOfUtterance) and end.reason == "silence" and end.delay == pytest.approx(0.3)


def test_a_wrong_early_end_resumes_to_the_full_silence_without_a_second_early_end() -> None:
    ep = Endpointer(EndpointConfig(trailing_silence=0.6, early_silence=0.1), started_at=0.0)
    run(ep, "s" * 20)
    ep.partial("talk to an agent")
    (early,) = run(ep, "." * 5, t0=0.4)
    assert isinstance(early, EndOfUtterance) and early.reason == "phrase"
    ep.resume()  # the final over the audio so far did not hold "talk to an agent"
    assert ep.state is State.SPEAKING
    ep.partial("talk to an agent")  # promised again: no longer ends the turn early
    events = run(ep, "sssss" + "." * 40, t0=0.5)
    (end,) = events
    assert isinstance(end, EndOfUtterance) and end.reason == "silence" and end.phrase is None
    assert end.speech_end == pytest.approx(0.6) and end.delay == pytest.approx(0.6)


def test_only_a_finished_utterance_resumes() -> None:
    ep = Endpointer(EndpointConfig(no_input_timeout=0.2), started_at=0.0)
    with pytest.raises(ConfigError):
        ep.resume()  # still waiting
    run(ep, "." * 20)
    assert ep.state is State.DONE
    with pytest.raises(ConfigError):
        ep.resume()  # no input: nothing to go on with


def test_no_input_timeout_by_frames_and_by_timer() -> None:
    ep = Endpointer(EndpointConfig(no_input_timeout=0.5), started_at=10.0)
    assert ep.next_deadline() == pytest.approx(10.5)
    events = run(ep, "." * 30, t0=10.0)
    assert len(events) == 1 and isinstance(events[0], NoInput)
    assert events[0].waited == pytest.approx(0.5)
    ep2 = Endpointer(EndpointConfig(no_input_timeout=0.5), started_at=0.0)
    assert ep2.handle_timer(0.4) == []
    (ev,) = ep2.handle_timer(0.5)
    assert isinstance(ev, NoInput)
    assert ep2.next_deadline() is None


def test_short_burst_is_dropped_and_no_input_still_fires() -> None:
    ep = Endpointer(EndpointConfig(trailing_silence=0.2, min_speech=0.15, no_input_timeout=1.0), started_at=0.0)
    events = run(ep, "ssss" + "." * 60)  # an 80 ms click, then nothing
    assert [type(e) for e in events] == [SpeechStarted, NoInput]
    assert ep.state is State.DONE


def test_short_burst_then_real_speech() -> None:
    ep = Endpointer(EndpointConfig(trailing_silence=0.2, min_speech=0.15), started_at=0.0)
    events = run(ep, "sss" + "." * 15 + "s" * 20 + "." * 15)
    kinds = [type(e) for e in events]
    assert kinds == [SpeechStarted, SpeechStarted, EndOfUtterance]
    end = events[-1]
    assert isinstance(end, EndOfUtterance) and end.onset == pytest.approx(0.36)


def test_max_utterance() -> None:
    ep = Endpointer(EndpointConfig(max_utterance=1.0), started_at=0.0)
    events = run(ep, "s" * 100)
    assert isinstance(events[-1], EndOfUtterance) and events[-1].reason == "max_length"


def test_stalled_stream_ends_by_timer() -> None:
    ep = Endpointer(EndpointConfig(trailing_silence=0.3), started_at=0.0)
    run(ep, "s" * 10)
    assert ep.handle_timer(0.3) == []
    (end,) = ep.handle_timer(0.5)
    assert isinstance(end, EndOfUtterance) and end.speech_end == pytest.approx(0.2)


def test_endpointer_after_barge_in_starts_in_speech() -> None:
    ep = Endpointer(EndpointConfig(trailing_silence=0.1, early_silence=0.1), started_at=1.0, in_speech_since=0.9)
    (end,) = run(ep, "sss.....", t0=1.0)
    assert isinstance(end, EndOfUtterance) and end.onset == pytest.approx(0.9)


def test_bad_config() -> None:
    with pytest.raises(ConfigError):
        EndpointConfig(early_silence=1.0, trailing_silence=0.5)
    with pytest.raises(ConfigError):
        EndpointConfig(start_frames=0)
    with pytest.raises(ConfigError):
        BargeInConfig(pre_roll=-1)


def frame(i: int) -> np.ndarray:
    return np.full(320, i, dtype=np.int16)


def test_barge_in_fires_within_200ms_and_keeps_the_speech() -> None:
    det = BargeInDetector(BargeInConfig(start_frames=3, pre_roll=0.1))
    pattern = "." * 20 + "s" * 10
    fired = []
    for i, ch in enumerate(pattern):
        ev = det.feed(now=i * F, frame=frame(i), speech=ch == "s")
        if ev is not None:
            fired.append(ev)
    (ev,) = fired
    assert ev.onset == pytest.approx(0.4)
    assert ev.latency <= 0.2
    kept = [int(f[0]) for f in ev.frames]
    assert kept == list(range(15, 23))  # 100 ms pre-roll + the three confirming frames
    det.reset()
    assert det.fired is None


def test_barge_in_ignores_short_noise() -> None:
    det = BargeInDetector()
    for i, ch in enumerate("ss.ss.s." * 10):
        assert det.feed(now=i * F, frame=frame(i), speech=ch == "s") is None
