"""Persona greetings for answering-machine detection, and a loopback call that measures it.

Humans answer with something short ("Hello?") in one of several espeak-ng voices and rates,
then wait; a few say a longer sentence. Voicemail greetings are whole sentences that end with a
beep of some pitch after a short pause; a few are short. Every greeting is played by a callee
user agent after it answers, over SIP/UDP and RTP on loopback, and the caller runs
:func:`voicebot.media.amd.detect` on what it hears.
"""

from __future__ import annotations

import asyncio
import statistics
from dataclasses import dataclass

import numpy as np

from tests.sim.channel import frames_of, telephone_channel
from voicebot.agent import UserAgent
from voicebot.call import Call
from voicebot.media.amd import AmdConfig, AmdDecision, AnsweringMachineDetector, MessageCue, detect
from voicebot.media.vad import Vad
from voicebot.sip.sdp import DEFAULT_CODECS
from voicebot.tts import EspeakEngine, Synthesizer

VOICES = ("en-us", "en-gb", "en-us+f3", "en-gb-scotland", "en-029", "en-us+m3")
RATES = (150, 175, 165, 190, 160)

HUMAN_LINES = (
    "Hello?", "Hello.", "Yes?", "Hi, who's this?", "Hello, who is calling?", "Yeah, hello?", "Speaking.",
    "Hi there.", "Good morning.", "Hello, this is Sam.", "Yes, hello?", "Hey.",
)  # fmt: skip
HARD_HUMAN_LINES = (  # long for a person: the benchmark's hard cases
    "Hello, this is Doctor Smith's office, how can I help you?",
    "Good afternoon, Johnson and Partners, Emily speaking.",
    "Hi, yes, this is Mark, who am I speaking with?",
    "Hello? Hello? Is anybody there?",
)
MACHINE_LINES = (
    "Hi, you have reached John Smith. I can't take your call right now. Please leave a message after the tone.",
    "The person you are calling is not available. Please leave your message after the beep.",
    "You've reached the voicemail of Maria. Leave a message and I will call you back.",
    "Hello, this is Alex. Sorry I missed your call. Leave your name and number after the tone.",
    "Thank you for calling. Nobody is available to take your call. Please record your message after the tone.",
    "Hi, it's Dave and Linda. We're not home right now, so leave us a message.",
    "This is the voice mailbox of extension two one four. Please leave a message.",
    "You have reached the office of Doctor Brown. Our office is closed. Please leave a message after the beep.",
    "Hey, it's Chris. I can't get to the phone. You know what to do.",
    "The number you have dialled is not available. Please leave a message after the tone.",
    "Hello. You've reached Sarah. Leave a message.",
    "Hi, this is Tom. Please leave a message after the beep and have a great day.",
)
HARD_MACHINE_LINES = ("Leave a message.", "Not here. Beep.", "Hi, leave a message.", "Tom. Message.")
BEEPS = ((1000.0, 0.5), (850.0, 0.35), (1400.0, 0.6), (440.0, 0.8), (750.0, 0.3))


@dataclass(frozen=True)
class Persona:
    name: str
    truth: str  # "human" / "machine"
    text: str
    voice: str
    rate: int
    beep: tuple[float, float] | None = None


def personas(humans: int, machines: int, *, hard: bool = False) -> list[Persona]:
    """Deterministic sets: ``humans`` + ``machines`` greetings cycling voices, rates and beeps;
    with ``hard`` the long human and short machine greetings are mixed in."""
    h_lines = HUMAN_LINES + (HARD_HUMAN_LINES if hard else ())
    m_lines = MACHINE_LINES + (HARD_MACHINE_LINES if hard else ())
    out = []
    for i in range(humans):
        out.append(Persona(f"human-{i}", "human", h_lines[i % len(h_lines)], VOICES[i % len(VOICES)],
                           RATES[i % len(RATES)]))  # fmt: skip
    for i in range(machines):
        beep = None if (hard and i % 7 == 6) else BEEPS[i % len(BEEPS)]  # some machines never beep
        out.append(Persona(f"machine-{i}", "machine", m_lines[i % len(m_lines)], VOICES[(i + 2) % len(VOICES)],
                           RATES[(i + 1) % len(RATES)], beep))  # fmt: skip
    return out


def tone(freq: float, seconds: float, amplitude: float = 8000.0) -> np.ndarray:
    t = np.arange(int(16000 * seconds)) / 16000
    ramp = np.minimum(1.0, np.minimum(t, t[::-1]) / 0.005)  # 5 ms fades: no clicks
    return (amplitude * ramp * np.sin(2 * np.pi * freq * t)).astype(np.int16)


async def render(persona: Persona) -> np.ndarray:
    """The audio the callee plays from the answer on: greeting, then beep or silence."""
    # the espeak-ng command, not the process's libespeak-ng: the same samples whatever ran before
    voice = Synthesizer(EspeakEngine(backend="espeak-ng"), voice=persona.voice, rate=persona.rate)
    speech = await voice.synthesize(persona.text)
    parts = [np.zeros(int(16000 * 0.3), np.int16), speech]
    if persona.beep is not None:
        parts += [np.zeros(int(16000 * 0.4), np.int16), tone(*persona.beep)]
    parts.append(np.zeros(16000 * 6, np.int16))
    return np.concatenate(parts)


@dataclass(frozen=True)
class Outcome:
    persona: Persona
    decision: AmdDecision | None
    cue: MessageCue | None


async def render_all(people: list[Persona]) -> dict[str, np.ndarray]:
    return {p.name: await render(p) for p in people}


async def classify_calls(
    people: list[Persona],
    *,
    config: AmdConfig | None = None,
    concurrency: int = 8,
    timeout: float = 15.0,
    rendered: dict[str, np.ndarray] | None = None,
    codec: str = "opus",
) -> list[Outcome]:
    """One real loopback call per persona (``concurrency`` at a time); the callee plays the
    greeting, the caller's detector decides."""
    audio = rendered or await render_all(people)
    by_name = {p.name: p for p in people}
    limit = asyncio.Semaphore(concurrency)

    async def answer(call: Call) -> None:
        name = call.local_uri.split(":", 1)[1].split("@", 1)[0]
        await call.answer()
        if call.media is not None and await call.answered:
            call.media.play(audio[name])

    async def one(caller_ua: UserAgent, target: str, name: str) -> Outcome:
        async with limit:
            call = await caller_ua.dial(target.replace("NAME", name))
            decision: AmdDecision | None = None
            cue: MessageCue | None = None
            try:
                if not await call.answered or call.media is None:
                    return Outcome(by_name[name], None, None)
                vad = Vad(2)

                async def run() -> None:
                    nonlocal decision, cue
                    assert call.media is not None
                    async for event in detect(call.audio(), vad, config=config):
                        if isinstance(event, AmdDecision):
                            decision = event
                        elif isinstance(event, MessageCue):
                            cue = event

                await asyncio.wait_for(run(), timeout)
            except TimeoutError:
                pass
            finally:
                await call.hangup()
            return Outcome(by_name[name], decision, cue)

    async with UserAgent("127.0.0.1:0", user="persona") as callee, UserAgent("127.0.0.1:0", user="bot") as caller:
        rate = 48000 if codec == "opus" else 8000  # the caller offers this codec alone (and its DTMF events)
        caller.config.codecs = tuple(
            c for c in DEFAULT_CODECS if c.name in (codec, "telephone-event") and c.clock_rate == rate
        )
        callee.on_call(answer)
        host, port = callee.local_address
        target = f"sip:NAME@{host}:{port}"
        return list(await asyncio.gather(*(one(caller, target, p.name) for p in people)))


def classify_direct(people: list[Persona], rendered: dict[str, np.ndarray], *, config: AmdConfig | None = None,
                    codec: str = "opus/48000/2") -> list[Outcome]:  # fmt: skip
    """The same detector on the same greetings without a call: each greeting through the codec
    alone (no network, no jitter buffer, no load), the reference for the loopback numbers."""
    out = []
    for p in people:
        pcm, _ = telephone_channel(rendered[p.name], codec=codec)
        detector, vad = AnsweringMachineDetector(config), Vad(2)
        for i, frame in enumerate(frames_of(pcm)):
            detector.feed(now=i * 0.02, frame=frame, speech=vad.is_speech(frame))
            if detector.done:
                break
        out.append(Outcome(p, detector.decision, detector.cue))
    return out


def score(outcomes: list[Outcome]) -> dict[str, object]:
    """Precision/recall per class, unknowns, and decision times (media seconds after answer)."""
    result: dict[str, object] = {"calls": len(outcomes)}
    for cls in ("human", "machine"):
        said = [o for o in outcomes if o.decision is not None and o.decision.verdict == cls]
        truth = [o for o in outcomes if o.persona.truth == cls]
        hit = [o for o in said if o.persona.truth == cls]
        times = sorted(o.decision.at for o in hit if o.decision is not None)
        result[cls + "s"] = {
            "count": len(truth),
            "precision": round(len(hit) / len(said), 3) if said else None,
            "recall": round(len(hit) / len(truth), 3) if truth else None,
            "decision_s_median": round(statistics.median(times), 2) if times else None,
            "decision_s_max": round(times[-1], 2) if times else None,
        }
    result["unknown"] = sum(1 for o in outcomes if o.decision is None or o.decision.verdict == "unknown")
    cues = [o for o in outcomes if o.persona.truth == "machine" and o.cue is not None]
    result["machine_message_cues"] = {
        "count": len(cues),
        "after_beep": sum(1 for o in cues if o.cue and o.cue.after == "beep"),
    }
    result["mistakes"] = [
        {"persona": o.persona.name, "text": o.persona.text, "voice": o.persona.voice,
         "said": o.decision.verdict if o.decision else None, "reason": o.decision.reason if o.decision else None}
        for o in outcomes if o.decision is None or o.decision.verdict != o.persona.truth
    ]  # fmt: skip
    return result
