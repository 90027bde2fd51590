"""The ``tests:`` section (and a sibling ``NAME.tests.yaml``): conversation scripts.

Scripts are checked against the compiled flow (context values fit their slots, expected states
and slots exist, scripted webhook answers belong to webhook states, scripted voiceprint answers
to verify_voice / enroll_voice states) and kept as
:class:`~voicebot.flow.model.Script` for :mod:`voicebot.flow.scripts` to run.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from voicebot.flow.coerce import coerce, describe, kind_name
from voicebot.flow.compiler.schema import (
    EXPECT_KEYS,
    PROFILE_KEYS,
    SCRIPT_KEYS,
    TURN_CHECK_KEYS,
    TURN_INPUT_KEYS,
)
from voicebot.flow.compiler.unit import Unit
from voicebot.flow.diagnostics import Pos, did_you_mean
from voicebot.flow.events import AMD_VERDICTS, DTMF_KEYS, ENROLL_RESULTS, VERIFY_RESULTS
from voicebot.flow.model import ANSWER_STATE, Script
from voicebot.flow.yamlsrc import YList, YMap, load_file, plain


def compile_scripts(u: Unit, doc: YMap) -> tuple[Script, ...]:
    items: list[tuple[Any, Pos]] = []
    if "tests" in doc:
        if isinstance(doc["tests"], YList):
            items.extend((t, doc["tests"].ipos(i)) for i, t in enumerate(doc["tests"]))
        else:
            u.r.error(doc.vpos("tests"), "'tests' must be a list of conversation scripts")
    sibling = u.path.with_name(u.path.stem + ".tests.yaml")
    if sibling.exists():
        sdoc = load_file(sibling, u.r, u.show(sibling))
        u.src.files.append(u.show(sibling))
        lst = sdoc.get("tests") if isinstance(sdoc, YMap) else sdoc
        if isinstance(lst, YList):
            items.extend((t, lst.ipos(i)) for i, t in enumerate(lst))
        elif sdoc is not None:
            u.r.error(Pos(file=u.show(sibling), line=1, col=1), "a tests file holds 'tests:' with a list of scripts")
    out: list[Script] = []
    names: set[str] = set()
    for i, (t, pos) in enumerate(items):
        if not isinstance(t, YMap):
            u.r.error(pos, "a conversation script must be a mapping with name/turns/expect")
            continue
        u.r.keys(t, SCRIPT_KEYS, "in a conversation script")
        name = t.get("name", f"script {i + 1}")
        if not isinstance(name, str | int | float) or isinstance(name, bool):
            u.r.error(t.vpos("name"), "a script's name must be text")
            name = f"script {i + 1}"
        name = str(name)
        if name in names:
            u.r.error(t.vpos("name"), f"duplicate script name '{name}'", "give every script its own name")
        names.add(str(name))
        ctx = t.get("context", YMap(t.pos))
        if not isinstance(ctx, YMap):
            u.r.error(t.vpos("context"), "'context' must be a mapping of slot: value")
            ctx = YMap(t.pos)
        for k, v in ctx.items():
            if k not in u.slots:
                u.r.error(ctx.kpos(k), f"unknown slot '{k}' in script context", did_you_mean(k, u.slots, "slot"))
            else:
                try:
                    coerce(u.slots[k], v, dt.date(2000, 1, 1))
                except ValueError as exc:
                    u.r.error(ctx.vpos(k), f"context '{k}': {exc}")
        for k, slot in u.slots.items():
            if slot.required and ctx.get(k) in (None, ""):
                u.r.error(
                    t.vpos("context") if "context" in t else pos,
                    f"script '{name}' gives no context value for required slot '{k}'",
                    f"add {k}: <{describe(slot)}> under the script's context:",
                )
        profile = t.get("profile")
        if profile is not None:
            if not isinstance(profile, YMap):
                u.r.error(t.vpos("profile"), "'profile' must be a mapping", "e.g. profile: {last_outcome: no_input}")
                profile = None
            else:
                u.r.keys(profile, PROFILE_KEYS, "in a script profile")
                if "calls" in profile:
                    u.r.want_number(profile["calls"], profile.vpos("calls"), "'calls'", 0, 1e6)
                if "do_not_call" in profile:
                    u.r.want_bool(profile["do_not_call"], profile.vpos("do_not_call"), "'do_not_call'")
                if "last_outcome" in profile and not isinstance(profile["last_outcome"], str):
                    u.r.error(profile.vpos("last_outcome"), "'last_outcome' must be an outcome name")
        today = None
        if "today" in t:
            try:
                today = dt.date.fromisoformat(str(t["today"]))
            except ValueError:
                u.r.error(t.vpos("today"), f"bad date {t['today']!r}", "write YYYY-MM-DD")
        dtmf_only = "dtmf_only" in t and bool(u.r.want_bool(t["dtmf_only"], t.vpos("dtmf_only"), "'dtmf_only'"))
        accept = None  # the listening engine's accept threshold the script's call runs with
        if "accept_confidence" in t:
            accept = u.r.want_number(t["accept_confidence"], t.vpos("accept_confidence"), "'accept_confidence'", 0, 1)
        turns = t.get("turns", YList(t.pos))
        if not isinstance(turns, YList):
            u.r.error(t.vpos("turns"), "'turns' must be a list")
            turns = YList(t.pos)
        for j, turn in enumerate(turns):
            tp = turns.ipos(j)
            if dtmf_only and (isinstance(turn, str) or (isinstance(turn, YMap) and "caller" in turn)):
                u.r.error(
                    turn.kpos("caller") if isinstance(turn, YMap) else tp,
                    f"script '{name}' runs by keypad alone (dtmf_only), so the caller does not speak",
                    'give the keys instead, e.g. dtmf: "1"',
                )
            if isinstance(turn, str):
                continue
            if not isinstance(turn, YMap):
                u.r.error(tp, "a turn is text (what the caller says) or a mapping")
                continue
            u.r.keys(turn, (*TURN_INPUT_KEYS, *TURN_CHECK_KEYS), "in a script turn")
            inputs = [k for k in ("caller", "dtmf", "silence", "hangup", "transfer_fails") if k in turn]
            if len(inputs) > 1:
                u.r.error(
                    turn.kpos(inputs[1]),
                    f"a turn has one input, this one has {' and '.join(inputs)}",
                    "split it into two turns",
                )
            check_expectations(u, turn)
        expect = t.get("expect", YMap(t.pos))
        if not isinstance(expect, YMap):
            u.r.error(t.vpos("expect"), "'expect' must be a mapping")
            expect = YMap(t.pos)
        else:
            u.r.keys(expect, EXPECT_KEYS, "in 'expect'")
            check_expectations(u, expect)
        hooks = t.get("webhooks", YMap(t.pos))
        if not isinstance(hooks, YMap):
            u.r.error(t.vpos("webhooks"), "'webhooks' maps a webhook state to {ok, data}")
            hooks = YMap(t.pos)
        for k, spec in hooks.items():
            if not isinstance(spec, YMap):
                u.r.error(
                    hooks.vpos(k),
                    f"webhook answer for '{k}' must be a mapping",
                    "e.g. {ok: true, data: {balance: 10}}",
                )
            else:
                u.r.keys(spec, ("ok", "data", "status"), "in a scripted webhook answer")
                if "ok" in spec:
                    u.r.want_bool(spec["ok"], spec.vpos("ok"), "'ok'")
                if "data" in spec and not isinstance(spec["data"], YMap):
                    u.r.error(spec.vpos("data"), "'data' must be a mapping (the JSON object answered)")
                if "status" in spec:
                    u.r.want_number(spec["status"], spec.vpos("status"), "'status'", 100, 599)
            if k not in u.states or u.states[k].kind != "webhook":
                u.r.error(
                    hooks.kpos(k),
                    f"'{k}' is not a webhook state",
                    did_you_mean(k, [s for s, st in u.states.items() if st.kind == "webhook"], "webhook state"),
                )
        voices = check_voices(u, t)
        answered_by = check_answered_by(u, t, detects="answering_machine" in doc)
        out.append(
            Script(
                name=str(name),
                context=plain(ctx),
                today=today,
                turns=tuple(plain(x) if isinstance(x, dict) else {"caller": x} for x in turns),
                expect=plain(expect),
                webhooks=plain(hooks),
                pos=pos,
                turn_pos=tuple(turns.ipos(j) for j in range(len(turns))),
                profile=plain(profile) if profile is not None else None,
                dtmf_only=dtmf_only,
                accept_confidence=accept,
                voices=voices,
                answered_by=answered_by,
            )
        )
    return tuple(out)


def check_answered_by(u: Unit, t: YMap, *, detects: bool) -> str | None:
    """A script's ``answered_by:``: the answering-machine verdict its call begins with
    (``detects``: the flow has an ``answering_machine:`` section, even a broken one)."""
    if "answered_by" not in t:
        return None
    verdict = t["answered_by"]
    if verdict not in AMD_VERDICTS:
        u.r.error(t.vpos("answered_by"), f"'answered_by' must be one of {', '.join(AMD_VERDICTS)}, got {verdict!r}")
        return None
    if ANSWER_STATE not in u.states:
        if detects:
            return None  # the section's own error is reported there
        u.r.error(t.kpos("answered_by"), "'answered_by' needs a flow that detects answering machines",
                  "add answering_machine: {on_machine: <state>} at the top level")  # fmt: skip
        return None
    return str(verdict)


def check_voices(u: Unit, t: YMap) -> dict[str, dict[str, Any]]:
    """A script's ``voices:``: what each verify_voice / enroll_voice state is answered, as
    ``state: match`` or ``state: {result: match, score: 0.82, seconds: 4}``."""
    voices = t.get("voices", YMap(t.pos))
    if not isinstance(voices, YMap):
        u.r.error(t.vpos("voices"), "'voices' maps a verify_voice or enroll_voice state to its result",
                  "e.g. voices: {check_voice: {result: match, score: 0.83}}")  # fmt: skip
        return {}
    out: dict[str, dict[str, Any]] = {}
    for k, spec in voices.items():
        st = u.states.get(k)
        if st is None or st.kind not in ("verify_voice", "enroll_voice"):
            kinds = [s for s, x in u.states.items() if x.kind in ("verify_voice", "enroll_voice")]
            u.r.error(voices.kpos(k), f"'{k}' is not a verify_voice or enroll_voice state",
                      did_you_mean(k, kinds, "voice state"))  # fmt: skip
            continue
        results = VERIFY_RESULTS if st.kind == "verify_voice" else ENROLL_RESULTS
        m = u.r.short_form(spec, voices.vpos(k), "result", (str,))
        if not isinstance(m, YMap):
            u.r.error(voices.vpos(k), f"the answer for '{k}' must be a result or a mapping",
                      f"e.g. {k}: {{result: {results[0]}, score: 0.8}}")  # fmt: skip
            continue
        u.r.keys(m, ("result", "score", "seconds"), "in a scripted voice answer")
        result = m.get("result")
        if result not in results:
            u.r.error(m.vpos("result") if "result" in m else m.pos,
                      f"a {st.kind} state answers one of {', '.join(results)}, not {result!r}",
                      did_you_mean(str(result), results))  # fmt: skip
            continue
        answer: dict[str, Any] = {"result": result}
        if "score" in m:
            answer["score"] = u.r.want_number(m["score"], m.vpos("score"), "'score'", -1, 1)
        if "seconds" in m:
            answer["seconds"] = u.r.want_number(m["seconds"], m.vpos("seconds"), "'seconds'", 0, 3600)
        out[k] = answer
    return out


def check_expectations(u: Unit, m: YMap) -> None:
    for k in ("silence", "hangup", "transfer_fails", "ended", "do_not_call"):
        if k in m:
            u.r.want_bool(m[k], m.vpos(k), f"'{k}'")
    if "says" in m:
        u.r.texts(m["says"], m.vpos("says"), "'says'")
    for k in ("caller", "outcome"):
        if k in m and (not isinstance(m[k], str | int | float) or isinstance(m[k], bool)):
            u.r.error(m.vpos(k), f"'{k}' must be text, got {kind_name(m[k])}")
    if "confidence" in m:
        u.r.want_number(m["confidence"], m.vpos("confidence"), "'confidence'", 0, 1)
    if "dtmf" in m:
        keys = str(m["dtmf"]) if isinstance(m["dtmf"], int) and not isinstance(m["dtmf"], bool) else m["dtmf"]
        if not isinstance(keys, str) or not keys or any(c not in DTMF_KEYS for c in keys):
            u.r.error(
                m.vpos("dtmf"), f"bad DTMF keys {m['dtmf']!r}", 'write keys 0-9 * # A-D in quotes, e.g. dtmf: "12#"'
            )
    if "state" in m and (not isinstance(m["state"], str) or m["state"] not in u.states):
        u.r.error(
            m.vpos("state"),
            f"unknown state '{m['state']}' in script",
            did_you_mean(str(m["state"]), u.states, "state"),
        )
    if "slots" in m:
        sm = m["slots"]
        if not isinstance(sm, YMap):
            u.r.error(m.vpos("slots"), "'slots' must be a mapping of slot: value")
        else:
            for k in sm:
                if k not in u.slots:
                    u.r.error(sm.kpos(k), f"unknown slot '{k}' in script", did_you_mean(k, u.slots, "slot"))
