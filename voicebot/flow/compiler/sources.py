"""Gathering a flow's parts: the file itself, its ``include:`` files and its ``subflow:`` files.

Slots, intents, prompts, synonyms and states are collected into the unit's
:class:`~voicebot.flow.compiler.unit.Source` with their positions, before any of them is
checked. A sub-flow's states are inlined under the name of the state that calls it
(``verify.ask_digits``); include and sub-flow cycles and missing files are reported where
they are named.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from voicebot.flow import lang
from voicebot.flow.compiler.schema import INCLUDE_KEYS, NAME_RE, OUTCOME_RE, SUBFLOW_KEYS
from voicebot.flow.compiler.unit import Entry, Sub, Unit
from voicebot.flow.yamlsrc import YMap, load_file


def rel(base: Path, name: str) -> Path | None:
    """A file named in ``base`` (paths are relative to the file that names them); None when
    ``name`` cannot be a path at all (a NUL byte, a name the system refuses)."""
    if "\x00" in name:
        return None
    try:
        return (base.parent / name).resolve()
    except (OSError, ValueError):
        return None


NOT_A_PATH = "write a path relative to this file"


def missing(p: Path) -> bool:
    """The file is simply not there (other read problems, such as a name too long for the
    system, were already reported by ``load_file`` as they are)."""
    try:
        return not p.exists()
    except OSError:
        return False


def collect(u: Unit, doc: YMap, file_path: Path, prefix: str, stack: tuple[Path, ...], include_only: bool) -> None:
    """Gather slots/intents/states from ``doc`` and its includes and subflows."""
    if "include" in doc:
        incs = u.r.texts(doc["include"], doc.vpos("include"), "include")
        for name, pos in incs:
            p = rel(file_path, name)
            if p is None:
                u.r.error(pos, f"include is not a file path: {name!r}", NOT_A_PATH)
                continue
            if p in stack:
                u.r.error(pos, f"include cycle: '{name}' includes itself", "remove this include")
                continue
            sub = load_file(p, u.r, u.show(p))
            if sub is None:
                if missing(p):
                    u.r.items.pop()
                    u.r.error(pos, f"included file not found: {name}", "paths are relative to this file")
                continue
            if not isinstance(sub, YMap):
                u.r.error(pos, f"included file {name} must be a mapping")
                continue
            u.src.files.append(u.show(p))
            u.r.keys(
                sub,
                (*INCLUDE_KEYS, "include"),
                "in an included file (it may hold slots, intents, synonyms, prompts, states)",
            )
            collect(u, sub, p, prefix, (*stack, p), include_only=True)
    for section, store in (("slots", u.src.slots), ("intents", u.src.intents), ("prompts", u.src.prompts)):
        if section not in doc:
            continue
        m = u.r.want_map(doc[section], doc.vpos(section), f"'{section}'")
        if m is None:
            continue
        for name, value in m.items():
            if section != "prompts" and not NAME_RE.match(name):
                u.r.error(
                    m.kpos(name),
                    f"bad {section[:-1]} name '{name}'",
                    "use letters, digits and '_' and start with a letter",
                )
                continue
            if name in store:
                prev = store[name]
                if section != "intents":
                    if prefix and section == "slots" and _same_slot(prev.value, value):
                        continue  # a subflow may share a slot declared the same way
                    u.r.error(
                        m.kpos(name),
                        f"duplicate {section[:-1]} '{name}' (already defined at {prev.pos.file}:{prev.pos.line})",
                        "rename one of them",
                    )
                    continue
                # intents may be extended by includes/subflows: merge phrases later
                store[f"{name}\0{len(store)}"] = Entry(name, value, m.kpos(name), m.vpos(name), prefix, m)
                continue
            store[name] = Entry(name, value, m.kpos(name), m.vpos(name), prefix, m)
    if "synonyms" in doc:
        m = u.r.want_map(doc["synonyms"], doc.vpos("synonyms"), "'synonyms'")
        if m is not None:
            for canon, alts in m.items():
                if canon in lang.LANGUAGES and isinstance(alts, YMap):
                    # per language: synonyms: {en: {appointment: [booking]}, ko: {...}}
                    if canon != u.language:
                        continue
                    for c2, alts2 in alts.items():
                        for alt, _ in u.r.texts(alts2, alts.vpos(c2), f"synonyms of '{c2}'"):
                            u.src.synonyms.append((alt, c2))
                    continue
                for alt, _ in u.r.texts(alts, m.vpos(canon), f"synonyms of '{canon}'"):
                    u.src.synonyms.append((alt, canon))
    if "states" in doc:
        m = u.r.want_map(doc["states"], doc.vpos("states"), "'states'")
        if m is None:
            return
        for name, value in m.items():
            if not NAME_RE.match(name):
                u.r.error(
                    m.kpos(name), f"bad state name '{name}'", "use letters, digits and '_' and start with a letter"
                )
                continue
            full = prefix + name
            if full in u.src.states:
                prev = u.src.states[full]
                u.r.error(
                    m.kpos(name),
                    f"duplicate state '{name}' (already defined at {prev.pos.file}:{prev.pos.line})",
                    "rename one of them",
                )
                continue
            u.src.states[full] = Entry(full, value, m.kpos(name), m.vpos(name), prefix, m)
            if isinstance(value, YMap) and "subflow" in value:
                load_subflow(u, full, value, file_path, stack)


def load_subflow(u: Unit, state: str, st: YMap, file_path: Path, stack: tuple[Path, ...]) -> None:
    name = u.r.want_str(st["subflow"], st.vpos("subflow"), "'subflow'", "write the path of a flow file")
    if name is None:
        return
    p = rel(file_path, name)
    if p is None:
        u.r.error(st.vpos("subflow"), f"subflow is not a file path: {name!r}", NOT_A_PATH)
        return
    if p in stack or p == u.path.resolve():
        u.r.error(st.vpos("subflow"), f"subflow cycle: '{name}' is already being used", "a subflow cannot use itself")
        return
    sub = load_file(p, u.r, u.show(p))
    if sub is None:
        if missing(p):
            u.r.items.pop()
            u.r.error(st.vpos("subflow"), f"subflow file not found: {name}", "paths are relative to this file")
        return
    if not isinstance(sub, YMap):
        u.r.error(st.vpos("subflow"), f"subflow file {name} must be a mapping")
        return
    u.src.files.append(u.show(p))
    u.r.keys(sub, SUBFLOW_KEYS, "in a subflow file")
    prefix = state + "."
    start = sub.get("start")
    if not isinstance(start, str) or not NAME_RE.match(start):
        u.r.error(
            sub.pos if "start" not in sub else sub.vpos("start"),
            "a subflow needs 'start: <state>'",
            "name the subflow's first state",
        )
        return
    u.src.subs[prefix] = Sub(
        prefix=prefix, returns={}, default_return=None, pos=st.vpos("subflow"), declared=read_returns(u, sub)
    )
    u.src.sub_start[state] = prefix + start
    u.refs[prefix + start] = sub.vpos("start")
    collect(u, sub, p, prefix, (*stack, p), include_only=False)


def _same_slot(a: Any, b: Any) -> bool:
    """Two slot declarations that differ at most in ``required`` and ``description`` (a sub-flow
    may require from its caller what the calling flow fills itself)."""

    def essence(v: Any) -> Any:
        if isinstance(v, dict):
            return {k: x for k, x in v.items() if k not in ("required", "description")}
        return {"type": v}

    return bool(essence(a) == essence(b))


def read_returns(u: Unit, doc: YMap) -> tuple[str, ...] | None:
    """A sub-flow's ``returns:``: the labels its ``return:`` states may give (``None`` if absent).
    A file that declares them is a sub-flow."""
    if "returns" not in doc:
        return None
    labels: list[str] = []
    for label, pos in u.r.texts(doc["returns"], doc.vpos("returns"), "'returns'"):
        if OUTCOME_RE.match(label):
            labels.append(label)
        else:
            u.r.error(pos, f"bad return label '{label}'", "use lower-case letters, digits and '_', e.g. verified")
    return tuple(labels)
