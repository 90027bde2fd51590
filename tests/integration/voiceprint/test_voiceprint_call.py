"""A flow's verify_voice step on a real loopback call: two user agents talk SIP/UDP and RTP
(Opus) on 127.0.0.1, espeak-ng speaks for the bot and for the caller, pocketsphinx listens, and
the bot's CallerVoice scores what the caller said against a print enrolled from 16 kHz files.
Nothing is simulated: the caller's audio reaches the scorer the way a call delivers it."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from voicebot.agent import UserAgent
from voicebot.asr import get_engine
from voicebot.bot import VoiceBot
from voicebot.call import Call
from voicebot.flow import Flow
from voicebot.tts import EspeakEngine, Synthesizer
from voicebot.voice import Speech as Engines
from voicebot.voiceprint.encoder import SpeakerEncoder
from voicebot.voiceprint.live import CallerVoice
from voicebot.voiceprint.prints import MemoryPrintStore
from voicebot.voiceprint.verify import Speech, enroll

from .conftest import ENROL, ENROLLED, OTHER, TEST

THRESHOLD = 0.8  # between a voice and a voice of the other sex by far; the defaults are tested elsewhere
FLOW = """
flow: voice_call
slots:
  customer_id: {type: text, required: true}
start: talk
states:
  talk:
    ask: Please tell me your name and the town you live in.
    on: {yes: check}
    global: false                  # whatever the caller says goes on to the check
    no_match: {limit: 1, goto: check}
    no_input: {limit: 1, goto: check}
    timeout: 10
  check:
    verify_voice: {id: "{customer_id}", min_seconds: 2}
    on: {match: matched, no_match: not_matched, not_enough_speech: too_little}
  matched:
    hangup: matched
  not_matched:
    hangup: not_matched
  too_little:
    hangup: too_little
"""


@pytest.fixture(scope="module")
def prints() -> tuple[MemoryPrintStore, SpeakerEncoder]:
    tts = EspeakEngine(backend="espeak-ng")
    encoder = SpeakerEncoder()
    store = MemoryPrintStore()
    enroll(encoder, store, "c-1001", [Speech.from_pcm(tts.synthesize(t, voice=ENROLLED, rate=170)) for t in ENROL])
    return store, encoder


async def _call(flow: Flow, voice: CallerVoice, caller_voice: str) -> Any:
    engines = Engines(synthesizer=Synthesizer(voice="en-us"), asr=await asyncio.to_thread(get_engine, "pocketsphinx"))
    result: asyncio.Future[Any] = asyncio.get_running_loop().create_future()

    async def answer(call: Call) -> None:
        await call.answer()
        try:
            bot = VoiceBot(call, speech=engines, voiceprints=voice)
            result.set_result(await bot.run(flow, context={"customer_id": "c-1001"}))
        except BaseException as exc:
            result.set_exception(exc)
            raise
        finally:
            await call.hangup()

    async def caller_side(call: Call) -> None:
        # the espeak-ng command, as at enrolment: the same samples whatever ran before
        words = await Synthesizer(EspeakEngine(backend="espeak-ng"), voice=caller_voice, rate=170).synthesize(TEST)
        await asyncio.sleep(3.5)  # the bot's question
        assert call.media is not None
        call.media.play(np.concatenate([words, np.zeros(8000, np.int16)]))

    async with UserAgent("127.0.0.1:0", user="bot") as bot_ua, UserAgent("127.0.0.1:0", user="caller") as caller_ua:
        bot_ua.on_call(answer)
        host, port = bot_ua.local_address
        call = await caller_ua.dial(f"sip:bot@{host}:{port}")
        assert await call.answered
        caller = asyncio.create_task(caller_side(call))
        value = await asyncio.wait_for(result, timeout=90)
        caller.cancel()
        await asyncio.gather(caller, return_exceptions=True)
        await call.hangup()
    return value


@pytest.mark.parametrize(("caller_voice", "outcome"), [(ENROLLED, "matched"), (OTHER, "not_matched")])
def test_the_flow_verifies_the_caller_on_a_live_call(
    prints: tuple[MemoryPrintStore, SpeakerEncoder], tmp_path: Path, caller_voice: str, outcome: str
) -> None:
    store, encoder = prints
    path = tmp_path / "voice_call.yaml"
    path.write_text(FLOW, encoding="utf-8")
    voice = CallerVoice(store, encoder=encoder, threshold=THRESHOLD)
    try:
        result = asyncio.run(_call(Flow.load(path), voice, caller_voice))
    finally:
        voice.close()
    assert result.outcome == outcome, result.transcript
    score = result.slots["voice_score"]
    assert (score >= THRESHOLD) == (outcome == "matched")
    checked = [t for t in result.history if t.who == "voiceprint" and "result" in t.data]
    assert len(checked) == 1 and checked[0].data["score"] == score and checked[0].data["seconds"] >= 2
