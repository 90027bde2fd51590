"""The ``answering_machine:`` section: who answered an outbound call, before the flow starts.

::

    answering_machine:
      on_machine: voicemail    # the state entered once a machine's greeting is over
      within: 5                # seconds from the answer to a verdict (default 5)

On an outbound call the session begins in the built-in ``_answer`` state with a
:class:`~voicebot.flow.events.DetectMachine` action. ``AnsweredBy(human|unknown)`` goes on to
the start state (``answered:human`` / ``answered:unknown``); ``AnsweredBy(machine)`` waits for
``MachineRecording`` (the beep ended, or a silence) and goes to ``on_machine``
(``machine_recording``). The verdict lands in the enum slot ``answered_by``, which the compiler
declares when the flow does not, so branches and prompts can use it.
"""

from __future__ import annotations

from voicebot.flow import expr as ex
from voicebot.flow.compiler.schema import (
    ANSWERED_BY_SLOT,
    DEFAULT_MACHINE_WITHIN,
    MACHINE_KEYS,
)
from voicebot.flow.compiler.unit import Unit
from voicebot.flow.events import AMD_VERDICTS
from voicebot.flow.model import ANSWER_STATE, Edge, MachineDetection, Slot, State
from voicebot.flow.slots import EXPR_TYPE
from voicebot.flow.yamlsrc import YMap

WITHIN_RANGE = (2.0, 30.0)  # the detector needs ~1 s of greeting and ~1 s of silence after it


def declare_machine_slot(u: Unit, doc: YMap) -> None:
    """Declare ``answered_by`` (an enum of the verdicts) for a flow that detects machines and has
    no such slot; one it declares itself must be text or an enum holding the three verdicts."""
    if "answering_machine" not in doc:
        return
    u.slot_writers.add(ANSWERED_BY_SLOT)
    slot = u.slots.get(ANSWERED_BY_SLOT)
    if slot is None:
        values = tuple((v, (v,)) for v in AMD_VERDICTS)
        u.slots[ANSWERED_BY_SLOT] = Slot(name=ANSWERED_BY_SLOT, type="enum", values=values)
        u.scope = ex.Scope(
            types={**u.scope.types, ANSWERED_BY_SLOT: EXPR_TYPE["enum"]},
            enum_values={**u.scope.enum_values, ANSWERED_BY_SLOT: AMD_VERDICTS},
        )
    elif not (slot.type == "text" or (slot.type == "enum" and set(AMD_VERDICTS) <= set(slot.value_names))):
        u.r.error(
            slot.pos or doc.kpos("answering_machine"),
            f"slot '{ANSWERED_BY_SLOT}' gets the answering-machine verdict, so it must be text "
            f"or an enum with the values {', '.join(AMD_VERDICTS)}",
            f"remove the slot (the compiler declares it) or give it values {list(AMD_VERDICTS)}",
        )


def compile_machine(u: Unit, doc: YMap, start: str | None) -> MachineDetection | None:
    """The detection settings, the ``_answer`` state and its table entries (after the states)."""
    if "answering_machine" not in doc:
        return None
    m = u.r.want_map(doc["answering_machine"], doc.vpos("answering_machine"), "'answering_machine'")
    if m is None:
        return None
    u.r.keys(m, MACHINE_KEYS, "in 'answering_machine'")
    within = DEFAULT_MACHINE_WITHIN
    if "within" in m:
        within = u.r.want_number(m["within"], m.vpos("within"), "'answering_machine.within'", *WITHIN_RANGE) or within
    if "on_machine" not in m:
        u.r.error(
            m.pos,
            "'answering_machine' needs 'on_machine: <state>'",
            "name the state that leaves a voicemail message (or hangs up), e.g. on_machine: voicemail",
        )
        return None
    target = u.resolve(m["on_machine"], m.vpos("on_machine"), "", "'answering_machine.on_machine'")
    if target is None or start is None:
        return None
    u.states[ANSWER_STATE] = State(name=ANSWER_STATE, kind="answer", pos=m.pos, builtin=True)
    for verdict in AMD_VERDICTS:
        if verdict != "machine":
            u.add(ANSWER_STATE, f"answered:{verdict}", [Edge(target=start)])
    u.add(ANSWER_STATE, "machine_recording", [Edge(target=target)])
    return MachineDetection(within=float(within), on_machine=target, slot=ANSWERED_BY_SLOT)


def machine_root(u: Unit) -> str:
    """Where a call through a flow that detects machines begins (the graph checks start there)."""
    assert ANSWER_STATE in u.states
    return ANSWER_STATE
