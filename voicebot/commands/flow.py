"""``voicebot flow check|graph|chat|test``: validate, draw, try and test dialog flows.

Exit codes: 0 success; 1 a flow has errors, a script failed or a drawing could not be made;
2 bad arguments (missing file, unknown output format).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, TextIO

from voicebot.errors import DependencyError
from voicebot.flow import (
    CallerHangup,
    Dtmf,
    Flow,
    FlowError,
    Hangup,
    Listen,
    Say,
    SilenceTimeout,
    Transfer,
    Utterance,
    VoiceprintResult,
    Webhook,
    WebhookResult,
)
from voicebot.flow.coerce import describe
from voicebot.flow.diagnostics import Diagnostic
from voicebot.flow.events import DTMF_KEYS, ENROLL_RESULTS, VERIFY_RESULTS, Action, EnrollVoice, VerifyVoice
from voicebot.flow.graph import to_dot, to_mermaid
from voicebot.flow.runtime import FlowStateError, Session
from voicebot.flow.scripts import run_scripts, unvisited_states

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
GRAPH_FORMATS = ("svg", "png", "pdf", "dot", "gv", "mmd")


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser(
        "flow",
        help="check, draw, chat with and test YAML dialog flows",
        description="Work with YAML dialog flows (see docs/flows.md).",
        epilog="exit codes: 0 ok, 1 flow errors / failed scripts, 2 bad arguments",
    )
    sub = p.add_subparsers(dest="flow_command", metavar="SUBCOMMAND")
    p.set_defaults(handler=lambda a: _usage(p))

    c = sub.add_parser(
        "check",
        help="validate flow files; prints file:line:col diagnostics",
        epilog="exit codes: 0 no errors, 1 errors found, 2 bad arguments",
    )
    c.add_argument("files", nargs="+", metavar="FILE", help="flow files or directories of them")
    c.add_argument("--json", action="store_true", help="print diagnostics as JSON")
    c.add_argument("--strict", action="store_true", help="treat warnings as errors")
    c.add_argument("-q", "--quiet", action="store_true", help="print errors only")
    c.add_argument("--dtmf-only", action="store_true", help="also check that every ask state works by keypad alone")
    c.set_defaults(handler=cmd_check)

    g = sub.add_parser(
        "graph",
        help="draw a flow (svg/png/pdf via Graphviz, dot, mmd = Mermaid)",
        epilog="exit codes: 0 written, 1 flow errors or Graphviz failed, 2 bad arguments",
    )
    g.add_argument("file", metavar="FILE")
    g.add_argument(
        "-o",
        "--output",
        required=True,
        metavar="OUT",
        help="output file; its extension picks the format (- prints DOT to stdout)",
    )
    g.add_argument("--format", choices=GRAPH_FORMATS, help="format when OUT has no usable extension")
    g.add_argument("--loops", action="store_true", help="also draw reprompt self-loops and max-turns exits")
    g.add_argument("--compact", action="store_true", help="leave out built-in states (global intents, limits)")
    g.set_defaults(handler=cmd_graph)

    ch = sub.add_parser(
        "chat",
        help="talk to a flow as the caller (terminal or pipe)",
        description="Type what the caller says. Commands: /dtmf 12#, /silence, /hangup, /state, /slots, /help, /quit. "
        "With --dtmf-only, a line of keys (1, 0314, #) is pressed.",
    )
    ch.add_argument("file", metavar="FILE")
    ch.add_argument("--set", action="append", default=[], metavar="SLOT=VALUE", help="fill a slot from context")
    ch.add_argument("--today", metavar="YYYY-MM-DD", help="the call's date (default: today)")
    ch.add_argument("--webhook-fail", action="store_true", help="simulated webhooks fail")
    ch.add_argument("--live-webhooks", action="store_true", help="really send webhook requests")
    ch.add_argument(
        "--voice",
        metavar="RESULT[:SCORE]",
        default="not_enough_speech",
        help="what verify_voice / enroll_voice states get (a chat has no audio): match:0.8, no_match:0.3, "
        "not_enrolled, enrolled, failed (default not_enough_speech)",
    )
    ch.add_argument("--json", action="store_true", help="print only the call result as JSON (the chat goes to stderr)")
    ch.add_argument("--dtmf-only", action="store_true", help="keypad only: prompts say what to press; type keys")
    ch.set_defaults(handler=cmd_chat)

    t = sub.add_parser(
        "test",
        help="run the conversation scripts of flow files",
        epilog="exit codes: 0 all scripts pass, 1 a flow has errors, no scripts or a failure, 2 bad arguments",
    )
    t.add_argument("files", nargs="+", metavar="FILE", help="flow files or directories of them")
    t.add_argument("--json", action="store_true", help="print results as JSON")
    t.add_argument("-v", "--verbose", action="store_true", help="print every transcript")
    t.set_defaults(handler=cmd_test)


def _usage(p: argparse.ArgumentParser) -> int:
    p.print_help(sys.stderr)
    return EXIT_USAGE


def _missing(files: list[str], cmd: str) -> int | None:
    for f in files:
        if not Path(f).is_file() and not Path(f).is_dir():
            print(f"voicebot flow {cmd}: no such file: {f}", file=sys.stderr)
            return EXIT_USAGE
    return None


def _expand(files: list[str]) -> list[str]:
    """Directories become their *.yaml flows; NAME.tests.yaml stands for its flow NAME.yaml."""
    out: list[str] = []
    for f in files:
        p = Path(f)
        paths = sorted(p.glob("*.yaml")) if p.is_dir() else [p]
        for q in paths:
            if q.name.endswith(".tests.yaml"):
                q = q.with_name(q.name[: -len(".tests.yaml")] + ".yaml")
            s = str(q)
            if s not in out:
                out.append(s)
    return out


def _print_diags(diags: list[Diagnostic], out: TextIO, quiet: bool = False) -> None:
    for d in diags:
        if quiet and not d.is_error:
            continue
        print(str(d), file=out)


def _load(path: str) -> Flow | None:
    try:
        flow = Flow.load(path)
    except FlowError as exc:
        _print_diags(list(exc.diagnostics), sys.stderr, quiet=True)
        return None
    return flow


# --- check -------------------------------------------------------------------------------------


def cmd_check(args: argparse.Namespace) -> int:
    bad = _missing(args.files, "check")
    if bad is not None:
        return bad
    args.files = _expand(args.files)
    all_diags: list[Diagnostic] = []
    for f in args.files:
        all_diags.extend(Flow.check(f, dtmf_only=args.dtmf_only))
    errors = sum(1 for d in all_diags if d.is_error)
    warnings = len(all_diags) - errors
    failed = errors > 0 or (args.strict and warnings > 0)
    if args.json:
        print(
            json.dumps(
                {
                    "ok": not failed,
                    "errors": errors,
                    "warnings": warnings,
                    "diagnostics": [d.as_dict() for d in all_diags],
                },
                ensure_ascii=False,
                indent=2,
            )
        )
    else:
        _print_diags(all_diags, sys.stdout, args.quiet)
        n = len(args.files)
        print(
            f"{n} file{'s' if n != 1 else ''} checked: {errors} error{'s' if errors != 1 else ''}, "
            f"{warnings} warning{'s' if warnings != 1 else ''}",
            file=sys.stderr,
        )
    return EXIT_FAILED if failed else EXIT_OK


# --- graph ---------------------------------------------------------------------------------------


def cmd_graph(args: argparse.Namespace) -> int:
    bad = _missing([args.file], "graph")
    if bad is not None:
        return bad
    out = args.output
    fmt = args.format or (Path(out).suffix.lstrip(".").lower() if out != "-" else "dot")
    if fmt not in GRAPH_FORMATS:
        print(
            f"voicebot flow graph: unknown output format '{fmt}' (use one of: {', '.join(GRAPH_FORMATS)})",
            file=sys.stderr,
        )
        return EXIT_USAGE
    flow = _load(args.file)
    if flow is None:
        return EXIT_FAILED
    draw = to_mermaid if fmt == "mmd" else to_dot
    text = draw(flow, loops=args.loops, compact=args.compact)
    if out == "-" and fmt in ("dot", "gv", "mmd"):
        sys.stdout.write(text)
        return EXIT_OK
    target = Path(out)
    if fmt in ("dot", "gv", "mmd"):
        target.write_text(text, encoding="utf-8")
        print(f"wrote {target}", file=sys.stderr)
        return EXIT_OK
    dot = shutil.which("dot")
    if dot is None:
        raise DependencyError(
            "Graphviz 'dot' not found: install the Debian package 'graphviz' "
            "(or write -o FILE.dot / FILE.mmd, which need no Graphviz)"
        )
    to_stdout = out == "-"
    cmd = [dot, f"-T{fmt}"] + ([] if to_stdout else ["-o", str(target)])
    proc = subprocess.run(cmd, input=text.encode("utf-8"), capture_output=True, timeout=120, check=False)
    if proc.returncode != 0:
        print(f"voicebot flow graph: dot failed: {proc.stderr.decode(errors='replace').strip()}", file=sys.stderr)
        return EXIT_FAILED
    if to_stdout:
        sys.stdout.buffer.write(proc.stdout)
        sys.stdout.flush()
    else:
        print(f"wrote {target}", file=sys.stderr)
    return EXIT_OK


# --- chat ------------------------------------------------------------------------------------------


def _parse_sets(items: list[str]) -> dict[str, str] | None:
    out: dict[str, str] = {}
    for item in items:
        if "=" not in item:
            print(f"voicebot flow chat: --set needs SLOT=VALUE, got '{item}'", file=sys.stderr)
            return None
        k, v = item.split("=", 1)
        out[k.strip()] = v
    return out


def _show(actions: list[Action], out: TextIO) -> None:
    for a in actions:
        if isinstance(a, Say):
            print(f"bot: {a.text}", file=out)
        elif isinstance(a, Listen):
            keys = " ".join(a.dtmf)
            print(
                f"  (listening in '{a.state}', {a.timeout_s:g} s" + (f", keys {keys}" if keys else "") + ")", file=out
            )
        elif isinstance(a, Transfer):
            print(f"  (transfer to {a.uri})", file=out)
        elif isinstance(a, Hangup):
            print(f"  (hangup: {a.outcome}{', do not call' if a.do_not_call else ''})", file=out)
        elif isinstance(a, Webhook):
            print(f"  (webhook {a.method} {a.url})", file=out)


def cmd_chat(args: argparse.Namespace) -> int:
    bad = _missing([args.file], "chat")
    if bad is not None:
        return bad
    ctx = _parse_sets(args.set)
    if ctx is None:
        return EXIT_USAGE
    result, _, score = args.voice.partition(":")
    try:
        ok_score = not score or -1.0 <= float(score) <= 1.0
    except ValueError:
        ok_score = False
    if result not in (*VERIFY_RESULTS, *ENROLL_RESULTS) or not ok_score:
        choices = ", ".join(dict.fromkeys((*VERIFY_RESULTS, *ENROLL_RESULTS)))
        print(f"voicebot flow chat: --voice needs RESULT[:SCORE] with RESULT one of {choices} and SCORE "
              f"from -1 to 1, got '{args.voice}'", file=sys.stderr)  # fmt: skip
        return EXIT_USAGE
    today = None
    if args.today:
        try:
            today = dt.date.fromisoformat(args.today)
        except ValueError:
            print(f"voicebot flow chat: --today needs YYYY-MM-DD, got '{args.today}'", file=sys.stderr)
            return EXIT_USAGE
    flow = _load(args.file)
    if flow is None:
        return EXIT_FAILED
    unknown = [k for k in ctx if k not in flow.slots]
    if unknown:
        print(
            f"voicebot flow chat: unknown slot '{unknown[0]}' in --set (slots: {', '.join(flow.slots)})",
            file=sys.stderr,
        )
        return EXIT_USAGE
    unset = [k for k in flow.context_slots if not ctx.get(k)]
    if unset:
        needs = ", ".join(f"{k} ({describe(flow.slots[k])})" for k in unset)
        hint = " ".join(f"--set {k}=..." for k in unset)
        print(f"voicebot flow chat: the flow needs context: {needs}; add {hint}", file=sys.stderr)
        return EXIT_USAGE
    try:
        session = flow.start(ctx, today=today or dt.date.today(), dtmf_only=args.dtmf_only)
    except FlowError as exc:
        first = exc.diagnostics[0]
        print(
            f"voicebot flow chat: {first}" if args.dtmf_only else f"voicebot flow chat: {first.message}",
            file=sys.stderr,
        )
        return EXIT_USAGE
    # with --json, stdout carries the JSON result alone; the conversation goes to stderr
    out = sys.stderr if args.json else sys.stdout
    interactive = sys.stdin.isatty() and out.isatty()
    if interactive:
        with contextlib.suppress(ImportError):
            import readline  # noqa: F401  (line editing and history for input())
        print(f"Chatting with '{flow.name}'. Type as the caller; /help for commands.", file=out)
    _show(_settle(session, session.begin(), args, out), out)
    while not session.ended:
        try:
            line = input("you> ") if interactive else sys.stdin.readline()
        except EOFError:
            break  # Ctrl-D: the caller hangs up
        if not interactive and line == "":
            break  # end of the pipe: the caller hangs up
        line = line.strip()
        if not interactive:
            print(f"you> {line}", file=out)
        if not line:
            continue
        events: list[Any] = []
        if line.startswith("/"):
            cmd, _, rest = line.partition(" ")
            if cmd == "/quit":
                break
            if cmd == "/help":
                print(
                    "  /dtmf KEYS  press keys (e.g. /dtmf 1 or /dtmf 1234#)\n  /silence    say nothing until the "
                    "timeout\n  /hangup     hang up\n  /state /slots  show where the flow is\n  /quit",
                    file=out,
                )
                continue
            if cmd == "/state":
                print(f"  state: {session.state}", file=out)
                continue
            if cmd == "/slots":
                print("  " + json.dumps(_plain(session.slots), ensure_ascii=False), file=out)
                continue
            if cmd == "/dtmf":
                keys = rest.replace(" ", "")
                if not keys or any(k not in DTMF_KEYS for k in keys):
                    print("  /dtmf takes keys 0-9 * # A-D", file=out)
                    continue
                events = [Dtmf(digit=k) for k in keys]
            elif cmd == "/silence":
                events = [SilenceTimeout()]
            elif cmd == "/hangup":
                events = [CallerHangup()]
            else:
                print(f"  unknown command {cmd}; /help lists them", file=out)
                continue
        elif args.dtmf_only:
            keys = line.replace(" ", "").upper()
            if any(k not in DTMF_KEYS for k in keys):
                print("  keypad only: type keys 0-9 * # A-D (or /silence, /hangup)", file=out)
                continue
            events = [Dtmf(digit=k) for k in keys]
        else:
            events = [Utterance(text=line)]
        for ev in events:
            if session.ended:
                break
            try:
                _show(_settle(session, session.handle(ev), args, out), out)
            except FlowStateError as exc:
                print(f"  ({exc})", file=out)
    if not session.ended:
        session.handle(CallerHangup())
    result = session.result()
    if args.json:
        print(
            json.dumps(
                {
                    "flow": result.flow,
                    "outcome": result.outcome,
                    "slots": _plain(result.slots),
                    "do_not_call": result.do_not_call,
                    "final_state": result.final_state,
                    "transcript": result.transcript,
                },
                ensure_ascii=False,
                indent=2,
            )
        )
    else:
        print(f"outcome: {result.outcome}", file=out)
        filled = {k: v for k, v in _plain(result.slots).items() if v is not None}
        print(f"slots: {json.dumps(filled, ensure_ascii=False)}", file=out)
    return EXIT_OK


def _plain(slots: Any) -> dict[str, Any]:
    return {k: (v.isoformat() if isinstance(v, dt.date) else v) for k, v in dict(slots).items()}


def _settle(session: Session, actions: list[Action], args: argparse.Namespace, log: TextIO) -> list[Action]:
    out = list(actions)
    pending = list(actions)
    while pending:
        a = pending.pop(0)
        more: list[Action] = []
        if isinstance(a, Webhook):
            if args.live_webhooks:
                from voicebot.flowio.webhook import execute

                res = execute(a)
            else:
                res = WebhookResult(ok=not args.webhook_fail, data={}, status=200 if not args.webhook_fail else 503)
            print(f"  (webhook {a.method} {a.url} -> {'ok' if res.ok else 'failed'})", file=log)
            more = session.handle(res)
        elif isinstance(a, VerifyVoice | EnrollVoice):
            answer = _voice_answer(a, args.voice)
            score = f", score {answer.score:g}" if answer.score is not None else ""
            print(f"  ({'verify' if isinstance(a, VerifyVoice) else 'enrol'} voice of '{a.id}' -> "
                  f"{answer.result}{score}; --voice chooses)", file=log)  # fmt: skip
            more = session.handle(answer)
        out.extend(more)
        pending.extend(more)
    return [a for a in out if not isinstance(a, Webhook | VerifyVoice | EnrollVoice)]


def _voice_answer(action: VerifyVoice | EnrollVoice, spec: str) -> VoiceprintResult:
    """``--voice RESULT[:SCORE]`` as the answer to ``action``; not_enough_speech when the result
    is not one this kind of state gives."""
    result, _, score = spec.partition(":")
    allowed = VERIFY_RESULTS if isinstance(action, VerifyVoice) else ENROLL_RESULTS
    if result not in allowed:
        return VoiceprintResult(result="not_enough_speech")
    return VoiceprintResult(result=result, score=float(score) if score else None, seconds=action.min_seconds)


# --- test -----------------------------------------------------------------------------------------


def cmd_test(args: argparse.Namespace) -> int:
    bad = _missing(args.files, "test")
    if bad is not None:
        return bad
    args.files = _expand(args.files)
    results: list[dict[str, Any]] = []
    failed = False
    for f in args.files:
        flow = _load(f)
        if flow is None:
            failed = True
            results.append({"file": f, "ok": False, "error": "flow has errors", "scripts": []})
            continue
        reports = run_scripts(flow)
        if not reports:
            print(
                f"{f}: no conversation scripts (add 'tests:' to the flow or a {Path(f).stem}.tests.yaml file)",
                file=sys.stderr,
            )
            failed = True
        missed = unvisited_states(flow, reports)
        own = [n for n, st in flow.states.items() if not st.builtin]
        entry: dict[str, Any] = {
            "file": f,
            "ok": bool(reports),
            "scripts": [],
            "coverage": {"states": len(own), "visited": len(own) - len(missed), "not_visited": missed},
        }
        for r in reports:
            entry["scripts"].append(
                {
                    "name": r.name,
                    "passed": r.passed,
                    "failures": r.failures,
                    "outcome": r.outcome,
                    "transcript": r.transcript,
                }
            )
            if not r.passed:
                failed = True
                entry["ok"] = False
            if not args.json:
                print(f"{'PASS' if r.passed else 'FAIL'} {f} :: {r.name}")
                for msg in r.failures:
                    print(f"  {msg}")
                if args.verbose or not r.passed:
                    for line in r.transcript:
                        print(f"    {line}")
        if not args.json and reports:
            note = f"; not visited: {', '.join(missed)}" if missed else ""
            print(f"  coverage {f}: {len(own) - len(missed)}/{len(own)} states visited by its scripts{note}")
        results.append(entry)
    if args.json:
        print(json.dumps({"ok": not failed, "files": results}, ensure_ascii=False, indent=2))
    else:
        total = sum(len(e["scripts"]) for e in results)
        passed = sum(1 for e in results for s in e["scripts"] if s["passed"])
        print(
            f"{passed}/{total} scripts passed in {len(results)} file{'s' if len(results) != 1 else ''}", file=sys.stderr
        )
    return EXIT_FAILED if failed else EXIT_OK
