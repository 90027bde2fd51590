"""``listen``: one turn with the real VAD and recognisers, fed as an async frame stream."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import numpy as np
import pytest

from tests.sim.channel import frames_of, telephone_channel
from voicebot.asr import AsyncRecognizer
from voicebot.asr.engine import Band
from voicebot.asr.listen import LEAD_IN, Turn, listen
from voicebot.asr.pocketsphinx_engine import PocketsphinxEngine
from voicebot.asr.vosk_engine import VoskEngine
from voicebot.media.endpoint import BargeInDetector, EndpointConfig
from voicebot.media.vad import Vad, is_quiet
from voicebot.tts import EspeakEngine

KOREAN = ["네 맞습니다", "아니요", "나중에 다시 전화 주세요", "상담원 연결해 주세요"]


def silence(seconds: float) -> np.ndarray:
    return np.zeros(round(16000 * seconds), dtype=np.int16)


async def stream(pcm: np.ndarray, start: float = 0.0) -> AsyncIterator[tuple[float, np.ndarray]]:
    for i, frame in enumerate(frames_of(pcm)):
        yield start + i * 0.02, frame
        await asyncio.sleep(0)


def test_turn_with_an_expected_phrase(vosk_engine: VoskEngine, tts_cli: EspeakEngine) -> None:
    audio = np.concatenate(
        [silence(0.5), tts_cli.synthesize("나중에 다시 전화 주세요", voice="ko", rate=175), silence(2)]
    )

    async def main() -> Turn:
        rec = AsyncRecognizer(vosk_engine.recognizer(KOREAN))
        return await listen(stream(audio), rec, started_at=0.0, config=EndpointConfig(trailing_silence=0.7))

    turn = asyncio.run(main())
    assert turn.outcome == "utterance"
    assert turn.phrase == "나중에 다시 전화 주세요"
    assert turn.at < len(audio) / 16000 - 1.0  # decided well before the audio ran out


def test_no_input_then_hangup(vosk_engine: VoskEngine) -> None:
    async def main() -> tuple[Turn, Turn]:
        rec = AsyncRecognizer(vosk_engine.recognizer(KOREAN))
        quiet = await listen(stream(silence(3)), rec, started_at=0.0, config=EndpointConfig(no_input_timeout=2.0))
        short = await listen(stream(silence(0.5)), rec, started_at=0.0)
        return quiet, short

    quiet, short = asyncio.run(main())
    assert quiet.outcome == "no_input" and abs(quiet.at - 2.0) < 0.03
    assert short.outcome == "hangup" and short.result is None


def test_barge_in_speech_is_recognised_by_the_next_turn(vosk_engine: VoskEngine, tts_cli: EspeakEngine) -> None:
    caller = np.concatenate(
        [silence(0.8), tts_cli.synthesize("상담원 연결해 주세요", voice="ko", rate=175), silence(1.5)]
    )
    frames = frames_of(caller)
    vad = Vad(2)
    detector = BargeInDetector()
    cut = 0
    barge = None
    for i, frame in enumerate(frames):  # while the prompt plays
        barge = detector.feed(now=i * 0.02, frame=frame, speech=vad.is_speech(frame))
        if barge is not None:
            cut = i + 1
            break
    assert barge is not None and barge.latency <= 0.2

    async def rest() -> AsyncIterator[tuple[float, np.ndarray]]:
        for i in range(cut, len(frames)):
            yield i * 0.02, frames[i]

    async def main() -> Turn:
        rec = AsyncRecognizer(vosk_engine.recognizer(KOREAN))
        return await listen(
            rest(), rec, started_at=barge.at, pre_roll=barge.frames, in_speech_since=barge.onset, vad=vad
        )

    turn = asyncio.run(main())
    assert turn.outcome == "utterance"
    assert turn.phrase == "상담원 연결해 주세요"


def test_a_stall_after_a_partial_spelt_the_phrase_does_not_end_the_turn_on_the_wrong_words(
    sphinx_engine: PocketsphinxEngine, tts_cli: EspeakEngine
) -> None:
    """A partial result can spell a whole phrase before the audio holds it; if the line then
    goes quiet for a moment (a stall, a pause inside the phrase), the short early silence
    used to end the turn on a final result over the words so far ("talk to an"). Such a
    turn goes on now: a 200 ms stall is put at every point of a G.711 caller's phrase, and
    a turn ends early only on a final result that names a phrase. The
    recogniser hears the line from 300 ms before the first sound (``LEAD_IN``), and so does
    its second hearing: never the quiet the gate held back."""
    phrases = ["yes please", "no thank you", "call me back later", "talk to an agent", "cancel my appointment"]
    words = tts_cli.synthesize("talk to an agent", voice="en", rate=175)

    async def turn_with_stall_at(cut: int) -> Turn:
        audio = np.concatenate([silence(0.5), words[:cut], silence(0.2), words[cut:], silence(1.5)])
        line, _ = telephone_channel(audio)
        rec = AsyncRecognizer(sphinx_engine.recognizer(phrases, band=Band.NARROW))
        try:
            return await listen(stream(line), rec, started_at=0.0)
        finally:
            await rec.aclose()

    async def main() -> list[Turn]:
        return [await turn_with_stall_at(cut) for cut in range(len(words) // 2, len(words), 640)]

    turns = asyncio.run(main())
    for turn, cut in zip(turns, range(len(words) // 2, len(words), 640), strict=True):
        # the audio the recogniser was fed, in all: from LEAD_IN frames before the first sound
        # to the frame that ended the turn, once (a second hearing replaces the first)
        lead = silence(0.5)
        line, _ = telephone_channel(np.concatenate([lead, words[:cut], silence(0.2), words[cut:], silence(1.5)]))
        first = next(i for i, f in enumerate(frames_of(line)) if not is_quiet(f))
        assert turn.end is not None and turn.result is not None
        fed = round(turn.end.at / 0.02) - (first - LEAD_IN)  # end.at: the end of its frame
        assert turn.result.duration == pytest.approx(fed * 0.02, abs=1e-6), (cut, turn.reheard)
    early = [t for t in turns if t.end is not None and t.end.reason == "phrase"]
    assert all(t.phrase is not None for t in early), [(t.end, t.phrase) for t in early]
    assert any(t.reheard for t in turns), "no stall made an early end on a final that matched nothing: nothing tested"
    for turn in turns:
        if turn.reheard:  # the recogniser heard the whole turn again and then the rest
            assert turn.end is not None and turn.end.reason == "silence" and turn.result is not None
