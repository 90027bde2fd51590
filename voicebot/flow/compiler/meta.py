"""The flow's own settings: ``flow``, ``description``, ``language``, ``voice``, ``asr``,
``max_turns``, ``agent`` and ``defaults``.

The language is read first because every later section depends on it (built-in intent
phrases, slot grammars, built-in prompts).
"""

from __future__ import annotations

from voicebot.flow import lang
from voicebot.flow.compiler.schema import ASR_KEYS, DEFAULT_KEYS, DEFAULT_MAX_TURNS
from voicebot.flow.compiler.unit import Unit
from voicebot.flow.diagnostics import Pos, did_you_mean
from voicebot.flow.intents import DEFAULT_THRESHOLD
from voicebot.flow.model import FlowMeta
from voicebot.flow.yamlsrc import YMap


def compile_meta(u: Unit, doc: YMap) -> FlowMeta:
    name = "flow"
    if "flow" not in doc:
        u.r.error(doc.pos, "missing 'flow: <name>'", "add a name line at the top, e.g. flow: appointment_reminder")
    else:
        name = u.r.want_str(doc["flow"], doc.vpos("flow"), "'flow' (the flow's name)") or name
    language = doc.get("language", "en")
    if language not in lang.LANGUAGES:
        u.r.error(
            doc.vpos("language"), f"unsupported language '{language}'", did_you_mean(str(language), lang.LANGUAGES)
        )
        language = "en"
    u.language = str(language)
    voice = doc.get("voice")
    if voice is not None and not isinstance(voice, str):
        u.r.error(doc.vpos("voice"), "'voice' must be text (a TTS voice name)")
        voice = None
    mode, min_conf, thresh = "grammar", 0.3, DEFAULT_THRESHOLD
    confirm: float | None = None  # the listening engine's accept threshold
    asr = doc.get("asr")
    if isinstance(asr, str):
        mode = asr
        pos = doc.vpos("asr")
    elif isinstance(asr, YMap):
        u.r.keys(asr, ASR_KEYS, "in 'asr'")
        mode = asr.get("mode", "grammar")
        pos = asr.vpos("mode")
        if "min_confidence" in asr:
            min_conf = (
                u.r.want_number(asr["min_confidence"], asr.vpos("min_confidence"), "'min_confidence'", 0, 1) or 0.0
            )
        if "confirm_below" in asr:
            confirm = confirm_below(u, asr["confirm_below"], asr.vpos("confirm_below"))
        if "match_threshold" in asr:
            thresh = (
                u.r.want_number(asr["match_threshold"], asr.vpos("match_threshold"), "'match_threshold'", 0.1, 1)
                or DEFAULT_THRESHOLD
            )
    elif asr is not None:
        u.r.error(doc.vpos("asr"), "'asr' must be 'grammar', 'free' or a mapping")
        pos = doc.vpos("asr")
    else:
        pos = doc.pos
    if mode not in ("grammar", "free"):
        u.r.error(pos, f"unknown asr mode '{mode}'", "write 'grammar' (phrase lists) or 'free' (dictation)")
        mode = "grammar"
    max_turns = DEFAULT_MAX_TURNS
    if "max_turns" in doc:
        max_turns = int(
            u.r.want_number(doc["max_turns"], doc.vpos("max_turns"), "'max_turns'", 1, 10000) or DEFAULT_MAX_TURNS
        )
    agent = doc.get("agent")
    if agent is not None:
        agent = u.r.want_str(agent, doc.vpos("agent"), "'agent'", "write a SIP URI such as sip:agent@example.com")
        if agent and not agent.startswith(("sip:", "sips:", "tel:")):
            u.r.error(
                doc.vpos("agent"),
                f"'agent' must be a sip:, sips: or tel: URI, got '{agent}'",
                "e.g. sip:support@example.com",
            )
    desc = doc.get("description", "")
    return FlowMeta(
        name=name,
        description=desc if isinstance(desc, str) else "",
        language=u.language,
        voice=voice,
        asr_mode=str(mode),
        min_confidence=float(min_conf),
        match_threshold=float(thresh),
        confirm_below=confirm,
        max_turns=max_turns,
        agent=agent,
    )


ENGINE = "engine"  # confirm_below: engine -- the listening engine's accept threshold (the default)


def confirm_below(u: Unit, value: object, pos: Pos) -> float | None:
    """A ``confirm_below`` value: a number from 0 (confirm nothing) to 1, or ``engine`` (None:
    below the accept threshold of the engine that listens on the call, resolved when the call
    starts)."""
    if value == ENGINE:
        return None
    if isinstance(value, str):
        u.r.error(pos, f"'confirm_below' must be a number or 'engine', got '{value}'", "e.g. confirm_below: 0.8")
        return None
    return u.r.want_number(value, pos, "'confirm_below'", 0, 1)


def compile_defaults(u: Unit, doc: YMap) -> None:
    """``defaults:`` for every ask state (timeout, no_input, no_match, barge_in)."""
    if "defaults" not in doc:
        return
    d = u.r.want_map(doc["defaults"], doc.vpos("defaults"), "'defaults'")
    if d is not None:
        u.r.keys(d, DEFAULT_KEYS, "in 'defaults'")
        u.defaults = d
        if "timeout" in d:
            u.r.want_number(d["timeout"], d.vpos("timeout"), "'defaults.timeout'", 0.5, 120)
