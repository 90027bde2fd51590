"""What a call uses to speak: SSML, prompt cache, streaming and the offline fallback.

``Synthesizer`` wraps one ``TtsEngine`` with a voice, a rate and a ``PromptCache``:

* ``await synth.synthesize(text)`` renders (or fetches) a whole prompt in a worker thread;
* ``async for chunk in synth.stream(text)`` yields audio as soon as the first sentence is
  rendered (cached prompts yield at once), in chunks of ``chunk_ms``;
* ``await synth.synthesize_all(prompts)`` pre-renders a flow's static prompts when it loads;
* ``await synth.render_or_fallback(text)`` never raises: when the engine fails it returns
  the cached audio, the pre-recorded audio registered for that text, or a short apology
  (rendered when the synthesizer warms up, else bundled with voicebot, else a chime).
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
from collections.abc import AsyncIterator, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from voicebot.errors import VoicebotError
from voicebot.media.frames import read_wav
from voicebot.tts.cache import PromptCache, prompt_key
from voicebot.tts.engine import DEFAULT_RATE, MAX_RATE, MIN_RATE, SAMPLE_RATE, Pcm, TtsEngine, silence
from voicebot.tts.ssml import Pause, Segment, Speech, parse_ssml, plain_segments

log = logging.getLogger(__name__)

APOLOGIES = {
    "ko": "죄송합니다. 문제가 생겼습니다.",
    "en": "Sorry, something went wrong on our side.",
    "zh": "抱歉，我们这边出了点问题。",
}


@dataclass(frozen=True, slots=True, kw_only=True)
class Rendered:
    """Audio for a prompt and where it came from (engine, cache, prerecorded, apology, chime)."""

    pcm: Pcm
    source: str
    error: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class PrerenderReport:
    rendered: int
    cached: int
    failed: tuple[str, ...]
    seconds_of_audio: float


def chime(ms: int = 600) -> Pcm:
    """Two soft tones: the last-resort "sorry" when no speech at all can be produced."""
    half = round(SAMPLE_RATE * ms / 2000)
    t = np.arange(half) / SAMPLE_RATE
    fade = np.minimum(1.0, np.minimum(t, t[::-1]) / 0.02)
    tones = [0.2 * np.sin(2 * math.pi * f * t) * fade for f in (660.0, 440.0)]
    return (np.concatenate(tones) * 32767).astype(np.int16)


class Synthesizer:
    """A TTS engine with voice, rate, SSML, cache, streaming and fallback."""

    def __init__(
        self,
        engine: TtsEngine | None = None,
        *,
        voice: str = "en-us",
        rate: int = DEFAULT_RATE,
        cache: PromptCache | None = None,
        prerecorded: Mapping[str, str | os.PathLike[str]] | None = None,
        chunk_ms: int = 200,
    ) -> None:
        if engine is None:
            from voicebot.tts.espeak import EspeakEngine

            engine = EspeakEngine()
        self.engine = engine
        self.voice = engine.check_voice(voice)
        self.rate = max(MIN_RATE, min(MAX_RATE, int(rate)))
        self.cache = cache if cache is not None else PromptCache()
        self.prerecorded = {text: Path(p) for text, p in (prerecorded or {}).items()}
        self.chunk_samples = max(1, SAMPLE_RATE * chunk_ms // 1000)
        self._apology: Pcm | None = None

    # -- keys and segments --------------------------------------------------------------
    def _settings(self, voice: str | None, rate: int | None) -> tuple[str, int]:
        v = self.engine.check_voice(voice) if voice is not None and voice != self.voice else self.voice
        r = self.rate if rate is None else max(MIN_RATE, min(MAX_RATE, int(rate)))
        return v, r

    def key(self, text: str, *, ssml: bool = False, voice: str | None = None, rate: int | None = None) -> str:
        v, r = self._settings(voice, rate)
        return prompt_key(engine=self.engine.name, voice=v, rate=r, text=text, ssml=ssml)

    def segments(self, text: str, *, ssml: bool = False, voice: str | None = None) -> list[Segment]:
        v = voice or self.voice
        if ssml:
            return parse_ssml(text, language=self.engine.language(v))
        return plain_segments(text)

    def _render_segment(self, seg: Segment, voice: str, rate: int) -> Pcm:
        if isinstance(seg, Pause):
            return silence(seg.ms)
        assert isinstance(seg, Speech)
        return self.engine.synthesize(seg.text, voice=voice, rate=round(rate * seg.rate))

    # -- blocking API ---------------------------------------------------------------------
    def render(self, text: str, *, ssml: bool = False, voice: str | None = None, rate: int | None = None) -> Pcm:
        """The whole prompt (cached). Blocks: call from a worker thread or the CLI."""
        v, r = self._settings(voice, rate)
        key = self.key(text, ssml=ssml, voice=v, rate=r)
        cached = self.cache.get(key)
        if cached is not None:
            return cached
        parts = [self._render_segment(s, v, r) for s in self.segments(text, ssml=ssml, voice=v)]
        pcm = np.concatenate(parts) if parts else np.zeros(0, dtype=np.int16)
        self.cache.put(key, pcm)
        return pcm

    # -- async API ------------------------------------------------------------------------
    async def synthesize(
        self, text: str, *, ssml: bool = False, voice: str | None = None, rate: int | None = None
    ) -> Pcm:
        return await asyncio.to_thread(self.render, text, ssml=ssml, voice=voice, rate=rate)

    async def stream(
        self, text: str, *, ssml: bool = False, voice: str | None = None, rate: int | None = None
    ) -> AsyncIterator[Pcm]:
        """Audio chunks (at most ``chunk_ms`` each), the first as soon as it exists.

        A cached prompt streams at once; otherwise sentence after sentence is rendered in a
        worker thread while the earlier ones play. Closing the iterator early (barge-in)
        stops rendering; only a completely rendered prompt is cached.
        """
        v, r = self._settings(voice, rate)
        key = self.key(text, ssml=ssml, voice=v, rate=r)
        cached = self.cache.get(key)
        if cached is not None:
            for i in range(0, len(cached), self.chunk_samples):
                yield cached[i : i + self.chunk_samples]
            return
        segments = self.segments(text, ssml=ssml, voice=v)
        rendered: list[Pcm] = []
        for seg in segments:
            if isinstance(seg, Pause):
                pcm = silence(seg.ms)
            else:
                pcm = await asyncio.to_thread(self._render_segment, seg, v, r)
            rendered.append(pcm)
            for i in range(0, len(pcm), self.chunk_samples):
                yield pcm[i : i + self.chunk_samples]
        self.cache.put(key, np.concatenate(rendered) if rendered else np.zeros(0, dtype=np.int16))

    async def synthesize_all(
        self, prompts: Iterable[str], *, ssml: bool = False, include_apology: bool = True
    ) -> PrerenderReport:
        """Render every prompt not cached yet (a flow's static prompts, at load time)."""
        rendered = cached = 0
        failed: list[str] = []
        seconds = 0.0
        unique = list(dict.fromkeys(p for p in prompts if p.strip()))
        for text in unique:
            if self.cache.get(self.key(text, ssml=ssml)) is not None:
                cached += 1
                continue
            try:
                pcm = await self.synthesize(text, ssml=ssml)
            except VoicebotError as exc:
                log.warning("could not pre-render %r: %s", text[:60], exc)
                failed.append(text)
                continue
            rendered += 1
            seconds += len(pcm) / SAMPLE_RATE
        if include_apology:
            await asyncio.to_thread(self.apology, True)
        return PrerenderReport(rendered=rendered, cached=cached, failed=tuple(failed), seconds_of_audio=seconds)

    async def render_or_fallback(
        self, text: str, *, ssml: bool = False, voice: str | None = None, rate: int | None = None
    ) -> Rendered:
        """Audio for the prompt; on engine failure the best stand-in (never raises)."""
        try:
            cached = self.cache.get(self.key(text, ssml=ssml, voice=voice, rate=rate))
            if cached is not None:
                return Rendered(pcm=cached, source="cache")
            pcm = await self.synthesize(text, ssml=ssml, voice=voice, rate=rate)
            return Rendered(pcm=pcm, source="engine")
        except Exception as exc:  # the call must go on whatever the engine did
            error = f"{type(exc).__name__}: {exc}"
            log.warning("synthesis failed for %r (%s); using a fallback", text[:60], error)
        path = self.prerecorded.get(text)
        if path is not None:
            try:
                return Rendered(pcm=read_wav(path, SAMPLE_RATE), source="prerecorded", error=error)
            except (OSError, VoicebotError) as exc:
                log.warning("pre-recorded audio %s unusable: %s", path, exc)
        apology = self.apology(render=False)
        source = "apology" if self._apology is not None else "chime"
        return Rendered(pcm=apology, source=source, error=error)

    def apology(self, render: bool = False) -> Pcm:
        """The short default apology: rendered at warm-up (and kept in the prompt cache, so a
        disk cache carries it to later processes), else a chime."""
        if self._apology is not None:
            return self._apology
        language = self.engine.language(self.voice)
        text = APOLOGIES.get(language, APOLOGIES["en"])
        cached = self.cache.get(self.key(text))
        if cached is not None:
            self._apology = cached
            return cached
        if render:
            try:
                self._apology = self.render(text)
                return self._apology
            except Exception as exc:
                log.warning("could not render the apology: %s", exc)
        return chime()


__all__ = ["APOLOGIES", "PrerenderReport", "Rendered", "Synthesizer", "chime"]
