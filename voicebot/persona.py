"""A scripted callee: answers (or not) and speaks its lines turn by turn, for tests and demos.

``voicebot serve --persona P.yaml`` answers every call as the persona describes (see
``docs/personas.md``): ring for a while, reject with a status, or never answer; then, after
an optional greeting, each turn waits for the bot to finish talking (or, for a barge-in,
to start), pauses, and says a line with local TTS, keys digits, plays a file or a tone,
keeps silent, or hangs up. With ``confirm:`` it also answers the bot's read-backs ("Did you
say five?") without losing its place in the script.

```yaml
persona: Ann confirms
language: en
answer: {after: 1.0}
turns:
  - say: yes that works
expect: {outcome: confirmed}
```
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import yaml

from voicebot.errors import ConfigError, DependencyError
from voicebot.flow.intents import normalise
from voicebot.flow.lang import BUILTIN_INTENTS, BUILTIN_PROMPTS
from voicebot.media.vad import Vad

if TYPE_CHECKING:
    from voicebot.call import Call
    from voicebot.voice import Speech

log = logging.getLogger(__name__)

TURN_KEYS = {"say", "dtmf", "play", "tone", "silence", "hangup", "pause", "barge_in", "wait"}
ACTIONS = ("say", "dtmf", "play", "tone", "silence", "hangup")
TOP_KEYS = {"persona", "description", "language", "voice", "rate", "answer", "greeting", "turns", "quiet",
            "end", "max_duration", "expect", "context", "confirm"}  # fmt: skip
CONFIRM_KEYS = {"say", "question"}
READ_BACK_WAIT = 10.0  # seconds for the bot to start its reply to a line before the check gives up


@dataclass(frozen=True, slots=True, kw_only=True)
class PersonaTurn:
    """One turn: wait (for the bot to finish, or ``barge_in`` seconds after it starts), then
    ``pause`` seconds, then one action."""

    action: str  # say / dtmf / play / tone / silence / hangup
    value: Any = None
    pause: float = 0.0
    barge_in: float | None = None
    wait: bool = True  # False: act at once, whatever the bot does


@dataclass(frozen=True, slots=True, kw_only=True)
class Persona:
    name: str
    language: str = "en"
    voice: str | None = None
    rate: int | None = None
    answer_after: float = 0.0
    reject: int | None = None
    never_answer: bool = False
    greeting: str | None = None
    turns: tuple[PersonaTurn, ...] = ()
    quiet: float = 0.8  # the bot's silence that ends its turn, seconds
    end: str = "wait"  # after the last turn: "wait" for the bot to hang up, or "hangup"
    max_duration: float = 300.0
    expect: dict[str, Any] = field(default_factory=dict)
    context: dict[str, Any] = field(default_factory=dict)  # who the callee is, for the dialler's flow
    base: Path = Path(".")
    confirm: str | None = None  # the reply to a read-back of a line ("yes"); None: no check
    question: str | None = None  # the bot's read-back, "{answer}" the line (default: the language's)

    @classmethod
    def load(cls, path: str | Path) -> Persona:
        p = Path(path)
        try:
            data = yaml.safe_load(p.read_text(encoding="utf-8"))
        except OSError as exc:
            raise ConfigError(f"--persona: {exc.strerror or exc}: {p}") from None
        except yaml.YAMLError as exc:
            raise ConfigError(f"{p}: not valid YAML ({exc})".replace("\n", " ")) from None
        return cls.parse(data, where=str(p), base=p.parent)

    @classmethod
    def parse(cls, data: Any, *, where: str = "persona", base: Path = Path(".")) -> Persona:
        if not isinstance(data, dict):
            raise ConfigError(f"{where}: a persona is a mapping with 'persona:' and 'turns:'")
        unknown = sorted(set(data) - TOP_KEYS)
        if unknown:
            raise ConfigError(f"{where}: unknown key {unknown[0]!r}; known: {', '.join(sorted(TOP_KEYS))}")
        answer = data.get("answer") or {}
        if not isinstance(answer, dict) or set(answer) - {"after", "reject", "never"}:
            raise ConfigError(f"{where}: 'answer' takes after: SECONDS, reject: CODE or never: true")
        reject = answer.get("reject")
        if reject is not None and not (isinstance(reject, int) and 300 <= reject <= 699):
            raise ConfigError(f"{where}: answer.reject must be a SIP status 300-699, got {reject!r}")
        end = str(data.get("end", "wait"))
        if end not in ("wait", "hangup"):
            raise ConfigError(f"{where}: 'end' is 'wait' or 'hangup', got {end!r}")
        turns = tuple(_turn(t, f"{where}: turn {i + 1}", base) for i, t in enumerate(data.get("turns") or []))
        language = str(data.get("language", "en"))
        confirm, question = _confirm(data.get("confirm"), f"{where}: confirm", language)
        return cls(
            name=str(data.get("persona") or Path(where).stem),
            language=language,
            voice=data.get("voice"),
            rate=_number(data.get("rate"), f"{where}: rate", int) if data.get("rate") is not None else None,
            answer_after=_number(answer.get("after", 0), f"{where}: answer.after"),
            reject=reject,
            never_answer=bool(answer.get("never", False)),
            greeting=str(data["greeting"]) if data.get("greeting") else None,
            turns=turns,
            quiet=_number(data.get("quiet", 0.8), f"{where}: quiet"),
            end=end,
            max_duration=_number(data.get("max_duration", 300), f"{where}: max_duration"),
            expect=dict(data.get("expect") or {}),
            context={str(k): v for k, v in (data.get("context") or {}).items()},
            base=base,
            confirm=confirm,
            question=question,
        )

    def texts(self) -> list[str]:
        """Every line the persona speaks (to render before the first call)."""
        lines = [t.value for t in self.turns if t.action == "say"]
        return ([self.greeting] if self.greeting else []) + lines + ([self.confirm] if self.confirm else [])

    def read_backs(self) -> list[str]:
        """What the bot says when it reads one of the persona's lines back: the phrases the
        persona listens for after each line (normalised, as a grammar holds them)."""
        if self.question is None:
            return []
        lines = [str(t.value) for t in self.turns if t.action == "say"]
        return list(dict.fromkeys(normalise(self.question.replace("{answer}", line)) for line in lines))


def persona_speech(persona: Persona, voice: str | None = None, *, asr_processes: int | None = None) -> Speech:
    """The persona's engines: its voice, and with ``confirm:`` a recogniser for its language
    (to hear the bot read a line back; ``asr_processes`` as for :meth:`Speech.for_language`);
    a language without one is refused with what to install."""
    from voicebot.voice import Speech

    chosen = voice or persona.voice
    if persona.confirm is None:
        return Speech.speaking(persona.language, voice=chosen, rate=persona.rate)
    try:
        return Speech.for_language(persona.language, voice=chosen, rate=persona.rate, asr_processes=asr_processes)
    except DependencyError as exc:
        raise DependencyError(f"persona {persona.name!r}: confirm: listens for read-backs: {exc}") from None


def plain(value: Any) -> Any:
    """A YAML value as JSON has it (dates as ISO strings)."""
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def verdict(expect: dict[str, Any], report: dict[str, Any]) -> list[str]:
    """How a call's report differs from what a persona expects (empty: as expected). ``path``
    must appear in the report's path in this order (other states may come between)."""
    misses: list[str] = []
    if "outcome" in expect and report.get("outcome") != expect["outcome"]:
        misses.append(f"outcome {report.get('outcome')!r}, expected {expect['outcome']!r}")
    slots = report.get("slots") or {}
    for name, value in (expect.get("slots") or {}).items():
        if plain(slots.get(name)) != plain(value):
            misses.append(f"slot {name} = {slots.get(name)!r}, expected {plain(value)!r}")
    path = list(report.get("path") or [])
    rest = iter(path)
    if not all(any(state == seen for seen in rest) for state in expect.get("path") or []):
        misses.append(f"path {' > '.join(path)} does not pass {' > '.join(expect['path'])} in order")
    return misses


def _confirm(raw: Any, where: str, language: str) -> tuple[str | None, str | None]:
    """``confirm: yes`` (YAML's true: the language's first yes word), ``confirm: TEXT`` or
    ``confirm: {say: TEXT, question: "Was that {answer}?"}``: the reply, and the read-back it
    answers (default: the flows' built-in question in ``language``). ``no``/absent: none."""
    if raw is None or raw is False:
        return None, None
    if raw is True:
        raw = BUILTIN_INTENTS["yes"].get(language, ("yes",))[0]
    if not isinstance(raw, str | dict):
        raise ConfigError(f"{where}: give yes, the reply's text, or {{say: TEXT, question: TEXT}}")
    spec: dict[str, Any] = raw if isinstance(raw, dict) else {"say": raw}
    unknown = sorted(set(spec) - CONFIRM_KEYS)
    if unknown:
        raise ConfigError(f"{where}: unknown key {unknown[0]!r}; confirm takes say: TEXT and question: TEXT")
    say, question = spec.get("say"), spec.get("question", BUILTIN_PROMPTS["confirm"].get(language))
    if not isinstance(say, str) or not say.strip():
        raise ConfigError(f'{where}: say needs the reply as text, e.g. say: "yes"')
    if not isinstance(question, str) or "{answer}" not in question:
        why = f"no built-in read-back for language {language!r}" if question is None else "it has no {answer}"
        raise ConfigError(f"{where}: question must be the read-back with {{answer}} for the line ({why})")
    return say, question


def _number(value: Any, where: str, kind: type = float) -> Any:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise ConfigError(f"{where} must be a number of seconds >= 0, got {value!r}")
    return kind(value)


def _turn(raw: Any, where: str, base: Path) -> PersonaTurn:
    if isinstance(raw, str):
        raw = {"say": raw}
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: a turn is a mapping such as {{say: yes}} or {{dtmf: '2'}}")
    unknown = sorted(set(raw) - TURN_KEYS)
    if unknown:
        raise ConfigError(f"{where}: unknown key {unknown[0]!r}; a turn takes {', '.join(sorted(TURN_KEYS))}")
    actions = [a for a in ACTIONS if a in raw]
    if len(actions) != 1:
        raise ConfigError(f"{where}: give exactly one of {', '.join(ACTIONS)}")
    action, value = actions[0], raw[actions[0]]
    if action == "dtmf":
        value = str(value)
        if not value or any(c not in "0123456789*#ABCDabcd" for c in value):
            raise ConfigError(f"{where}: dtmf digits are 0-9 * # A-D, got {value!r}")
    elif action == "play":
        value = (base / str(value)).resolve()
    elif action == "tone":
        value = _number(value, f"{where}: tone (Hz)")
    elif action == "say" and not str(value).strip():
        raise ConfigError(f"{where}: say needs some text")
    barge = raw.get("barge_in")
    return PersonaTurn(
        action=action,
        value=str(value) if action == "say" else value,
        pause=_number(raw.get("pause", 0), f"{where}: pause"),
        barge_in=None if barge is None else _number(barge, f"{where}: barge_in"),
        wait=bool(raw.get("wait", True)),
    )


class _BotEar:
    """Follows the bot's voice on the call: when it last spoke and whether it is talking."""

    def __init__(self, call: Call, quiet: float) -> None:
        self.call = call
        self.quiet = quiet
        self.vad = Vad(2)
        self.voiced_at: float | None = None  # media time of the last voiced frame
        self.onsets = 0  # talk spurts heard so far
        self.now = 0.0
        self._run = 0
        self._changed = asyncio.Event()
        self._task = asyncio.create_task(self._listen())

    async def _listen(self) -> None:
        async for frame in self.call.audio():
            self.now = frame.end_time
            if self.vad.is_speech(frame.pcm):
                self._run += 1
                if self._run == 3 and (self.voiced_at is None or self.now - self.voiced_at > self.quiet):
                    self.onsets += 1
                if self._run >= 3:
                    self.voiced_at = self.now
            else:
                self._run = 0
            self._changed.set()
        self._changed.set()

    async def _wait(self, done: Any) -> bool:
        while not done():
            if self._task.done() or self.call.ended.done():
                return False
            self._changed.clear()
            await self._changed.wait()
        return True

    async def finished_talking(self, after_onsets: int) -> bool:
        """The bot started a new spurt (beyond ``after_onsets``) and then kept quiet."""
        return await self._wait(
            lambda: self.onsets > after_onsets
            and self.voiced_at is not None
            and self.now - self.voiced_at >= self.quiet
        )

    async def started_talking(self, after_onsets: int) -> bool:
        return await self._wait(lambda: self.onsets > after_onsets)

    def close(self) -> None:
        self._task.cancel()


def tone(hz: float, seconds: float = 0.5) -> np.ndarray:
    t = np.arange(int(16000 * seconds)) / 16000
    return (np.sin(2 * np.pi * hz * t) * 8000).astype(np.int16)


async def play_persona(call: Call, persona: Persona, *, on_answered: Callable[[], None] | None = None) -> None:
    """Answer ``call`` as ``persona`` and play its turns; returns when the call is over.
    ``on_answered()`` runs once the call is up (e.g. to start recording it)."""
    if persona.reject is not None:
        if persona.answer_after:
            await call.ring()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(call.ended), persona.answer_after)
        if not call.ended.done():
            await call.reject(persona.reject)
        return
    await call.ring()
    if persona.never_answer:
        await asyncio.shield(call.ended)  # ring until the caller gives up
        return
    if persona.answer_after:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(call.ended), persona.answer_after)
        if call.ended.done():
            return
    await call.answer()
    if not await call.answered:
        return
    if on_answered is not None:
        on_answered()
    try:
        await asyncio.wait_for(_converse(call, persona), persona.max_duration)
    except TimeoutError:
        log.info("persona %s: max_duration reached", persona.name)
    if not call.ended.done():  # end: hangup, or the call outlived max_duration
        await call.hangup(grace=5.0)


async def _converse(call: Call, persona: Persona) -> None:
    ear = _BotEar(call, persona.quiet)
    try:
        if persona.greeting:
            await call.say(persona.greeting, barge_in=False)
        heard = 0  # bot talk spurts already answered
        for turn in persona.turns:
            if not turn.wait:
                pass
            elif turn.barge_in is not None:
                if not await ear.started_talking(heard):
                    return
                await asyncio.sleep(turn.barge_in)
            elif not await ear.finished_talking(heard):
                return
            heard = ear.onsets
            if turn.pause:
                await asyncio.sleep(turn.pause)
            if call.ended.done():
                return
            if not await _act(call, turn):
                return
            if turn.action == "say" and persona.confirm is not None and await _read_back(call, persona):
                # the bot read the line back ("Did you say ...?"): confirm it, stay in step
                if not await ear.finished_talking(heard):
                    return
                heard = ear.onsets
                await call.say(persona.confirm, barge_in=False)
        if persona.end == "wait":
            await asyncio.shield(call.ended)
    finally:
        ear.close()


async def _read_back(call: Call, persona: Persona) -> bool:
    """Whether the bot's reply to the line just said reads a line back: its first utterance,
    heard with the persona's recogniser against the read-backs of its lines (anything else the
    bot says is out of that grammar, a no-match)."""
    heard = await call.listen(persona.read_backs(), timeout=READ_BACK_WAIT)
    log.debug(
        "persona %s: the bot's reply heard as %s %r (%.2f)", persona.name, heard.kind, heard.text, heard.confidence
    )
    return heard.kind == "speech"


async def _act(call: Call, turn: PersonaTurn) -> bool:
    """Do the turn's action; False when the persona hangs up."""
    if turn.action == "say":
        await call.say(str(turn.value), barge_in=False)
    elif turn.action == "dtmf":
        await call.send_dtmf(str(turn.value))
    elif turn.action == "play":
        await call.play(Path(turn.value))
    elif turn.action == "tone":
        await call.play(tone(float(turn.value)))
    elif turn.action == "hangup":
        await call.hangup(grace=5.0)
        return False
    return True  # silence: the next turn waits for the bot to speak again


__all__ = ["Persona", "PersonaTurn", "persona_speech", "plain", "play_persona", "verdict"]
