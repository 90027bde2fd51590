"""``voicebot campaign create|run|status|pause|resume|list|export|report``.

Every subcommand takes ``--db URL`` (else ``$VOICEBOT_DB``, else ``./voicebot.db``). Exit codes:
0 success (``run``: every contact is final), 1 failure, 2 bad arguments, 3 ``run`` stopped with
contacts still waiting (paused, window closed or daily cap reached with ``--until idle``, or a signal).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from voicebot.campaign import campaigns
from voicebot.campaign.settings import ACTIVE, DEFAULT_DAILY_CAP, DEFAULT_WINDOW, PAUSED, Campaign, local_timezone
from voicebot.campaign.spec import Window, format_duration, parse_duration
from voicebot.errors import ConfigError
from voicebot.metrics.options import add_metrics_options, serve_metrics
from voicebot.privacy.erasure import dnc_digest
from voicebot.privacy.fields import FieldSealer
from voicebot.privacy.keys import NO_KEY_HELP, load_keyring, require_keyring
from voicebot.privacy.options import CallRecording, add_key_option, add_recording_options
from voicebot.privacy.vault import Vault
from voicebot.store import Db, db_url, dnc, open_db

EXIT_WAITING = 3
RUN_EXITS = """exit codes:
  0  every contact is final
  1  failure (the message says why)
  2  bad arguments
  3  stopped with contacts waiting: paused, a signal, or with --until idle the window is
     closed, the daily cap is reached or retries are not yet due
"""


def _arg(parse: Any) -> Any:
    def convert(text: str) -> Any:
        try:
            return parse(text)
        except ConfigError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    convert.__name__ = getattr(parse, "__name__", "value")
    return convert


def _seconds(text: str) -> float:
    return float(text) if text.replace(".", "", 1).isdigit() else parse_duration(text)


def _positive_int(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise ConfigError(f"expected a whole number >= 1, got {text!r}")
    return int(text)


def _rate(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ConfigError(f"expected calls a second (e.g. 2 or 0.5), got {text!r}") from None
    if value < 0:
        raise ConfigError("--cps must not be negative")
    return value


def _sip_uri(text: str) -> str:
    if not text.lower().startswith(("sip:", "sips:")):
        raise ConfigError(f"expected a sip: URI, got {text!r}")
    return text


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser("campaign", help="outbound calling campaigns", description=__doc__,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="campaign_command", metavar="SUBCOMMAND", required=True)

    def cmd(name: str, help_text: str, handler: Any, epilog: str | None = None) -> argparse.ArgumentParser:
        sp = sub.add_parser(name, help=help_text, description=help_text, epilog=epilog,
                            formatter_class=argparse.RawDescriptionHelpFormatter)
        sp.add_argument("--db", metavar="URL", help="database: a SQLite path or postgresql://... (default $VOICEBOT_DB "
                        "or ./voicebot.db)")
        sp.set_defaults(handler=handler)
        return sp

    c = cmd("create", "create a campaign from a flow and a contacts CSV", run_create)
    c.add_argument("name", metavar="NAME")
    c.add_argument("--flow", required=True, type=Path, metavar="F.yaml", help="the dialog flow each call runs")
    c.add_argument("--contacts", required=True, type=Path, metavar="CSV", help="a CSV with a 'phone' column")
    c.add_argument("--trunk", type=_arg(_sip_uri), metavar="URI",
                   help="numbers are dialled as sip:<E.164>@<trunk host>")
    c.add_argument("--caller-id", type=_arg(_sip_uri), metavar="URI",
                   help="our From URI (the daily cap counts per caller ID)")
    c.add_argument("--region", metavar="CC", help="country of national numbers, e.g. FR, US, KR")
    c.add_argument("--timezone", metavar="TZ", help="the campaign's IANA zone; the daily cap counts its calendar days "
                   "(default: this machine's)")
    c.add_argument("--concurrency", type=_arg(_positive_int), default=4, metavar="N",
                   help="calls up at once (default 4)")
    c.add_argument("--cps", type=_arg(_rate), default=1.0, metavar="R",
                   help="new calls a second, 0 = no limit (default 1)")
    c.add_argument("--window", type=_arg(Window.parse), default=Window.parse(DEFAULT_WINDOW), metavar="HH:MM-HH:MM",
                   help=f"calling hours in the callee's time zone (default {DEFAULT_WINDOW})")
    c.add_argument("--max-attempts", type=_arg(_positive_int), default=3, metavar="N",
                   help="calls per contact (default 3)")
    c.add_argument("--retry-after", type=_arg(parse_duration), default=1800.0, metavar="DURATION",
                   help="first retry delay, doubled each time: 90s, 30m, 2h, 1d (default 30m)")
    c.add_argument("--ring-timeout", type=_arg(_seconds), default=30.0, metavar="S",
                   help="give up ringing after S seconds (default 30)")
    c.add_argument("--daily-cap", type=_arg(_positive_int), default=DEFAULT_DAILY_CAP, metavar="N",
                   help=f"calls a day per caller ID, across campaigns (default {DEFAULT_DAILY_CAP})")
    c.add_argument("--webhook", metavar="URL", help="POST each final result here (JSON, signed)")
    c.add_argument("--webhook-secret", metavar="SECRET", help="HMAC-SHA256 key for X-Voicebot-Signature")
    c.add_argument("--json", action="store_true", help="print the summary as JSON")
    add_recording_options(c, wav=False)
    keep = c.add_mutually_exclusive_group()
    keep.add_argument("--encrypt", action="store_true", help="keep transcripts, slots and CRM messages encrypted in "
                      "the database: the default, which needs the recording key, as --record does")
    keep.add_argument("--plain", action="store_true", help="keep transcripts, slots and CRM messages UNENCRYPTED "
                      "(no key needed; not with --record)")

    r = cmd("run", "dial the campaign's contacts until every one is final", run_run, RUN_EXITS)
    r.add_argument("name", metavar="NAME")
    r.add_argument("--until", choices=("done", "idle"), default="done",
                   help="done: wait through closed windows, caps and retry delays (default); idle: stop when nothing "
                   "can be dialled now")
    r.add_argument("--listen", default="127.0.0.1:0", metavar="HOST:PORT", help="our SIP address (default any port)")
    r.add_argument("--advertise", metavar="HOST", help="address for Via/Contact/SDP (default: the listen host)")
    r.add_argument("--drain-timeout", type=_arg(parse_duration), default=30.0, metavar="DURATION",
                   help="keep delivering webhooks this long after the last call (default 30s)")
    r.add_argument("--no-progress", action="store_true", help="no progress bar")
    r.add_argument("--json", action="store_true", help="print the final counts as JSON")
    add_key_option(r.add_argument_group("keys", "needed unless the campaign was created --plain (its transcripts "
                                        "are encrypted), and when the do-not-call list holds erased people's "
                                        "entries"))
    add_metrics_options(r)

    s = cmd("status", "counts by status and outcome", run_status)
    s.add_argument("name", metavar="NAME")
    s.add_argument("--json", action="store_true")
    for name, state in (("pause", PAUSED), ("resume", ACTIVE)):
        sp = cmd(name, f"{name} a campaign (running dialers {'stop claiming' if state == PAUSED else 'may go on'})",
                 run_state)
        sp.add_argument("name", metavar="NAME")
        sp.set_defaults(state=state)
    ls = cmd("list", "all campaigns with their progress", run_list)
    ls.add_argument("--json", action="store_true")
    e = cmd("export", "one row per contact: status, outcome, attempts, slots", run_export)
    e.add_argument("name", metavar="NAME")
    e.add_argument("-o", "--output", required=True, type=Path, metavar="FILE", help="results.csv or results.json")
    add_key_option(e)
    rp = cmd("report", "an HTML report with charts", run_report)
    rp.add_argument("name", metavar="NAME")
    rp.add_argument("-o", "--output", required=True, type=Path, metavar="report.html")
    add_key_option(rp)


def _open(args: argparse.Namespace) -> Db:
    """The database, able to read encrypted transcripts when a key is at hand (``--key-file``
    where the command has it, else the environment's)."""
    db = open_db(db_url(args.db))
    if hasattr(args, "key_file"):
        ring = load_keyring(args.key_file)
        db.content = FieldSealer(ring) if ring is not None else None
    return db


# ---------------------------------------------------------------------------------- create


def run_create(args: argparse.Namespace) -> int:
    from voicebot.campaign.contacts import check_against_flow, check_trunk, read_contacts
    from voicebot.flow import Flow

    if args.trunk:
        check_trunk(args.trunk)
    if args.webhook_secret and not args.webhook:
        raise ConfigError("--webhook-secret needs --webhook")
    if not args.flow.is_file():
        raise ConfigError(f"--flow: no such file {args.flow}")
    flow = Flow.load(args.flow)
    if args.plain and args.record:
        raise ConfigError("--plain (unencrypted transcripts) and --record (encrypted recordings) exclude each other")
    recording = CallRecording.from_args(args, db=db_url(args.db))  # no key: refused before anything is stored
    if not args.plain and recording is None and load_keyring(args.key_file) is None:
        raise ConfigError(f"campaign {args.name} keeps its transcripts encrypted, which needs a recording key: "
                          f"{NO_KEY_HELP}; or pass --plain to keep them unencrypted")
    record_dir = _record_dir(recording.vault) if recording is not None and recording.vault is not None else None
    settings = Campaign(
        name=args.name, flow_path=str(args.flow.resolve()), trunk=args.trunk, caller_id=args.caller_id or "",
        region=args.region.upper() if args.region else None, timezone=args.timezone or local_timezone(),
        concurrency=args.concurrency, cps=args.cps, window=args.window, max_attempts=args.max_attempts,
        retry_after=args.retry_after, ring_timeout=args.ring_timeout, daily_cap=args.daily_cap,
        webhook_url=args.webhook, webhook_secret=args.webhook_secret, record_dir=record_dir,
        sealed=not args.plain,
    )
    contacts = check_against_flow(read_contacts(args.contacts, region=settings.region, trunk=args.trunk), flow)
    with _open(args) as db:
        campaigns.create(db, settings, contacts, time.time())
    bad = [(c.line, c.error) for c in contacts if c.error]
    if args.json:
        print(json.dumps({"campaign": args.name, "contacts": len(contacts), "invalid": [
            {"line": line, "error": err} for line, err in bad]}))
    else:
        print(f"campaign {args.name}: {len(contacts)} contacts, {len(bad)} invalid; flow {flow.name}, window "
              f"{settings.window} callee time, retry after {format_duration(settings.retry_after)}")
        if record_dir is not None:
            print(f"  calls are recorded, encrypted, under {record_dir}")
        print(f"  transcripts, slots and CRM messages are kept {_keeping(settings)}")
        for line, err in bad:
            print(f"  {args.contacts}:{line}: {err} (stored as invalid, never dialled)", file=sys.stderr)
    return 0


def _record_dir(vault: Vault) -> str:
    """The data directory, made now (so that a folder that cannot be written fails here, not at
    the first answered call), as an absolute path: workers may start anywhere."""
    try:
        vault.recordings.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError as exc:
        raise ConfigError(f"--data-dir: cannot create {vault.recordings}: {exc.strerror or exc}") from None
    return str(vault.root.resolve())


# ---------------------------------------------------------------------------------- run


def run_run(args: argparse.Namespace) -> int:
    from voicebot.campaign.dialer import RunOptions

    options = RunOptions(until=args.until, drain_timeout=args.drain_timeout)
    with _open(args) as db:
        result, counts = asyncio.run(_run(db, args, options))
    if args.json:
        print(json.dumps({"reason": result.reason, "placed": result.placed, "recovered": result.recovered,
                          **counts}))
    else:
        _print_counts(args.name, counts)
        if result.webhooks_pending:
            print(f"  {result.webhooks_pending} result(s) wait in the webhook outbox; the next run delivers them")
    return 0 if result.reason == "done" else EXIT_WAITING


async def _run(db: Db, args: argparse.Namespace, options: Any) -> tuple[Any, dict[str, Any]]:
    from voicebot.agent import UserAgent
    from voicebot.campaign.dialer import Dialer
    from voicebot.campaign.sipcall import SipCallPlacer

    campaign = campaigns.get(db, args.name)  # a one-line error for an unknown name, before any socket opens
    recording, digest = _keys(db, campaign, args.key_file)

    def say(text: str) -> None:
        print(f"campaign {args.name}: {text}", file=sys.stderr, flush=True)

    async with serve_metrics(args, say=say) as metrics, UserAgent(args.listen, advertise=args.advertise) as ua:
        placer = SipCallPlacer(ua, recording=recording, track=metrics.track if metrics is not None else None)
        dialer = Dialer(db, args.name, placer, options=options, dnc_digest=digest)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, dialer.stop)
        final: asyncio.Future[dict[str, Any]] = loop.create_future()
        async with asyncio.TaskGroup() as tg:
            if not args.no_progress and not args.json:
                tg.create_task(_progress(dialer, args.name, final))
            try:
                result = await dialer.run()
            except BaseException:
                final.cancel()  # the run failed: the bar stops where it was
                raise
            final.set_result(result.counts)
    return result, result.counts


def _keys(db: Db, campaign: Campaign,
          key_file: Path | None) -> tuple[CallRecording | None, Callable[[str], str | None] | None]:
    """What a run needs the recording key for: the campaign's recording (created with
    ``--record``), its sealed transcripts (every campaign not created ``--plain``), and matching the
    do-not-call entries of erased people (keyed digests). Any of them without a key is a
    one-line error before any call."""
    with db.read() as tx:
        erased = dnc.has_erased(tx)
    why = (f"campaign {campaign.name} records its calls (created with --record), so running it"
           if campaign.record_dir is not None else
           f"campaign {campaign.name} keeps its transcripts encrypted (created without --plain), so running it"
           if campaign.sealed else
           "the do-not-call list holds erased people's numbers as keyed digests; dialling")
    needed = campaign.record_dir is not None or campaign.sealed or erased
    ring = require_keyring(key_file, why=why) if needed else load_keyring(key_file)
    if ring is None:
        return None, None  # an erasure during the run stops it with the same error (claims.claim)
    db.content = FieldSealer(ring)
    recording = CallRecording(vault=Vault(Path(campaign.record_dir), ring)) if campaign.record_dir else None
    return recording, partial(dnc_digest, ring)


async def _progress(dialer: Any, name: str, final: asyncio.Future[dict[str, Any]]) -> None:
    """A live bar of final contacts with counts by outcome (rich, on stderr), until ``final``."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
               TextColumn("{task.fields[detail]}"))
    with Progress(*columns, console=Console(stderr=True), transient=False) as bar:
        task = bar.add_task(f"campaign {name}", total=None, detail="")
        while True:
            done = final.done()
            counts = final.result() if done else await dialer.counts()
            detail = "  ".join(f"{k or '?'} {v}" for k, v in counts["outcomes"].items())
            bar.update(task, total=counts["contacts"], completed=counts["final"],
                       detail=f"in flight {counts['in_flight']}  {detail}")
            if done:
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(final), 0.5)


def _print_counts(name: str, counts: dict[str, Any]) -> None:
    status = ", ".join(f"{k} {v}" for k, v in counts["status"].items() if v)
    print(f"campaign {name}: {counts['final']}/{counts['contacts']} final ({status}); "
          f"{counts['attempts']} calls placed")
    if counts["outcomes"]:
        print("  outcomes: " + ", ".join(f"{k or '?'} {v}" for k, v in counts["outcomes"].items()))


# ---------------------------------------------------------------------------------- the rest


def run_status(args: argparse.Namespace) -> int:
    with _open(args) as db:
        c = campaigns.get(db, args.name)
        counts = campaigns.counts(db, c.id)
    if args.json:
        print(json.dumps({"campaign": c.name, "state": c.state, "transcripts": _keeping(c), **counts}))
    else:
        print(f"{c.name} ({c.state}): flow {c.flow_path}")
        print(f"  transcripts {_keeping(c)}")
        _print_counts(c.name, counts)
        if counts["in_flight"] or counts["webhooks_pending"]:
            print(f"  in flight {counts['in_flight']}, webhooks waiting {counts['webhooks_pending']}")
    return 0


def _keeping(c: Campaign) -> str:
    """How the campaign keeps what its calls said, as status and list show it."""
    return "encrypted" if c.sealed else "PLAIN (created --plain)"


def run_state(args: argparse.Namespace) -> int:
    with _open(args) as db:
        c = campaigns.set_state(db, args.name, args.state)
    print(f"campaign {c.name}: {c.state}")
    return 0


def run_list(args: argparse.Namespace) -> int:
    with _open(args) as db:
        rows = [(c, campaigns.counts(db, c.id)) for c in campaigns.all_campaigns(db)]
    if args.json:
        print(json.dumps([{"campaign": c.name, "state": c.state, "contacts": n["contacts"], "final": n["final"],
                           "attempts": n["attempts"], "transcripts": _keeping(c)} for c, n in rows]))
        return 0
    if not rows:
        print("no campaigns (create one with: voicebot campaign create NAME --flow F.yaml --contacts C.csv)")
    for c, n in rows:
        print(f"{c.name:<24} {c.state:<7} {n['final']}/{n['contacts']} final, {n['attempts']} calls, transcripts "
              f"{_keeping(c)}")
    return 0


def run_export(args: argparse.Namespace) -> int:
    from voicebot.campaign.export import to_csv, to_json

    suffix = args.output.suffix.lower()
    if suffix not in (".csv", ".json"):
        raise ConfigError(f"-o: the file name must end in .csv or .json, got {args.output.name!r}")
    with _open(args) as db:
        c = campaigns.get(db, args.name)
        results = campaigns.results(db, c.id)
    text = to_csv(results) if suffix == ".csv" else to_json(results)
    _write(args.output, text)
    print(f"{args.output}: {len(results)} contacts")
    return 0


def run_report(args: argparse.Namespace) -> int:
    from voicebot.campaign.report import render

    with _open(args) as db:
        c = campaigns.get(db, args.name)
        html = render(c, campaigns.counts(db, c.id), campaigns.results(db, c.id))
    _write(args.output, html)
    print(f"{args.output}: report of campaign {c.name}")
    return 0


def _write(path: Path, text: str) -> None:
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot write {path}: {exc.strerror}") from None
