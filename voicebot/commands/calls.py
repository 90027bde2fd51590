"""What ``voicebot dial`` and ``voicebot serve`` do once their arguments are checked.

Engines are chosen, a flow compiled and its prompts rendered *before* anything is sent, so a
flow in a language without a recogniser is refused before dialling and the first prompt of
the first call is as quick as the rest. Every call reports live progress on stderr (unless
``-q``) and its result as a report (:func:`voicebot.report.call_report`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import ipaddress
import json
import signal
import socket
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# imported here, not on first use: an import in the middle of a call holds the event loop
# for tens of milliseconds, which the far end's jitter buffer answers with extra delay
import voicebot.bot
import voicebot.flowio.webhook
import voicebot.persona  # noqa: F401
from voicebot import runtime
from voicebot.agent import RegistrationError, UserAgent
from voicebot.aio import first_of, settled
from voicebot.call import Call
from voicebot.commands import _security_options
from voicebot.commands._exits import EXIT_AUTH, EXIT_FAILED, EXIT_INTERRUPTED, EXIT_NETWORK, exit_code_for
from voicebot.errors import ConfigError, VoicebotError
from voicebot.metrics.options import serve_metrics
from voicebot.progress import CallEvent
from voicebot.report import UNREACHABLE, call_report, progress_line
from voicebot.sip.uri import SipUri, parse_uri
from voicebot.transport.sip import format_hostport

VOICE_STATES = ("verify_voice", "enroll_voice")
SCRIPT_TAIL = 1.0  # seconds to stay on the line after the last --say/--play, for the far end's reply


class CannotResolve(VoicebotError):
    pass


@dataclass
class Setup:
    """What a call needs, prepared before the first one: engines, flow, context, persona."""

    speech: Any = None  # voicebot.voice.Speech
    flow: Any = None  # voicebot.flow.Flow
    context: dict[str, Any] = field(default_factory=dict)
    persona: Any = None  # voicebot.persona.Persona
    script: list[tuple[str, Any]] = field(default_factory=list)
    dtmf_only: bool = False  # the flow runs by keypad alone (asked for, or no recogniser for its language)
    voiceprints: Callable[[], Any] | None = None  # a new CallerVoice per call, for flows with voice states
    webhook_base: str | None = None  # --webhook-base (None: $VOICEBOT_WEBHOOK_BASE, else each URL's own host)


def prepare(args: argparse.Namespace) -> Setup:
    """Compile the flow, check its context, choose and warm the engines (raises on trouble)."""
    setup = Setup(
        script=list(args.script or []),
        dtmf_only=bool(getattr(args, "dtmf_only", False)),
        webhook_base=getattr(args, "webhook_base", None),
    )
    language: str | None = None
    if args.flow is not None:
        from voicebot.flow import Flow

        if not args.flow.is_file():
            raise ConfigError(f"--flow: no such file {args.flow}")
        setup.flow = Flow.load(args.flow)
        setup.context = parse_context(args.context, args.context_file)
        # a context value of the wrong type, or a state no keypad can answer, is a bad argument
        setup.flow.start(setup.context, dtmf_only=setup.dtmf_only)
        language = setup.flow.language
        if any(st.kind in VOICE_STATES for st in setup.flow.states.values()):
            setup.voiceprints = _voiceprints(args)
    from voicebot.voice import Speech

    if getattr(args, "persona", None) is not None:
        from voicebot.persona import Persona, persona_speech

        setup.persona = persona = Persona.load(args.persona)
        setup.speech = persona_speech(persona, args.voice, asr_processes=args.asr_processes)
    elif language is not None:
        from voicebot.bot import flow_speech

        setup.speech = flow_speech(setup.flow, asr_engine=args.asr_engine, asr_model=args.asr_model,
                                   voice=args.voice, dtmf_only=setup.dtmf_only,
                                   asr_processes=args.asr_processes)  # fmt: skip
        if setup.speech.asr is None and not setup.dtmf_only:
            setup.dtmf_only = True
            if not args.quiet:
                say(f"voicebot: no speech recogniser for '{language}': the flow runs by keypad alone")
    elif any(kind == "say" for kind, _ in setup.script):
        setup.speech = Speech.speaking("en", voice=args.voice)
    return setup


def _voiceprints(args: argparse.Namespace) -> Callable[[], Any]:
    """A maker of per-call voiceprint checkers over the encrypted store in ``--data-dir``; the
    speaker encoder is loaded once, here, for every call of the process."""
    from voicebot.privacy.keys import require_keyring
    from voicebot.privacy.vault import Vault, data_dir
    from voicebot.privacy.voiceprints import VaultPrintStore
    from voicebot.voiceprint.encoder import SpeakerEncoder
    from voicebot.voiceprint.live import CallerVoice

    ring = require_keyring(args.key_file, why="a flow with voiceprint states (prints are kept encrypted)")
    store = VaultPrintStore(Vault(data_dir(args.data_dir), ring))
    encoder = SpeakerEncoder()
    return lambda: CallerVoice(store, encoder=encoder)


async def run_flow(call: Call, setup: Setup) -> None:
    """Run the flow on ``call`` (answered), with a voiceprint checker of its own if it needs one."""
    from voicebot.bot import VoiceBot
    from voicebot.flowio.webhook import runner

    voice = setup.voiceprints() if setup.voiceprints is not None else None
    try:
        bot = VoiceBot(call, voiceprints=voice, webhook=runner(setup.webhook_base))
        await bot.run(setup.flow, context=setup.context, dtmf_only=setup.dtmf_only)
    finally:
        if voice is not None:
            await asyncio.to_thread(voice.close)  # waits for a check still running


async def warm(setup: Setup) -> None:
    """Render the prompts this run will speak and build a recogniser, before any call."""
    if setup.speech is None:
        return
    prompts = [text for kind, text in setup.script if kind == "say"]
    if setup.flow is not None:
        from voicebot.bot import opening_prompts, static_prompts

        prompts += [s.text for s in static_prompts(setup.flow)]
        prompts += opening_prompts(setup.flow, setup.context, dtmf_only=setup.dtmf_only)
    if setup.persona is not None:
        prompts += setup.persona.texts()
    await setup.speech.prepare(prompts)


# ---------------------------------------------------------------------------------- helpers


def parse_context(pairs: Sequence[str], file: Path | None) -> dict[str, Any]:
    """``--context-file`` (a JSON object) overlaid by ``--context K=V`` pairs."""
    context: dict[str, Any] = {}
    if file is not None:
        try:
            data = json.loads(file.read_text(encoding="utf-8"))
        except OSError as exc:
            raise ConfigError(f"--context-file: {exc.strerror or exc}: {file}") from None
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"--context-file: {file} is not JSON ({exc})") from None
        if not isinstance(data, dict):
            raise ConfigError(f"--context-file: {file} must hold a JSON object of slot values")
        context.update(data)
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--context expects KEY=VALUE, got {pair!r}")
        context[key.strip()] = value
    return context



def _install_stop(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def watch(call: Call, args: argparse.Namespace, prefix: str = "", *, me: str = "bot", them: str = "caller") -> None:
    """Live progress of ``call`` on stderr (nothing with ``-q``)."""
    if args.quiet:
        return
    start = call.started_at

    def show(event: CallEvent) -> None:
        line = progress_line(event, start, me=me, them=them)
        if line is not None:
            say(prefix + line)

    call.observe(show)


async def resolve(uri: str) -> None:
    """Fail at once, before any INVITE, when the URI's host has no address."""
    parsed = parse_uri(uri)
    if not isinstance(parsed, SipUri):
        return
    host = parsed.host.strip("[]")
    with contextlib.suppress(ValueError):
        ipaddress.ip_address(host)
        return
    try:
        await asyncio.get_running_loop().getaddrinfo(host, parsed.port or 5060, type=socket.SOCK_DGRAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise CannotResolve(f"cannot resolve {host}: {getattr(exc, 'strerror', None) or exc}") from None


async def unreachable(uri: str, wait: float = 1.0) -> str | None:
    """Whether the OS reports the URI's UDP port closed (ICMP port unreachable), within ``wait``.

    A connected UDP socket sends an RFC 5626 CRLF keep-alive (ignored by SIP servers) and
    reads: where the port is closed the kernel answers the ICMP error with ECONNREFUSED.
    Returns a one-line reason, or None when nothing came back (open, filtered or slow)."""
    parsed = parse_uri(uri)
    if not isinstance(parsed, SipUri) or parsed.scheme.lower() == "sips":  # sips: is TLS, never UDP
        return None
    if (parsed.params.get("transport") or "udp").lower() != "udp":
        return None
    host, port = parsed.host.strip("[]"), parsed.port or 5060
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_DGRAM)
    except (socket.gaierror, UnicodeError):
        return None
    family, _type, _proto, _name, address = infos[0]
    with socket.socket(family, socket.SOCK_DGRAM) as sock:
        sock.setblocking(False)
        try:
            await loop.sock_connect(sock, address)
            await loop.sock_sendall(sock, b"\r\n\r\n")
            await asyncio.wait_for(loop.sock_recv(sock, 2048), wait)
        except ConnectionRefusedError:
            return f"{format_hostport(host, port)}: port unreachable (nothing listens there)"
        except (TimeoutError, OSError):
            return None
    return None


def _agent(args: argparse.Namespace, setup: Setup, **extra: Any) -> UserAgent:
    return UserAgent(
        args.listen,
        user=args.user,
        password=args.password,
        register=args.register,
        media=not args.no_media,
        ptime=args.ptime,
        codecs=args.codec,
        rtp_timeout=args.rtp_timeout,
        trace=sys.stdout if args.trace and not args.json else (sys.stderr if args.trace else None),
        advertise=args.advertise,
        speech=setup.speech,
        **_security_options.config_from(args),
        **extra,
    )


async def run_script(call: Call, script: Sequence[tuple[str, Any]], dtmf: str | None = None) -> None:
    """``--dtmf``, then every ``--say`` / ``--play`` in command-line order."""
    if dtmf:
        with contextlib.suppress(VoicebotError):
            await call.send_dtmf(dtmf)
    for kind, value in script:
        if call.ended.done():
            return
        if kind == "play":
            await call.play(value)
        else:
            await call.say(str(value), barge_in=False)


def _limit(*values: float | None) -> float | None:
    given = [v for v in values if v is not None]
    return min(given) if given else None


async def _until(call: Call, stop: asyncio.Event, timeout: float | None, *also: asyncio.Future[Any]) -> None:
    """Until the call ends, ``stop`` is set, one of ``also`` is done (its owner reads how) or
    ``timeout`` passes."""
    await first_of(stop.wait(), *(settled(fut) for fut in (call.ended, *also)), timeout=timeout)


# ---------------------------------------------------------------------------------- dial


def dial(args: argparse.Namespace) -> int:
    setup = prepare(args)
    try:
        report, code = asyncio.run(_dial(args, setup))
    except RegistrationError as exc:
        say(f"voicebot dial: {exc}")
        return EXIT_AUTH if exc.status in (401, 403, 407) else EXIT_NETWORK
    except CannotResolve as exc:
        say(f"voicebot dial: {exc}")
        return EXIT_NETWORK
    if args.json:
        print(json.dumps(report, ensure_ascii=False), flush=True)
    else:
        how = "answered" if report["answered"] else "not answered"
        print(
            f"{how}: {report['status']} {report['reason']}; setup {report['setup_time']:.2f} s, "
            f"talk {report['duration']:.2f} s"
            + (f", ended by {report['ended_by']}" if report["ended_by"] else "")
            + (f"; outcome {report['outcome']}" if report["flow"] else ""),
            flush=True,
        )
    return code


async def _dial(args: argparse.Namespace, setup: Setup) -> tuple[dict[str, Any], int]:
    stop = asyncio.Event()
    _install_stop(stop)
    await resolve(args.uri)
    if args.proxy:
        await resolve(args.proxy)
    await warm(setup)
    async with _agent(args, setup, proxy=args.proxy) as ua:
        call = await ua.dial(args.uri, from_uri=args.from_uri)
        watch(call, args)
        ring_until = asyncio.get_running_loop().time() + args.timeout
        probe = asyncio.create_task(unreachable(args.proxy or args.uri))
        await _until(call, stop, args.timeout, call.answered, probe)
        refused = probe.result() if probe.done() and not call.progress else None
        if refused is None and not call.answered.done() and not stop.is_set():  # ring on
            await _until(call, stop, max(0.0, ring_until - asyncio.get_running_loop().time()), call.answered)
        probe.cancel()
        if not (call.answered.done() and call.answered.result()):
            interrupted = stop.is_set()
            # with not even 100 Trying, CANCEL must wait for a provisional (§9.1) that will not
            # come: give up after a second instead of waiting for Timer B
            if refused is not None:
                say(f"voicebot dial: {refused}")
                result = await call.abandon(503, UNREACHABLE)
            else:
                result = await call.hangup(grace=5.0 if call.progress else 1.0)
            if result.status == 487 and not interrupted:
                result = dataclasses.replace(result, reason="no answer")
            code = EXIT_INTERRUPTED if interrupted else exit_code_for(result)
            return call_report(result, exit_code=code), code
        if args.recording is not None and call.media is not None:
            say(args.recording.start(call.media, party=args.uri))
        await talk(call, args, setup, stop)
        result = await call.finished
    code = exit_code_for(result)
    return call_report(result, exit_code=code), code


async def talk(call: Call, args: argparse.Namespace, setup: Setup, stop: asyncio.Event) -> None:
    """What ``dial`` does with an answered call: ``--dtmf``, the ``--say``/``--play`` script
    (then a short tail for the reply) or the flow, until ``--hangup-after``/``--max-duration``
    or the far end hangs up; then it hangs up."""
    work = asyncio.ensure_future(run_script(call, setup.script, args.dtmf))
    if setup.flow is not None:
        call.track(asyncio.create_task(run_flow(call, setup)))
    limit = _limit(args.hangup_after, args.max_duration)
    if setup.script and args.hangup_after is None and setup.flow is None:
        await _until(call, stop, args.max_duration, work)  # the script, then a short tail
        if work.done() and not call.ended.done():
            await _until(call, stop, SCRIPT_TAIL)
    else:
        await _until(call, stop, limit)
    if not call.ended.done():
        await call.hangup(grace=5.0)
    work.cancel()


def dial_many(args: argparse.Namespace) -> int:
    """``dial --calls M``: every call does what one ``dial`` does; a summary at the end."""
    from voicebot.workers.outbound import dial_bulk

    setup = prepare(args)
    stop = asyncio.Event()  # bulk calls run to their end; Ctrl-C stops the whole run
    return dial_bulk(
        args,
        exit_code_for,
        lambda a: _agent(a, setup, proxy=a.proxy),
        lambda call: talk(call, args, setup, stop),
        before=lambda: warm(setup),
    )


# ---------------------------------------------------------------------------------- serve


def _algorithms(text: str) -> tuple[str, ...]:
    known = {"MD5", "SHA-256", "SHA-512-256", "MD5-SESS", "SHA-256-SESS", "SHA-512-256-SESS"}
    algos = tuple(a.strip().upper() for a in text.split(",") if a.strip())
    bad = [a for a in algos if a not in known]
    if not algos or bad:
        raise ConfigError(
            f"--auth-algorithms: unknown {', '.join(bad) or 'empty list'}; use {', '.join(sorted(known))}"
        )
    return algos


def serve(args: argparse.Namespace) -> int:
    algorithms = _algorithms(args.auth_algorithms)
    setup = prepare(args)
    try:
        return runtime.run(_serve(args, setup, algorithms))  # uvloop when installed
    except RegistrationError as exc:
        say(f"voicebot serve: {exc}")
        return EXIT_FAILED


async def _serve(args: argparse.Namespace, setup: Setup, algorithms: tuple[str, ...]) -> int:
    stop = asyncio.Event()
    _install_stop(stop)
    counter = 0
    out: Callable[[str], None] = say if args.json else (lambda text: print(text, flush=True))
    await warm(setup)

    async def handle(call: Call) -> None:
        nonlocal counter
        counter += 1
        n = counter
        if metrics is not None:
            metrics.track(call)
        if setup.persona is not None:
            watch(call, args, f"call {n} ", me="persona", them="bot")
        else:
            watch(call, args, f"call {n} ")
        if not args.quiet:
            say(f"call {n} from {call.remote_uri}" + (f" (user {call.user})" if call.user else ""))
        try:
            await _answer(call, args, setup, n, stop)
        except VoicebotError as exc:
            say(f"call {n}: {exc}")
            if not call.ended.done():
                await call.hangup(grace=5.0)
        result = await call.finished
        if args.json:
            print(json.dumps(call_report(result, call=n), ensure_ascii=False), flush=True)
        elif not args.quiet:
            say(f"call {n}: ended by {result.ended_by} ({result.reason}) after {result.duration:.1f} s")

    creds = {args.auth_user: args.auth_password} if args.auth_user else None
    ua = _agent(args, setup, server_credentials=creds, auth_algorithms=algorithms, max_calls=args.max_calls)
    ua.on_call(handle)
    async with serve_metrics(args, say=lambda text: out(f"voicebot serve: {text}")) as metrics, ua:
        host, port = ua.local_address
        where = format_hostport(host, port)
        tls = ua.transport.addresses.get("tls")
        also = f" and tls {format_hostport(host, tls[1])}" if tls else ""
        out(f"voicebot serve: listening on udp+tcp {where}{also} as sip:{args.user}@{where}")
        if ua.registered and args.register:
            out(f"voicebot serve: registered at {args.register} as {args.user}")
        runtime.settle_gc()  # start-up is done: freeze what it built, collect the young in small steps
        with runtime.watching_loop():  # the lag --stats writes and /metrics exports, measured once
            await first_of(stop.wait(), timeout=args.duration)
        if args.stats is not None:
            refused = {"refused_full": ua.core.rejected_full}  # INVITEs answered 503 over --max-calls
            args.stats.write_text(json.dumps({"calls": counter, **refused, **runtime.stats()}, indent=1) + "\n")
    return 0


def _record(call: Call, args: argparse.Namespace, n: int) -> None:
    """Record the n-th call as ``--record`` / ``--record-wav`` ask, and say where."""
    if args.recording is not None and call.media is not None:
        say(f"call {n}: {args.recording.start(call.media, party=call.remote_uri, n=n)}")


async def _answer(call: Call, args: argparse.Namespace, setup: Setup, n: int, stop: asyncio.Event) -> None:
    if setup.persona is not None:
        from voicebot.persona import play_persona

        await play_persona(call, setup.persona, on_answered=lambda: _record(call, args, n))
        return
    if args.answer_after:
        await call.ring()
        await _until(call, stop, args.answer_after)
        if call.ended.done():
            if not args.quiet:
                say(f"call {n}: {call.ended.result().reason} before answer")
            return
    if args.reject:  # after --answer-after's ringing, if asked: a line that rings, then is busy
        await call.reject(args.reject)
        return
    if not args.answer_after:
        await call.ring()
    await call.answer()
    if not await call.answered:
        return
    _record(call, args, n)
    if args.echo and call.media is not None:
        call.media.set_echo(True)
    if setup.flow is not None:
        work: asyncio.Task[Any] = asyncio.create_task(run_flow(call, setup))
    else:
        work = asyncio.create_task(run_script(call, setup.script))
    call.track(work)
    await _until(call, stop, _limit(args.hangup_after, args.max_duration))
    if not call.ended.done():
        await call.hangup(grace=5.0)


__all__ = ["dial", "dial_many", "prepare", "resolve", "serve", "talk"]

