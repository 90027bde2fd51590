"""The ``states:`` section: each state's kind, prompts, assignments and ways on.

A state does one thing (say, set, branch, webhook, verify_voice, enroll_voice, transfer, hangup,
subflow, return; ask states are compiled by :mod:`.ask`, webhook specs by :mod:`.webhook`, the
voiceprint states by :mod:`.voice`). Every way on becomes an
entry of the transition table; a sub-flow's ``return:`` states are joined to the calling
state's ``on:``/``next:`` once all states are known.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from voicebot.flow import expr as ex
from voicebot.flow.coerce import coerce, kind_name
from voicebot.flow.compiler.ask import compile_ask
from voicebot.flow.compiler.schema import ALL_STATE_KEYS, COMMON_STATE_KEYS, KIND_KEYS, MAIN_KEYS, OUTCOME_RE
from voicebot.flow.compiler.subflows import compile_return_state, compile_subflow_state
from voicebot.flow.compiler.templates import expression, template
from voicebot.flow.compiler.unit import Entry, Unit
from voicebot.flow.compiler.voice import compile_enroll_voice, compile_verify_voice
from voicebot.flow.compiler.webhook import compile_webhook
from voicebot.flow.diagnostics import Pos, did_you_mean
from voicebot.flow.model import Assignment, Edge, State, Template
from voicebot.flow.slots import EXPR_TYPE
from voicebot.flow.yamlsrc import YList, YMap


def compile_states(u: Unit) -> None:
    for full, e in u.src.states.items():
        st = u.r.want_map(e.value, e.vpos, f"state '{full}'")
        if st is None:
            continue
        u.compiling = full
        compile_state(u, full, e, st)
    u.compiling = ""


def state_kind(u: Unit, full: str, st: YMap, pos: Pos) -> str:
    mains = [k for k in MAIN_KEYS if k in st]
    if len(mains) > 1:
        u.r.error(
            st.kpos(mains[1]),
            f"state '{full}' has both '{mains[0]}' and '{mains[1]}'",
            "a state does one thing; split it into two states",
        )
    if mains:
        return mains[0]
    if "set" in st and "say" not in st:
        return "set"
    return "say"


def compile_state(u: Unit, full: str, e: Entry, st: YMap) -> None:
    """One state: the keys its kind allows, what it says and sets, then its kind's own part."""
    kind = state_kind(u, full, st, e.pos)
    allowed = KIND_KEYS.get(kind if kind != "set" else "say", ())
    other = {
        k: f"'{k}' belongs in {' or '.join(kk + ' states' for kk, ks in KIND_KEYS.items() if k in ks)}"
        for k in ALL_STATE_KEYS
        if k not in allowed and k not in COMMON_STATE_KEYS and k not in MAIN_KEYS
    }
    u.r.keys(st, (*COMMON_STATE_KEYS, *allowed, *MAIN_KEYS), f"in {kind} state '{full}'", other)
    say: list[Template] = []
    if "say" in st:
        for text, p in u.r.texts(st["say"], st.vpos("say"), "'say'"):
            say.append(template(u, text, p, st.quoted if p == st.vpos("say") else None, "say"))
    ssml = bool(st.get("ssml", False)) if isinstance(st.get("ssml", False), bool) else False
    if "ssml" in st:
        u.r.want_bool(st["ssml"], st.vpos("ssml"), "'ssml'")
    barge_in = True
    if "barge_in" in st:
        barge_in = bool(u.r.want_bool(st["barge_in"], st.vpos("barge_in"), "'barge_in'"))
    elif isinstance(u.defaults.get("barge_in"), bool):
        barge_in = bool(u.defaults["barge_in"])
    assign = compile_set(u, st, full) if "set" in st else ()
    base: dict[str, Any] = {
        "name": full,
        "pos": e.pos,
        "say": tuple(say),
        "ssml": ssml,
        "assign": assign,
        "barge_in": barge_in,
    }
    KIND_COMPILERS[kind](u, full, e, st, base)


def compile_say(u: Unit, full: str, e: Entry, st: YMap, base: dict[str, Any]) -> None:
    """A ``say`` or ``set`` state: goes on to ``next`` once entered."""
    kind = "set" if "set" in st and "say" not in st else "say"
    if "next" not in st:
        u.r.error(
            e.pos,
            f"dead end: state '{full}' says something but has no 'next'",
            "add next: <state>, or hangup: <outcome> to end the call here",
        )
        u.states[full] = State(kind="say", **base)
        return
    t = u.resolve(st["next"], st.vpos("next"), e.prefix, "'next'")
    u.states[full] = State(kind=kind, **base)
    if t:
        u.add(full, "next", [Edge(target=t)])


def compile_hangup_state(u: Unit, full: str, e: Entry, st: YMap, base: dict[str, Any]) -> None:
    outcome, dnc = compile_hangup(u, st)
    u.states[full] = State(kind="hangup", outcome=outcome, do_not_call=dnc, **base)


def compile_transfer(u: Unit, full: str, e: Entry, st: YMap, base: dict[str, Any]) -> None:
    """A ``transfer`` state: a SIP URI template, and where to go when the transfer fails."""
    uri = u.r.want_str(st["transfer"], st.vpos("transfer"), "'transfer'", "write a SIP URI")
    tmpl = template(u, uri, st.vpos("transfer"), st.quoted, "transfer") if uri else None
    if uri and not uri.startswith(("sip:", "sips:", "tel:", "{")):
        u.r.error(
            st.vpos("transfer"),
            f"transfer target must be a sip:, sips: or tel: URI, got '{uri}'",
            "e.g. sip:agent@example.com",
        )
    u.states[full] = State(kind="transfer", transfer=tmpl, outcome="transferred", **base)
    if "on_failure" in st:
        t = u.resolve(st["on_failure"], st.vpos("on_failure"), e.prefix, "'on_failure'")
    else:
        t = "_transfer_failed"
        u.used_builtins.add(t)
    if t:
        u.add(full, "transfer_failed", [Edge(target=t)])


def compile_branch_state(u: Unit, full: str, e: Entry, st: YMap, base: dict[str, Any]) -> None:
    u.states[full] = State(kind="branch", **base)
    compile_branch(u, full, st, e.prefix)


def compile_webhook_state(u: Unit, full: str, e: Entry, st: YMap, base: dict[str, Any]) -> None:
    """A ``webhook`` state: the request, ``next`` on an answer and ``on_error`` on a failure."""
    spec = compile_webhook(u, st["webhook"], st.vpos("webhook"))
    u.states[full] = State(kind="webhook", webhook=spec, **base)
    if "next" not in st:
        u.r.error(e.pos, f"webhook state '{full}' has no 'next'", "add next: <state> for a successful answer")
    else:
        t = u.resolve(st["next"], st.vpos("next"), e.prefix, "'next'")
        if t:
            u.add(full, "webhook_ok", [Edge(target=t)])
    if "on_error" in st:
        t2 = u.resolve(st["on_error"], st.vpos("on_error"), e.prefix, "'on_error'")
    else:
        u.r.warning(
            e.pos,
            f"webhook state '{full}' has no 'on_error'",
            "add on_error: <state>; without it a failed request ends the call with outcome 'error'",
        )
        t2 = "_error"
        u.used_builtins.add(t2)
    if t2:
        u.add(full, "webhook_error", [Edge(target=t2)])


StateCompiler = Callable[[Unit, str, Entry, YMap, dict[str, Any]], None]

# state kind (see state_kind) -> the function that compiles the rest of such a state
KIND_COMPILERS: dict[str, StateCompiler] = {
    "say": compile_say,
    "set": compile_say,
    "hangup": compile_hangup_state,
    "transfer": compile_transfer,
    "branch": compile_branch_state,
    "webhook": compile_webhook_state,
    "verify_voice": compile_verify_voice,
    "enroll_voice": compile_enroll_voice,
    "subflow": compile_subflow_state,
    "return": compile_return_state,
    "ask": compile_ask,
}


def compile_hangup(u: Unit, st: YMap) -> tuple[str, bool]:
    v = st["hangup"]
    outcome, dnc, pos = "completed", False, st.vpos("hangup")
    if isinstance(v, YMap):
        u.r.keys(v, ("outcome", "do_not_call"), "in 'hangup'")
        outcome = v.get("outcome", "completed")
        pos = v.vpos("outcome")
        if "do_not_call" in v:
            dnc = bool(u.r.want_bool(v["do_not_call"], v.vpos("do_not_call"), "'do_not_call'"))
    elif isinstance(v, str):
        outcome = v
    elif v is None or v is True:
        outcome = "completed"
    else:
        u.r.error(pos, f"'hangup' must be an outcome name, got {kind_name(v)}", "e.g. hangup: confirmed")
    if not isinstance(outcome, str) or not OUTCOME_RE.match(outcome):
        u.r.error(pos, f"bad outcome name {outcome!r}", "use lower-case letters, digits and '_', e.g. confirmed")
        outcome = "completed"
    return outcome, dnc


def compile_set(u: Unit, st: YMap, full: str) -> tuple[Assignment, ...]:
    m = u.r.want_map(st["set"], st.vpos("set"), "'set'")
    out: list[Assignment] = []
    for name, v in (m or {}).items():
        assert m is not None
        slot = u.slots.get(name)
        if slot is None:
            u.r.error(m.kpos(name), f"unknown slot '{name}' in 'set'", did_you_mean(name, u.slots, "slot"))
            continue
        u.slot_writers.add(name)
        if isinstance(v, str) and v.startswith("="):
            node = expression(u, v[1:], m.vpos(name).shifted(1), name in m.quoted, None)
            if node is not None:
                try:
                    typ = ex.check(node, u.scope)
                except ex.ExprError:
                    continue
                want = EXPR_TYPE[slot.type]
                if typ not in (want, ex.ANY, ex.NULL):
                    u.r.error(m.vpos(name), f"slot '{name}' is {slot.type} but the expression gives {typ}", "")
                    continue
                out.append(Assignment(slot=name, expr=node))
            continue
        try:
            value = coerce(slot, v, dt.date(2000, 1, 1))
        except ValueError as exc:
            u.r.error(
                m.vpos(name),
                f"slot '{name}': {exc}",
                "start with '=' to compute a value, e.g. tries: \"= tries + 1\"",
            )
            continue
        out.append(Assignment(slot=name, expr=None, literal=value))
    return tuple(out)


def compile_branch(u: Unit, full: str, st: YMap, prefix: str) -> None:
    items = st["branch"]
    if not isinstance(items, YList) or not items:
        u.r.error(
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
            u.r.error(ipos, "branch items must be mappings: '- if: <condition>' with 'goto: <state>'")
            continue
        if has_else:
            u.r.error(ipos, "branch item after 'else' is never used", "move 'else' to the end")
        if "else" in item:
            u.r.keys(item, ("else",), "in a branch 'else' item")
            t = u.resolve(item["else"], item.vpos("else"), prefix, "'else'")
            if t:
                edges.append(Edge(target=t))
            has_else = True
            continue
        u.r.keys(item, ("if", "goto"), "in a branch item")
        if "if" not in item:
            u.r.error(ipos, "branch item has no 'if'", "write - if: <condition> / goto: <state>, or - else: <state>")
            continue
        if "goto" not in item:
            u.r.error(item.kpos("if"), "branch item has no 'goto'", "add goto: <state> under 'if'")
            continue
        cond = item["if"]
        if isinstance(cond, bool):
            cond = "true" if cond else "false"
        if not isinstance(cond, str):
            u.r.error(item.vpos("if"), f"condition must be text, got {kind_name(cond)}")
            continue
        node = expression(u, cond, item.vpos("if"), "if" in item.quoted, None)
        t = u.resolve(item["goto"], item.vpos("goto"), prefix, "'goto'")
        if node is not None and t:
            edges.append(Edge(target=t, guard=node, guard_source=cond))
    if not has_else:
        u.r.error(
            st.vpos("branch"),
            f"branch in state '{full}' has no 'else'",
            "add '- else: <state>' as the last item so every call goes somewhere",
        )
    u.add(full, "branch", edges)
