"""The ``intents:``, ``synonyms:`` and ``global:`` sections.

Built-in intents (yes, no, repeat, agent, opt_out, abuse) come with phrases in every language;
a flow adds phrases to them or defines its own, per language or for its own language, with an
optional DTMF key. ``global:`` says where the global intents lead from every ask state.
"""

from __future__ import annotations

from voicebot.flow import lang
from voicebot.flow.compiler.schema import BUILTIN_STATES, INTENT_KEYS
from voicebot.flow.compiler.unit import Unit
from voicebot.flow.diagnostics import did_you_mean
from voicebot.flow.events import DTMF_KEYS
from voicebot.flow.intents import is_cjk
from voicebot.flow.yamlsrc import YList, YMap


def compile_intents(u: Unit) -> None:
    phrases: dict[str, list[str]] = {}
    for name, by_lang in lang.BUILTIN_INTENTS.items():
        phrases[name] = list(by_lang.get(u.language, ()))
    for e in u.src.intents.values():
        v = u.r.short_form(e.value, e.vpos, "phrases", (YList, str))
        im = u.r.want_map(v, e.vpos, f"intent '{e.name}'")
        if im is None:
            continue
        m = im
        u.r.keys(m, INTENT_KEYS, f"in intent '{e.name}'")
        got: list[str] = []
        ph = m.get("phrases")
        if isinstance(ph, YMap):
            for lg, items in ph.items():
                if lg not in lang.LANGUAGES:
                    u.r.error(ph.kpos(lg), f"unknown language '{lg}'", did_you_mean(lg, lang.LANGUAGES))
                    continue
                texts = [t for t, _ in u.r.texts(items, ph.vpos(lg), f"phrases of '{e.name}'")]
                if lg == u.language:
                    got.extend(texts)
        elif ph is not None:
            got.extend(t for t, _ in u.r.texts(ph, m.vpos("phrases"), f"phrases of '{e.name}'"))
        if "dtmf" in m:
            key = m["dtmf"]
            key = str(key) if isinstance(key, int) and not isinstance(key, bool) else key
            if not isinstance(key, str) or len(key) != 1 or key not in DTMF_KEYS:
                u.r.error(
                    m.vpos("dtmf"),
                    f"bad DTMF key {key!r} for intent '{e.name}'",
                    'write one of 0-9, *, #, A-D in quotes, e.g. dtmf: "1"',
                )
            else:
                u.intent_dtmf[e.name] = key
        if not got and "dtmf" not in m and e.name not in phrases:
            u.r.error(
                e.pos,
                f"intent '{e.name}' has no phrases for language '{u.language}'",
                "add phrases: [...] (or per language: phrases: {en: [...]})",
            )
        for p in got:
            cjk = any(is_cjk(c) for c in p)
            if (u.language == "en") == cjk:
                u.r.warning(
                    m.vpos("phrases") if "phrases" in m else e.pos,
                    f"phrase '{p}' of intent '{e.name}' does not look like language '{u.language}'",
                    "give per-language phrases: phrases: {en: [...], ko: [...], zh: [...]}",
                )
                break
        seen = set()
        for p in got:
            if p.casefold() in seen:
                u.r.warning(m.vpos("phrases"), f"phrase '{p}' is listed twice in intent '{e.name}'")
            seen.add(p.casefold())
        phrases.setdefault(e.name, []).extend(got)
    u.intent_phrases = {k: tuple(dict.fromkeys(v)) for k, v in phrases.items()}
    owner: dict[str, str] = {}
    for name, ps in u.intent_phrases.items():
        for p in ps:
            key = p.casefold()
            if key in owner and owner[key] != name:
                where = next((e for e in u.src.intents.values() if e.name == name), None)
                if where is not None:
                    u.r.warning(
                        where.pos,
                        f"phrase '{p}' belongs to both '{owner[key]}' and '{name}'",
                        "the first match wins; remove it from one intent",
                    )
            owner.setdefault(key, name)


def compile_globals(u: Unit, doc: YMap) -> None:
    u.global_targets = {"opt_out": "_opt_out", "abuse": "_abuse", "repeat": "repeat", "agent": None}
    if "global" in doc:
        m = u.r.want_map(doc["global"], doc.vpos("global"), "'global'")
        if m is not None:
            for k, v in m.items():
                if k not in u.intent_phrases:
                    u.r.error(
                        m.kpos(k),
                        f"unknown intent '{k}' in 'global'",
                        did_you_mean(k, u.intent_phrases, "intent"),
                    )
                    continue
                if v is None or v is False or v == "off":
                    u.global_targets[k] = None
                elif k == "repeat" and v == "repeat":
                    u.global_targets[k] = "repeat"
                elif isinstance(v, str):
                    u.global_targets[k] = v
                    u.refs.setdefault(v, m.vpos(k))
                    u.pending_global_pos[k] = m.vpos(k)
                else:
                    u.r.error(m.vpos(k), f"'global.{k}' must be a state name or 'off'")
    explicit_agent = "global" in doc and isinstance(doc["global"], YMap) and "agent" in doc["global"]
    if u.global_targets.get("agent") is None and u.meta.agent and not explicit_agent:
        u.global_targets["agent"] = "_agent"


def check_global_targets(u: Unit, doc: YMap) -> None:
    """Every ``global:`` target names a state (checked once all states are known)."""
    for k, t in u.global_targets.items():
        if t is not None and t != "repeat" and t not in BUILTIN_STATES and t not in u.src.states:
            u.r.error(
                u.pending_global_pos.get(k, doc.pos),
                f"unknown target state '{t}' in 'global.{k}'",
                did_you_mean(t, u.src.states, "state"),
            )
