"""``verify_voice`` and ``enroll_voice`` states: the caller's voiceprint, checked or enrolled.

::

    check_voice:
      verify_voice: {id: "{customer_id}", min_seconds: 3}   # score: SLOT (default voice_score)
      on: {match: greet, no_match: ask_last4, not_enough_speech: ask_last4}

    remember_voice:
      enroll_voice: {id: "{customer_id}", min_seconds: 5}
      next: thanks              # enrolled
      on_failure: thanks        # not enough speech, or the store failed (default: next)

Neither state says or asks anything: the call engine scores (or enrols) what the caller has
said so far in the call and answers with a :class:`~voicebot.flow.events.VoiceprintResult`.
``on:`` needs ``match`` and ``no_match``; ``not_enough_speech`` and ``not_enrolled`` (no
voiceprint for that id) go where ``no_match`` goes unless given. The score lands in a number
slot: the one ``score:`` names, else ``voice_score``, which the compiler declares when the flow
does not.
"""

from __future__ import annotations

from typing import Any

from voicebot.flow import expr as ex
from voicebot.flow.compiler.schema import (
    DEFAULT_VOICE_SECONDS,
    ENROLL_VOICE_KEYS,
    VERIFY_VOICE_KEYS,
    VOICE_SCORE_SLOT,
)
from voicebot.flow.compiler.templates import template
from voicebot.flow.compiler.unit import Entry, Unit
from voicebot.flow.diagnostics import did_you_mean
from voicebot.flow.events import ENROLL_RESULTS, VERIFY_RESULTS
from voicebot.flow.model import Edge, Slot, State, VoiceStep
from voicebot.flow.yamlsrc import YMap

REQUIRED_ON = ("match", "no_match")


def declare_voice_slots(u: Unit) -> None:
    """Declare ``voice_score`` (a number) when a ``verify_voice`` state relies on it and the flow
    has no such slot; runs after the slots section, before any state reads slots."""
    if VOICE_SCORE_SLOT in u.slots:
        return
    for e in u.src.states.values():
        step = e.value.get("verify_voice") if isinstance(e.value, YMap) else None
        if step is not None and not (isinstance(step, YMap) and "score" in step):
            u.slots[VOICE_SCORE_SLOT] = Slot(name=VOICE_SCORE_SLOT, type="number")
            u.scope = ex.Scope(types={**u.scope.types, VOICE_SCORE_SLOT: ex.NUMBER}, enum_values=u.scope.enum_values)
            return


def _step(u: Unit, st: YMap, kind: str, keys: tuple[str, ...]) -> tuple[YMap | None, VoiceStep | None]:
    m = u.r.want_map(st[kind], st.vpos(kind), f"'{kind}'")
    if m is None:
        return None, None
    u.r.keys(m, keys, f"in '{kind}'")
    if "id" not in m:
        u.r.error(m.pos, f"'{kind}' has no 'id'", 'say whose voiceprint it is, e.g. id: "{customer_id}"')
        return m, None
    raw = m["id"]
    text = u.r.want_str(str(raw) if isinstance(raw, int) and not isinstance(raw, bool) else raw, m.vpos("id"),
                        f"'{kind}.id'", 'e.g. id: "{customer_id}"')  # fmt: skip
    seconds = DEFAULT_VOICE_SECONDS
    if "min_seconds" in m:
        seconds = u.r.want_number(m["min_seconds"], m.vpos("min_seconds"), f"'{kind}.min_seconds'", 0.5, 60) or seconds
    if text is None:
        return m, None
    return m, VoiceStep(id=template(u, text, m.vpos("id"), m.quoted, "id"), min_seconds=seconds)


def compile_verify_voice(u: Unit, full: str, e: Entry, st: YMap, base: dict[str, Any]) -> None:
    m, step = _step(u, st, "verify_voice", VERIFY_VOICE_KEYS)
    score = VOICE_SCORE_SLOT
    if m is not None and "score" in m:
        score = u.r.want_str(m["score"], m.vpos("score"), "'verify_voice.score'", "name a number slot") or score
        if score != VOICE_SCORE_SLOT and score not in u.slots:
            u.r.error(m.vpos("score"), f"unknown slot '{score}' in 'score'", did_you_mean(score, u.slots, "slot"))
    slot = u.slots.get(score)
    if slot is not None and slot.type != "number":
        u.r.error(m.vpos("score") if m is not None and "score" in m else e.pos,
                  f"slot '{score}' gets the voice score, so it must be a number, not {slot.type}",
                  f"declare it as {score}: {{type: number}}")  # fmt: skip
    u.slot_writers.add(score)
    if step is not None:
        step = VoiceStep(id=step.id, min_seconds=step.min_seconds, score_slot=score)
    u.states[full] = State(kind="verify_voice", voice=step, **base)
    on = u.r.want_map(st["on"], st.vpos("on"), "'on'") if "on" in st else None
    if on is None:
        if "on" not in st:
            u.r.error(e.pos, f"verify_voice state '{full}' has no 'on'",
                      "add on: {match: <state>, no_match: <state>, not_enough_speech: <state>}")  # fmt: skip
        u.broken.add(full)
        return
    targets: dict[str, str] = {}
    for label, target in on.items():
        if label not in VERIFY_RESULTS:
            u.r.error(on.kpos(label), f"verify_voice has no result '{label}'", did_you_mean(label, VERIFY_RESULTS))
            continue
        t = u.resolve(target, on.vpos(label), e.prefix, f"'on.{label}'")
        if t:
            targets[label] = t
    for label in REQUIRED_ON:
        if label not in on:
            u.r.error(on.pos, f"verify_voice state '{full}' says nowhere to go on '{label}'", f"add {label}: <state>")
            u.broken.add(full)  # it might have led anywhere: no cascade of unreachable states
    fallback = targets.get("no_match")
    for label in VERIFY_RESULTS:
        t = targets.get(label, fallback if label not in REQUIRED_ON else None)
        if t:
            u.add(full, f"voice:{label}", [Edge(target=t)])


def compile_enroll_voice(u: Unit, full: str, e: Entry, st: YMap, base: dict[str, Any]) -> None:
    _m, step = _step(u, st, "enroll_voice", ENROLL_VOICE_KEYS)
    u.states[full] = State(kind="enroll_voice", voice=step, **base)
    if "next" not in st:
        u.r.error(e.pos, f"enroll_voice state '{full}' has no 'next'", "add next: <state> for after the enrolment")
        u.broken.add(full)
        return
    done = u.resolve(st["next"], st.vpos("next"), e.prefix, "'next'")
    failed = done
    if "on_failure" in st:
        failed = u.resolve(st["on_failure"], st.vpos("on_failure"), e.prefix, "'on_failure'")
    for label in ENROLL_RESULTS:
        t = done if label == "enrolled" else failed
        if t:
            u.add(full, f"voice:{label}", [Edge(target=t)])
