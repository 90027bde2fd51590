"""Checks of the whole graph, once every state is compiled.

Unreachable states, states with no path to a hang-up or transfer (the call could never end
from there), loops of states that never wait for the caller, slots nothing uses, and slots
that are used but that nothing fills.

A way on that names no state is reported where it is written, and only there: a state with
such a way on counts as leading anywhere, so that the states it was meant to reach are not
also reported as unreachable or unable to end the call.
"""

from __future__ import annotations

from voicebot.flow.compiler.unit import Unit


def check_graph(u: Unit, start: str) -> None:
    """Reachability from ``start``, a path to an end from every state, and no silent loops."""
    succ: dict[str, set[str]] = {s: set() for s in u.states}
    for (s, _), edges in u.table.items():
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
    guessing = "" in u.broken or bool(u.broken & seen)  # a broken way on might have led anywhere
    for name, st in u.states.items():
        if name not in seen and not st.builtin and not guessing:
            u.r.error(
                st.pos,
                f"unreachable state '{name}': no transition leads here",
                "point a 'next', 'on' or 'goto' at it, or delete it",
            )
    # states that can reach a terminal
    pred: dict[str, set[str]] = {s: set() for s in u.states}
    for s, ts in succ.items():
        for t in ts:
            if u.states[t].builtin:
                continue  # global intents and limits always end a call; the author's paths must too
            pred.setdefault(t, set()).add(s)
    good = {s for s, st in u.states.items() if st.terminal and not st.builtin} | (u.broken & set(u.states))
    stack = list(good)
    while stack:
        s = stack.pop()
        for p in pred.get(s, ()):
            if p not in good:
                good.add(p)
                stack.append(p)
    for name, st in u.states.items():
        if name in seen and name not in good and not st.builtin and succ.get(name) and "" not in u.broken:
            u.r.error(
                st.pos,
                f"state '{name}' has no path to a hangup or transfer",
                "the call could never end from here; add a way to a state with hangup: <outcome>",
            )
    # loops of states that never wait
    auto = {s for s, st in u.states.items() if st.kind in ("say", "set", "branch")}
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
                    st = u.states[t]
                    u.r.error(
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


def check_slots(u: Unit) -> None:
    """Every slot is used, and every slot used gets a value from somewhere: a state that fills
    it, its default, or the call's context (``required: true``)."""
    for name, slot in u.slots.items():
        if slot.pos is None:
            continue
        read_at = u.slot_readers.get(name)
        if name not in u.slot_writers and read_at is None:
            u.r.warning(slot.pos, f"slot '{name}' is never used", "remove it, or use it in a prompt or branch")
        elif read_at is not None and name not in u.slot_writers and slot.default is None and not slot.required:
            where = f"line {read_at.line}" if read_at.file == slot.pos.file else str(read_at)
            u.r.error(
                slot.pos,
                f"slot '{name}' is used ({where}) but never gets a value: no state fills it and it has no default",
                "add required: true if the call's context gives it (flow.start(context), flow chat --set), "
                "or a default",
            )
