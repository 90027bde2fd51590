"""The order of the sections, from a flow file to a :class:`~voicebot.flow.model.Compiled` flow.

The file, its includes and sub-flows are gathered first; then the flow's settings, slots,
intents and global intents, prompts, states (and the returns of sub-flows), the built-in
states, the graph checks, and last the conversation scripts, which refer to all of it.
"""

from __future__ import annotations

from pathlib import Path

from voicebot.flow.compiler.builtins import builtin_states, compile_confirmation, compile_prompts
from voicebot.flow.compiler.checks import check_graph, check_slots
from voicebot.flow.compiler.intents import check_global_targets, compile_globals, compile_intents
from voicebot.flow.compiler.meta import compile_defaults, compile_meta
from voicebot.flow.compiler.schema import SUBFLOW_KEYS, TOP_KEYS
from voicebot.flow.compiler.scripts import compile_scripts
from voicebot.flow.compiler.slots import compile_slots
from voicebot.flow.compiler.sources import collect, read_returns
from voicebot.flow.compiler.states import compile_states
from voicebot.flow.compiler.subflows import finish_returns
from voicebot.flow.compiler.unit import Unit
from voicebot.flow.compiler.voice import declare_voice_slots
from voicebot.flow.diagnostics import Diagnostic, Pos
from voicebot.flow.model import Compiled, FrozenDict
from voicebot.flow.yamlsrc import YMap, load_file


def compile_file(path: str | Path, *, dtmf_only: bool = False) -> tuple[Compiled | None, list[Diagnostic]]:
    """Compile one flow file: the flow (``None`` when it has errors) and every diagnostic, sorted.
    With ``dtmf_only``, the problems of running it by keypad alone are diagnostics too."""
    u = Unit(Path(path), str(path))
    compiled = run(u)
    if dtmf_only:
        u.r.items.extend(u.keypad.items)
    return compiled, u.r.sorted()


def run(u: Unit) -> Compiled | None:
    """Every section in order; None when the flow has errors (they are in u.r)."""
    doc = load_file(u.path, u.r, u.shown)
    if doc is None:
        if not u.r.has_errors:
            u.r.error(
                Pos(file=u.shown, line=1, col=1),
                "empty flow file",
                "start with flow: <name>, start: <state> and states:",
            )
        return None
    if not isinstance(doc, YMap):
        u.r.error(
            Pos(file=u.shown, line=1, col=1),
            "a flow file must be a mapping",
            "start with flow: <name>, start: <state> and states:",
        )
        return None
    u.src.files.append(u.shown)
    u.standalone_returns = read_returns(u, doc)
    if u.standalone_returns is not None:
        u.r.keys(doc, SUBFLOW_KEYS, "in a subflow file")
    else:
        u.r.keys(doc, TOP_KEYS, "at the top level")
    u.meta = compile_meta(u, doc)
    compile_defaults(u, doc)
    collect(u, doc, u.path.resolve(), "", (u.path.resolve(),), include_only=False)
    compile_slots(u)
    declare_voice_slots(u)
    compile_intents(u)
    compile_globals(u, doc)
    compile_prompts(u)
    if "states" not in doc:
        u.r.error(doc.pos, "missing 'states:'", "add states: with at least one state")
        return None
    compile_states(u)
    finish_returns(u)
    start = doc.get("start")
    if start is None:
        u.r.error(
            doc.pos,
            "missing 'start: <state>'",
            "name the first state" + (f", e.g. start: {next(iter(u.src.states))}" if u.src.states else ""),
        )
        return None
    start_name = u.resolve(start, doc.vpos("start"), "", "'start'")
    check_global_targets(u, doc)
    builtin_states(u)
    if start_name is None:
        return None
    check_graph(u, start_name)
    check_slots(u)
    scripts = compile_scripts(u, doc)
    if u.r.has_errors:
        return None
    return Compiled(
        meta=u.meta,
        start=start_name,
        slots=FrozenDict(dict(u.slots)),
        states=FrozenDict(dict(u.states)),
        table=FrozenDict(dict(u.table)),
        scripts=scripts,
        intent_phrases=FrozenDict(dict(u.intent_phrases)),
        context_slots=tuple(n for n, s in u.slots.items() if s.required),
        confirmation=compile_confirmation(u) if ("unsure" in {i for _, i in u.table}) else None,
        keypad_problems=tuple(u.keypad.sorted()),
        files=tuple(dict.fromkeys(u.src.files)),
    )
