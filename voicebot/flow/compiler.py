"""The flow compiler: YAML flow file -> validated, immutable transition table.

It reads the file with positions (:mod:`voicebot.flow.yamlsrc`), merges ``include:`` files,
inlines ``subflow:`` states under a name prefix, checks every key, type, target, template and
expression, adds the built-in states that global intents and limits lead to, and then checks
the graph: unreachable states, dead ends, states with no path to a hang-up or transfer, and
loops that never wait for the caller. Every problem becomes a :class:`Diagnostic` with
``file:line:column``, what is wrong and what to write instead.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from voicebot.flow import expr as ex
from voicebot.flow import lang
from voicebot.flow.diagnostics import Pos, Reporter, did_you_mean
from voicebot.flow.intents import DEFAULT_THRESHOLD, IntentSet, is_cjk
from voicebot.flow.model import (
    Assignment,
    Edge,
    FlowMeta,
    FrozenDict,
    Script,
    Slot,
    State,
    Table,
    Template,
    WebhookSpec,
)
from voicebot.flow.slots import EXPR_TYPE, SLOT_TYPES, grammar_words
from voicebot.flow.yamlsrc import YList, YMap, load_file

TOP_KEYS = (
    "flow",
    "description",
    "language",
    "voice",
    "asr",
    "agent",
    "defaults",
    "max_turns",
    "include",
    "slots",
    "intents",
    "synonyms",
    "global",
    "prompts",
    "start",
    "states",
    "tests",
)
INCLUDE_KEYS = ("description", "slots", "intents", "synonyms", "prompts", "states")
SUBFLOW_KEYS = (
    "flow",
    "description",
    "language",
    "include",
    "slots",
    "intents",
    "synonyms",
    "prompts",
    "start",
    "states",
    "tests",
)
COMMON_STATE_KEYS = ("say", "ssml", "set", "description", "barge_in")
KIND_KEYS: dict[str, tuple[str, ...]] = {
    "ask": ("ask", "reprompt", "slot", "on", "next", "dtmf", "timeout", "no_input", "no_match", "grammar", "global"),
    "branch": ("branch",),
    "webhook": ("webhook", "next", "on_error"),
    "transfer": ("transfer", "on_failure"),
    "hangup": ("hangup",),
    "subflow": ("subflow", "on", "next"),
    "return": ("return",),
    "say": ("next",),
}
MAIN_KEYS = ("ask", "branch", "webhook", "transfer", "hangup", "subflow", "return")
ALL_STATE_KEYS = tuple(sorted({k for ks in KIND_KEYS.values() for k in ks} | set(COMMON_STATE_KEYS)))
SLOT_KEYS = ("type", "values", "min", "max", "length", "min_length", "max_length", "default", "description")
INTENT_KEYS = ("phrases", "dtmf", "description")
LIMIT_KEYS = ("limit", "goto", "say")
WEBHOOK_KEYS = ("url", "method", "headers", "body", "timeout", "save")
ASR_KEYS = ("mode", "min_confidence", "match_threshold")
DEFAULT_KEYS = ("timeout", "no_input", "no_match", "barge_in")
SCRIPT_KEYS = ("name", "context", "profile", "today", "turns", "expect", "webhooks")
PROFILE_KEYS = ("calls", "last_outcome", "do_not_call")
TURN_INPUT_KEYS = ("caller", "confidence", "dtmf", "silence", "hangup", "transfer_fails")
TURN_CHECK_KEYS = ("state", "says", "slots", "outcome", "ended")
EXPECT_KEYS = ("state", "slots", "outcome", "do_not_call", "says")
PROFILE_FIELDS = {"profile.calls": ex.NUMBER, "profile.last_outcome": ex.STR, "profile.do_not_call": ex.BOOL}
NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
OUTCOME_RE = re.compile(r"[a-z][a-z0-9_]*\Z")
DTMF_KEYS = "0123456789*#ABCD"
DEFAULT_TIMEOUT = 5.0
DEFAULT_LIMIT = 3
DEFAULT_MAX_TURNS = 60
BUILTIN_STATES = {
    "_opt_out": ("opt_out", "opted_out"),
    "_abuse": ("abuse", "abusive"),
    "_agent": ("agent", "transferred"),
    "_no_input_end": ("no_input_end", "no_input"),
    "_no_match_end": ("no_match_end", "no_match"),
    "_transfer_failed": ("transfer_failed", "transfer_failed"),
    "_error": ("error", "error"),
    "_max_turns": ("no_match_end", "max_turns"),
}


@dataclass(slots=True)
class _Entry:
    """A named item (slot, intent, state) and where it was written."""

    name: str
    value: Any
    pos: Pos  # position of its key
    vpos: Pos
    prefix: str = ""  # subflow prefix ("" in the main flow)
    parent: YMap | None = None


@dataclass(slots=True)
class _Sub:
    """A subflow inlined under ``prefix``: where its ``return`` states go."""

    prefix: str
    returns: dict[str, str]  # label -> resolved target in the parent
    default_return: str | None
    pos: Pos


@dataclass(slots=True)
class _Source:
    slots: dict[str, _Entry] = field(default_factory=dict)
    intents: dict[str, _Entry] = field(default_factory=dict)
    states: dict[str, _Entry] = field(default_factory=dict)  # full (prefixed) name -> entry
    prompts: dict[str, _Entry] = field(default_factory=dict)
    synonyms: list[tuple[str, str]] = field(default_factory=list)
    subs: dict[str, _Sub] = field(default_factory=dict)  # prefix -> subflow
    sub_start: dict[str, str] = field(default_factory=dict)  # calling state -> first sub state
    files: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True, kw_only=True)
class Compiled:
    meta: FlowMeta
    start: str
    slots: Mapping[str, Slot]
    states: Mapping[str, State]
    table: Table
    scripts: tuple[Script, ...]
    intent_phrases: Mapping[str, tuple[str, ...]]
    files: tuple[str, ...]
    context_slots: tuple[str, ...] = ()


def _kind_name(v: Any) -> str:
    if isinstance(v, bool):
        return "true/false"
    if isinstance(v, int | float):
        return "a number"
    if isinstance(v, str):
        return "text"
    if isinstance(v, list):
        return "a list"
    if isinstance(v, dict):
        return "a mapping"
    return "null"


class Compiler:
    def __init__(self, path: Path, shown: str | None = None) -> None:
        self.path = path
        self.shown = shown if shown is not None else str(path)
        self.r = Reporter()
        self.src = _Source()
        self.language = "en"
        self.slots: dict[str, Slot] = {}
        self.scope = ex.Scope(types={}, enum_values={})
        self.intent_phrases: dict[str, tuple[str, ...]] = {}
        self.intent_dtmf: dict[str, str] = {}
        self.global_targets: dict[str, str | None] = {}
        self.prompts: dict[str, str] = {}
        self.states: dict[str, State] = {}
        self.table: dict[tuple[str, str], tuple[Edge, ...]] = {}
        self.used_builtins: set[str] = set()
        self.slot_writers: set[str] = set()
        self.slot_readers: dict[str, Pos] = {}
        self.refs: dict[str, Pos] = {}

    # --- helpers -------------------------------------------------------------------------------

    def keys(self, m: YMap, allowed: Iterable[str], where: str, other: Mapping[str, str] | None = None) -> None:
        allowed = tuple(allowed)
        for k in m:
            if k in allowed:
                continue
            if other and k in other:
                self.r.error(m.kpos(k), f"'{k}' is not allowed {where}", other[k])
                continue
            self.r.error(m.kpos(k), f"unknown key '{k}' {where}", did_you_mean(k, allowed))

    def want_map(self, v: Any, pos: Pos, what: str) -> YMap | None:
        if isinstance(v, YMap):
            return v
        self.r.error(
            pos, f"{what} must be a mapping, got {_kind_name(v)}", "write 'key: value' lines indented below it"
        )
        return None

    def want_str(self, v: Any, pos: Pos, what: str, hint: str = "") -> str | None:
        if isinstance(v, str) and v.strip():
            return v
        self.r.error(pos, f"{what} must be text, got {_kind_name(v)}", hint)
        return None

    def want_number(self, v: Any, pos: Pos, what: str, lo: float, hi: float) -> float | None:
        if isinstance(v, bool) or not isinstance(v, int | float):
            self.r.error(pos, f"{what} must be a number, got {_kind_name(v)}", f"write a number from {lo:g} to {hi:g}")
            return None
        if not lo <= v <= hi:
            self.r.error(pos, f"{what} must be from {lo:g} to {hi:g}, got {v:g}")
            return None
        return float(v)

    def want_bool(self, v: Any, pos: Pos, what: str) -> bool | None:
        if isinstance(v, bool):
            return v
        hint = "write true or false" + (" (yes/no are read as text)" if v in ("yes", "no", "on", "off") else "")
        self.r.error(pos, f"{what} must be true or false, got {_kind_name(v)}", hint)
        return None

    def texts(self, v: Any, pos: Pos, what: str, lst: YList | None = None) -> list[tuple[str, Pos]]:
        """A string or a list of strings (with positions)."""
        if isinstance(v, str):
            return [(v, pos)]
        if isinstance(v, YList):
            out = []
            for i, item in enumerate(v):
                if isinstance(item, str) and item.strip():
                    out.append((item, v.ipos(i)))
                else:
                    self.r.error(v.ipos(i), f"{what} items must be text, got {_kind_name(item)}")
            return out
        self.r.error(pos, f"{what} must be text or a list of texts, got {_kind_name(v)}")
        return []

    # --- loading ---------------------------------------------------------------------------------

    def rel(self, base: Path, name: str) -> Path:
        return (base.parent / name).resolve()

    def show(self, p: Path) -> str:
        try:
            return str(p.relative_to(Path.cwd()))
        except ValueError:
            return str(p)

    def collect(self, doc: YMap, file_path: Path, prefix: str, stack: tuple[Path, ...], include_only: bool) -> None:
        """Gather slots/intents/states from ``doc`` and its includes and subflows."""
        if "include" in doc:
            incs = self.texts(doc["include"], doc.vpos("include"), "include")
            for name, pos in incs:
                p = self.rel(file_path, name)
                if p in stack:
                    self.r.error(pos, f"include cycle: '{name}' includes itself", "remove this include")
                    continue
                sub = load_file(p, self.r, self.show(p))
                if sub is None:
                    if not p.exists():
                        self.r.items.pop()
                        self.r.error(pos, f"included file not found: {name}", "paths are relative to this file")
                    continue
                if not isinstance(sub, YMap):
                    self.r.error(pos, f"included file {name} must be a mapping")
                    continue
                self.src.files.append(self.show(p))
                self.keys(
                    sub,
                    (*INCLUDE_KEYS, "include"),
                    "in an included file (it may hold slots, intents, synonyms, prompts, states)",
                )
                self.collect(sub, p, prefix, (*stack, p), include_only=True)
        for section, store in (("slots", self.src.slots), ("intents", self.src.intents), ("prompts", self.src.prompts)):
            if section not in doc:
                continue
            m = self.want_map(doc[section], doc.vpos(section), f"'{section}'")
            if m is None:
                continue
            for name, value in m.items():
                if section != "prompts" and not NAME_RE.match(name):
                    self.r.error(
                        m.kpos(name),
                        f"bad {section[:-1]} name '{name}'",
                        "use letters, digits and '_' and start with a letter",
                    )
                    continue
                if name in store:
                    prev = store[name]
                    if section != "intents":
                        if prefix and section == "slots" and prev.value == value:
                            continue  # a subflow may share a slot declared the same way
                        self.r.error(
                            m.kpos(name),
                            f"duplicate {section[:-1]} '{name}' (already defined at {prev.pos.file}:{prev.pos.line})",
                            "rename one of them",
                        )
                        continue
                    # intents may be extended by includes/subflows: merge phrases later
                    store[f"{name}\0{len(store)}"] = _Entry(name, value, m.kpos(name), m.vpos(name), prefix, m)
                    continue
                store[name] = _Entry(name, value, m.kpos(name), m.vpos(name), prefix, m)
        if "synonyms" in doc:
            m = self.want_map(doc["synonyms"], doc.vpos("synonyms"), "'synonyms'")
            if m is not None:
                for canon, alts in m.items():
                    if canon in lang.LANGUAGES and isinstance(alts, YMap):
                        # per language: synonyms: {en: {appointment: [booking]}, ko: {...}}
                        if canon != self.language:
                            continue
                        for c2, alts2 in alts.items():
                            for alt, _ in self.texts(alts2, alts.vpos(c2), f"synonyms of '{c2}'"):
                                self.src.synonyms.append((alt, c2))
                        continue
                    for alt, _ in self.texts(alts, m.vpos(canon), f"synonyms of '{canon}'"):
                        self.src.synonyms.append((alt, canon))
        if "states" in doc:
            m = self.want_map(doc["states"], doc.vpos("states"), "'states'")
            if m is None:
                return
            for name, value in m.items():
                if not NAME_RE.match(name):
                    self.r.error(
                        m.kpos(name), f"bad state name '{name}'", "use letters, digits and '_' and start with a letter"
                    )
                    continue
                full = prefix + name
                if full in self.src.states:
                    prev = self.src.states[full]
                    self.r.error(
                        m.kpos(name),
                        f"duplicate state '{name}' (already defined at {prev.pos.file}:{prev.pos.line})",
                        "rename one of them",
                    )
                    continue
                self.src.states[full] = _Entry(full, value, m.kpos(name), m.vpos(name), prefix, m)
                if isinstance(value, YMap) and "subflow" in value:
                    self.load_subflow(full, value, file_path, stack)

    def load_subflow(self, state: str, st: YMap, file_path: Path, stack: tuple[Path, ...]) -> None:
        name = self.want_str(st["subflow"], st.vpos("subflow"), "'subflow'", "write the path of a flow file")
        if name is None:
            return
        p = self.rel(file_path, name)
        if p in stack or p == self.path.resolve():
            self.r.error(
                st.vpos("subflow"), f"subflow cycle: '{name}' is already being used", "a subflow cannot use itself"
            )
            return
        sub = load_file(p, self.r, self.show(p))
        if sub is None:
            if not p.exists():
                self.r.items.pop()
                self.r.error(st.vpos("subflow"), f"subflow file not found: {name}", "paths are relative to this file")
            return
        if not isinstance(sub, YMap):
            self.r.error(st.vpos("subflow"), f"subflow file {name} must be a mapping")
            return
        self.src.files.append(self.show(p))
        self.keys(sub, SUBFLOW_KEYS, "in a subflow file")
        prefix = state + "."
        start = sub.get("start")
        if not isinstance(start, str) or not NAME_RE.match(start):
            self.r.error(
                sub.pos if "start" not in sub else sub.vpos("start"),
                "a subflow needs 'start: <state>'",
                "name the subflow's first state",
            )
            return
        self.src.subs[prefix] = _Sub(prefix=prefix, returns={}, default_return=None, pos=st.vpos("subflow"))
        self.src.sub_start[state] = prefix + start
        self.refs[prefix + start] = sub.vpos("start")
        self.collect(sub, p, prefix, (*stack, p), include_only=False)

    # --- sections -------------------------------------------------------------------------------

    def compile_meta(self, doc: YMap) -> FlowMeta:
        name = "flow"
        if "flow" not in doc:
            self.r.error(
                doc.pos, "missing 'flow: <name>'", "add a name line at the top, e.g. flow: appointment_reminder"
            )
        else:
            name = self.want_str(doc["flow"], doc.vpos("flow"), "'flow' (the flow's name)") or name
        language = doc.get("language", "en")
        if language not in lang.LANGUAGES:
            self.r.error(
                doc.vpos("language"), f"unsupported language '{language}'", did_you_mean(str(language), lang.LANGUAGES)
            )
            language = "en"
        self.language = str(language)
        voice = doc.get("voice")
        if voice is not None and not isinstance(voice, str):
            self.r.error(doc.vpos("voice"), "'voice' must be text (a TTS voice name)")
            voice = None
        mode, min_conf, thresh = "grammar", 0.3, DEFAULT_THRESHOLD
        asr = doc.get("asr")
        if isinstance(asr, str):
            mode = asr
            pos = doc.vpos("asr")
        elif isinstance(asr, YMap):
            self.keys(asr, ASR_KEYS, "in 'asr'")
            mode = asr.get("mode", "grammar")
            pos = asr.vpos("mode")
            if "min_confidence" in asr:
                min_conf = (
                    self.want_number(asr["min_confidence"], asr.vpos("min_confidence"), "'min_confidence'", 0, 1) or 0.0
                )
            if "match_threshold" in asr:
                thresh = (
                    self.want_number(asr["match_threshold"], asr.vpos("match_threshold"), "'match_threshold'", 0.1, 1)
                    or DEFAULT_THRESHOLD
                )
        elif asr is not None:
            self.r.error(doc.vpos("asr"), "'asr' must be 'grammar', 'free' or a mapping")
            pos = doc.vpos("asr")
        else:
            pos = doc.pos
        if mode not in ("grammar", "free"):
            self.r.error(pos, f"unknown asr mode '{mode}'", "write 'grammar' (phrase lists) or 'free' (dictation)")
            mode = "grammar"
        max_turns = DEFAULT_MAX_TURNS
        if "max_turns" in doc:
            max_turns = int(
                self.want_number(doc["max_turns"], doc.vpos("max_turns"), "'max_turns'", 1, 10000) or DEFAULT_MAX_TURNS
            )
        agent = doc.get("agent")
        if agent is not None:
            agent = self.want_str(agent, doc.vpos("agent"), "'agent'", "write a SIP URI such as sip:agent@example.com")
            if agent and not agent.startswith(("sip:", "sips:", "tel:")):
                self.r.error(
                    doc.vpos("agent"),
                    f"'agent' must be a sip:, sips: or tel: URI, got '{agent}'",
                    "e.g. sip:support@example.com",
                )
        desc = doc.get("description", "")
        return FlowMeta(
            name=name,
            description=desc if isinstance(desc, str) else "",
            language=self.language,
            voice=voice,
            asr_mode=str(mode),
            min_confidence=float(min_conf),
            match_threshold=float(thresh),
            max_turns=max_turns,
            agent=agent,
        )

    def compile_slots(self) -> None:
        for e in self.src.slots.values():
            m = e.value
            if isinstance(m, str):
                m2 = YMap(e.vpos)
                m2["type"] = m
                m2.val_pos["type"] = e.vpos
                m = m2
            m = self.want_map(m, e.vpos, f"slot '{e.name}'")
            if m is None:
                continue
            self.keys(m, SLOT_KEYS, f"in slot '{e.name}'")
            typ = m.get("type")
            if typ not in SLOT_TYPES:
                if "type" not in m:
                    self.r.error(e.pos, f"slot '{e.name}' has no type", "add type: " + " | ".join(SLOT_TYPES))
                else:
                    self.r.error(m.vpos("type"), f"unknown slot type '{typ}'", did_you_mean(str(typ), SLOT_TYPES))
                continue
            values: list[tuple[str, tuple[str, ...]]] = []
            if typ == "enum":
                vals = m.get("values")
                if isinstance(vals, YList):
                    for i, v in enumerate(vals):
                        if isinstance(v, str | int) and not isinstance(v, bool):
                            values.append((str(v), (str(v),)))
                        else:
                            self.r.error(vals.ipos(i), "enum values must be text")
                elif isinstance(vals, YMap):
                    for v, phrases in vals.items():
                        ps = [t for t, _ in self.texts(phrases, vals.vpos(v), f"phrases of '{v}'")] if phrases else []
                        # the value's own name is a phrase too when it is a word of the flow's language
                        own = [v.replace("_", " ")] if self.language == "en" or not ps else []
                        values.append((v, tuple(dict.fromkeys([*own, *ps]))))
                else:
                    self.r.error(
                        e.pos if "values" not in m else m.vpos("values"),
                        f"enum slot '{e.name}' needs 'values'",
                        "list the values, or map each value to the phrases that mean it",
                    )
                    continue
                if not values:
                    self.r.error(m.vpos("values"), f"enum slot '{e.name}' has no values", "list at least one value")
                    continue
            elif "values" in m:
                self.r.error(
                    m.kpos("values"), f"'values' is only for enum slots, and '{e.name}' is {typ}", "write type: enum"
                )
            lo = hi = None
            if "min" in m or "max" in m:
                if typ != "number":
                    self.r.error(
                        m.kpos("min" if "min" in m else "max"),
                        f"'min'/'max' are only for number slots, and '{e.name}' is {typ}",
                        "use min_length/max_length for digits",
                    )
                else:
                    if "min" in m:
                        lo = self.want_number(m["min"], m.vpos("min"), "'min'", -1e12, 1e12)
                    if "max" in m:
                        hi = self.want_number(m["max"], m.vpos("max"), "'max'", -1e12, 1e12)
                    if lo is not None and hi is not None and lo > hi:
                        self.r.error(m.vpos("max"), f"'max' ({hi:g}) is below 'min' ({lo:g})", "swap them")
            minl = maxl = None
            for k in ("length", "min_length", "max_length"):
                if k in m:
                    if typ != "digits":
                        self.r.error(
                            m.kpos(k),
                            f"'{k}' is only for digits slots, and '{e.name}' is {typ}",
                            "write type: digits, or remove it",
                        )
                        continue
                    v = self.want_number(m[k], m.vpos(k), f"'{k}'", 1, 64)
                    if v is None:
                        continue
                    if k in ("length", "min_length"):
                        minl = int(v)
                    if k in ("length", "max_length"):
                        maxl = int(v)
            slot = Slot(
                name=e.name,
                type=str(typ),
                values=tuple(values),
                min=lo,
                max=hi,
                min_length=minl,
                max_length=maxl,
                pos=e.pos,
            )
            if "default" in m:
                try:
                    default = coerce(slot, m["default"], dt.date(2000, 1, 1))
                except ValueError as exc:
                    self.r.error(m.vpos("default"), f"default of slot '{e.name}': {exc}")
                    default = None
                slot = Slot(
                    name=slot.name,
                    type=slot.type,
                    values=slot.values,
                    min=lo,
                    max=hi,
                    min_length=minl,
                    max_length=maxl,
                    default=default,
                    pos=e.pos,
                )
            self.slots[e.name] = slot
        types = {name: EXPR_TYPE[s.type] for name, s in self.slots.items()}
        types.update(PROFILE_FIELDS)
        self.scope = ex.Scope(
            types=types, enum_values={n: s.value_names for n, s in self.slots.items() if s.type == "enum"}
        )

    def compile_intents(self) -> None:
        phrases: dict[str, list[str]] = {}
        for name, by_lang in lang.BUILTIN_INTENTS.items():
            phrases[name] = list(by_lang.get(self.language, ()))
        for e in self.src.intents.values():
            v = e.value
            if isinstance(v, YList | str):
                wrapped = YMap(e.vpos)
                wrapped["phrases"] = v
                wrapped.val_pos["phrases"] = e.vpos
                v = wrapped
            im = self.want_map(v, e.vpos, f"intent '{e.name}'")
            if im is None:
                continue
            m = im
            self.keys(m, INTENT_KEYS, f"in intent '{e.name}'")
            got: list[str] = []
            ph = m.get("phrases")
            if isinstance(ph, YMap):
                for lg, items in ph.items():
                    if lg not in lang.LANGUAGES:
                        self.r.error(ph.kpos(lg), f"unknown language '{lg}'", did_you_mean(lg, lang.LANGUAGES))
                        continue
                    texts = [t for t, _ in self.texts(items, ph.vpos(lg), f"phrases of '{e.name}'")]
                    if lg == self.language:
                        got.extend(texts)
            elif ph is not None:
                got.extend(t for t, _ in self.texts(ph, m.vpos("phrases"), f"phrases of '{e.name}'"))
            if "dtmf" in m:
                key = m["dtmf"]
                key = str(key) if isinstance(key, int) and not isinstance(key, bool) else key
                if not isinstance(key, str) or len(key) != 1 or key not in DTMF_KEYS:
                    self.r.error(
                        m.vpos("dtmf"),
                        f"bad DTMF key {key!r} for intent '{e.name}'",
                        'write one of 0-9, *, #, A-D in quotes, e.g. dtmf: "1"',
                    )
                else:
                    self.intent_dtmf[e.name] = key
            if not got and "dtmf" not in m and e.name not in phrases:
                self.r.error(
                    e.pos,
                    f"intent '{e.name}' has no phrases for language '{self.language}'",
                    "add phrases: [...] (or per language: phrases: {en: [...]})",
                )
            for p in got:
                cjk = any(is_cjk(c) for c in p)
                if (self.language == "en") == cjk:
                    self.r.warning(
                        m.vpos("phrases") if "phrases" in m else e.pos,
                        f"phrase '{p}' of intent '{e.name}' does not look like language '{self.language}'",
                        "give per-language phrases: phrases: {en: [...], ko: [...], zh: [...]}",
                    )
                    break
            seen = set()
            for p in got:
                if p.casefold() in seen:
                    self.r.warning(m.vpos("phrases"), f"phrase '{p}' is listed twice in intent '{e.name}'")
                seen.add(p.casefold())
            phrases.setdefault(e.name, []).extend(got)
        self.intent_phrases = {k: tuple(dict.fromkeys(v)) for k, v in phrases.items()}
        owner: dict[str, str] = {}
        for name, ps in self.intent_phrases.items():
            for p in ps:
                key = p.casefold()
                if key in owner and owner[key] != name:
                    where = next((e for e in self.src.intents.values() if e.name == name), None)
                    if where is not None:
                        self.r.warning(
                            where.pos,
                            f"phrase '{p}' belongs to both '{owner[key]}' and '{name}'",
                            "the first match wins; remove it from one intent",
                        )
                owner.setdefault(key, name)

    def compile_globals(self, doc: YMap) -> None:
        self.global_targets = {"opt_out": "_opt_out", "abuse": "_abuse", "repeat": "repeat", "agent": None}
        if "global" in doc:
            m = self.want_map(doc["global"], doc.vpos("global"), "'global'")
            if m is not None:
                for k, v in m.items():
                    if k not in self.intent_phrases:
                        self.r.error(
                            m.kpos(k),
                            f"unknown intent '{k}' in 'global'",
                            did_you_mean(k, self.intent_phrases, "intent"),
                        )
                        continue
                    if v is None or v is False or v == "off":
                        self.global_targets[k] = None
                    elif k == "repeat" and v == "repeat":
                        self.global_targets[k] = "repeat"
                    elif isinstance(v, str):
                        self.global_targets[k] = v
                        self.refs.setdefault(v, m.vpos(k))
                        self.pending_global_pos[k] = m.vpos(k)
                    else:
                        self.r.error(m.vpos(k), f"'global.{k}' must be a state name or 'off'")
        explicit_agent = "global" in doc and isinstance(doc["global"], YMap) and "agent" in doc["global"]
        if self.global_targets.get("agent") is None and self.meta.agent and not explicit_agent:
            self.global_targets["agent"] = "_agent"
        if "prompts" in doc or self.src.prompts:
            for e in self.src.prompts.values():
                if e.name not in lang.BUILTIN_PROMPTS:
                    self.r.error(
                        e.pos,
                        f"unknown built-in prompt '{e.name}'",
                        did_you_mean(e.name, lang.BUILTIN_PROMPTS, "prompt"),
                    )
                    continue
                text = self.want_str(e.value, e.vpos, f"prompt '{e.name}'")
                if text is not None:
                    self.template(text, e.vpos, e.parent.quoted if e.parent else set(), e.name)
                    self.prompts[e.name] = text

    pending_global_pos: dict[str, Pos]
    meta: FlowMeta

    # --- templates and expressions ---------------------------------------------------------

    def template(self, text: str, pos: Pos, quoted: Any = None, key: Any = None) -> Template:
        parts: list[tuple[bool, str]] = []
        buf: list[str] = []
        i = 0
        off = 1 if (quoted is not None and key in quoted) else 0
        n = len(text)
        while i < n:
            c = text[i]
            if c == "{" and i + 1 < n and text[i + 1] == "{":
                buf.append("{")
                i += 2
                continue
            if c == "}" and i + 1 < n and text[i + 1] == "}":
                buf.append("}")
                i += 2
                continue
            if c == "{":
                j = text.find("}", i)
                if j < 0:
                    self.r.error(pos.shifted(i + off), "unclosed '{' in prompt", "write {slot} or {{ for a brace")
                    break
                name = text[i + 1 : j].strip()
                if name not in self.scope.types:
                    self.r.error(
                        pos.shifted(i + off),
                        f"unknown slot '{name}' in prompt",
                        did_you_mean(
                            name,
                            [n for n in self.scope.types if not n.startswith("profile.")] + list(PROFILE_FIELDS),
                            "slot",
                        ),
                    )
                else:
                    self.slot_readers.setdefault(name, pos.shifted(i + off))
                if buf:
                    parts.append((False, "".join(buf)))
                    buf = []
                parts.append((True, name))
                i = j + 1
                continue
            if c == "}":
                self.r.error(pos.shifted(i + off), "unmatched '}' in prompt", "write }} for a literal brace")
            buf.append(c)
            i += 1
        if buf:
            parts.append((False, "".join(buf)))
        if len(text) > 600:
            self.r.warning(pos, f"prompt is {len(text)} characters long", "callers lose track after ~2 sentences")
        return Template(source=text, parts=tuple(parts))

    def expression(self, text: str, pos: Pos, quoted: bool, want: str | None) -> ex.Node | None:
        off = 1 if quoted else 0
        try:
            node = ex.parse(text)
            typ = ex.check(node, self.scope)
        except ex.ExprError as e:
            self.r.error(pos.shifted(e.offset + off), e.message, e.hint)
            return None
        for nm in ex.names_in(node):
            self.slot_readers.setdefault(nm.dotted, pos)
        if want is not None and typ not in (want, ex.ANY, ex.NULL) and want != ex.BOOL:
            self.r.error(pos, f"expression gives {typ} but the slot is {want}", "")
            return None
        return node

    # --- states -------------------------------------------------------------------------------

    def resolve(self, target: Any, pos: Pos, prefix: str, what: str) -> str | None:
        if not isinstance(target, str):
            self.r.error(
                pos,
                f"{what} must be a state name, got {_kind_name(target)}",
                "write the name of a state under 'states:'",
            )
            return None
        full = prefix + target
        if full in self.src.states:
            self.refs.setdefault(full, pos)
            return full
        if target in BUILTIN_STATES:
            self.used_builtins.add(target)
            return target
        local = [n[len(prefix) :] for n in self.src.states if n.startswith(prefix) and "." not in n[len(prefix) :]]
        if prefix and target in self.src.states:
            self.r.error(pos, f"state '{target}' is outside this subflow", "leave a subflow with 'return: <label>'")
            return None
        self.r.error(pos, f"unknown target state '{target}' in {what}", did_you_mean(target, local, "state"))
        return None

    def add(self, state: str, inp: str, edges: Iterable[Edge]) -> None:
        self.table[(state, inp)] = tuple(edges)

    def compile_states(self) -> None:
        for full, e in self.src.states.items():
            st = self.want_map(e.value, e.vpos, f"state '{full}'")
            if st is None:
                continue
            self.compile_state(full, e, st)

    def state_kind(self, full: str, st: YMap, pos: Pos) -> str:
        mains = [k for k in MAIN_KEYS if k in st]
        if len(mains) > 1:
            self.r.error(
                st.kpos(mains[1]),
                f"state '{full}' has both '{mains[0]}' and '{mains[1]}'",
                "a state does one thing; split it into two states",
            )
        if mains:
            return mains[0]
        if "set" in st and "say" not in st:
            return "set"
        return "say"

    def compile_state(self, full: str, e: _Entry, st: YMap) -> None:
        prefix = e.prefix
        kind = self.state_kind(full, st, e.pos)
        allowed = KIND_KEYS.get(kind if kind != "set" else "say", ())
        other = {
            k: f"'{k}' belongs in {' or '.join(kk + ' states' for kk, ks in KIND_KEYS.items() if k in ks)}"
            for k in ALL_STATE_KEYS
            if k not in allowed and k not in COMMON_STATE_KEYS and k not in MAIN_KEYS
        }
        self.keys(st, (*COMMON_STATE_KEYS, *allowed, *MAIN_KEYS), f"in {kind} state '{full}'", other)
        say: list[Template] = []
        if "say" in st:
            for text, p in self.texts(st["say"], st.vpos("say"), "'say'"):
                say.append(self.template(text, p, st.quoted if p == st.vpos("say") else None, "say"))
        ssml = bool(st.get("ssml", False)) if isinstance(st.get("ssml", False), bool) else False
        if "ssml" in st:
            self.want_bool(st["ssml"], st.vpos("ssml"), "'ssml'")
        barge_in = True
        if "barge_in" in st:
            barge_in = bool(self.want_bool(st["barge_in"], st.vpos("barge_in"), "'barge_in'"))
        elif isinstance(self.defaults.get("barge_in"), bool):
            barge_in = bool(self.defaults["barge_in"])
        assign = self.compile_set(st, full) if "set" in st else ()
        base: dict[str, Any] = {
            "name": full,
            "pos": e.pos,
            "say": tuple(say),
            "ssml": ssml,
            "assign": assign,
            "barge_in": barge_in,
        }
        if kind in ("say", "set"):
            if "next" not in st:
                self.r.error(
                    e.pos,
                    f"dead end: state '{full}' says something but has no 'next'",
                    "add next: <state>, or hangup: <outcome> to end the call here",
                )
                self.states[full] = State(kind="say", **base)
                return
            t = self.resolve(st["next"], st.vpos("next"), prefix, "'next'")
            self.states[full] = State(kind=kind, **base)
            if t:
                self.add(full, "next", [Edge(target=t)])
        elif kind == "hangup":
            outcome, dnc = self.compile_hangup(st)
            self.states[full] = State(kind="hangup", outcome=outcome, do_not_call=dnc, **base)
        elif kind == "transfer":
            uri = self.want_str(st["transfer"], st.vpos("transfer"), "'transfer'", "write a SIP URI")
            tmpl = self.template(uri, st.vpos("transfer"), st.quoted, "transfer") if uri else None
            if uri and not uri.startswith(("sip:", "sips:", "tel:", "{")):
                self.r.error(
                    st.vpos("transfer"),
                    f"transfer target must be a sip:, sips: or tel: URI, got '{uri}'",
                    "e.g. sip:agent@example.com",
                )
            self.states[full] = State(kind="transfer", transfer=tmpl, outcome="transferred", **base)
            if "on_failure" in st:
                t = self.resolve(st["on_failure"], st.vpos("on_failure"), prefix, "'on_failure'")
            else:
                t = "_transfer_failed"
                self.used_builtins.add(t)
            if t:
                self.add(full, "transfer_failed", [Edge(target=t)])
        elif kind == "branch":
            self.states[full] = State(kind="branch", **base)
            self.compile_branch(full, st, prefix)
        elif kind == "webhook":
            spec = self.compile_webhook(st["webhook"], st.vpos("webhook"))
            self.states[full] = State(kind="webhook", webhook=spec, **base)
            if "next" not in st:
                self.r.error(
                    e.pos, f"webhook state '{full}' has no 'next'", "add next: <state> for a successful answer"
                )
            else:
                t = self.resolve(st["next"], st.vpos("next"), prefix, "'next'")
                if t:
                    self.add(full, "webhook_ok", [Edge(target=t)])
            if "on_error" in st:
                t2 = self.resolve(st["on_error"], st.vpos("on_error"), prefix, "'on_error'")
            else:
                self.r.warning(
                    e.pos,
                    f"webhook state '{full}' has no 'on_error'",
                    "add on_error: <state>; without it a failed request ends the call with outcome 'error'",
                )
                t2 = "_error"
                self.used_builtins.add(t2)
            if t2:
                self.add(full, "webhook_error", [Edge(target=t2)])
        elif kind == "subflow":
            first = self.src.sub_start.get(full)
            self.states[full] = State(kind="say", **base)
            if first is not None:
                if first not in self.src.states:
                    self.r.error(
                        self.refs.get(first, e.pos),
                        f"subflow start state '{first[len(full) + 1 :]}' is not defined in the subflow",
                        "add that state to the subflow's states, or fix its 'start'",
                    )
                else:
                    self.add(full, "next", [Edge(target=first)])
                sub = self.src.subs[full + "."]
                if "on" in st:
                    on = self.want_map(st["on"], st.vpos("on"), "'on'")
                    for label, tgt in (on or {}).items():
                        assert on is not None
                        t = self.resolve(tgt, on.vpos(label), prefix, f"'on.{label}'")
                        if t:
                            sub.returns[label] = t
                if "next" in st:
                    sub.default_return = self.resolve(st["next"], st.vpos("next"), prefix, "'next'")
                if "on" not in st and "next" not in st:
                    self.r.error(
                        e.pos,
                        f"subflow state '{full}' has no 'next' or 'on'",
                        "say where the call goes when the subflow returns",
                    )
        elif kind == "return":
            label = st["return"]
            rsub = self.src.subs.get(prefix)
            self.states[full] = State(kind="say", **base)
            if rsub is None:
                self.r.error(
                    st.kpos("return"),
                    "'return' is only allowed in a subflow",
                    "use hangup: <outcome> or next: <state> here",
                )
                return
            if not isinstance(label, str):
                self.r.error(st.vpos("return"), "'return' needs a label, e.g. return: done")
                return
            self.pending_returns.append((full, label, st.vpos("return"), rsub))
        elif kind == "ask":
            self.compile_ask(full, e, st, base)

    pending_returns: list[tuple[str, str, Pos, _Sub]]
    defaults: YMap

    def finish_returns(self) -> None:
        for full, label, pos, sub in self.pending_returns:
            t = sub.returns.get(label, sub.default_return)
            if t is None:
                self.r.error(
                    pos,
                    f"return label '{label}' is not handled by the state that uses this subflow",
                    f"add on: {{{label}: <state>}} or next: <state> there ({sub.pos})",
                )
                continue
            self.add(full, "next", [Edge(target=t)])

    def compile_hangup(self, st: YMap) -> tuple[str, bool]:
        v = st["hangup"]
        outcome, dnc, pos = "completed", False, st.vpos("hangup")
        if isinstance(v, YMap):
            self.keys(v, ("outcome", "do_not_call"), "in 'hangup'")
            outcome = v.get("outcome", "completed")
            pos = v.vpos("outcome")
            if "do_not_call" in v:
                dnc = bool(self.want_bool(v["do_not_call"], v.vpos("do_not_call"), "'do_not_call'"))
        elif isinstance(v, str):
            outcome = v
        elif v is None or v is True:
            outcome = "completed"
        else:
            self.r.error(pos, f"'hangup' must be an outcome name, got {_kind_name(v)}", "e.g. hangup: confirmed")
        if not isinstance(outcome, str) or not OUTCOME_RE.match(outcome):
            self.r.error(pos, f"bad outcome name {outcome!r}", "use lower-case letters, digits and '_', e.g. confirmed")
            outcome = "completed"
        return outcome, dnc

    def compile_set(self, st: YMap, full: str) -> tuple[Assignment, ...]:
        m = self.want_map(st["set"], st.vpos("set"), "'set'")
        out: list[Assignment] = []
        for name, v in (m or {}).items():
            assert m is not None
            slot = self.slots.get(name)
            if slot is None:
                self.r.error(m.kpos(name), f"unknown slot '{name}' in 'set'", did_you_mean(name, self.slots, "slot"))
                continue
            self.slot_writers.add(name)
            if isinstance(v, str) and v.startswith("="):
                node = self.expression(v[1:], m.vpos(name).shifted(1), name in m.quoted, None)
                if node is not None:
                    try:
                        typ = ex.check(node, self.scope)
                    except ex.ExprError:
                        continue
                    want = EXPR_TYPE[slot.type]
                    if typ not in (want, ex.ANY, ex.NULL):
                        self.r.error(m.vpos(name), f"slot '{name}' is {slot.type} but the expression gives {typ}", "")
                        continue
                    out.append(Assignment(slot=name, expr=node))
                continue
            try:
                value = coerce(slot, v, dt.date(2000, 1, 1))
            except ValueError as exc:
                self.r.error(
                    m.vpos(name),
                    f"slot '{name}': {exc}",
                    "start with '=' to compute a value, e.g. tries: \"= tries + 1\"",
                )
                continue
            out.append(Assignment(slot=name, expr=None, literal=value))
        return tuple(out)

    def compile_branch(self, full: str, st: YMap, prefix: str) -> None:
        items = st["branch"]
        if not isinstance(items, YList) or not items:
            self.r.error(
                st.vpos("branch"),
                "'branch' must be a list of '- if: <condition>' items",
                "end it with '- else: <state>'",
            )
            return
        edges: list[Edge] = []
        has_else = False
        for i, item in enumerate(items):
            ipos = items.ipos(i)
            if not isinstance(item, YMap):
                self.r.error(ipos, "branch items must be mappings: '- if: <condition>' with 'goto: <state>'")
                continue
            if has_else:
                self.r.error(ipos, "branch item after 'else' is never used", "move 'else' to the end")
            if "else" in item:
                self.keys(item, ("else",), "in a branch 'else' item")
                t = self.resolve(item["else"], item.vpos("else"), prefix, "'else'")
                if t:
                    edges.append(Edge(target=t))
                has_else = True
                continue
            self.keys(item, ("if", "goto"), "in a branch item")
            if "if" not in item:
                self.r.error(
                    ipos, "branch item has no 'if'", "write - if: <condition> / goto: <state>, or - else: <state>"
                )
                continue
            if "goto" not in item:
                self.r.error(item.kpos("if"), "branch item has no 'goto'", "add goto: <state> under 'if'")
                continue
            cond = item["if"]
            if isinstance(cond, bool):
                cond = "true" if cond else "false"
            if not isinstance(cond, str):
                self.r.error(item.vpos("if"), f"condition must be text, got {_kind_name(cond)}")
                continue
            node = self.expression(cond, item.vpos("if"), "if" in item.quoted, None)
            t = self.resolve(item["goto"], item.vpos("goto"), prefix, "'goto'")
            if node is not None and t:
                edges.append(Edge(target=t, guard=node, guard_source=cond))
        if not has_else:
            self.r.error(
                st.vpos("branch"),
                f"branch in state '{full}' has no 'else'",
                "add '- else: <state>' as the last item so every call goes somewhere",
            )
        self.add(full, "branch", edges)

    def compile_webhook(self, v: Any, pos: Pos) -> WebhookSpec | None:
        m = self.want_map(v, pos, "'webhook'")
        if m is None:
            return None
        self.keys(m, WEBHOOK_KEYS, "in 'webhook'")
        url = self.want_str(
            m.get("url"), m.vpos("url") if "url" in m else m.pos, "'webhook.url'", "write url: https://..."
        )
        if url is None:
            return None
        if not url.startswith(("http://", "https://", "{")):
            self.r.error(
                m.vpos("url"),
                f"webhook url must start with http:// or https://, got '{url}'",
                "e.g. url: https://crm.example.com/api/calls",
            )
        url_t = self.template(url, m.vpos("url"), m.quoted, "url")
        method = str(m.get("method", "POST")).upper()
        if method not in ("GET", "POST", "PUT", "PATCH", "DELETE"):
            self.r.error(m.vpos("method"), f"unknown HTTP method '{method}'", "use GET, POST, PUT, PATCH or DELETE")
        headers: list[tuple[str, Template]] = []
        if "headers" in m:
            hm = self.want_map(m["headers"], m.vpos("headers"), "'headers'")
            for k, hv in (hm or {}).items():
                assert hm is not None
                text = self.want_str(str(hv) if isinstance(hv, int | float) else hv, hm.vpos(k), f"header '{k}'")
                if text is not None:
                    headers.append((k, self.template(text, hm.vpos(k), hm.quoted, k)))
        body: list[tuple[str, Template | ex.Node]] | None = None
        if "body" in m:
            bm = self.want_map(m["body"], m.vpos("body"), "'body'")
            body = []
            for k, bv in (bm or {}).items():
                assert bm is not None
                if isinstance(bv, str) and bv.startswith("="):
                    node = self.expression(bv[1:], bm.vpos(k).shifted(1), k in bm.quoted, None)
                    if node is not None:
                        body.append((k, node))
                elif isinstance(bv, str):
                    body.append((k, self.template(bv, bm.vpos(k), bm.quoted, k)))
                elif isinstance(bv, bool | int | float) or bv is None:
                    body.append((k, ex.Lit(0, bv)))
                else:
                    self.r.error(bm.vpos(k), f"body value '{k}' must be text, a number, true/false or '= expression'")
        timeout = 5.0
        if "timeout" in m:
            timeout = self.want_number(m["timeout"], m.vpos("timeout"), "'webhook.timeout'", 0.1, 60) or 5.0
        save: list[tuple[str, str]] = []
        if "save" in m:
            sm = self.want_map(m["save"], m.vpos("save"), "'save'")
            for k, path in (sm or {}).items():
                assert sm is not None
                if k not in self.slots:
                    self.r.error(sm.kpos(k), f"unknown slot '{k}' in 'save'", did_you_mean(k, self.slots, "slot"))
                    continue
                p = self.want_str(
                    path, sm.vpos(k), f"'save.{k}'", "write the field of the JSON answer, e.g. data.balance"
                )
                if p:
                    save.append((k, p))
                    self.slot_writers.add(k)
        return WebhookSpec(
            url=url_t,
            method=method,
            headers=tuple(headers),
            body=tuple(body) if body is not None else None,
            timeout_s=timeout,
            save=tuple(save),
        )

    def limit(self, st: YMap, key: str, full: str, prefix: str) -> tuple[int, str, tuple[Template, ...]]:
        builtin_end = "_no_input_end" if key == "no_input" else "_no_match_end"
        d = self.defaults.get(key)
        lim, target = DEFAULT_LIMIT, builtin_end
        say: tuple[Template, ...] = ()
        for m in (d, st.get(key)):
            if m is None:
                continue
            src = st if m is st.get(key) else self.defaults
            if not isinstance(m, YMap):
                self.r.error(src.vpos(key), f"'{key}' must be a mapping with limit/goto/say")
                continue
            self.keys(m, LIMIT_KEYS, f"in '{key}'")
            if "limit" in m:
                lim = int(self.want_number(m["limit"], m.vpos("limit"), f"'{key}.limit'", 1, 20) or DEFAULT_LIMIT)
            if "goto" in m:
                t = self.resolve(m["goto"], m.vpos("goto"), prefix if src is st else "", f"'{key}.goto'")
                target = t or builtin_end
            if "say" in m:
                say = tuple(
                    self.template(t, p, m.quoted if p == m.vpos("say") else None, "say")
                    for t, p in self.texts(m["say"], m.vpos("say"), f"'{key}.say'")
                )
        if target == builtin_end:
            self.used_builtins.add(builtin_end)
        return lim, target, say

    def compile_ask(self, full: str, e: _Entry, st: YMap, base: dict[str, Any]) -> None:
        prefix = e.prefix
        prompt = []
        for text, p in self.texts(st["ask"], st.vpos("ask"), "'ask'"):
            prompt.append(self.template(text, p, st.quoted if p == st.vpos("ask") else None, "ask"))
        reprompt: list[Template] = []
        if "reprompt" in st:
            for text, p in self.texts(st["reprompt"], st.vpos("reprompt"), "'reprompt'"):
                reprompt.append(self.template(text, p, st.quoted if p == st.vpos("reprompt") else None, "reprompt"))
        slot: Slot | None = None
        if "slot" in st:
            sname = st["slot"]
            if not isinstance(sname, str) or sname not in self.slots:
                self.r.error(st.vpos("slot"), f"unknown slot '{sname}'", did_you_mean(str(sname), self.slots, "slot"))
            else:
                slot = self.slots[sname]
                self.slot_writers.add(sname)
        timeout = DEFAULT_TIMEOUT
        if isinstance(self.defaults.get("timeout"), int | float):
            timeout = float(self.defaults["timeout"])
        if "timeout" in st:
            timeout = self.want_number(st["timeout"], st.vpos("timeout"), "'timeout'", 0.5, 120) or timeout
            if 0.5 <= timeout < 2:
                self.r.warning(
                    st.vpos("timeout"),
                    f"timeout of {timeout:g} s is very short",
                    "callers usually need 3 to 8 seconds to answer",
                )
        local: dict[str, str] = {}  # intent -> target
        on_pos: dict[str, Pos] = {}
        enum_names = slot.value_names if slot is not None and slot.type == "enum" else ()
        if "on" in st:
            on = self.want_map(st["on"], st.vpos("on"), "'on'")
            for intent, tgt in (on or {}).items():
                assert on is not None
                if intent not in self.intent_phrases and intent not in enum_names:
                    known = list(self.intent_phrases) + list(enum_names)
                    self.r.error(
                        on.kpos(intent),
                        f"unknown intent '{intent}' in 'on'",
                        did_you_mean(intent, known, "intent") + " (define it under 'intents:')"
                        if not did_you_mean(intent, known).startswith("did")
                        else did_you_mean(intent, known),
                    )
                    continue
                t = self.resolve(tgt, on.vpos(intent), prefix, f"'on.{intent}'")
                if t:
                    local[intent] = t
                    on_pos[intent] = on.kpos(intent)
        filled: str | None = None
        if "next" in st:
            filled = self.resolve(st["next"], st.vpos("next"), prefix, "'next'")
        if slot is not None and slot.type in ("number", "digits", "date", "text") and "next" not in st:
            self.r.error(
                e.pos,
                f"state '{full}' fills slot '{slot.name}' but has no 'next'",
                "add next: <state> for when the slot is filled",
            )
        if slot is None and not local and "next" not in st:
            self.r.error(
                e.pos,
                f"dead end: ask state '{full}' has no 'on' intents, 'slot' or 'next'",
                "add on: {intent: state} or slot: <name> with next: <state>",
            )
        if slot is None and "next" in st and not local:
            self.r.warning(
                st.kpos("next"),
                f"ask state '{full}' has 'next' but no 'slot' or 'on'",
                "every answer goes to 'next'; use a text slot to keep what was said",
            )
        if slot is not None and slot.type == "yesno" and filled is None and not {"yes", "no"} <= set(local):
            missing = sorted({"yes", "no"} - set(local))
            self.r.error(
                st.kpos("slot"),
                f"yes/no slot '{slot.name}' has no way on for: {', '.join(missing)}",
                "add next: <state> or on: {yes: ..., no: ...}",
            )
        if slot is not None and slot.type == "enum" and filled is None:
            missing = [v for v in enum_names if v not in local]
            if missing:
                self.r.error(
                    st.kpos("slot"),
                    f"enum slot '{slot.name}' has no way on for: {', '.join(missing)}",
                    "add next: <state> or an 'on' entry for each value",
                )
        # DTMF
        dtmf: dict[str, str] = {}
        active = set(local) | set(enum_names)
        if slot is not None and slot.type == "yesno":
            active |= {"yes", "no"}
        use_global = True
        if "global" in st:
            use_global = bool(self.want_bool(st["global"], st.vpos("global"), "'global'"))
        globals_here = {k: v for k, v in self.global_targets.items() if v is not None and use_global}
        for intent in active | set(globals_here):
            key = self.intent_dtmf.get(intent)
            if key is not None:
                dtmf[key] = intent
        if "dtmf" in st:
            dm = self.want_map(st["dtmf"], st.vpos("dtmf"), "'dtmf'")
            for key, intent in (dm or {}).items():
                assert dm is not None
                if len(key) != 1 or key not in DTMF_KEYS:
                    self.r.error(dm.kpos(key), f"bad DTMF key '{key}'", 'use one of 0-9, *, #, A-D (quote it: "1")')
                    continue
                if not isinstance(intent, str) or (intent not in active and intent not in globals_here):
                    self.r.error(
                        dm.vpos(key),
                        f"DTMF '{key}' maps to '{intent}', which this state does not handle",
                        did_you_mean(str(intent), sorted(active | set(globals_here)), "intent")
                        + " (a DTMF key maps to an intent of 'on')",
                    )
                    continue
                dtmf[key] = intent
        max_digits = 1
        if slot is not None and slot.type in ("digits", "number"):
            if slot.type == "digits":
                max_digits = slot.max_length or 16
            else:
                max_digits = len(str(int(abs(slot.max)))) if slot.max is not None and slot.max >= 0 else 16
            explicit_map = st.get("dtmf")
            explicit: dict[str, Any] = explicit_map if isinstance(explicit_map, YMap) else {}
            clash = [k for k in explicit if k.isdigit()]
            if clash:
                self.r.error(
                    st.vpos("dtmf"),
                    f"DTMF key '{clash[0]}' is mapped to an intent but slot '{slot.name}' takes keyed digits",
                    "map only * or # in this state",
                )
            # keyed digits fill the slot here, so intents keyed on digits (e.g. agent on 0) step aside
            dtmf = {k: v for k, v in dtmf.items() if not k.isdigit()}
        # limits
        ni_lim, ni_t, ni_say = self.limit(st, "no_input", full, prefix)
        nm_lim, nm_t, nm_say = self.limit(st, "no_match", full, prefix)
        # intents and grammar
        intents: list[tuple[str, tuple[str, ...]]] = []
        for name in sorted(active):
            if name in enum_names and slot is not None:
                intents.append((name, dict(slot.values)[name]))
            else:
                intents.append((name, self.intent_phrases.get(name, ())))
        for name in globals_here:
            if name not in active:
                intents.append((name, self.intent_phrases.get(name, ())))
        if slot is not None and slot.type == "yesno":
            pass
        iset = IntentSet.build(intents, local=active, threshold=self.meta.match_threshold, synonyms=self.src.synonyms)
        grammar: tuple[str, ...] | None = None
        if self.meta.asr_mode == "grammar" and not (slot is not None and slot.type == "text"):
            words: list[str] = []
            for _, ps in intents:
                words.extend(ps)
            if slot is not None:
                words.extend(grammar_words(slot.type, self.language))
            if "grammar" in st:
                words.extend(t for t, _ in self.texts(st["grammar"], st.vpos("grammar"), "'grammar'"))
            grammar = tuple(dict.fromkeys(w.lower() for w in words))
        elif "grammar" in st:
            self.r.warning(
                st.kpos("grammar"),
                "'grammar' is ignored: this state takes free speech",
                "remove it, or set asr: grammar",
            )
        if not reprompt and nm_lim > 1:
            self.r.warning(
                st.kpos("ask"),
                f"ask state '{full}' has no 'reprompt'",
                "add a shorter reprompt that says what the caller can answer",
            )
        self.states[full] = State(
            kind="ask",
            slot=slot.name if slot else None,
            intents=iset,
            grammar=grammar,
            dtmf=tuple(sorted(dtmf.items())),
            max_digits=max_digits,
            timeout_s=timeout,
            reprompt=tuple(reprompt),
            no_input_say=ni_say,
            no_match_say=nm_say,
            no_input_limit=ni_lim,
            no_match_limit=nm_lim,
            **{**base, "say": (*base["say"], *prompt)},
        )
        for intent, t in local.items():
            self.add(full, f"intent:{intent}", [Edge(target=t)])
        for intent, t in globals_here.items():
            if intent in local:
                continue
            if t == "repeat":
                self.add(full, f"intent:{intent}", [Edge(target=full, repeat=True)])
            else:
                if t in BUILTIN_STATES:
                    self.used_builtins.add(t)
                    target = t
                else:
                    target = self.resolve(t, self.pending_global_pos.get(intent, e.pos), "", f"'global.{intent}'") or ""
                if target:
                    self.add(full, f"intent:{intent}", [Edge(target=target)])
        if filled:
            self.add(full, "filled", [Edge(target=filled)])
        self.add(full, "no_input", [Edge(target=full)])
        self.add(full, "no_match", [Edge(target=full)])
        self.add(full, "max_turns", [Edge(target="_max_turns")])
        self.add(full, "no_input_limit", [Edge(target=ni_t)])
        self.add(full, "no_match_limit", [Edge(target=nm_t)])

    def builtin_states(self) -> None:
        self.used_builtins.add("_max_turns")
        pending = set(self.used_builtins)
        while pending:
            name = pending.pop()
            if name in self.states:
                continue
            prompt_key, outcome = BUILTIN_STATES[name]
            text = self.prompts.get(prompt_key, lang.BUILTIN_PROMPTS[prompt_key][self.language])
            say = (self.template(text, Pos(file=self.shown, line=1, col=1)),)
            pos = Pos(file=self.shown, line=1, col=1)
            if name == "_agent":
                uri = self.meta.agent or "sip:agent@invalid"
                self.states[name] = State(
                    name=name,
                    kind="transfer",
                    pos=pos,
                    say=say,
                    builtin=True,
                    transfer=Template(source=uri, parts=((False, uri),)),
                    outcome="transferred",
                )
                self.add(name, "transfer_failed", [Edge(target="_transfer_failed")])
                pending.add("_transfer_failed")
                self.used_builtins.add("_transfer_failed")
            else:
                self.states[name] = State(
                    name=name,
                    kind="hangup",
                    pos=pos,
                    say=say,
                    builtin=True,
                    outcome=outcome,
                    do_not_call=name == "_opt_out",
                )

    # --- graph checks ------------------------------------------------------------------------

    def check_graph(self, start: str) -> None:
        succ: dict[str, set[str]] = {s: set() for s in self.states}
        for (s, _), edges in self.table.items():
            for ed in edges:
                if ed.target in succ:
                    succ.setdefault(s, set()).add(ed.target)
        seen = {start}
        stack = [start]
        while stack:
            s = stack.pop()
            for t in succ.get(s, ()):
                if t not in seen:
                    seen.add(t)
                    stack.append(t)
        for name, st in self.states.items():
            if name not in seen and not st.builtin:
                self.r.error(
                    st.pos,
                    f"unreachable state '{name}': no transition leads here",
                    "point a 'next', 'on' or 'goto' at it, or delete it",
                )
        # states that can reach a terminal
        pred: dict[str, set[str]] = {s: set() for s in self.states}
        for s, ts in succ.items():
            for t in ts:
                if self.states[t].builtin:
                    continue  # global intents and limits always end a call; the author's paths must too
                pred.setdefault(t, set()).add(s)
        good = {s for s, st in self.states.items() if st.terminal and not st.builtin}
        stack = list(good)
        while stack:
            s = stack.pop()
            for p in pred.get(s, ()):
                if p not in good:
                    good.add(p)
                    stack.append(p)
        for name, st in self.states.items():
            if name in seen and name not in good and not st.builtin and succ.get(name):
                self.r.error(
                    st.pos,
                    f"state '{name}' has no path to a hangup or transfer",
                    "the call could never end from here; add a way to a state with hangup: <outcome>",
                )
        # loops of states that never wait
        auto = {s for s, st in self.states.items() if st.kind in ("say", "set", "branch")}
        color: dict[str, int] = {}
        reported: set[str] = set()

        def visit(s: str, path: list[str]) -> None:
            color[s] = 1
            path.append(s)
            for t in sorted(succ.get(s, ())):
                if t not in auto:
                    continue
                if color.get(t) == 1:
                    loop = path[path.index(t) :]
                    if not reported & set(loop):
                        reported.update(loop)
                        st = self.states[t]
                        self.r.error(
                            st.pos,
                            "loop that never waits for the caller: " + " -> ".join([*loop, t]),
                            "put an ask state in the loop or leave it",
                        )
                elif t not in color:
                    visit(t, path)
            path.pop()
            color[s] = 2

        for s in sorted(auto):
            if s not in color:
                visit(s, [])

    def warn_slots(self) -> None:
        for name, slot in self.slots.items():
            if name not in self.slot_writers and name not in self.slot_readers and slot.pos is not None:
                self.r.warning(slot.pos, f"slot '{name}' is never used", "remove it, or use it in a prompt or branch")

    # --- scripts --------------------------------------------------------------------------------

    def compile_scripts(self, doc: YMap) -> tuple[Script, ...]:
        items: list[tuple[Any, Pos]] = []
        if "tests" in doc:
            if isinstance(doc["tests"], YList):
                items.extend((t, doc["tests"].ipos(i)) for i, t in enumerate(doc["tests"]))
            else:
                self.r.error(doc.vpos("tests"), "'tests' must be a list of conversation scripts")
        sibling = self.path.with_name(self.path.stem + ".tests.yaml")
        if sibling.exists():
            sdoc = load_file(sibling, self.r, self.show(sibling))
            self.src.files.append(self.show(sibling))
            lst = sdoc.get("tests") if isinstance(sdoc, YMap) else sdoc
            if isinstance(lst, YList):
                items.extend((t, lst.ipos(i)) for i, t in enumerate(lst))
            elif sdoc is not None:
                self.r.error(
                    Pos(file=self.show(sibling), line=1, col=1), "a tests file holds 'tests:' with a list of scripts"
                )
        out: list[Script] = []
        names: set[str] = set()
        for i, (t, pos) in enumerate(items):
            if not isinstance(t, YMap):
                self.r.error(pos, "a conversation script must be a mapping with name/turns/expect")
                continue
            self.keys(t, SCRIPT_KEYS, "in a conversation script")
            name = t.get("name", f"script {i + 1}")
            if not isinstance(name, str | int | float) or isinstance(name, bool):
                self.r.error(t.vpos("name"), "a script's name must be text")
                name = f"script {i + 1}"
            name = str(name)
            if name in names:
                self.r.error(t.vpos("name"), f"duplicate script name '{name}'", "give every script its own name")
            names.add(str(name))
            ctx = t.get("context", YMap(t.pos))
            if not isinstance(ctx, YMap):
                self.r.error(t.vpos("context"), "'context' must be a mapping of slot: value")
                ctx = YMap(t.pos)
            for k, v in ctx.items():
                if k not in self.slots:
                    self.r.error(
                        ctx.kpos(k), f"unknown slot '{k}' in script context", did_you_mean(k, self.slots, "slot")
                    )
                else:
                    try:
                        coerce(self.slots[k], v, dt.date(2000, 1, 1))
                    except ValueError as exc:
                        self.r.error(ctx.vpos(k), f"context '{k}': {exc}")
            profile = t.get("profile")
            if profile is not None:
                if not isinstance(profile, YMap):
                    self.r.error(
                        t.vpos("profile"), "'profile' must be a mapping", "e.g. profile: {last_outcome: no_input}"
                    )
                    profile = None
                else:
                    self.keys(profile, PROFILE_KEYS, "in a script profile")
                    if "calls" in profile:
                        self.want_number(profile["calls"], profile.vpos("calls"), "'calls'", 0, 1e6)
                    if "do_not_call" in profile:
                        self.want_bool(profile["do_not_call"], profile.vpos("do_not_call"), "'do_not_call'")
                    if "last_outcome" in profile and not isinstance(profile["last_outcome"], str):
                        self.r.error(profile.vpos("last_outcome"), "'last_outcome' must be an outcome name")
            today = None
            if "today" in t:
                try:
                    today = dt.date.fromisoformat(str(t["today"]))
                except ValueError:
                    self.r.error(t.vpos("today"), f"bad date {t['today']!r}", "write YYYY-MM-DD")
            turns = t.get("turns", YList(t.pos))
            if not isinstance(turns, YList):
                self.r.error(t.vpos("turns"), "'turns' must be a list")
                turns = YList(t.pos)
            for j, turn in enumerate(turns):
                tp = turns.ipos(j)
                if isinstance(turn, str):
                    continue
                if not isinstance(turn, YMap):
                    self.r.error(tp, "a turn is text (what the caller says) or a mapping")
                    continue
                self.keys(turn, (*TURN_INPUT_KEYS, *TURN_CHECK_KEYS), "in a script turn")
                inputs = [k for k in ("caller", "dtmf", "silence", "hangup", "transfer_fails") if k in turn]
                if len(inputs) > 1:
                    self.r.error(
                        turn.kpos(inputs[1]),
                        f"a turn has one input, this one has {' and '.join(inputs)}",
                        "split it into two turns",
                    )
                self.check_expectations(turn)
            expect = t.get("expect", YMap(t.pos))
            if not isinstance(expect, YMap):
                self.r.error(t.vpos("expect"), "'expect' must be a mapping")
                expect = YMap(t.pos)
            else:
                self.keys(expect, EXPECT_KEYS, "in 'expect'")
                self.check_expectations(expect)
            hooks = t.get("webhooks", YMap(t.pos))
            if not isinstance(hooks, YMap):
                self.r.error(t.vpos("webhooks"), "'webhooks' maps a webhook state to {ok, data}")
                hooks = YMap(t.pos)
            for k, spec in hooks.items():
                if not isinstance(spec, YMap):
                    self.r.error(
                        hooks.vpos(k),
                        f"webhook answer for '{k}' must be a mapping",
                        "e.g. {ok: true, data: {balance: 10}}",
                    )
                else:
                    self.keys(spec, ("ok", "data", "status"), "in a scripted webhook answer")
                    if "ok" in spec:
                        self.want_bool(spec["ok"], spec.vpos("ok"), "'ok'")
                    if "data" in spec and not isinstance(spec["data"], YMap):
                        self.r.error(spec.vpos("data"), "'data' must be a mapping (the JSON object answered)")
                    if "status" in spec:
                        self.want_number(spec["status"], spec.vpos("status"), "'status'", 100, 599)
                if k not in self.states or self.states[k].kind != "webhook":
                    self.r.error(
                        hooks.kpos(k),
                        f"'{k}' is not a webhook state",
                        did_you_mean(k, [s for s, st in self.states.items() if st.kind == "webhook"], "webhook state"),
                    )
            out.append(
                Script(
                    name=str(name),
                    context=_plain(ctx),
                    today=today,
                    turns=tuple(_plain(x) if isinstance(x, dict) else {"caller": x} for x in turns),
                    expect=_plain(expect),
                    webhooks=_plain(hooks),
                    pos=pos,
                    turn_pos=tuple(turns.ipos(j) for j in range(len(turns))),
                    profile=_plain(profile) if profile is not None else None,
                )
            )
        return tuple(out)

    def check_expectations(self, m: YMap) -> None:
        for k in ("silence", "hangup", "transfer_fails", "ended", "do_not_call"):
            if k in m:
                self.want_bool(m[k], m.vpos(k), f"'{k}'")
        if "says" in m:
            self.texts(m["says"], m.vpos("says"), "'says'")
        for k in ("caller", "outcome"):
            if k in m and (not isinstance(m[k], str | int | float) or isinstance(m[k], bool)):
                self.r.error(m.vpos(k), f"'{k}' must be text, got {_kind_name(m[k])}")
        if "confidence" in m:
            self.want_number(m["confidence"], m.vpos("confidence"), "'confidence'", 0, 1)
        if "dtmf" in m:
            keys = str(m["dtmf"]) if isinstance(m["dtmf"], int) and not isinstance(m["dtmf"], bool) else m["dtmf"]
            if not isinstance(keys, str) or not keys or any(c not in DTMF_KEYS for c in keys):
                self.r.error(
                    m.vpos("dtmf"), f"bad DTMF keys {m['dtmf']!r}", 'write keys 0-9 * # A-D in quotes, e.g. dtmf: "12#"'
                )
        if "state" in m and (not isinstance(m["state"], str) or m["state"] not in self.states):
            self.r.error(
                m.vpos("state"),
                f"unknown state '{m['state']}' in script",
                did_you_mean(str(m["state"]), self.states, "state"),
            )
        if "slots" in m:
            sm = m["slots"]
            if not isinstance(sm, YMap):
                self.r.error(m.vpos("slots"), "'slots' must be a mapping of slot: value")
            else:
                for k in sm:
                    if k not in self.slots:
                        self.r.error(sm.kpos(k), f"unknown slot '{k}' in script", did_you_mean(k, self.slots, "slot"))

    # --- driver -----------------------------------------------------------------------------------

    def run(self) -> Compiled | None:
        self.pending_global_pos = {}
        self.pending_returns = []
        self.defaults = YMap(Pos(file=self.shown, line=1, col=1))
        doc = load_file(self.path, self.r, self.shown)
        if doc is None:
            if not self.r.has_errors:
                self.r.error(
                    Pos(file=self.shown, line=1, col=1),
                    "empty flow file",
                    "start with flow: <name>, start: <state> and states:",
                )
            return None
        if not isinstance(doc, YMap):
            self.r.error(
                Pos(file=self.shown, line=1, col=1),
                "a flow file must be a mapping",
                "start with flow: <name>, start: <state> and states:",
            )
            return None
        self.src.files.append(self.shown)
        self.keys(doc, TOP_KEYS, "at the top level")
        self.meta = self.compile_meta(doc)
        if "defaults" in doc:
            d = self.want_map(doc["defaults"], doc.vpos("defaults"), "'defaults'")
            if d is not None:
                self.keys(d, DEFAULT_KEYS, "in 'defaults'")
                self.defaults = d
                if "timeout" in d:
                    self.want_number(d["timeout"], d.vpos("timeout"), "'defaults.timeout'", 0.5, 120)
        self.collect(doc, self.path.resolve(), "", (self.path.resolve(),), include_only=False)
        self.compile_slots()
        self.compile_intents()
        self.compile_globals(doc)
        if "states" not in doc:
            self.r.error(doc.pos, "missing 'states:'", "add states: with at least one state")
            return None
        self.compile_states()
        self.finish_returns()
        start = doc.get("start")
        if start is None:
            self.r.error(
                doc.pos,
                "missing 'start: <state>'",
                "name the first state" + (f", e.g. start: {next(iter(self.src.states))}" if self.src.states else ""),
            )
            return None
        start_name = self.resolve(start, doc.vpos("start"), "", "'start'")
        for k, t in self.global_targets.items():
            if t is not None and t != "repeat" and t not in BUILTIN_STATES and t not in self.src.states:
                self.r.error(
                    self.pending_global_pos.get(k, doc.pos),
                    f"unknown target state '{t}' in 'global.{k}'",
                    did_you_mean(t, self.src.states, "state"),
                )
        self.builtin_states()
        if start_name is None:
            return None
        self.check_graph(start_name)
        self.warn_slots()
        scripts = self.compile_scripts(doc)
        if self.r.has_errors:
            return None
        return Compiled(
            meta=self.meta,
            start=start_name,
            slots=FrozenDict(dict(self.slots)),
            states=FrozenDict(dict(self.states)),
            table=FrozenDict(dict(self.table)),
            scripts=scripts,
            intent_phrases=FrozenDict(dict(self.intent_phrases)),
            context_slots=tuple(
                sorted(
                    n
                    for n in self.slot_readers
                    if n in self.slots and n not in self.slot_writers and self.slots[n].default is None
                )
            ),
            files=tuple(dict.fromkeys(self.src.files)),
        )


def _plain(v: Any) -> Any:
    if isinstance(v, dict):
        return {k: _plain(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_plain(x) for x in v]
    return v


def coerce(slot: Slot, value: Any, today: dt.date) -> Any:
    """Convert a value from YAML, a context or a webhook answer to the slot's type."""
    if value is None:
        return None
    t = slot.type
    if t == "yesno":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false", "yes", "no"):
            return value.lower() in ("true", "yes")
        raise ValueError(f"expected true or false, got {value!r}")
    if t == "number":
        if isinstance(value, bool):
            raise ValueError(f"expected a number, got {value!r}")
        if isinstance(value, int | float):
            v: float | int = value
        else:
            try:
                v = int(str(value)) if re.fullmatch(r"-?\d+", str(value).strip()) else float(str(value))
            except ValueError:
                raise ValueError(f"expected a number, got {value!r}") from None
        if slot.min is not None and v < slot.min:
            raise ValueError(f"{v} is below the minimum {slot.min:g}")
        if slot.max is not None and v > slot.max:
            raise ValueError(f"{v} is above the maximum {slot.max:g}")
        return v
    if t == "digits":
        s = str(value) if isinstance(value, int | str) and not isinstance(value, bool) else None
        if s is None or not s.isdigit():
            raise ValueError(f"expected digits, got {value!r}")
        if slot.min_length is not None and len(s) < slot.min_length:
            raise ValueError(f"expected at least {slot.min_length} digits, got {len(s)}")
        if slot.max_length is not None and len(s) > slot.max_length:
            raise ValueError(f"expected at most {slot.max_length} digits, got {len(s)}")
        return s
    if t == "date":
        if isinstance(value, dt.datetime):
            return value.date()
        if isinstance(value, dt.date):
            return value
        try:
            return dt.date.fromisoformat(str(value))
        except ValueError:
            raise ValueError(f"expected a date as YYYY-MM-DD, got {value!r}") from None
    if t == "enum":
        s = str(value)
        if s not in slot.value_names:
            close = did_you_mean(s, slot.value_names)
            raise ValueError(f"'{s}' is not one of {', '.join(slot.value_names)} ({close})")
        return s
    if isinstance(value, dict | list):
        raise ValueError(f"expected text, got {_kind_name(value)}")
    return str(value) if not isinstance(value, bool) else ("true" if value else "false")


def compile_file(path: str | Path) -> tuple[Compiled | None, list[Any]]:
    p = Path(path)
    c = Compiler(p, str(path))
    result = c.run()
    return result, c.r.sorted()
