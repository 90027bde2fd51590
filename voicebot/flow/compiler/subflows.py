"""Sub-flow states (``subflow: FILE``) and the ``return:`` states that leave a sub-flow.

The sub-flow's own states were inlined under the calling state's name by :mod:`.sources`;
here the calling state leads to the sub-flow's start, and each ``return: LABEL`` is joined to
the caller's ``on: {LABEL: state}`` (or its ``next:``) once every state is known.

A sub-flow file says which labels it returns (``returns: [verified, not_verified]``); its
``return:`` states and the caller's ``on:`` are checked against them. Such a file compiled on
its own (``voicebot flow check common/verify_identity.yaml``) is checked as a sub-flow: its
``return: LABEL`` states end the conversation with outcome LABEL, so its graph checks and its
own scripts work as they do for a whole flow.
"""

from __future__ import annotations

from typing import Any

from voicebot.flow.compiler.unit import Entry, Unit
from voicebot.flow.diagnostics import did_you_mean
from voicebot.flow.model import Edge, State
from voicebot.flow.yamlsrc import YMap


def compile_subflow_state(u: Unit, full: str, e: Entry, st: YMap, base: dict[str, Any]) -> None:
    """The state that calls a sub-flow: on to its start; its ``on``/``next`` take the returns."""
    first = u.src.sub_start.get(full)
    u.states[full] = State(kind="say", **base)
    if first is not None:
        if first not in u.src.states:
            u.r.error(
                u.refs.get(first, e.pos),
                f"subflow start state '{first[len(full) + 1 :]}' is not defined in the subflow",
                "add that state to the subflow's states, or fix its 'start'",
            )
        else:
            u.add(full, "next", [Edge(target=first)])
        sub = u.src.subs[full + "."]
        if "on" in st:
            on = u.r.want_map(st["on"], st.vpos("on"), "'on'")
            for label, tgt in (on or {}).items():
                assert on is not None
                if sub.declared is not None and label not in sub.declared:
                    u.r.error(
                        on.kpos(label),
                        f"the subflow never returns '{label}' (it returns: {', '.join(sub.declared) or 'nothing'})",
                        did_you_mean(label, sub.declared, "return label"),
                    )
                    continue
                t = u.resolve(tgt, on.vpos(label), e.prefix, f"'on.{label}'")
                if t:
                    sub.returns[label] = t
        if "next" in st:
            sub.default_return = u.resolve(st["next"], st.vpos("next"), e.prefix, "'next'")
        if "on" not in st and "next" not in st:
            u.r.error(
                e.pos,
                f"subflow state '{full}' has no 'next' or 'on'",
                "say where the call goes when the subflow returns",
            )


def compile_return_state(u: Unit, full: str, e: Entry, st: YMap, base: dict[str, Any]) -> None:
    """``return: LABEL`` in a sub-flow (joined to the caller by :func:`finish_returns`)."""
    label = st["return"]
    rsub = u.src.subs.get(e.prefix)
    declared = u.standalone_returns if rsub is None and not e.prefix else rsub.declared if rsub else None
    if declared is not None and label not in declared:
        u.r.error(
            st.vpos("return"),
            f"return label '{label}' is not among the sub-flow's returns: {', '.join(declared) or '(none)'}",
            did_you_mean(str(label), declared) if declared else "list it under 'returns:' at the top",
        )
    if rsub is None and u.standalone_returns is not None and not e.prefix:
        u.states[full] = State(kind="hangup", outcome=label if label in u.standalone_returns else "returned", **base)
        return
    u.states[full] = State(kind="say", **base)
    if rsub is None:
        u.r.error(
            st.kpos("return"),
            "'return' is only allowed in a subflow",
            "use hangup: <outcome> or next: <state> here",
        )
        return
    if not isinstance(label, str):
        u.r.error(st.vpos("return"), "'return' needs a label, e.g. return: done")
        return
    u.pending_returns.append((full, label, st.vpos("return"), rsub))


def finish_returns(u: Unit) -> None:
    for full, label, pos, sub in u.pending_returns:
        t = sub.returns.get(label, sub.default_return)
        if t is None:
            u.r.error(
                pos,
                f"return label '{label}' is not handled by the state that uses this subflow",
                f"add on: {{{label}: <state>}} or next: <state> there ({sub.pos})",
            )
            continue
        u.add(full, "next", [Edge(target=t)])
