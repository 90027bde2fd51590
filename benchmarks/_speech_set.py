"""The speech benchmark's evaluation set and telephone conditions (imported by speech.py).

Per language, the listening states of a shipped dialog give the grammars (their phrases,
grouped by intent exactly as the flow groups them). Every phrase is spoken ``renditions``
times by espeak-ng, each time with another voice, rate and pitch; out-of-grammar turns
(``_speech_oog``: 310 per language) are other sentences, numbers out of context, coughs,
clicks, breaths, line noise, silence and second speakers. A
turn's rendition number puts it in the calibration split (confidence weights and
thresholds are fitted there) or the test split (every reported number), never both.

Conditions are what the line does before the recogniser hears it: codec (G.711 μ-law /
A-law at 8 kHz, Opus), bursty loss through the receiver's jitter buffer, and noise at the
caller's end (white, or babble made from other turns) at a signal-to-noise ratio.
Nothing is written to disk; everything is generated from seeds on every run.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from _speech_oog import out_of_grammar

from tests.sim.channel import add_noise, babble, telephone_channel, white_noise
from voicebot import Flow
from voicebot.asr.engine import Band
from voicebot.bot import intent_groups
from voicebot.tts import EspeakEngine
from voicebot_codecs import get_codec

ROOT = Path(__file__).resolve().parent.parent
RATE = 16000
LEAD, TAIL = 0.25, 0.3  # seconds of line quiet before and after a turn


@dataclass(frozen=True, slots=True)
class Language:
    flow: str
    states: tuple[str, ...]
    voices: tuple[str, ...]
    rates: tuple[int, ...]
    pitches: tuple[int, ...]
    renditions: int
    replies: tuple[str, str]  # what a caller says to "Did you say ...?": yes, no


LANGUAGES = {
    "ko": Language(
        flow="dialogs/ko_delivery_confirm.yaml",
        states=("ask_home", "ask_where"),
        voices=("ko", "ko+f3", "ko+m3", "ko+f1", "ko+m1", "ko+f4", "ko+m7"),
        rates=(130, 150, 170, 190, 210),
        pitches=(35, 45, 50, 55, 65),
        renditions=5,
        replies=("네", "아니요"),
    ),
    "en": Language(
        flow="dialogs/appointment_reminder.yaml",
        states=("ask_confirm", "confirm_cancel"),
        voices=("en-us", "en-us+f3", "en-us+m3", "en-gb", "en-gb+f1", "en-us+m1", "en-us+f4"),
        rates=(140, 160, 180, 200, 220),
        pitches=(35, 45, 50, 55, 65),
        renditions=3,
        replies=("yes", "no"),
    ),
}


@dataclass(frozen=True, slots=True, kw_only=True)
class Turn:
    """One caller turn of the set. ``intent`` None: out of grammar (must be a no-match)."""

    key: str
    state: str
    kind: str  # phrase, sentence, cough, noise, silence, crosstalk
    split: str  # calib or test
    pcm: np.ndarray
    phrase: str | None = None
    intent: str | None = None
    seed: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class Condition:
    """``every``: the condition is scored on every n-th test turn (Opus and noise: 2, to keep
    the full run near ten minutes; G.711 with and without loss: all of them)."""

    name: str
    codec: str | None = None  # None: 16 kHz wideband, no line at all
    loss: float = 0.0
    noise: str | None = None  # white or babble
    snr: float = 0.0
    every: int = 1

    @property
    def band(self) -> Band:
        """The line's band as a call would tell its recogniser (from the codec's audio rate)."""
        return Band.WIDE if self.codec is None else Band.of_rate(get_codec(self.codec).sample_rate)


CONDITIONS = {
    c.name: c
    for c in (
        Condition(name="16k"),
        Condition(name="pcmu", codec="PCMU/8000"),
        Condition(name="pcma", codec="PCMA/8000"),
        Condition(name="pcmu+loss5", codec="PCMU/8000", loss=0.05),
        Condition(name="pcma+loss5", codec="PCMA/8000", loss=0.05),
        Condition(name="pcmu+loss10", codec="PCMU/8000", loss=0.10),
        Condition(name="opus", codec="opus/48000/2", every=2),
        Condition(name="opus+loss5", codec="opus/48000/2", loss=0.05, every=2),
        Condition(name="opus+loss10", codec="opus/48000/2", loss=0.10, every=2),
        Condition(name="pcmu+white20", codec="PCMU/8000", noise="white", snr=20, every=2),
        Condition(name="pcmu+white10", codec="PCMU/8000", noise="white", snr=10, every=2),
        Condition(name="pcmu+babble20", codec="PCMU/8000", noise="babble", snr=20, every=2),
        Condition(name="pcmu+babble10", codec="PCMU/8000", noise="babble", snr=10, every=2),
    )
}


def quiet(seconds: float) -> np.ndarray:
    return np.zeros(round(RATE * seconds), dtype=np.int16)


def padded(pcm: np.ndarray) -> np.ndarray:
    return np.concatenate([quiet(LEAD), pcm, quiet(TAIL)])


def build_set(lang: str, tts: EspeakEngine, *, every: int = 1) -> list[Turn]:
    """The language's turns: a quick run (``every`` > 1) keeps every ``every``-th phrase
    rendition and all the out-of-grammar turns."""
    spec = LANGUAGES[lang]
    flow = Flow.load(ROOT / spec.flow)
    turns: list[Turn] = []
    index = 0
    spoken = 0  # phrases so far: a quick run keeps rendition r of phrase p when (p + r) % every
    # is 0, so every rendition number (and with it the calibration split) stays in the set
    for state_name in spec.states:
        state = flow.states[state_name]
        assert state.grammar is not None and state.intents is not None
        for j, phrase in enumerate(state.grammar):
            found = state.intents.match(phrase)
            intent = found.intent if found is not None else phrase
            spoken += 1
            for r in range(spec.renditions):
                index += 1
                if (spoken + r) % every:
                    continue
                voice = spec.voices[(j + 2 * r) % len(spec.voices)]
                rate = spec.rates[(3 * j + r) % len(spec.rates)]
                pitch = spec.pitches[(5 * j + 2 * r) % len(spec.pitches)]
                pcm = tts.synthesize(phrase, voice=voice, rate=rate, pitch=pitch)
                turns.append(
                    Turn(
                        key=f"{state_name}/{phrase}/{r}",
                        state=state_name,
                        kind="phrase",
                        split="calib" if r % 3 == 0 else "test",
                        pcm=padded(pcm),
                        phrase=phrase,
                        intent=intent,
                        seed=index,
                    )
                )

    def speak(text: str, variant: int) -> np.ndarray:
        voice = spec.voices[variant % len(spec.voices)]
        rate = spec.rates[(3 * variant + 1) % len(spec.rates)]
        pitch = spec.pitches[(2 * variant + 1) % len(spec.pitches)]
        return tts.synthesize(text, voice=voice, rate=rate, pitch=pitch)

    phrases = {name: list(flow.states[name].grammar or ()) for name in spec.states}
    seen: dict[str, int] = {}
    for other in out_of_grammar(lang, speak, spec.states, phrases):  # all of them in a quick
        index += 1  # run too: false accepts are counted against 2 %
        j = seen[other.kind] = seen.get(other.kind, -1) + 1
        turns.append(
            Turn(
                key=f"oog/{other.kind}/{j}",
                state=other.state or spec.states[j % len(spec.states)],
                kind=other.kind,
                split="calib" if j % 3 == 0 else "test",
                pcm=padded(other.pcm),
                seed=index,
            )
        )
    return turns


def groups_of(lang: str) -> dict[str, dict[str, str]]:
    """Per state: phrase -> intent, as the flow groups them (what the bot passes as ``groups``)."""
    spec = LANGUAGES[lang]
    flow = Flow.load(ROOT / spec.flow)
    out: dict[str, dict[str, str]] = {}
    for name in spec.states:
        state = flow.states[name]
        assert state.grammar is not None and state.intents is not None
        out[name] = {}
        for phrase in state.grammar:
            found = state.intents.match(phrase)
            out[name][phrase] = found.intent if found is not None else phrase
    return out


@dataclass(frozen=True)
class ReadBack:
    """How a listening state hears the reply to a read-back ("Did you say ...?"), as the
    flow runtime listens for it: the confirmation's yes and no and the state's own phrases
    (``Confirmation.listening_grammar``), grouped as the bot groups them (``intent_groups``),
    and which of the phrases confirm (the runtime's ``confirmation.answers`` match)."""

    phrases: tuple[str, ...]
    groups: dict[str, str]
    yes: frozenset[str]


def read_backs(lang: str) -> dict[str, ReadBack]:
    """Per listening state of the language's flow: what a read-back's reply is heard with."""
    spec = LANGUAGES[lang]
    flow = Flow.load(ROOT / spec.flow)
    confirmation = flow.compiled.confirmation
    assert confirmation is not None
    out: dict[str, ReadBack] = {}
    for name in spec.states:
        phrases = tuple(dict.fromkeys(confirmation.listening_grammar(flow.states[name].grammar)))
        said = {p: confirmation.answers.match(p) for p in phrases}
        out[name] = ReadBack(
            phrases=phrases,
            groups=intent_groups(flow, name) or {},
            yes=frozenset(p for p, m in said.items() if m is not None and m.intent == "yes"),
        )
    return out


def reply_speaker(lang: str, tts: EspeakEngine) -> Any:
    """``speak(answer, seed)``: the caller's yes or no, padded, in a voice picked by the seed."""
    spec = LANGUAGES[lang]
    words = dict(zip(("yes", "no"), spec.replies, strict=True))
    cache: dict[tuple[str, int], np.ndarray] = {}

    def speak(answer: str, seed: int) -> np.ndarray:
        voice = spec.voices[seed % len(spec.voices)]
        rate = spec.rates[seed % len(spec.rates)]
        key = (answer, seed % (len(spec.voices) * len(spec.rates)))
        if key not in cache:
            cache[key] = padded(tts.synthesize(words[answer], voice=voice, rate=rate))
        return cache[key]

    return speak


def through(condition: Condition, turn: Turn, talkers: list[np.ndarray]) -> np.ndarray:
    """The turn as the recogniser hears it under ``condition``."""
    pcm = turn.pcm
    if condition.noise is not None:
        n = len(pcm)
        noise = white_noise(n, turn.seed) if condition.noise == "white" else babble(n, talkers, turn.seed)
        speech = pcm if turn.kind not in ("silence",) else None
        if speech is not None and np.abs(speech).max() > 0:
            pcm = add_noise(pcm, noise, condition.snr)
        else:  # no speech to measure the SNR against: the noise at a typical speech level
            level = 3000 * 10 ** (-condition.snr / 20) / (np.sqrt(np.mean(noise**2)) or 1.0)
            pcm = np.clip(noise * level, -32768, 32767).astype(np.int16)
    if condition.codec is None:
        return pcm
    out, _ = telephone_channel(pcm, codec=condition.codec, loss_rate=condition.loss, seed=turn.seed)
    return out


def summary(turns: list[Turn]) -> dict[str, Any]:
    kinds: dict[str, int] = {}
    for t in turns:
        kinds[t.kind] = kinds.get(t.kind, 0) + 1
    return {
        "turns": len(turns),
        "in_grammar": sum(1 for t in turns if t.intent is not None),
        "calib": sum(1 for t in turns if t.split == "calib"),
        "test": sum(1 for t in turns if t.split == "test"),
        "kinds": kinds,
        "audio_seconds": round(sum(len(t.pcm) for t in turns) / RATE, 1),
    }
