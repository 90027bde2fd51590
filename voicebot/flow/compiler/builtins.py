"""The states the compiler adds, the confirmation question, and the ``prompts:`` that word them.

Global intents and limits lead to built-in states (``_opt_out``, ``_no_input_end``, ``_agent``,
...) that say a built-in prompt in the flow's language and hang up or transfer. Only the ones
the flow can reach are added. A flow whose states confirm answers heard with low confidence
gets the confirmation ("Did you say {answer}?", answered yes or no).
"""

from __future__ import annotations

from typing import Any

from voicebot.flow import expr as ex
from voicebot.flow import lang
from voicebot.flow.compiler.schema import BUILTIN_STATES
from voicebot.flow.compiler.templates import template
from voicebot.flow.compiler.unit import Unit
from voicebot.flow.diagnostics import Pos, did_you_mean
from voicebot.flow.intents import IntentSet
from voicebot.flow.model import Confirmation, Edge, State, Template


def compile_prompts(u: Unit) -> None:
    """``prompts:`` replaces the built-in prompts (opt-out, no-input end, ...) with the flow's."""
    for e in u.src.prompts.values():
        if e.name not in lang.BUILTIN_PROMPTS:
            u.r.error(
                e.pos,
                f"unknown built-in prompt '{e.name}'",
                did_you_mean(e.name, lang.BUILTIN_PROMPTS, "prompt"),
            )
            continue
        text = u.r.want_str(e.value, e.vpos, f"prompt '{e.name}'")
        if text is not None:
            compile_text = _answer_template if e.name == "confirm" else template
            compile_text(u, text, e.vpos, e.parent.quoted if e.parent else set(), e.name)
            u.prompts[e.name] = text


def compile_confirmation(u: Unit) -> Confirmation:
    """The question asked about an answer heard with low confidence, and its yes/no answers."""
    text = u.prompts.get("confirm", lang.BUILTIN_PROMPTS["confirm"][u.language])
    answers = [(name, u.intent_phrases.get(name, ())) for name in ("yes", "no")]
    yes_key = u.intent_dtmf.get("yes") or "1"
    no_key = u.intent_dtmf.get("no") or ("2" if yes_key != "2" else "1")
    return Confirmation(
        prompt=_answer_template(u, text, Pos(file=u.shown, line=1, col=1)),
        answers=IntentSet.build(answers, local=("yes", "no"), threshold=u.meta.match_threshold),
        grammar=tuple(dict.fromkeys(p.lower() for _, ps in answers for p in ps)),
        keys=((yes_key, "yes"), (no_key, "no")),
    )


def _answer_template(u: Unit, text: str, pos: Pos, quoted: Any = None, key: Any = None) -> Template:
    """A template that may also say ``{answer}`` (the confirmation prompt)."""
    scope = u.scope
    u.scope = ex.Scope(types={**scope.types, "answer": ex.STR}, enum_values=scope.enum_values)
    try:
        return template(u, text, pos, quoted, key)
    finally:
        u.scope = scope
        if "answer" not in u.slots:
            u.slot_readers.pop("answer", None)


def builtin_states(u: Unit) -> None:
    """Add the built-in states the flow uses (every flow can run out of turns)."""
    u.used_builtins.add("_max_turns")
    pending = set(u.used_builtins)
    while pending:
        name = pending.pop()
        if name in u.states:
            continue
        prompt_key, outcome = BUILTIN_STATES[name]
        text = u.prompts.get(prompt_key, lang.BUILTIN_PROMPTS[prompt_key][u.language])
        say = (template(u, text, Pos(file=u.shown, line=1, col=1)),)
        pos = Pos(file=u.shown, line=1, col=1)
        if name == "_agent":
            uri = u.meta.agent or "sip:agent@invalid"
            u.states[name] = State(
                name=name,
                kind="transfer",
                pos=pos,
                say=say,
                builtin=True,
                transfer=Template(source=uri, parts=((False, uri),)),
                outcome="transferred",
            )
            u.add(name, "transfer_failed", [Edge(target="_transfer_failed")])
            pending.add("_transfer_failed")
            u.used_builtins.add("_transfer_failed")
        else:
            u.states[name] = State(
                name=name,
                kind="hangup",
                pos=pos,
                say=say,
                builtin=True,
                outcome=outcome,
                do_not_call=name == "_opt_out",
            )
