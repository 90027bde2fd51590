"""Ask states: what the caller can answer, by voice and by key, and what happens when they don't.

An ask state listens for its own intents (``on:``), the values of its slot, and the global
intents; its DTMF keys come from the intents' keys and its own ``dtmf:`` map (a digits or
number slot takes keyed digits instead); no-input and no-match limits lead on after the last
reprompt. The grammar handed to the recogniser is every phrase the state can match.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from voicebot.flow.compiler.keypad import compile_keypad
from voicebot.flow.compiler.meta import confirm_below
from voicebot.flow.compiler.schema import BUILTIN_STATES, DEFAULT_LIMIT, DEFAULT_TIMEOUT, LIMIT_KEYS
from voicebot.flow.compiler.templates import template
from voicebot.flow.compiler.unit import Entry, Unit
from voicebot.flow.diagnostics import did_you_mean
from voicebot.flow.events import DTMF_KEYS
from voicebot.flow.intents import IntentSet
from voicebot.flow.model import Edge, Slot, State, Template, confirm_engine
from voicebot.flow.slots import grammar_words
from voicebot.flow.yamlsrc import YMap


def limit(u: Unit, st: YMap, key: str, full: str, prefix: str) -> tuple[int, str, tuple[Template, ...]]:
    builtin_end = "_no_input_end" if key == "no_input" else "_no_match_end"
    d = u.defaults.get(key)
    lim, target = DEFAULT_LIMIT, builtin_end
    say: tuple[Template, ...] = ()
    for m in (d, st.get(key)):
        if m is None:
            continue
        src = st if m is st.get(key) else u.defaults
        if not isinstance(m, YMap):
            u.r.error(src.vpos(key), f"'{key}' must be a mapping with limit/goto/say")
            continue
        u.r.keys(m, LIMIT_KEYS, f"in '{key}'")
        if "limit" in m:
            lim = int(u.r.want_number(m["limit"], m.vpos("limit"), f"'{key}.limit'", 1, 20) or DEFAULT_LIMIT)
        if "goto" in m:
            t = u.resolve(m["goto"], m.vpos("goto"), prefix if src is st else "", f"'{key}.goto'")
            target = t or builtin_end
        if "say" in m:
            say = tuple(
                template(u, t, p, m.quoted if p == m.vpos("say") else None, "say")
                for t, p in u.r.texts(m["say"], m.vpos("say"), f"'{key}.say'")
            )
    if target == builtin_end:
        u.used_builtins.add(builtin_end)
    return lim, target, say


def compile_ask(u: Unit, full: str, e: Entry, st: YMap, base: dict[str, Any]) -> None:
    """An ask state: its prompts, slot, ways on, keys, limits, grammar and table entries."""
    prompt = _prompts(u, st, "ask")
    reprompt = _prompts(u, st, "reprompt") if "reprompt" in st else []
    slot = _slot(u, st)
    local, filled = _ways_on(u, full, e, st, slot)
    enum_names = slot.value_names if slot is not None and slot.type == "enum" else ()
    active = set(local) | set(enum_names)
    if slot is not None and slot.type == "yesno":
        active |= {"yes", "no"}
    use_global = True
    if "global" in st:
        use_global = bool(u.r.want_bool(st["global"], st.vpos("global"), "'global'"))
    globals_here = {k: v for k, v in u.global_targets.items() if v is not None and use_global}
    dtmf, max_digits = _dtmf(u, st, slot, active, globals_here)
    ni_lim, ni_t, ni_say = limit(u, st, "no_input", full, e.prefix)
    nm_lim, nm_t, nm_say = limit(u, st, "no_match", full, e.prefix)
    intents: list[tuple[str, tuple[str, ...]]] = []
    for name in sorted(active):
        if name in enum_names and slot is not None:
            intents.append((name, dict(slot.values)[name]))
        else:
            intents.append((name, u.intent_phrases.get(name, ())))
    for name in globals_here:
        if name not in active:
            intents.append((name, u.intent_phrases.get(name, ())))
    iset = IntentSet.build(intents, local=active, threshold=u.meta.match_threshold, synonyms=u.src.synonyms)
    yes_no = ("yes", "no") if slot is not None and slot.type == "yesno" else ()
    choices = list(dict.fromkeys([*local, *yes_no, *enum_names]))
    keyed = {k: v for k, v in dtmf.items() if not (k.isdigit() and slot is not None and slot.type == "date")}
    keypad = compile_keypad(u, full, e.pos, slot, choices, keyed, max_digits, filled is not None)
    min_conf, confirm = _confidence(u, st)
    if not reprompt and nm_lim > 1:
        u.r.warning(
            st.kpos("ask"),
            f"ask state '{full}' has no 'reprompt'",
            "add a shorter reprompt that says what the caller can answer",
        )
    u.states[full] = State(
        kind="ask",
        slot=slot.name if slot else None,
        intents=iset,
        grammar=_grammar(u, st, slot, intents),
        dtmf=tuple(sorted(dtmf.items())),
        max_digits=max_digits,
        timeout_s=_timeout(u, st),
        reprompt=tuple(reprompt),
        no_input_say=ni_say,
        no_match_say=nm_say,
        no_input_limit=ni_lim,
        no_match_limit=nm_lim,
        min_confidence=min_conf,
        confirm_below=confirm,
        keypad=keypad,
        **{**base, "say": (*base["say"], *prompt)},
    )
    if confirm_engine(u.states[full]) or (confirm is not None and confirm > min_conf):
        u.add(full, "unsure", [Edge(target=full)])
    for intent, t in local.items():
        u.add(full, f"intent:{intent}", [Edge(target=t)])
    for intent, t in globals_here.items():
        if intent in local:
            continue
        if t == "repeat":
            u.add(full, f"intent:{intent}", [Edge(target=full, repeat=True)])
        else:
            if t in BUILTIN_STATES:
                u.used_builtins.add(t)
                target = t
            else:
                target = u.resolve(t, u.pending_global_pos.get(intent, e.pos), "", f"'global.{intent}'") or ""
            if target:
                u.add(full, f"intent:{intent}", [Edge(target=target)])
    if filled:
        u.add(full, "filled", [Edge(target=filled)])
    u.add(full, "no_input", [Edge(target=full)])
    u.add(full, "no_match", [Edge(target=full)])
    u.add(full, "max_turns", [Edge(target="_max_turns")])
    u.add(full, "no_input_limit", [Edge(target=ni_t)])
    u.add(full, "no_match_limit", [Edge(target=nm_t)])


def _confidence(u: Unit, st: YMap) -> tuple[float, float | None]:
    """``min_confidence`` (below: not understood) and ``confirm_below`` (below: "Did you say
    ...?"), the state's own or the flow's ``asr:`` ones; ``confirm_below`` None: the listening
    engine's accept threshold, which the call gives when it starts."""
    lo, confirm = u.meta.min_confidence, u.meta.confirm_below
    if "min_confidence" in st:
        lo = u.r.want_number(st["min_confidence"], st.vpos("min_confidence"), "'min_confidence'", 0, 1) or 0.0
    if "confirm_below" in st:
        confirm = confirm_below(u, st["confirm_below"], st.vpos("confirm_below"))
        if confirm is not None and confirm <= lo:
            u.r.warning(
                st.vpos("confirm_below"),
                f"confirm_below ({confirm:g}) is not above min_confidence ({lo:g}), so nothing is confirmed",
                "answers below min_confidence are reprompted; those between the two are confirmed",
            )
    return lo, confirm


def _prompts(u: Unit, st: YMap, key: str) -> list[Template]:
    """``ask:`` or ``reprompt:``: one text or a list of them."""
    return [
        template(u, text, p, st.quoted if p == st.vpos(key) else None, key)
        for text, p in u.r.texts(st[key], st.vpos(key), f"'{key}'")
    ]


def _slot(u: Unit, st: YMap) -> Slot | None:
    """The slot the state fills (``slot:``), if any."""
    if "slot" not in st:
        return None
    sname = st["slot"]
    if not isinstance(sname, str) or sname not in u.slots:
        u.r.error(st.vpos("slot"), f"unknown slot '{sname}'", did_you_mean(str(sname), u.slots, "slot"))
        return None
    u.slot_writers.add(sname)
    return u.slots[sname]


def _timeout(u: Unit, st: YMap) -> float:
    """Seconds of silence before a no-input (the state's, else ``defaults.timeout``)."""
    timeout = DEFAULT_TIMEOUT
    if isinstance(u.defaults.get("timeout"), int | float):
        timeout = float(u.defaults["timeout"])
    if "timeout" in st:
        timeout = u.r.want_number(st["timeout"], st.vpos("timeout"), "'timeout'", 0.5, 120) or timeout
        if 0.5 <= timeout < 2:
            u.r.warning(
                st.vpos("timeout"),
                f"timeout of {timeout:g} s is very short",
                "callers usually need 3 to 8 seconds to answer",
            )
    return timeout


def _ways_on(u: Unit, full: str, e: Entry, st: YMap, slot: Slot | None) -> tuple[dict[str, str], str | None]:
    """``on:`` (intent -> target, in the order written) and ``next:``, checked against the slot."""
    local: dict[str, str] = {}
    enum_names = slot.value_names if slot is not None and slot.type == "enum" else ()
    if "on" in st:
        on = u.r.want_map(st["on"], st.vpos("on"), "'on'")
        for intent, tgt in (on or {}).items():
            assert on is not None
            if intent not in u.intent_phrases and intent not in enum_names:
                known = list(u.intent_phrases) + list(enum_names)
                u.r.error(
                    on.kpos(intent),
                    f"unknown intent '{intent}' in 'on'",
                    did_you_mean(intent, known, "intent") + " (define it under 'intents:')"
                    if not did_you_mean(intent, known).startswith("did")
                    else did_you_mean(intent, known),
                )
                continue
            t = u.resolve(tgt, on.vpos(intent), e.prefix, f"'on.{intent}'")
            if t:
                local[intent] = t
    filled: str | None = None
    if "next" in st:
        filled = u.resolve(st["next"], st.vpos("next"), e.prefix, "'next'")
    if slot is not None and slot.type in ("number", "digits", "date", "text") and "next" not in st:
        u.r.error(
            e.pos,
            f"state '{full}' fills slot '{slot.name}' but has no 'next'",
            "add next: <state> for when the slot is filled",
        )
    if slot is None and not local and "next" not in st:
        u.r.error(
            e.pos,
            f"dead end: ask state '{full}' has no 'on' intents, 'slot' or 'next'",
            "add on: {intent: state} or slot: <name> with next: <state>",
        )
    if slot is None and "next" in st and not local:
        u.r.warning(
            st.kpos("next"),
            f"ask state '{full}' has 'next' but no 'slot' or 'on'",
            "every answer goes to 'next'; use a text slot to keep what was said",
        )
    if slot is not None and slot.type == "yesno" and filled is None and not {"yes", "no"} <= set(local):
        missing = sorted({"yes", "no"} - set(local))
        u.r.error(
            st.kpos("slot"),
            f"yes/no slot '{slot.name}' has no way on for: {', '.join(missing)}",
            "add next: <state> or on: {yes: ..., no: ...}",
        )
    if slot is not None and slot.type == "enum" and filled is None:
        missing = [v for v in enum_names if v not in local]
        if missing:
            u.r.error(
                st.kpos("slot"),
                f"enum slot '{slot.name}' has no way on for: {', '.join(missing)}",
                "add next: <state> or an 'on' entry for each value",
            )
    return local, filled


def _dtmf(
    u: Unit, st: YMap, slot: Slot | None, active: set[str], globals_here: Collection[str]
) -> tuple[dict[str, str], int]:
    """Key -> intent (the intents' own keys, then the state's ``dtmf:`` map), and how many keys
    are collected into a digits or number slot (1 when keys are not collected)."""
    dtmf: dict[str, str] = {}
    for intent in active | set(globals_here):
        key = u.intent_dtmf.get(intent)
        if key is not None:
            dtmf[key] = intent
    if "dtmf" in st:
        dm = u.r.want_map(st["dtmf"], st.vpos("dtmf"), "'dtmf'")
        for key, intent in (dm or {}).items():
            assert dm is not None
            if len(key) != 1 or key not in DTMF_KEYS:
                u.r.error(dm.kpos(key), f"bad DTMF key '{key}'", 'use one of 0-9, *, #, A-D (quote it: "1")')
                continue
            if not isinstance(intent, str) or (intent not in active and intent not in globals_here):
                u.r.error(
                    dm.vpos(key),
                    f"DTMF '{key}' maps to '{intent}', which this state does not handle",
                    did_you_mean(str(intent), sorted(active | set(globals_here)), "intent")
                    + " (a DTMF key maps to an intent of 'on')",
                )
                continue
            dtmf[key] = intent
    if slot is None or slot.type not in ("digits", "number"):
        return dtmf, 1
    if slot.type == "digits":
        max_digits = slot.max_length or 16
    else:
        max_digits = len(str(int(abs(slot.max)))) if slot.max is not None and slot.max >= 0 else 16
    explicit_map = st.get("dtmf")
    explicit: dict[str, Any] = explicit_map if isinstance(explicit_map, YMap) else {}
    clash = [k for k in explicit if k.isdigit()]
    if clash:
        u.r.error(
            st.vpos("dtmf"),
            f"DTMF key '{clash[0]}' is mapped to an intent but slot '{slot.name}' takes keyed digits",
            "map only * or # in this state",
        )
    # keyed digits fill the slot here, so intents keyed on digits (e.g. agent on 0) step aside
    return {k: v for k, v in dtmf.items() if not k.isdigit()}, max_digits


def _grammar(
    u: Unit, st: YMap, slot: Slot | None, intents: list[tuple[str, tuple[str, ...]]]
) -> tuple[str, ...] | None:
    """The phrases a grammar-mode recogniser listens for here (``None``: free speech)."""
    if u.meta.asr_mode == "grammar" and not (slot is not None and slot.type == "text"):
        words: list[str] = []
        for _, ps in intents:
            words.extend(ps)
        if slot is not None:
            words.extend(grammar_words(slot.type, u.language))
        if "grammar" in st:
            words.extend(t for t, _ in u.r.texts(st["grammar"], st.vpos("grammar"), "'grammar'"))
        return tuple(dict.fromkeys(w.lower() for w in words))
    if "grammar" in st:
        u.r.warning(
            st.kpos("grammar"),
            "'grammar' is ignored: this state takes free speech",
            "remove it, or set asr: grammar",
        )
    return None
