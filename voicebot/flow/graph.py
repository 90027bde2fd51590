"""Drawings of a compiled flow: Graphviz DOT and Mermaid text, straight from the table."""

from __future__ import annotations

from voicebot.flow.flow import Flow

_SHAPES = {
    "say": ("box", "#eef5ff"),
    "set": ("box", "#f4f4f4"),
    "ask": ("box", "#fff4d6"),
    "branch": ("diamond", "#f0e6ff"),
    "webhook": ("component", "#e6fff0"),
    "verify_voice": ("component", "#fff0f6"),
    "enroll_voice": ("component", "#fff0f6"),
    "transfer": ("doubleoctagon", "#d9f2ff"),
    "hangup": ("doublecircle", "#ffe0e0"),
}


def _q(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _label(inp: str, guard: str) -> str:
    if guard:
        return guard if len(guard) <= 40 else guard[:37] + "..."
    if inp.startswith("intent:"):
        return inp[len("intent:") :]
    return "" if inp in ("next", "branch") else inp.replace("_", " ")


def _hidden(flow: Flow, name: str, loops: bool, compact: bool) -> bool:
    st = flow.states[name]
    return (name == "_max_turns" and not loops) or (compact and st.builtin)


def _edges(flow: Flow, loops: bool, compact: bool = False) -> list[tuple[str, str, str]]:
    out: list[tuple[str, str, str]] = []
    for (state, inp), edges in flow.table.items():
        for e in edges:
            if _hidden(flow, e.target, loops, compact) or _hidden(flow, state, loops, compact):
                continue
            if not loops and (inp == "max_turns" or (e.target == state and inp in ("no_input", "no_match"))):
                continue  # drawn only with loops=True: they are everywhere and would hide the flow
            label = _label(inp, e.guard_source) or ("else" if inp == "branch" and e.guard is None else "")
            out.append((state, e.target, label))
    return out


def to_dot(flow: Flow, *, loops: bool = False, compact: bool = False) -> str:
    """Graphviz DOT; ``loops=True`` also draws reprompt self-loops and the max-turns exits,
    ``compact=True`` leaves out the built-in states (global intents, limits) and their edges."""
    lines = [
        f"digraph {_q(flow.name)} {{",
        "  rankdir=TB;",
        '  node [fontname="Helvetica", fontsize=11];',
        '  edge [fontname="Helvetica", fontsize=9];',
        "  __start [shape=point, width=0.15];",
        f"  __start -> {_q(flow.start_state)};",
    ]
    clusters: dict[str, list[str]] = {}
    for name, st in flow.states.items():
        if _hidden(flow, name, loops, compact):
            continue
        shape, color = _SHAPES.get(st.kind, ("box", "#ffffff"))
        extra = f"\\n[{st.outcome}]" if st.kind in ("hangup", "transfer") and st.outcome else ""
        slot = f"\\n→ {st.slot}" if st.slot else ""
        style = "filled,dashed" if st.builtin else "filled"
        label = _q(f"{name}\n({st.kind})")[:-1] + extra + slot + '"'
        node = f"{_q(name)} [shape={shape}, style={_q(style)}, fillcolor={_q(color)}, label={label}];"
        prefix = name.rsplit(".", 1)[0] if "." in name else ""
        clusters.setdefault(prefix, []).append(node)
    for prefix, nodes in clusters.items():
        if not prefix:
            lines.extend(f"  {n}" for n in nodes)
            continue
        # a subflow's states are drawn together in a labelled box
        lines.append(f"  subgraph {_q('cluster_' + prefix)} {{")
        lines.append(f'    label={_q(prefix + " (subflow)")}; style=rounded; color="#888888";')
        lines.extend(f"    {n}" for n in nodes)
        lines.append("  }")
    for a, b, label in _edges(flow, loops, compact):
        lines.append(f"  {_q(a)} -> {_q(b)} [label={_q(label)}];")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _mid(name: str) -> str:
    return "s_" + "".join(c if c.isalnum() else "_" for c in name)


def _mq(s: str) -> str:
    return s.replace('"', "#quot;").replace("|", "#124;")


def to_mermaid(flow: Flow, *, loops: bool = False, compact: bool = False) -> str:
    """Mermaid ``flowchart`` text (renders on GitHub and in most Markdown viewers)."""
    lines = ["flowchart TD", "  start((start))", f"  start --> {_mid(flow.start_state)}"]
    for name, st in flow.states.items():
        if _hidden(flow, name, loops, compact):
            continue
        text = _mq(f"{name} ({st.kind})" + (f" [{st.outcome}]" if st.outcome else ""))
        if st.kind == "branch":
            lines.append(f'  {_mid(name)}{{"{text}"}}')
        elif st.kind in ("hangup", "transfer"):
            lines.append(f'  {_mid(name)}(["{text}"])')
        else:
            lines.append(f'  {_mid(name)}["{text}"]')
    for a, b, label in _edges(flow, loops, compact):
        if label:
            lines.append(f'  {_mid(a)} -->|"{_mq(label)}"| {_mid(b)}')
        else:
            lines.append(f"  {_mid(a)} --> {_mid(b)}")
    return "\n".join(lines) + "\n"
