"""Synthesizer logic with a scripted engine: fallback order, cache keys, bad input."""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import pytest

from voicebot.errors import ConfigError
from voicebot.tts.cache import PromptCache, prompt_key, write_wav
from voicebot.tts.espeak import SynthesisError, trim_silence
from voicebot.tts.synthesizer import Synthesizer, chime


class ScriptedEngine:
    name = "scripted"
    sample_rate = 16000

    def __init__(self) -> None:
        self.fail = False
        self.calls: list[tuple[str, str, int]] = []

    def synthesize(self, text: str, *, voice: str, rate: int) -> np.ndarray:
        self.calls.append((text, voice, rate))
        if self.fail:
            raise SynthesisError("engine down")
        return np.full(len(text) * 100, 1000, dtype=np.int16)

    def check_voice(self, voice: str) -> str:
        if voice == "bad":
            raise ConfigError("unknown voice 'bad'")
        return voice

    def language(self, voice: str) -> str:
        return voice.split("-")[0]


def test_fallback_order_cache_then_prerecorded_then_apology(tmp_path: Path) -> None:
    engine = ScriptedEngine()
    wav = tmp_path / "greeting.wav"
    write_wav(wav, np.full(800, 7, dtype=np.int16), rate=8000)
    synth = Synthesizer(engine, voice="en", prerecorded={"Welcome": wav})
    asyncio.run(synth.synthesize_all(["Hello"]))  # renders the prompt and the apology
    engine.fail = True

    cached = asyncio.run(synth.render_or_fallback("Hello"))
    assert cached.source == "cache" and cached.error is None
    pre = asyncio.run(synth.render_or_fallback("Welcome"))
    assert pre.source == "prerecorded" and pre.error and "engine down" in pre.error
    assert len(pre.pcm) == 1600  # resampled 8 kHz -> 16 kHz
    sorry = asyncio.run(synth.render_or_fallback("Something new"))
    assert sorry.source == "apology" and len(sorry.pcm) > 0


def test_apology_comes_from_the_warm_up_or_the_disk_cache_else_a_chime(tmp_path: Path) -> None:
    engine = ScriptedEngine()
    cache = PromptCache(tmp_path)
    warm = Synthesizer(engine, voice="ko", cache=cache)
    rendered = warm.apology(render=True)  # warm-up renders and caches it
    assert len(rendered) > 0
    engine.fail = True
    later = Synthesizer(engine, voice="ko", cache=PromptCache(tmp_path))  # a new process, same disk cache
    got = asyncio.run(later.render_or_fallback("아무 말"))
    assert got.source == "apology" and np.array_equal(got.pcm, rendered)
    cold = Synthesizer(engine, voice="ko", cache=PromptCache(tmp_path / "empty"))
    assert asyncio.run(cold.render_or_fallback("아무 말")).source == "chime"
    assert len(chime()) == 9600


def test_bad_voice_is_refused_up_front_and_never_raises_in_fallback() -> None:
    engine = ScriptedEngine()
    with pytest.raises(ConfigError):
        Synthesizer(engine, voice="bad")
    synth = Synthesizer(engine, voice="en")
    got = asyncio.run(synth.render_or_fallback("hi", voice="bad"))
    assert got.error is not None and "unknown voice" in got.error


def test_ssml_segments_reach_the_engine_with_rates() -> None:
    engine = ScriptedEngine()
    synth = Synthesizer(engine, voice="en", rate=200)
    pcm = synth.render('a <break time="100ms"/> <prosody rate="50%">bb</prosody>', ssml=True)
    assert engine.calls == [("a", "en", 200), ("bb", "en", 100)]
    assert len(pcm) == 100 + 1600 + 200


def test_rate_is_clamped_into_the_engine_range() -> None:
    engine = ScriptedEngine()
    synth = Synthesizer(engine, voice="en", rate=1000)
    synth.render('<prosody rate="20%">x</prosody>', ssml=True)
    assert engine.calls[-1][2] == 90  # 450 wpm max * 20%
    assert synth.rate == 450


def test_prompt_key_covers_every_setting() -> None:
    base = {"engine": "e", "voice": "v", "rate": 1, "text": "t"}
    keys = {
        prompt_key(**base),  # type: ignore[arg-type]
        prompt_key(**{**base, "engine": "f"}),  # type: ignore[arg-type]
        prompt_key(**{**base, "voice": "w"}),  # type: ignore[arg-type]
        prompt_key(**{**base, "rate": 2}),  # type: ignore[arg-type]
        prompt_key(**{**base, "text": "u"}),  # type: ignore[arg-type]
        prompt_key(**base, ssml=True),  # type: ignore[arg-type]
    }
    assert len(keys) == 6


def test_cache_memory_bound_and_corrupt_file(tmp_path: Path) -> None:
    cache = PromptCache(tmp_path, max_bytes=3000)
    cache.put("a", np.zeros(1000, dtype=np.int16))
    cache.put("b", np.zeros(1000, dtype=np.int16))
    cache.clear_memory()
    assert cache.get("a") is not None  # back from disk
    (tmp_path / "c.wav").write_bytes(b"garbage")
    assert cache.get("c") is None
    assert not (tmp_path / "c.wav").exists()
    mem = PromptCache(max_bytes=2500)
    mem.put("a", np.zeros(1000, dtype=np.int16))
    mem.put("b", np.zeros(1000, dtype=np.int16))
    assert mem.get("a") is None and mem.get("b") is not None


def test_trim_silence() -> None:
    pcm = np.concatenate([np.zeros(8000), np.full(100, 5000), np.zeros(8000)]).astype(np.int16)
    out = trim_silence(pcm, keep_ms=10)
    assert len(out) == 100 + 2 * 160
    assert trim_silence(np.zeros(100, dtype=np.int16)).size == 0
