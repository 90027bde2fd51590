"""The compiled form of a flow: immutable states and a ``(state, input) -> edges`` table.

Inputs in the table (DESIGN.md rule 3):

``next``
    leave a ``say``/``set`` state once it is entered;
``branch``
    the ordered, guarded edges of a ``branch`` state (the last one unguarded);
``intent:NAME``
    a listening state recognised intent NAME (spoken or keyed);
``filled``
    a listening state filled its slot with no intent-specific edge (without a slot: any answer
    that matched none of its intents);
``no_input`` / ``no_match``
    silence / not understood, below the limit (a self-loop that reprompts);
``no_input_limit`` / ``no_match_limit``
    the limit was reached;
``webhook_ok`` / ``webhook_error``
    a webhook answered / failed;
``transfer_failed``
    a transfer did not happen;
``voice:RESULT``
    a ``verify_voice`` state's answer (``match``, ``no_match``, ``not_enough_speech``,
    ``not_enrolled``) or an ``enroll_voice`` state's (``enrolled``, ``not_enough_speech``,
    ``failed``);
``answered:human`` / ``answered:unknown`` / ``machine_recording``
    from the built-in ``_answer`` state (a flow with ``answering_machine:`` on an outbound
    call): a person (or nobody can tell) answered, go to the start state; a machine answered and
    its greeting is over, go to the ``on_machine`` state;
``max_turns``
    the caller used up the flow's ``max_turns`` (every listening state has this edge);
``unsure``
    an answer was heard with a confidence below the state's ``confirm_below``: the bot asks
    "Did you say ...?" and acts on the answer only when the caller says yes (a self-loop; only
    states with a confirmation band have it).

A listening state also loops to itself on ``intent:repeat`` (the runtime repeats what was said).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from voicebot.flow.diagnostics import Diagnostic, Pos
from voicebot.flow.expr import Node
from voicebot.flow.intents import IntentSet
from voicebot.flow.slots import spoken

STATE_KINDS = ("say", "ask", "set", "branch", "webhook", "verify_voice", "enroll_voice", "transfer", "hangup")
TERMINAL_KINDS = ("hangup", "transfer")
ANSWER_STATE = "_answer"  # built-in: where a call through a flow with 'answering_machine:' begins


@dataclass(frozen=True, slots=True, kw_only=True)
class Template:
    """Prompt text with ``{slot}`` placeholders, split at compile time."""

    source: str
    parts: tuple[tuple[bool, str], ...]  # (is_slot, text or slot name)

    def render(self, lookup: Any, language: str, escape: Callable[[str], str] | None = None) -> str:
        """The text with slot values filled in. With ``escape`` (machine-facing text such as a
        URL) values are written plainly (ISO dates, true/false) and escaped."""
        out: list[str] = []
        for is_slot, text in self.parts:
            if not is_slot:
                out.append(text)
                continue
            value = lookup(text)
            if escape is None:
                out.append(spoken(value, language))
            elif isinstance(value, dt.date):
                out.append(escape(value.isoformat()))
            elif isinstance(value, bool):
                out.append(escape("true" if value else "false"))
            else:
                out.append(escape(spoken(value, language)))
        return "".join(out)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(t for s, t in self.parts if s)


@dataclass(frozen=True, slots=True, kw_only=True)
class Slot:
    name: str
    type: str
    values: tuple[tuple[str, tuple[str, ...]], ...] = ()  # enum: value -> phrases
    min: float | None = None
    max: float | None = None
    min_length: int | None = None
    max_length: int | None = None
    default: Any = None
    required: bool = False  # the call's context must give it (flow.start refuses a call without it)
    pos: Pos | None = None

    @property
    def value_names(self) -> tuple[str, ...]:
        return tuple(v for v, _ in self.values)


@dataclass(frozen=True, slots=True, kw_only=True)
class Assignment:
    slot: str
    expr: Node | None  # None: a literal
    literal: Any = None


@dataclass(frozen=True, slots=True, kw_only=True)
class WebhookSpec:
    url: Template
    method: str
    headers: tuple[tuple[str, Template], ...]
    body: tuple[tuple[str, Template | Node], ...] | None
    timeout_s: float
    save: tuple[tuple[str, str], ...]  # slot <- dotted path in the JSON response


@dataclass(frozen=True, slots=True, kw_only=True)
class VoiceStep:
    """A ``verify_voice`` or ``enroll_voice`` state's request: whose voiceprint, how much of the
    caller's speech it needs, and (verify) the number slot that gets the score."""

    id: Template
    min_seconds: float
    score_slot: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class MachineDetection:
    """``answering_machine:``: on an outbound call, who answered is decided within ``within``
    seconds of the answer before the flow starts; a machine's greeting is waited out, then the
    flow goes to ``on_machine``. The verdict lands in the enum slot ``slot``."""

    within: float
    on_machine: str
    slot: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Edge:
    target: str
    guard: Node | None = None
    guard_source: str = ""
    repeat: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class Keypad:
    """How an ask state works by keypad alone (``flow.start(context, dtmf_only=True)``)."""

    keys: tuple[tuple[str, str], ...] = ()  # key -> intent: the choices the prompt offers, then keyed globals
    digits: int = 0  # keys collected into the state's slot (digits, number, date); 0: none
    prompt: Template | None = None  # what to press, in the flow's language


@dataclass(frozen=True, slots=True, kw_only=True)
class Confirmation:
    """How an answer heard with low confidence is checked: "Did you say cancel?" -> yes / no."""

    prompt: Template  # {answer}: what the bot thinks it heard
    answers: IntentSet  # the yes and no intents
    grammar: tuple[str, ...]  # their phrases, for the recogniser
    keys: tuple[tuple[str, str], ...]  # key -> "yes" / "no"

    def listening_grammar(self, state_grammar: tuple[str, ...] | None) -> tuple[str, ...]:
        """What the reply to a read-back is heard with: yes and no, then the state's own
        phrases (the caller may answer the question anew instead)."""
        return (*self.grammar, *(state_grammar or ()))


@dataclass(frozen=True, slots=True, kw_only=True)
class State:
    name: str
    kind: str
    pos: Pos
    say: tuple[Template, ...] = ()
    ssml: bool = False
    assign: tuple[Assignment, ...] = ()
    # listening
    slot: str | None = None
    intents: IntentSet | None = None
    grammar: tuple[str, ...] | None = None
    dtmf: tuple[tuple[str, str], ...] = ()  # key -> intent
    max_digits: int = 1
    timeout_s: float = 5.0
    reprompt: tuple[Template, ...] = ()
    no_input_say: tuple[Template, ...] = ()
    no_match_say: tuple[Template, ...] = ()
    no_input_limit: int = 3
    no_match_limit: int = 3
    barge_in: bool = True
    min_confidence: float = 0.0  # an answer heard below this is not understood (a reprompt)
    # an answer heard below this is confirmed before the flow acts on it; None: below the
    # listening engine's accept threshold (``Flow.start(accept_confidence=...)``), 0: never
    confirm_below: float | None = None
    keypad: Keypad | None = None
    # actions
    webhook: WebhookSpec | None = None
    voice: VoiceStep | None = None
    transfer: Template | None = None
    outcome: str | None = None
    do_not_call: bool = False
    builtin: bool = False

    @property
    def listening(self) -> bool:
        return self.kind == "ask"

    @property
    def terminal(self) -> bool:
        return self.kind in TERMINAL_KINDS


def confirm_engine(st: State) -> bool:
    """Whether ``st`` confirms below the listening engine's accept threshold: it gives no
    ``confirm_below`` of its own and listens with a grammar (the engines' confidences are
    calibrated on grammar-mode answers; free speech has no accept threshold to borrow)."""
    return st.kind == "ask" and st.confirm_below is None and st.grammar is not None


@dataclass(frozen=True, slots=True, kw_only=True)
class Script:
    """A conversation test written in the flow file: caller turns and what must follow."""

    name: str
    context: Mapping[str, Any]
    today: dt.date | None
    turns: tuple[Mapping[str, Any], ...]
    expect: Mapping[str, Any]
    webhooks: Mapping[str, Mapping[str, Any]]
    pos: Pos
    voices: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)  # voice state -> scripted answer
    turn_pos: tuple[Pos, ...] = ()
    profile: Mapping[str, Any] | None = None
    dtmf_only: bool = False  # the call runs by keypad alone
    accept_confidence: float | None = None  # the listening engine's accept threshold (None: no engine)
    answered_by: str | None = None  # the call begins with this answering-machine verdict


@dataclass(frozen=True, slots=True, kw_only=True)
class FlowMeta:
    name: str
    description: str
    language: str
    voice: str | None
    asr_mode: str  # "grammar" or "free"
    min_confidence: float
    match_threshold: float
    confirm_below: float | None  # None: the listening engine's accept threshold
    max_turns: int
    agent: str | None


Table = Mapping[tuple[str, str], tuple[Edge, ...]]


@dataclass(frozen=True, slots=True, kw_only=True)
class Compiled:
    """A whole compiled flow: what the runtime runs and :class:`~voicebot.flow.flow.Flow` wraps."""

    meta: FlowMeta
    start: str
    slots: Mapping[str, Slot]
    states: Mapping[str, State]
    table: Table
    scripts: tuple[Script, ...]
    intent_phrases: Mapping[str, tuple[str, ...]]
    files: tuple[str, ...]
    context_slots: tuple[str, ...] = ()  # required slots: what the call's context must give
    confirmation: Confirmation | None = None  # set when any state confirms low-confidence answers
    keypad_problems: tuple[Diagnostic, ...] = ()  # why some states cannot be used by keypad alone
    answering_machine: MachineDetection | None = None  # 'answering_machine:' (outbound calls)


class FrozenDict(dict[Any, Any]):
    """A dict that refuses changes (unlike ``MappingProxyType`` it pickles, so a compiled flow can
    be sent to worker processes)."""

    def _refuse(self, *args: Any, **kwargs: Any) -> None:
        raise TypeError("a compiled flow is immutable")

    __setitem__ = __delitem__ = _refuse
    clear = pop = popitem = setdefault = update = __ior__ = _refuse  # type: ignore[assignment]

    def __reduce__(self) -> tuple[Any, ...]:
        return (FrozenDict, (dict(self),))
