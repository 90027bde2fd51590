"""The espeak-ng TTS engine through pyttsx3: audio format, voice, rate, SSML, cache, streaming."""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import pytest

from voicebot.asr.engine import recognize_pcm
from voicebot.asr.vosk_engine import VoskEngine
from voicebot.errors import ConfigError
from voicebot.media.wav import load_wav
from voicebot.tts import EspeakEngine, PromptCache, Synthesizer
from voicebot.tts.espeak import SynthesisError


class CountingEngine:
    """The real engine, counting how often it is asked to render (to observe the cache)."""

    def __init__(self, inner: EspeakEngine) -> None:
        self.inner = inner
        self.name = inner.name
        self.sample_rate = inner.sample_rate
        self.calls = 0

    def synthesize(self, text: str, *, voice: str, rate: int) -> np.ndarray:
        self.calls += 1
        return self.inner.synthesize(text, voice=voice, rate=rate)

    def check_voice(self, voice: str) -> str:
        return self.inner.check_voice(voice)

    def language(self, voice: str) -> str:
        return self.inner.language(voice)


def test_pyttsx3_backend_is_used_headless(tts: EspeakEngine) -> None:
    assert tts.backend == "pyttsx3"


def test_renders_16khz_int16_speech(tts: EspeakEngine) -> None:
    pcm = tts.synthesize("hello there, this is a test", voice="en-us", rate=175)
    assert pcm.dtype == np.int16 and pcm.ndim == 1
    seconds = len(pcm) / 16000
    assert 1.0 < seconds < 3.0
    assert np.abs(pcm).max() > 3000  # audible speech, not silence
    assert tts.synthesize("   ", voice="en-us", rate=175).size == 0


def test_rate_changes_duration(tts: EspeakEngine) -> None:
    slow = tts.synthesize("one two three four five six", voice="en-us", rate=120)
    fast = tts.synthesize("one two three four five six", voice="en-us", rate=260)
    assert len(slow) > 1.6 * len(fast)
    # settings apply to the phrase they are given with, not the next one
    again = tts.synthesize("one two three four five six", voice="en-us", rate=120)
    assert abs(len(again) - len(slow)) < 800


def test_pyttsx3_and_cli_backends_agree(tts: EspeakEngine) -> None:
    cli = EspeakEngine(backend="espeak-ng")
    try:
        combos = [("ko", 150), ("ko", 150), ("en-us", 250), ("ko+f3", 200), ("ko", 150), ("en-us", 120)]
        for voice, rate in [*combos, ("ko+m3", 300), ("ko", 150), ("en-gb", 175), ("ko", 200)]:
            a = tts.synthesize("하나 둘 셋 넷", voice=voice, rate=rate)
            b = cli.synthesize("하나 둘 셋 넷", voice=voice, rate=rate)
            assert abs(len(a) - len(b)) < 800, (voice, rate)
    finally:
        cli.close()


def test_voice_changes_audio_and_unknown_voice_is_refused(tts: EspeakEngine) -> None:
    male = tts.synthesize("안녕하세요", voice="ko", rate=175)
    female = tts.synthesize("안녕하세요", voice="ko+f3", rate=175)
    assert len(male) and len(female)
    assert not np.array_equal(male[: min(len(male), len(female))], female[: min(len(male), len(female))])
    assert tts.language("ko+f3") == "ko"
    assert tts.language("en-us") == "en"
    with pytest.raises(ConfigError, match="unknown voice"):
        tts.check_voice("xx-nowhere")
    with pytest.raises(ConfigError, match="variant"):
        tts.check_voice("ko+nosuchvariant")


def test_cli_fallback_backend_renders_the_same_voice() -> None:
    cli = EspeakEngine(backend="espeak-ng")
    try:
        pcm = cli.synthesize("네 맞습니다", voice="ko", rate=175)
        assert cli.backend == "espeak-ng" and len(pcm) > 8000
    finally:
        cli.close()


def test_korean_prompt_round_trips_through_vosk(tts: EspeakEngine, vosk_engine: VoskEngine) -> None:
    synth = Synthesizer(tts, voice="ko", rate=175)
    pcm = synth.render("상담원 연결해 주세요")
    padded = np.concatenate([np.zeros(4800, np.int16), pcm, np.zeros(4800, np.int16)])
    result = recognize_pcm(vosk_engine.recognizer(["상담원 연결해 주세요", "아니요"]), padded)
    assert result.match is not None and result.match.phrase == "상담원 연결해 주세요"


def test_ssml_break_and_rate(tts: EspeakEngine) -> None:
    synth = Synthesizer(tts, voice="en-us")
    plain = synth.render("good morning. thank you")
    paused = synth.render('good morning. <break time="1s"/> thank you', ssml=True)
    slower = synth.render('<prosody rate="x-slow">good morning. thank you</prosody>', ssml=True)
    # the 1 s break takes the place of the 250 ms pause between sentences
    assert len(paused) - len(plain) == pytest.approx(12000, abs=800)
    assert len(slower) > 1.3 * len(plain)


def test_ssml_say_as_is_spoken(tts: EspeakEngine) -> None:
    synth = Synthesizer(tts, voice="en-us")
    digits = synth.render('<say-as interpret-as="digits">2025</say-as>', ssml=True)
    number = synth.render("2025")
    assert len(digits) != len(number)  # "two zero two five" vs "two thousand twenty five"


def test_cache_in_memory_and_on_disk(tts: EspeakEngine, tmp_path: Path) -> None:
    counting = CountingEngine(tts)
    synth = Synthesizer(counting, voice="en-us", cache=PromptCache(tmp_path))
    first = synth.render("your appointment is tomorrow")
    again = synth.render("your appointment is tomorrow")
    assert counting.calls == 1 and np.array_equal(first, again)
    files = list(tmp_path.glob("*.wav"))
    assert len(files) == 1
    pcm, rate = load_wav(files[0])
    assert rate == 16000 and np.array_equal(pcm, first)
    # A new process (new synthesizer, same directory) renders nothing.
    counting2 = CountingEngine(tts)
    synth2 = Synthesizer(counting2, voice="en-us", cache=PromptCache(tmp_path))
    assert np.array_equal(synth2.render("your appointment is tomorrow"), first)
    assert counting2.calls == 0
    # Voice, rate and markup are part of the key.
    synth2.render("your appointment is tomorrow", rate=200)
    synth2.render("your appointment is tomorrow", voice="en-gb")
    synth2.render("your appointment is tomorrow", ssml=True)
    assert counting2.calls == 3


def test_stream_yields_first_sentence_before_the_rest_is_rendered(tts: EspeakEngine) -> None:
    counting = CountingEngine(tts)
    synth = Synthesizer(counting, voice="en-us", chunk_ms=100)
    text = "Hello. This is a much longer second sentence that takes a while to say."

    async def main() -> tuple[int, list[np.ndarray]]:
        chunks = []
        calls_at_first = -1
        async for chunk in synth.stream(text):
            if calls_at_first < 0:
                calls_at_first = counting.calls
            chunks.append(chunk)
        return calls_at_first, chunks

    calls_at_first, chunks = asyncio.run(main())
    assert calls_at_first == 1  # only the first sentence was rendered when audio started
    assert counting.calls == 2
    assert all(len(c) <= 1600 for c in chunks)
    whole = np.concatenate(chunks)
    assert np.array_equal(synth.render(text), whole)  # cached whole afterwards
    assert counting.calls == 2


def test_synthesize_all_prerenders(tts: EspeakEngine) -> None:
    counting = CountingEngine(tts)
    synth = Synthesizer(counting, voice="ko")
    prompts = ["안녕하세요", "예약을 확인하겠습니다", "안녕하세요", ""]
    report = asyncio.run(synth.synthesize_all(prompts))
    assert report.rendered == 2 and report.cached == 0 and not report.failed
    assert report.seconds_of_audio > 1.0
    calls = counting.calls
    again = asyncio.run(synth.synthesize_all(prompts))
    assert again.cached == 2 and counting.calls == calls


def test_engine_failure_mid_call_falls_back(tmp_path: Path) -> None:
    """A real espeak-ng process that fails: the call still gets audio (cached, then apology)."""
    broken = EspeakEngine(backend="espeak-ng")
    synth = Synthesizer(broken, voice="ko", cache=PromptCache(tmp_path))
    asyncio.run(synth.synthesize_all([]))  # flow load: warms the apology up
    ok = asyncio.run(synth.render_or_fallback("안녕하세요"))
    assert ok.source == "engine" and len(ok.pcm) > 0
    broken._cli = "/bin/false"  # the engine breaks while the call goes on
    with pytest.raises(SynthesisError):
        broken.synthesize("새 문장", voice="ko", rate=175)
    again = asyncio.run(synth.render_or_fallback("안녕하세요"))
    assert again.source == "cache" and np.array_equal(again.pcm, ok.pcm)
    sorry = asyncio.run(synth.render_or_fallback("새 문장"))
    assert sorry.source == "apology" and sorry.error is not None and "espeak-ng failed" in sorry.error
    assert len(sorry.pcm) > 16000
