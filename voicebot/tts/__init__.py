"""Local speech synthesis: engine protocol, espeak-ng (via pyttsx3), SSML subset, prompt cache.

Typical use in a call::

    synth = Synthesizer(voice="ko", rate=160, cache=PromptCache("~/.cache/voicebot/tts"))
    await synth.synthesize_all(flow_prompts)          # when the flow loads
    async for chunk in synth.stream("안녕하세요"):      # 16 kHz int16, first chunk early
        player.feed(chunk)
"""

from __future__ import annotations

from voicebot.tts.cache import PromptCache, prompt_key
from voicebot.tts.engine import DEFAULT_RATE, SAMPLE_RATE, TtsEngine
from voicebot.tts.espeak import EspeakEngine, SynthesisError, voice_for_language
from voicebot.tts.ssml import parse_ssml
from voicebot.tts.synthesizer import PrerenderReport, Rendered, Synthesizer

__all__ = [
    "DEFAULT_RATE",
    "SAMPLE_RATE",
    "EspeakEngine",
    "PrerenderReport",
    "PromptCache",
    "Rendered",
    "SynthesisError",
    "Synthesizer",
    "TtsEngine",
    "parse_ssml",
    "prompt_key",
    "voice_for_language",
]
