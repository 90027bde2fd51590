"""Dialog-flow costs: compiling a flow, one caller turn, and intent matching.

* compile: ``Flow.load`` of each shipped dialog beside the floor of parsing the same file
  with ``yaml.safe_load`` (libyaml when present) in the same run;
* turn: one ``session.handle(Utterance)`` (intent matching, slot extraction, transition,
  prompt rendering) as a fraction of one 20 ms audio frame, the real-time budget it shares;
* match: one intent match in a listening state of ~70 phrases beside
  ``difflib.get_close_matches`` over the same phrase list (the stdlib's fuzzy matcher).
Run: ``python benchmarks/flow.py``; results go to ``benchmarks/results/flow.json``.
"""

from __future__ import annotations

import datetime as dt
import difflib
import sys
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import per_call_us, write_results

from voicebot.flow import Flow, SilenceTimeout, Utterance
from voicebot.flow.intents import _word_ratio, normalise

ROOT = Path(__file__).resolve().parents[1]
DIALOGS = sorted((ROOT / "dialogs").glob("*.yaml"))
LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
CTX = {"appointment_date": "2026-01-08", "account_id": "1", "account_last4": "1234", "delivery_date": "2026-01-07"}
UTTERANCES = {
    "appointment_reminder": "uh I'm not sure, maybe another day would be better",
    "satisfaction_survey": "I would give it a four I think",
    "payment_reminder": "four three two one",
    "ko_delivery_confirm": "아 네 받을 수 있어요",
    "zh_satisfaction_survey": "我觉得可以打四分吧",
}


def main() -> None:
    rows = []
    results: dict[str, object] = {"compile": {}, "turn": {}, "match": {}}
    for path in DIALOGS:
        text = path.read_text(encoding="utf-8")
        floor = per_call_us(lambda t=text: yaml.load(t, Loader=LOADER))
        cost = per_call_us(lambda p=path: Flow.load(p))
        results["compile"][path.stem] = {  # type: ignore[index]
            "flow_load_us": cost,
            "yaml_parse_us": floor,
            "ratio": cost / floor,
        }
        rows.append((f"compile {path.stem}", cost, floor, "yaml.safe_load"))
    for path in DIALOGS:
        flow = Flow.load(path)
        ctx = {k: v for k, v in CTX.items() if k in flow.slots}
        text = UTTERANCES[path.stem]

        def turn(flow: Flow = flow, ctx: dict[str, str] = ctx, text: str = text) -> None:
            s = flow.start(ctx, today=dt.date(2026, 1, 5))
            s.begin()
            s.handle(Utterance(text=text))

        def begin_only(flow: Flow = flow, ctx: dict[str, str] = ctx) -> None:
            flow.start(ctx, today=dt.date(2026, 1, 5)).begin()

        cost = per_call_us(turn) - per_call_us(begin_only)
        frame = 20_000.0
        results["turn"][path.stem] = {  # type: ignore[index]
            "handle_us": cost,
            "frame_us": frame,
            "fraction_of_frame": cost / frame,
        }
        rows.append((f"turn {path.stem}", cost, frame, "one 20 ms frame"))
    flow = Flow.load(ROOT / "dialogs" / "appointment_reminder.yaml")
    state = flow.states["ask_confirm"]
    assert state.intents is not None
    intents = state.intents
    phrases = [p for _, ps in intents.phrases for p in ps]
    utter = "uh I'm not sure, maybe another day would be better"

    def cold() -> None:
        _word_ratio.cache_clear()
        intents.match(utter)

    ours = per_call_us(cold)
    warm = per_call_us(lambda: intents.match(utter))
    peer = per_call_us(lambda: difflib.get_close_matches(normalise(utter), phrases, n=1, cutoff=0.6))
    results["match"] = {
        "phrases": len(phrases),
        "intent_match_cold_us": ours,
        "intent_match_warm_us": warm,
        "difflib_us": peer,
        "ratio_cold": ours / peer,
    }
    rows.append((f"match, cold word cache ({len(phrases)} phrases)", ours, peer, "difflib.get_close_matches"))
    rows.append((f"match, warm word cache ({len(phrases)} phrases)", warm, peer, "difflib.get_close_matches"))
    s = flow.start(CTX | {}, today=dt.date(2026, 1, 5))
    s.begin()
    silence = per_call_us(lambda: s.handle(SilenceTimeout()) if not s.ended else None, min_time=0.05)
    results["silence_event_us_upper_bound"] = silence
    path = write_results("flow", results)
    print(f"{'what':40} {'us':>10} {'floor us':>10} {'ratio':>7}  floor")
    for name, cost, floor, what in rows:
        print(f"{name:40} {cost:10.1f} {floor:10.1f} {cost / floor:7.2f}  {what}")
    print(f"results: {path}")


if __name__ == "__main__":
    main()
