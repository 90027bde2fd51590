"""``voicebot serve`` and ``voicebot dial``: the call engine from the shell.

``serve`` answers calls until interrupted (exit 0): it echoes, plays, runs a dialog flow
(``--flow``) or plays a scripted callee (``--persona``). ``dial`` places one call — playing
files, speaking text or running a flow — and its exit code says how the call went (see
:data:`DIAL_EXIT_CODES`). Both print live progress on stderr (``-q`` silences it) and, with
``--json``, only JSON on stdout: one object for ``dial``, one line per finished call for
``serve``. Every argument is checked before anything is sent.

For capacity, ``serve --workers N`` runs N worker processes behind a Kamailio dispatcher
(:mod:`voicebot.workers.serve`) and ``serve --max-calls`` answers calls past the limit with
503 + Retry-After; ``dial --calls M [--concurrency C] [--workers N]`` places calls in bulk
(:mod:`voicebot.workers.outbound`) and prints a summary.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from voicebot.asr.engine import ENV_PROCESSES
from voicebot.commands import _security_options
from voicebot.commands._exits import DIAL_EXIT_CODES
from voicebot.commands._security_options import count, whole_number
from voicebot.errors import ConfigError, ProtocolError
from voicebot.metrics.options import add_metrics_options
from voicebot.privacy.options import CallRecording, add_recording_options
from voicebot.sip.uacore.records import MAX_SESSIONS
from voicebot.sip.uri import SipUri, TelUri, parse_uri
from voicebot.transport.sip import split_hostport

DTMF = re.compile(r"^[0-9*#A-Da-d]+$")


def _hostport(value: str) -> str:
    try:
        host, port = split_hostport(value, 0)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, got {value!r}") from None
    if not host or not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"expected HOST:PORT with a port 0-65535, got {value!r}")
    return value


def _seconds(value: str) -> float:
    try:
        f = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seconds, got {value!r}") from None
    if not f >= 0 or f == float("inf"):
        raise argparse.ArgumentTypeError("seconds must be a finite number, not negative")
    return f


def _status(value: str) -> int:
    try:
        code = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a SIP status code, got {value!r}") from None
    if not 300 <= code <= 699:
        raise argparse.ArgumentTypeError("a rejection code must be 300..699")
    return code


def _sip_uri(value: str) -> str:
    """A SIP, SIPS or tel URI that parses, with a port in range."""
    if not value.lower().startswith(("sip:", "sips:", "tel:")):
        raise argparse.ArgumentTypeError(f"expected a sip: URI, got {value!r}")
    try:
        uri = parse_uri(value)
    except (ValueError, ProtocolError) as exc:
        raise argparse.ArgumentTypeError(f"malformed URI: {exc}") from None
    if isinstance(uri, SipUri):
        if not uri.host:
            raise argparse.ArgumentTypeError(f"malformed URI {value!r}: no host")
        if uri.port is not None and not 0 < uri.port <= 65535:
            raise argparse.ArgumentTypeError(f"malformed URI {value!r}: port {uri.port} is outside 1-65535")
    elif not isinstance(uri, TelUri):
        raise argparse.ArgumentTypeError(f"expected a sip: URI, got {value!r}")
    return value


def _dtmf(value: str) -> str:
    if not DTMF.match(value):
        bad = sorted({c for c in value if not DTMF.match(c)})
        raise argparse.ArgumentTypeError(f"DTMF digits are 0-9 * # A-D; {' '.join(bad) or 'nothing'} is not")
    return value.upper()


def _codecs(value: str) -> tuple[str, ...]:
    names = tuple(n.strip().lower() for n in value.split(",") if n.strip())
    known = ("pcmu", "pcma", "opus")
    bad = [n for n in names if n not in known]
    if not names or bad:
        raise argparse.ArgumentTypeError(f"codecs are {', '.join(known)} (comma-separated, preferred first)")
    return names


def _ptime(value: str) -> int:
    ms = int(value) if value.isascii() and value.isdigit() and len(value) <= 3 else 0
    if not 10 <= ms <= 60 or ms % 10:
        raise argparse.ArgumentTypeError(f"ptime is 10 to 60 ms in steps of 10 (opus: 10, 20, 40, 60), not {value!r}")
    return ms


class _Ordered(argparse.Action):
    """``--say`` and ``--play`` into one list, in the order given on the command line."""

    def __call__(self, parser: argparse.ArgumentParser, ns: argparse.Namespace, value: Any, opt: Any = None) -> None:
        items = list(getattr(ns, self.dest) or [])
        items.append((self.const, value))
        setattr(ns, self.dest, items)


def _webhook_base(text: str) -> str:
    from voicebot.flowio.webhook import check_base

    try:
        return check_base(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _common(p: argparse.ArgumentParser) -> None:
    """Options ``dial`` and ``serve`` share."""
    p.add_argument("--user", default="voicebot", help="our user name (Contact, From, REGISTER AOR, digest user)")
    p.add_argument("--password", help="digest password (for --register and for challenges we get)")
    p.add_argument("--register", type=_sip_uri, metavar="URI", help="REGISTER at this registrar first")
    p.add_argument("--advertise", metavar="HOST", help="address for Via/Contact/SDP (default: the listen host)")
    p.add_argument("--codec", type=_codecs, metavar="LIST", help="audio codecs, preferred first (pcmu,pcma,opus)")
    p.add_argument("--ptime", type=_ptime, metavar="MS",
                   help="packet time we ask the far end to send in ms (default 20); we send what it asks")  # fmt: skip
    p.add_argument("--rtp-timeout", type=_seconds, default=30.0, metavar="S",
                   help="end a call with BYE after S seconds without RTP (default 30)")  # fmt: skip
    p.add_argument("--max-duration", type=_seconds, metavar="S", help="hang up S seconds after answer, whatever runs")
    p.add_argument("--hangup-after", type=_seconds, metavar="S", help="hang up S seconds after answering")
    p.add_argument("--play", dest="script", action=_Ordered, const="play", metavar="F.wav", type=Path,
                   help="play a 16-bit WAV file once answered (repeat: played in order, with --say)")  # fmt: skip
    p.add_argument("--say", dest="script", action=_Ordered, const="say", metavar="TEXT",
                   help="speak TEXT with local TTS once answered (repeat: in order, with --play)")  # fmt: skip
    p.add_argument("--no-media", action="store_true", help="signalling only (no RTP)")
    p.add_argument("--flow", type=Path, metavar="F.yaml", help="run this dialog flow on the call")
    p.add_argument("--context", action="append", default=[], metavar="K=V", help="a flow context value (repeat)")
    p.add_argument("--context-file", type=Path, metavar="F.json", help="flow context values from a JSON object")
    p.add_argument("--webhook-base", type=_webhook_base, metavar="URL",
                   help="send the flow's webhooks to URL's host instead of their own (a staging CRM, a local "
                        "stand-in); default $VOICEBOT_WEBHOOK_BASE")  # fmt: skip
    p.add_argument("--asr-engine", choices=("vosk", "pocketsphinx"), help="recogniser (default: by language)")
    p.add_argument("--asr-model", type=Path, metavar="DIR", help="Vosk model directory (another language)")
    p.add_argument("--asr-processes", type=whole_number, metavar="N",
                   help=f"decode pocketsphinx in N processes beside this one, outside its GIL (0: in this "
                        f"one; default ${ENV_PROCESSES} or 0)")  # fmt: skip
    p.add_argument("--voice", help="espeak-ng voice (default: by the flow's language)")
    p.add_argument("--dtmf-only", action="store_true",
                   help="run the flow by keypad alone (automatic when its language has no recogniser)")  # fmt: skip
    p.add_argument("--json", action="store_true", help="print only JSON on stdout (one object per call)")
    p.add_argument("-q", "--quiet", action="store_true", help="no live progress on stderr")
    p.add_argument("--trace", action="store_true", help="print every SIP message sent/received")
    add_recording_options(p)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    serve = subparsers.add_parser(
        "serve",
        help="answer SIP calls (echo, play, run a flow, or play a scripted callee)",
        description="Listen for SIP calls on UDP and TCP and answer them. Runs until Ctrl-C / SIGTERM, "
        "which hangs up every call with BYE and unregisters.",
        epilog="exit codes: 0 stopped by a signal (or --duration), 1 failure (e.g. registration refused), "
        "2 bad arguments",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    serve.add_argument("--listen", type=_hostport, default="127.0.0.1:5062", help="HOST:PORT to listen on")
    _common(serve)
    serve.add_argument("--auth-user", help="challenge callers: accept only this user (digest)")
    serve.add_argument("--auth-password", help="password for --auth-user")
    serve.add_argument("--auth-algorithms", default="SHA-256,MD5", metavar="LIST",
                       help="digest algorithms to challenge with, strongest first (default SHA-256,MD5)")  # fmt: skip
    serve.add_argument("--answer-after", type=_seconds, default=0.0, metavar="S",
                       help="ring S seconds first (then answer or --reject)")
    serve.add_argument("--reject", type=_status, metavar="CODE", help="reject every call with CODE")
    serve.add_argument("--echo", action="store_true", help="echo the caller's audio back")
    serve.add_argument("--persona", type=Path, metavar="P.yaml", help="answer as this scripted callee (tests, demos)")
    serve.add_argument("--duration", type=_seconds, metavar="S", help="stop after S seconds")
    serve.add_argument("--workers", type=count, nargs="?", const=0, metavar="N",
                       help="N worker processes behind a Kamailio dispatcher (no N: one per core)")  # fmt: skip
    serve.add_argument("--max-calls", type=count, default=MAX_SESSIONS, metavar="N",
                       help=f"calls per process; more get 503 + Retry-After (default {MAX_SESSIONS})")  # fmt: skip
    serve.add_argument("--stats", type=Path, metavar="FILE.json", help="write loop-lag/GC statistics here on exit")
    add_metrics_options(serve)
    _security_options.add_options(serve, serve=True)
    serve.set_defaults(handler=run_serve)

    dial = subparsers.add_parser(
        "dial",
        help="place a SIP call (play, say, or run a flow), or many (--calls)",
        description="Call URI: play files, speak text or run a dialog flow, and report how it went. "
        "With --calls M: place M such calls (at most --concurrency at once, over --workers processes) "
        "and print a summary.",
        epilog=DIAL_EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    dial.add_argument("uri", type=_sip_uri, metavar="URI", help="whom to call, e.g. sip:bob@127.0.0.1:5062")
    dial.add_argument("--from", dest="from_uri", type=_sip_uri, metavar="URI", help="our From URI")
    dial.add_argument("--proxy", type=_sip_uri, metavar="URI", help="outbound proxy")
    dial.add_argument("--listen", type=_hostport, default="127.0.0.1:0", help="local HOST:PORT (default any port)")
    dial.add_argument("--timeout", type=_seconds, default=60.0, metavar="S", help="ring timeout (default 60)")
    dial.add_argument("--dtmf", type=_dtmf, metavar="DIGITS", help="send DTMF digits once answered (0-9 * # A-D)")
    dial.add_argument("--calls", type=count, default=1, metavar="M", help="place M calls (bulk; prints a summary)")
    dial.add_argument("--concurrency", type=count, default=10, metavar="C", help="bulk: at most C calls at once")
    dial.add_argument("--workers", type=count, nargs="?", const=0, metavar="N",
                      help="bulk: split the calls over N processes (no N: one per core)")  # fmt: skip
    _common(dial)
    _security_options.add_options(dial, serve=False)
    dial.set_defaults(handler=run_dial)


# ---------------------------------------------------------------------------------- checking


def check(args: argparse.Namespace) -> None:
    """Every argument problem as one ``ConfigError`` (exit 2) before anything is sent."""
    script: Sequence[tuple[str, Any]] = args.script or []
    media_users = [
        name
        for name, used in (
            ("--play", any(k == "play" for k, _ in script)),
            ("--say", any(k == "say" for k, _ in script)),
            ("--record", args.record),
            ("--record-wav", args.record_wav is not None),
            ("--flow", args.flow is not None),
            ("--echo", getattr(args, "echo", False)),
            ("--persona", getattr(args, "persona", None) is not None),
        )
        if used
    ]
    if args.no_media and media_users:
        raise ConfigError(f"--no-media leaves no audio for {', '.join(media_users)}")
    if getattr(args, "persona", None) is not None and len(media_users) > 1:
        others = [m for m in media_users if m not in ("--persona", "--record", "--record-wav")]
        if others:
            raise ConfigError(f"--persona plays the callee itself; drop {', '.join(others)}")
    if args.flow is not None and any(k in ("play", "say") for k, _ in script):
        raise ConfigError("--flow speaks for itself; --say/--play go without it")
    if (args.context or args.context_file) and args.flow is None:
        raise ConfigError("--context/--context-file fill a flow's slots: give --flow too")
    if args.dtmf_only and args.flow is None:
        raise ConfigError("--dtmf-only runs a flow by keypad alone: give --flow too")
    if args.register and args.password is None:
        raise ConfigError("--register needs --password")
    for kind, value in script:
        if kind == "play":
            check_wav(value)
        elif not str(value).strip():
            raise ConfigError("--say needs some text")
    args.recording = CallRecording.from_args(args)  # a missing key is a bad argument too


def check_wav(path: Path) -> None:
    """A playable 16-bit PCM WAV with some audio in it (any rate or channel count: converted)."""
    from voicebot.media.frames import read_wav

    if not path.is_file():
        raise ConfigError(f"--play: no such file {path}")
    try:
        pcm = read_wav(path)
    except ConfigError as exc:
        raise ConfigError(f"--play: {exc}") from None
    except PermissionError:
        raise ConfigError(f"--play: {path}: permission denied") from None
    if len(pcm) == 0:
        raise ConfigError(f"--play: {path} holds no audio")


def run_serve(args: argparse.Namespace) -> int:
    from voicebot.commands.calls import serve

    if (args.auth_user is None) != (args.auth_password is None):
        raise ConfigError("--auth-user and --auth-password go together")
    check(args)
    if args.reject and (args.flow or args.persona or args.script or args.echo):
        raise ConfigError("--reject answers nothing: drop --flow/--persona/--play/--say/--echo")
    if args.workers is not None:
        from voicebot.workers.serve import default_workers, serve_with_workers

        args.workers = args.workers or default_workers()
        return serve_with_workers(args)
    return serve(args)


def run_dial(args: argparse.Namespace) -> int:
    from voicebot.commands.calls import dial, dial_many

    check(args)
    if args.calls > 1 or args.workers is not None:
        from voicebot.workers.serve import default_workers

        if args.workers is not None:
            args.workers = args.workers or default_workers()
        return dial_many(args)
    return dial(args)
