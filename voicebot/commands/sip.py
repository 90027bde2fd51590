"""``voicebot serve`` and ``voicebot dial``: the SIP user agent from the shell.

``serve`` answers calls until interrupted (exit 0). ``dial`` places one call; its exit code
says how the call went (see :data:`DIAL_EXIT_CODES`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import sys
from pathlib import Path
from typing import Any

from voicebot import runtime
from voicebot.agent import RegistrationError, UserAgent
from voicebot.call import Call, CallResult
from voicebot.commands import _security_options
from voicebot.errors import ConfigError, VoicebotError
from voicebot.metrics.options import add_metrics_options, serve_metrics
from voicebot.privacy.options import CallRecording, add_recording_options
from voicebot.sip.useragent import NO_RESPONSE, TRANSPORT_ERROR
from voicebot.transport.sip import split_hostport

EXIT_ANSWERED = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_BUSY = 3
EXIT_NO_ANSWER = 4
EXIT_REJECTED = 5
EXIT_AUTH = 6
EXIT_NETWORK = 7

DIAL_EXIT_CODES = """exit codes (one call; with --calls M > 1: 0 every call answered, 1 some were not):
  0  answered (the call was established; it ended normally)
  1  internal failure (the message says why)
  2  bad arguments
  3  busy (486 Busy Here, 600 Busy Everywhere)
  4  no answer (ring timeout and CANCEL, 408/480/487 from the far end)
  5  rejected (any other 3xx-6xx final response, e.g. 403, 404, 488, 603)
  6  authentication failed (401/407 after answering the challenge, or no credentials)
  7  network failure (no response at all, transport error, registration unreachable)
"""


def _hostport(value: str) -> str:
    try:
        split_hostport(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, got {value!r}") from exc
    return value


def _seconds(value: str) -> float:
    try:
        f = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seconds, got {value!r}") from None
    if f < 0:
        raise argparse.ArgumentTypeError("seconds must not be negative")
    return f


def _status(value: str) -> int:
    try:
        code = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a SIP status code, got {value!r}") from None
    if not 300 <= code <= 699:
        raise argparse.ArgumentTypeError("a rejection code must be 300..699")
    return code


def _count(value: str) -> int:
    try:
        n = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {value!r}") from None
    if n < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return n


def _sip_uri(value: str) -> str:
    if not value.lower().startswith(("sip:", "sips:", "tel:")):
        raise argparse.ArgumentTypeError(f"expected a sip: URI, got {value!r}")
    return value


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    serve = subparsers.add_parser(
        "serve",
        help="answer SIP calls (echo, play or record audio)",
        description="Listen for SIP calls on UDP and TCP and answer them. Runs until Ctrl-C.",
        epilog="exit codes: 0 stopped by a signal, 1 failure (e.g. registration refused), 2 bad arguments",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    serve.add_argument("--listen", type=_hostport, default="127.0.0.1:5062", help="HOST:PORT (default 127.0.0.1:5062)")
    serve.add_argument("--user", default="voicebot", help="our user name (Contact, REGISTER AOR)")
    serve.add_argument("--password", help="password for --register and for challenges we get")
    serve.add_argument("--register", type=_sip_uri, metavar="URI", help="registrar to REGISTER at")
    serve.add_argument("--auth-user", help="challenge callers: accept only this user (digest)")
    serve.add_argument("--auth-password", help="password for --auth-user")
    serve.add_argument(
        "--auth-algorithms",
        default="SHA-256,MD5",
        metavar="LIST",
        help="digest algorithms to challenge with, strongest first (default SHA-256,MD5)",
    )
    serve.add_argument("--answer-after", type=_seconds, default=0.0, metavar="S", help="ring S seconds first")
    serve.add_argument("--hangup-after", type=_seconds, metavar="S", help="hang up S seconds after answering")
    serve.add_argument("--reject", type=_status, metavar="CODE", help="reject every call with CODE")
    serve.add_argument("--echo", action="store_true", help="echo the caller's audio back")
    serve.add_argument("--play", type=Path, metavar="FILE.wav", help="play a WAV file to callers")
    add_recording_options(serve)
    add_metrics_options(serve)
    serve.add_argument("--no-media", action="store_true", help="signalling only (no RTP)")
    serve.add_argument("--trace", action="store_true", help="print every SIP message sent/received")
    serve.add_argument("--advertise", metavar="HOST", help="address for Via/Contact/SDP (default: the listen host)")
    serve.add_argument("--duration", type=_seconds, metavar="S", help="stop after S seconds")
    serve.add_argument(
        "--workers",
        type=_count,
        nargs="?",
        const=0,
        metavar="N",
        help="run N worker processes behind a Kamailio dispatcher on --listen (no N: one per core)",
    )
    serve.add_argument(
        "--max-calls", type=_count, default=1000, metavar="N", help="calls per process; more get 503 + Retry-After"
    )
    serve.add_argument("--stats", type=Path, metavar="FILE.json", help="write loop-lag/GC statistics here on exit")
    _security_options.add_options(serve, serve=True)
    serve.set_defaults(handler=run_serve)

    dial = subparsers.add_parser(
        "dial",
        help="place one SIP call",
        description="Call URI, optionally play/record audio, and report how it went.",
        epilog=DIAL_EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    dial.add_argument("uri", type=_sip_uri, metavar="URI", help="whom to call, e.g. sip:bob@127.0.0.1:5062")
    dial.add_argument("--from", dest="from_uri", type=_sip_uri, metavar="URI", help="our From URI")
    dial.add_argument("--user", default="voicebot", help="our user name / digest user")
    dial.add_argument("--password", help="digest password (answers 401/407)")
    dial.add_argument("--proxy", type=_sip_uri, metavar="URI", help="outbound proxy")
    dial.add_argument("--register", type=_sip_uri, metavar="URI", help="REGISTER here first")
    dial.add_argument("--listen", type=_hostport, default="127.0.0.1:0", help="local HOST:PORT (default any port)")
    dial.add_argument("--timeout", type=_seconds, default=60.0, metavar="S", help="ring timeout (default 60)")
    dial.add_argument("--hangup-after", type=_seconds, metavar="S", help="hang up S seconds after answer")
    dial.add_argument("--play", type=Path, metavar="FILE.wav", help="play a WAV file once answered")
    add_recording_options(dial)
    dial.add_argument("--dtmf", metavar="DIGITS", help="send DTMF digits once answered")
    dial.add_argument("--no-media", action="store_true", help="signalling only (no RTP)")
    dial.add_argument("--json", action="store_true", help="print the result as JSON")
    dial.add_argument("--trace", action="store_true", help="print every SIP message sent/received")
    dial.add_argument("--advertise", metavar="HOST", help="address for Via/Contact/SDP (default: the listen host)")
    dial.add_argument("--calls", type=_count, default=1, metavar="M", help="place M calls (bulk; prints a summary)")
    dial.add_argument("--concurrency", type=_count, default=10, metavar="C", help="bulk: at most C calls at once")
    dial.add_argument(
        "--workers", type=_count, nargs="?", const=0, metavar="N", help="bulk: split the calls over N processes"
    )
    _security_options.add_options(dial, serve=False)
    dial.set_defaults(handler=run_dial)


# ---------------------------------------------------------------------------------- helpers


def _check_files(play: Path | None) -> None:
    if play is not None and not play.is_file():
        raise ConfigError(f"--play: no such file {play}")


def _algorithms(text: str) -> tuple[str, ...]:
    known = {"MD5", "SHA-256", "SHA-512-256", "MD5-SESS", "SHA-256-SESS", "SHA-512-256-SESS"}
    algos = tuple(a.strip().upper() for a in text.split(",") if a.strip())
    bad = [a for a in algos if a not in known]
    if not algos or bad:
        raise ConfigError(
            f"--auth-algorithms: unknown {', '.join(bad) or 'empty list'}; use {', '.join(sorted(known))}"
        )
    return algos


def _install_stop(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def exit_code_for(result: CallResult) -> int:
    """Map a call's outcome to the documented ``dial`` exit code."""
    if result.answered:
        return EXIT_ANSWERED
    status, reason = result.status, result.reason
    if (status == 408 and reason == NO_RESPONSE) or (status == 503 and reason == TRANSPORT_ERROR):
        return EXIT_NETWORK
    if status in (486, 600):
        return EXIT_BUSY
    if status in (408, 480, 487) or reason in ("cancelled", "no answer"):
        return EXIT_NO_ANSWER
    if status in (401, 407):
        return EXIT_AUTH
    return EXIT_REJECTED


# ---------------------------------------------------------------------------------- serve


def run_serve(args: argparse.Namespace) -> int:
    if (args.auth_user is None) != (args.auth_password is None):
        raise ConfigError("--auth-user and --auth-password go together")
    if args.register and args.password is None:
        raise ConfigError("--register needs --password")
    _check_files(args.play)
    args.recording = CallRecording.from_args(args)
    if args.workers is not None:
        from voicebot.workers.serve import default_workers, serve_with_workers

        args.workers = args.workers or default_workers()
        return serve_with_workers(args)
    try:
        return runtime.run(_serve(args))
    except RegistrationError as exc:
        _say(f"voicebot serve: {exc}")
        return EXIT_FAILED


async def _serve(args: argparse.Namespace) -> int:
    stop = asyncio.Event()
    _install_stop(stop)
    creds = {args.auth_user: args.auth_password} if args.auth_user else None
    counter = 0
    players: set[asyncio.Future[None]] = set()

    async def handle(call: Call) -> None:
        nonlocal counter
        counter += 1
        n = counter
        if metrics is not None:
            metrics.track(call)
        _say(f"call {n} from {call.remote_uri}" + (f" (user {call.user})" if call.user else ""))
        mine: list[asyncio.Future[None]] = []  # this call's DTMF printer and player
        try:
            if args.reject:
                await call.reject(args.reject)
                _say(f"call {n}: rejected with {args.reject}")
                return
            await call.ring()
            if args.answer_after:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(asyncio.shield(call.finished), args.answer_after)
                if call.finished.done():
                    _say(f"call {n}: {call.finished.result().reason} before answer")
                    return
            await call.answer()
            media = call.media  # media sockets open on answer
            if media is not None and args.recording is not None:
                _say(f"call {n}: {args.recording.start(media, party=call.remote_uri, n=n)}")
            if not await call.answered:
                _say(f"call {n}: not answered ({(await call.finished).reason})")
                return
            if media is not None:
                mine.append(asyncio.ensure_future(_print_dtmf(n, media)))
                if args.echo:
                    media.set_echo(True)
                if args.play is not None:
                    mine.append(asyncio.ensure_future(_play(media, args.play)))
                players.update(mine)
            if args.hangup_after is not None:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(asyncio.shield(call.finished), args.hangup_after)
                if not call.finished.done():
                    await call.hangup()
            result = await call.finished
            _say(f"call {n}: ended by {result.ended_by} ({result.reason}) after {result.duration:.1f} s")
        except VoicebotError as exc:
            _say(f"call {n}: {exc}")
        finally:
            for task in mine:  # they would hold the ended call's media stream for good
                task.cancel()
                players.discard(task)

    ua = UserAgent(
        args.listen,
        user=args.user,
        password=args.password,
        register=args.register,
        server_credentials=creds,
        auth_algorithms=_algorithms(args.auth_algorithms),
        media=not args.no_media,
        trace=sys.stdout if args.trace else None,
        advertise=args.advertise,
        **_security_options.config_from(args),
        max_calls=args.max_calls,
    )
    lag = runtime.LoopLagMonitor()
    ua.on_call(handle)
    async with ua, serve_metrics(args, say=lambda text: print(f"voicebot serve: {text}", flush=True)) as metrics:
        host, port = ua.local_address
        tls = ua.transport.addresses.get("tls")
        also = f" and tls {host}:{tls[1]}" if tls else ""
        runtime.settle_gc()  # start-up is done: freeze what it built, collect the young in small steps
        lag.start()
        print(f"voicebot serve: listening on udp+tcp {host}:{port}{also} as sip:{args.user}@{host}:{port}", flush=True)
        if args.duration is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), args.duration)
        else:
            await stop.wait()
        lag.stop()
        if args.stats is not None:
            args.stats.write_text(json.dumps({"calls": counter, **runtime.stats()}, indent=1) + "\n")
    for task in players:
        task.cancel()
    return 0


async def _print_dtmf(n: int, media: Any) -> None:
    """Report every digit the caller sends (RFC 4733 or SIP INFO) until the call ends."""
    while True:
        digit = await media.dtmf_events.get()
        _say(f"call {n}: DTMF {digit.digit} ({digit.source}, {digit.duration_ms} ms)")


async def _play(media: Any, path: Path) -> None:
    with contextlib.suppress(Exception):
        await media.play_wav(path)


# ---------------------------------------------------------------------------------- dial


def run_dial(args: argparse.Namespace) -> int:
    _check_files(args.play)
    args.recording = CallRecording.from_args(args)
    if args.calls > 1 or args.workers is not None:
        from voicebot.workers.outbound import dial_bulk
        from voicebot.workers.serve import default_workers

        if args.workers is not None:
            args.workers = args.workers or default_workers()
        return dial_bulk(args, exit_code_for, _dial_agent)
    try:
        result, code = asyncio.run(_dial(args))
    except RegistrationError as exc:
        _say(f"voicebot dial: {exc}")
        return EXIT_AUTH if exc.status in (401, 403, 407) else EXIT_NETWORK
    if args.json:
        print(json.dumps({**result.as_dict(), "exit_code": code}), flush=True)
    else:
        how = "answered" if result.answered else "not answered"
        print(
            f"{how}: {result.status} {result.reason}; setup {result.setup_time:.2f} s, "
            f"talk {result.duration:.2f} s" + (f", ended by {result.ended_by}" if result.ended_by else ""),
            flush=True,
        )
    return code


def _dial_agent(args: argparse.Namespace) -> UserAgent:
    """The user agent ``dial`` calls from (one call, or a bulk share)."""
    return UserAgent(
        args.listen,
        user=args.user,
        password=args.password,
        proxy=args.proxy,
        register=args.register,
        media=not args.no_media,
        trace=sys.stdout if args.trace else None,
        advertise=args.advertise,
        **_security_options.config_from(args),
    )


async def _dial(args: argparse.Namespace) -> tuple[CallResult, int]:
    stop = asyncio.Event()
    _install_stop(stop)
    ua = _dial_agent(args)
    players: set[asyncio.Future[None]] = set()
    async with ua:
        call = await ua.dial(args.uri, from_uri=args.from_uri)
        if call.media is not None and args.recording is not None:
            _say(args.recording.start(call.media, party=args.uri))
        answered_or_stop: asyncio.Future[Any] = asyncio.ensure_future(stop.wait())
        first: set[asyncio.Future[Any]] = {call.answered, answered_or_stop}
        done, _ = await asyncio.wait(first, timeout=args.timeout, return_when=asyncio.FIRST_COMPLETED)
        if call.answered not in done:
            answered_or_stop.cancel()
            if not call.progress:
                # not even 100 Trying: CANCEL must wait for a provisional (§9.1) that will not
                # come, so give up now instead of waiting for Timer B
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(asyncio.shield(call.hangup()), 1.0)
                if not call.finished.done():
                    await call._finish(408, NO_RESPONSE, None)
            result = await _end(call)
            if not result.answered and result.status == 487:
                result = _replace_reason(result, "no answer")
            return result, exit_code_for(result)
        if call.answered.result():
            if call.media is not None and args.play is not None:
                players.add(asyncio.ensure_future(_play(call.media, args.play)))
            if args.dtmf:
                with contextlib.suppress(VoicebotError):
                    await call.send_dtmf(args.dtmf)
            waiters: set[asyncio.Future[Any]] = {call.finished, answered_or_stop}
            await asyncio.wait(waiters, timeout=args.hangup_after, return_when=asyncio.FIRST_COMPLETED)
            if not call.finished.done():
                await _end(call)
        answered_or_stop.cancel()
        result = await call.finished
        return result, exit_code_for(result)


async def _end(call: Call, grace: float = 5.0) -> CallResult:
    """Hang up and wait at most ``grace`` seconds for the far end before giving up on it."""
    with contextlib.suppress(TimeoutError):
        return await asyncio.wait_for(asyncio.shield(call.hangup()), grace)
    if not call.finished.done():
        await call._finish(487, "no answer to CANCEL/BYE", "local")
    return await call.finished


def _replace_reason(result: CallResult, reason: str) -> CallResult:
    data = result.as_dict()
    return CallResult(
        call_id=result.call_id,
        direction=result.direction,
        answered=result.answered,
        status=result.status,
        reason=reason,
        ended_by=result.ended_by,
        setup_time=data["setup_time"],
        duration=data["duration"],
    )
