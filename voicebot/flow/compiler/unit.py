"""The compilation in progress: what the sections read from the file and what they build.

A :class:`Unit` is handed from section to section (:mod:`.sources`, :mod:`.meta`,
:mod:`.slots`, :mod:`.intents`, :mod:`.states`, :mod:`.ask`, :mod:`.checks`, :mod:`.scripts`).
It holds the raw entries gathered from the flow and its includes and sub-flows, the compiled
slots, intents, states and table built so far, and the cross-references the graph checks and
warnings need (which slots are read and written, which states are pointed at).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from voicebot.flow import expr as ex
from voicebot.flow.coerce import kind_name
from voicebot.flow.compiler.reader import Reader
from voicebot.flow.compiler.schema import BUILTIN_STATES
from voicebot.flow.diagnostics import Pos, Reporter, did_you_mean
from voicebot.flow.model import Edge, FlowMeta, Slot, State
from voicebot.flow.yamlsrc import YMap


@dataclass(slots=True)
class Entry:
    """A named item (slot, intent, state) and where it was written."""

    name: str
    value: Any
    pos: Pos  # position of its key
    vpos: Pos
    prefix: str = ""  # subflow prefix ("" in the main flow)
    parent: YMap | None = None


@dataclass(slots=True)
class Sub:
    """A subflow inlined under ``prefix``: where its ``return`` states go."""

    prefix: str
    returns: dict[str, str]  # label -> resolved target in the parent
    default_return: str | None
    pos: Pos
    declared: tuple[str, ...] | None = None  # the sub-flow file's 'returns:' (None: not declared)


@dataclass(slots=True)
class Source:
    """Everything gathered from the flow file, its includes and its sub-flows, not yet checked."""

    slots: dict[str, Entry] = field(default_factory=dict)
    intents: dict[str, Entry] = field(default_factory=dict)
    states: dict[str, Entry] = field(default_factory=dict)  # full (prefixed) name -> entry
    prompts: dict[str, Entry] = field(default_factory=dict)
    synonyms: list[tuple[str, str]] = field(default_factory=list)
    subs: dict[str, Sub] = field(default_factory=dict)  # prefix -> subflow
    sub_start: dict[str, str] = field(default_factory=dict)  # calling state -> first sub state
    files: list[str] = field(default_factory=list)


class Unit:
    """One flow file being compiled."""

    meta: FlowMeta  # set by the meta section, before every other section

    def __init__(self, path: Path, shown: str | None = None) -> None:
        self.path = path
        self.shown = shown if shown is not None else str(path)
        self.r = Reader()
        self.keypad = Reporter()  # problems of keypad-only operation, apart from the flow's own
        self.src = Source()
        self.language = "en"
        self.slots: dict[str, Slot] = {}
        self.scope = ex.Scope(types={}, enum_values={})
        self.intent_phrases: dict[str, tuple[str, ...]] = {}
        self.intent_dtmf: dict[str, str] = {}
        self.global_targets: dict[str, str | None] = {}
        self.pending_global_pos: dict[str, Pos] = {}
        self.prompts: dict[str, str] = {}
        self.states: dict[str, State] = {}
        self.table: dict[tuple[str, str], tuple[Edge, ...]] = {}
        self.used_builtins: set[str] = set()
        self.slot_writers: set[str] = set()
        self.slot_readers: dict[str, Pos] = {}
        self.refs: dict[str, Pos] = {}
        self.pending_returns: list[tuple[str, str, Pos, Sub]] = []
        self.standalone_returns: tuple[str, ...] | None = None  # a sub-flow checked on its own: its 'returns:'
        self.compiling = ""  # the state being compiled ("" outside the states section)
        self.broken: set[str] = set()  # states with a way on that names no state ("": outside one)
        self.defaults = YMap(Pos(file=self.shown, line=1, col=1))  # the flow's 'defaults:', if any

    def show(self, p: Path) -> str:
        """A file name as diagnostics print it (relative to the working directory when inside it)."""
        try:
            return str(p.relative_to(Path.cwd()))
        except ValueError:
            return str(p)

    def add(self, state: str, inp: str, edges: Iterable[Edge]) -> None:
        """One entry of the transition table."""
        self.table[(state, inp)] = tuple(edges)

    def resolve(self, target: Any, pos: Pos, prefix: str, what: str) -> str | None:
        """The full name of the state ``target`` names from inside ``prefix`` (a sub-flow's, or "")."""
        if not isinstance(target, str):
            self.r.error(
                pos,
                f"{what} must be a state name, got {kind_name(target)}",
                "write the name of a state under 'states:'",
            )
            self.broken.add(self.compiling)
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
            self.broken.add(self.compiling)
            return None
        self.r.error(pos, f"unknown target state '{target}' in {what}", did_you_mean(target, local, "state"))
        self.broken.add(self.compiling)
        return None
