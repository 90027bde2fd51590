"""The words path of answering-machine detection: espeak-ng speaks a greeting, pocketsphinx in
grammar mode (``GREETING_GRAMMAR``) hears it inside ``detect``. A terse voicemail greeting that
the length and cadence rules take for a person is caught by its words."""

from __future__ import annotations

import asyncio
import io
import subprocess
import wave
from collections.abc import AsyncIterator

import numpy as np

from tests.sim.channel import frames_of, telephone_channel
from voicebot.asr import AsyncRecognizer, get_engine
from voicebot.media.amd import GREETING_GRAMMAR, AmdDecision, detect
from voicebot.media.frames import AudioFrame
from voicebot.media.vad import Vad
from voicebot_codecs import resample


def _speak(text: str) -> np.ndarray:
    """espeak-ng's own command, which gives the same audio every time; the in-process engine's
    output of one text varies from call to call (two syntheses correlated 0.74 here), which made
    what the recogniser heard differ between runs."""
    wav = subprocess.run(["espeak-ng", "-v", "en-us", "-s", "160", "--stdout", text], capture_output=True,
                         check=True, timeout=30).stdout  # fmt: skip
    with wave.open(io.BytesIO(wav)) as w:
        pcm = np.frombuffer(w.readframes(w.getnframes()), "<i2")
        rate = w.getframerate()
    return resample(pcm, rate, 16000).astype(np.int16)


async def _decide(text: str, *, words: bool) -> AmdDecision | None:
    speech = await asyncio.to_thread(_speak, text)
    pcm, _ = telephone_channel(np.concatenate([np.zeros(4800, np.int16), speech, np.zeros(48000, np.int16)]))
    rec = None
    if words:
        engine = await asyncio.to_thread(get_engine, "pocketsphinx")
        rec = await AsyncRecognizer.open(engine, GREETING_GRAMMAR)

    async def frames() -> AsyncIterator[AudioFrame]:  # as a call delivers them: 20 ms apart in media time
        for i, frame in enumerate(frames_of(pcm)):
            yield AudioFrame(pcm=frame, media_time=100.0 + 0.02 * i, index=i)

    try:
        async for event in detect(frames(), Vad(2), recognizer=rec):
            if isinstance(event, AmdDecision):
                return event
    finally:
        if rec is not None:
            await rec.aclose()
    return None


async def test_a_terse_voicemail_greeting_is_caught_by_its_words() -> None:
    by_cadence = await _decide("Leave a message.", words=False)
    assert by_cadence is not None and by_cadence.verdict == "human"  # short, then silence
    by_words = await _decide("Leave a message.", words=True)
    assert by_words is not None and by_words.verdict == "machine", by_words
    # the grammar is a forced choice, so which voicemail phrase it settles on may vary; a phrase decided
    assert by_words.reason.startswith("heard ") and by_words.at < by_cadence.at


async def test_a_person_is_not_taken_for_a_machine_by_words() -> None:
    decision = await _decide("Hello, who is this?", words=True)
    assert decision is not None and decision.verdict == "human", decision
