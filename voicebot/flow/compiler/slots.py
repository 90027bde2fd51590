"""The ``slots:`` section: typed slots with their values, ranges, lengths and defaults."""

from __future__ import annotations

import dataclasses
import datetime as dt

from voicebot.flow import expr as ex
from voicebot.flow.coerce import coerce
from voicebot.flow.compiler.schema import PROFILE_FIELDS, SLOT_KEYS
from voicebot.flow.compiler.unit import Unit
from voicebot.flow.diagnostics import did_you_mean
from voicebot.flow.model import Slot
from voicebot.flow.slots import EXPR_TYPE, SLOT_TYPES
from voicebot.flow.yamlsrc import YList, YMap


def compile_slots(u: Unit) -> None:
    for e in u.src.slots.values():
        m = u.r.want_map(u.r.short_form(e.value, e.vpos, "type", (str,)), e.vpos, f"slot '{e.name}'")
        if m is None:
            continue
        u.r.keys(m, SLOT_KEYS, f"in slot '{e.name}'")
        typ = m.get("type")
        if typ not in SLOT_TYPES:
            if "type" not in m:
                u.r.error(e.pos, f"slot '{e.name}' has no type", "add type: " + " | ".join(SLOT_TYPES))
            else:
                u.r.error(m.vpos("type"), f"unknown slot type '{typ}'", did_you_mean(str(typ), SLOT_TYPES))
            continue
        values: list[tuple[str, tuple[str, ...]]] = []
        if typ == "enum":
            vals = m.get("values")
            if isinstance(vals, YList):
                for i, v in enumerate(vals):
                    if isinstance(v, str | int) and not isinstance(v, bool):
                        values.append((str(v), (str(v),)))
                    else:
                        u.r.error(vals.ipos(i), "enum values must be text")
            elif isinstance(vals, YMap):
                for v, phrases in vals.items():
                    ps = [t for t, _ in u.r.texts(phrases, vals.vpos(v), f"phrases of '{v}'")] if phrases else []
                    # the value's own name is a phrase too when it is a word of the flow's language
                    own = [v.replace("_", " ")] if u.language == "en" or not ps else []
                    values.append((v, tuple(dict.fromkeys([*own, *ps]))))
            else:
                u.r.error(
                    e.pos if "values" not in m else m.vpos("values"),
                    f"enum slot '{e.name}' needs 'values'",
                    "list the values, or map each value to the phrases that mean it",
                )
                continue
            if not values:
                u.r.error(m.vpos("values"), f"enum slot '{e.name}' has no values", "list at least one value")
                continue
        elif "values" in m:
            u.r.error(m.kpos("values"), f"'values' is only for enum slots, and '{e.name}' is {typ}", "write type: enum")
        lo = hi = None
        if "min" in m or "max" in m:
            if typ != "number":
                u.r.error(
                    m.kpos("min" if "min" in m else "max"),
                    f"'min'/'max' are only for number slots, and '{e.name}' is {typ}",
                    "use min_length/max_length for digits",
                )
            else:
                if "min" in m:
                    lo = u.r.want_number(m["min"], m.vpos("min"), "'min'", -1e12, 1e12)
                if "max" in m:
                    hi = u.r.want_number(m["max"], m.vpos("max"), "'max'", -1e12, 1e12)
                if lo is not None and hi is not None and lo > hi:
                    u.r.error(m.vpos("max"), f"'max' ({hi:g}) is below 'min' ({lo:g})", "swap them")
        minl = maxl = None
        for k in ("length", "min_length", "max_length"):
            if k in m:
                if typ != "digits":
                    u.r.error(
                        m.kpos(k),
                        f"'{k}' is only for digits slots, and '{e.name}' is {typ}",
                        "write type: digits, or remove it",
                    )
                    continue
                v = u.r.want_number(m[k], m.vpos(k), f"'{k}'", 1, 64)
                if v is None:
                    continue
                if k in ("length", "min_length"):
                    minl = int(v)
                if k in ("length", "max_length"):
                    maxl = int(v)
        slot = Slot(
            name=e.name,
            type=str(typ),
            values=tuple(values),
            min=lo,
            max=hi,
            min_length=minl,
            max_length=maxl,
            pos=e.pos,
        )
        default = None
        if "default" in m:
            try:
                default = coerce(slot, m["default"], dt.date(2000, 1, 1))
            except ValueError as exc:
                u.r.error(m.vpos("default"), f"default of slot '{e.name}': {exc}")
        required = False
        if "required" in m:
            required = bool(u.r.want_bool(m["required"], m.vpos("required"), "'required'"))
            if required and "default" in m:
                u.r.error(
                    m.kpos("required"),
                    f"slot '{e.name}' is required and has a default",
                    "keep 'required: true' (the call's context must give it) or 'default' (used when it does not)",
                )
        u.slots[e.name] = dataclasses.replace(slot, default=default, required=required)
    types = {name: EXPR_TYPE[s.type] for name, s in u.slots.items()}
    types.update(PROFILE_FIELDS)
    u.scope = ex.Scope(types=types, enum_values={n: s.value_names for n, s in u.slots.items() if s.type == "enum"})
