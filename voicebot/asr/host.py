"""Decoder host processes: recognisers whose decoder keeps the GIL, decoded in processes of their own.

pocketsphinx's bindings hold the GIL for the whole of every decode (``AsrEngine.holds_gil``),
so in the serving process each 20 ms frame a listening call decodes is time the event loop,
which runs every call's media clock, cannot run (``benchmarks/asr_threads.py``). With
``--asr-processes N`` or ``VOICEBOT_ASR_PROCESSES=N`` (N > 0; ``engine_for_language``'s
``processes``) such an engine is a :class:`HostedEngine`: N host
processes each load the engine (``get_engine(name, model_dir)``) and hold many recognisers;
a call's recogniser is pinned to one host (the one holding the fewest) and the object the call
holds is a :class:`HostedRecognizer`, a proxy with the ``Recognizer`` methods and the same
event objects back (frozen dataclasses, pickled over a pipe). The proxy's calls block on the
pipe in an ASR worker thread (``AsyncRecognizer``), and a thread blocked on a pipe does not
hold the GIL: the event loop runs while a host decodes, and N hosts decode side by side.

Design:

* A host is a fresh interpreter (``HOST_MAIN``, started like multiprocessing's *spawn* but
  without running the server's main script again), never a fork of a process that already
  runs threads and an event loop. It talks over a socket pair through multiprocessing's
  ``Connection``. A host ignores SIGINT (a Ctrl-C reaches the whole process group; the server,
  not its hosts, decides when turns end) and exits when its socket closes, so none outlives
  the server, however the server ends. Hosts run at a lower priority (``HOST_NICENESS``): on
  busy cores media goes first and decoding waits.
* Any thread may use a host: :meth:`DecoderHost.call` sends one request and reads its reply
  under the host's lock, so a pipe never carries two requests at once.
* A host that dies (or does not answer within ``REPLY_TIMEOUT``) is lost: every call to it
  raises :class:`AsrHostLost` at once, so the turns of the calls pinned to it end as
  no-matches (``Voice.listen``), and the next recogniser opened goes to a host started in its
  place.
* Closing a proxy closes its recogniser in the host (its decoders go back to the host's pool)
  and unpins it; closing the engine (at exit) closes every host.
"""

from __future__ import annotations

import atexit
import itertools
import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, NoReturn

from voicebot.asr.engine import Band, Grammar, Pcm, Recognizer, check_pcm
from voicebot.asr.events import AsrEvent, FinalResult
from voicebot.asr.registry import get_engine
from voicebot.errors import ConfigError, VoicebotError
from voicebot.runtime import name_os_thread

# How long a host may take over one request (a decode is milliseconds; starting one, loading
# the model, about a second) before it is taken for hung and replaced.
REPLY_TIMEOUT = 30.0
# Hosts run below the server's priority: when the cores are all busy, the event loop (every
# call's media clock) runs first and the decoding waits, never the other way round.
HOST_NICENESS = 5
BANDS: tuple[Band | None, ...] = (None, *Band)
# a host's program: this module, imported from the server's own checkout (``_SOURCE``)
HOST_MAIN = "import sys; from voicebot.asr.host import main; main(sys.argv[1:])"
_SOURCE = str(Path(__file__).resolve().parents[2])


class AsrHostLost(VoicebotError):
    """The decoder host process holding this recogniser died or stopped answering."""


@dataclass(frozen=True, slots=True, kw_only=True)
class EngineFacts:
    """What the serving process needs of an engine that lives in the hosts."""

    name: str
    sample_rate: int
    accept: Mapping[Band | None, float]
    confirm: Mapping[Band | None, float]


# ------------------------------------------------------------------------- inside a host


class _Recognisers:
    """A host's engine and the recognisers it holds, by id: what each request does."""

    def __init__(self, name: str, model_dir: str | None) -> None:
        self.engine = get_engine(name, model_dir)
        self.held: dict[int, Recognizer] = {}
        self._ids = itertools.count()
        self.ops: dict[str, Callable[..., Any]] = {
            "open": self.open,
            "accept": lambda rid, pcm: self.held[rid].accept(pcm),
            "finish": lambda rid: self.held[rid].finish(),
            "reset": lambda rid: self.held[rid].reset(),
            "close": self.close,
            "held": lambda: len(self.held),
            "vocabulary_check": self.engine.vocabulary_check,
            "prepare_grammar": self.engine.prepare_grammar,
        }

    def facts(self) -> EngineFacts:
        e = self.engine
        return EngineFacts(
            name=e.name,
            sample_rate=e.sample_rate,
            accept={band: e.accept_on(band) for band in BANDS},
            confirm={band: e.confirm_on(band) for band in BANDS},
        )

    def open(
        self, grammar: Sequence[str] | None, groups: Mapping[str, str] | None, band: Band | None
    ) -> tuple[int, Grammar | None]:
        rec = self.engine.recognizer(grammar, groups=groups, band=band)
        rid = next(self._ids)
        self.held[rid] = rec
        return rid, rec.grammar

    def close(self, rid: int) -> None:
        rec = self.held.pop(rid, None)
        if rec is not None:
            rec.close()


def serve_host(fd: int, name: str, model_dir: str | None) -> None:
    """A host process's main: answer requests on the socket ``fd`` until it closes."""
    conn = Connection(fd)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    os.nice(HOST_NICENESS)
    threading.current_thread().name = "voicebot-asrhost"  # botcalls counts its CPU as ASR
    name_os_thread()
    try:
        state = _Recognisers(name, model_dir)
        conn.send(("ok", state.facts()))
    except Exception as exc:  # e.g. a model that does not load: the server says why
        conn.send(("err", exc))
        return
    while True:
        try:
            op, args = conn.recv()
        except (EOFError, OSError):  # the server closed the pipe or is gone
            break
        try:
            reply: tuple[str, Any] = ("ok", state.ops[op](*args))
        except Exception as exc:
            reply = ("err", exc)
        try:
            conn.send(reply)
        except (EOFError, OSError):
            break
        except Exception as exc:  # an error that does not pickle: its text does
            conn.send(("err", RuntimeError(f"{type(exc).__name__}: {exc}")))
    for rec in state.held.values():
        rec.close()


def main(argv: Sequence[str]) -> None:
    """``HOST_MAIN``'s entry: socket fd, engine name, model directory ("" for none)."""
    fd, name, model_dir = argv
    serve_host(int(fd), name, model_dir or None)


# ------------------------------------------------------------------- in the serving process


class DecoderHost:
    """One host process and the pipe to it. Any thread may call it; requests go one at a time."""

    def __init__(self, name: str, model_dir: str | None) -> None:
        ours, theirs = socket.socketpair()
        with theirs:
            self.process = subprocess.Popen(
                [sys.executable, "-c", HOST_MAIN, str(theirs.fileno()), name, model_dir or ""],
                pass_fds=(theirs.fileno(),),
                stdin=subprocess.DEVNULL,
                env={
                    **os.environ,
                    "PYTHONPATH": os.pathsep.join(filter(None, (_SOURCE, os.environ.get("PYTHONPATH")))),
                },
            )
        # only the host holds its end now: its exit reads as EOF here
        self._conn = Connection(ours.detach())
        self._lock = threading.Lock()
        self.lost: str | None = None
        self._facts: EngineFacts | None = None

    def alive(self) -> bool:
        """Neither found lost nor exited (a host that died unasked is not used again)."""
        return self.lost is None and self.process.poll() is None

    def facts(self) -> EngineFacts:
        """What the engine the host loaded is (waits for the host to be up)."""
        with self._lock:
            return self._started()

    def _started(self) -> EngineFacts:
        """The host's first message, its engine's facts, read once (call under the lock)."""
        if self._facts is None:
            self._facts = self._reply()
        return self._facts

    def call(self, op: str, *args: Any) -> Any:
        """Send request ``op`` and wait for its reply; an error the host raised is raised here."""
        with self._lock:
            self._started()
            if self.lost is not None:
                raise AsrHostLost(self.lost)
            try:
                self._conn.send((op, args))
            except (EOFError, OSError):
                self._lose("exited")
            return self._reply()

    def _reply(self) -> Any:
        if self.lost is not None:
            raise AsrHostLost(self.lost)
        try:
            if not self._conn.poll(REPLY_TIMEOUT):
                self._lose(f"did not answer within {REPLY_TIMEOUT:.0f} s")
            status, value = self._conn.recv()
        except (EOFError, OSError):
            self._lose("exited")
        if status == "err":
            raise value
        return value

    def _lose(self, why: str) -> NoReturn:
        self.process.kill()
        code = self.process.wait()
        self.lost = f"ASR host process {self.process.pid} {why} (exit code {code})"
        self._conn.close()
        raise AsrHostLost(self.lost)

    def close(self) -> None:
        """Close the pipe (the host ends on it), and make sure the process is gone."""
        with self._lock:
            self._conn.close()
            try:
                self.process.wait(5.0)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            if self.lost is None:
                self.lost = f"ASR host process {self.process.pid} was closed"


class HostPool:
    """``size`` decoder hosts of one engine; a recogniser goes to the one that holds the fewest."""

    def __init__(self, name: str, model_dir: str | None, size: int) -> None:
        if size < 1:
            raise ConfigError("a pool of decoder hosts needs at least one process")
        self.name, self.model_dir, self.size = name, model_dir, size
        self._lock = threading.Lock()
        self._pinned: dict[DecoderHost, int] = {}
        self.closed = False
        self.facts = self._fill()[0].facts()

    def _fill(self) -> list[DecoderHost]:
        """Replace lost hosts and start missing ones (call under the lock, or from ``__init__``)."""
        for host in [h for h in self._pinned if not h.alive()]:
            del self._pinned[host]
            host.close()
        new = [DecoderHost(self.name, self.model_dir) for _ in range(self.size - len(self._pinned))]
        try:
            for host in new:  # started together above, so they load their models side by side
                host.facts()
        except BaseException:  # e.g. a model that does not load: no host is left behind
            for host in new:
                host.close()
            raise
        self._pinned.update(dict.fromkeys(new, 0))
        return list(self._pinned)

    def pin(self) -> DecoderHost:
        """The host for a new recogniser (started again first if it was lost)."""
        with self._lock:
            if self.closed:
                raise AsrHostLost("the ASR host processes were closed")
            host = min(self._fill(), key=self._pinned.__getitem__)
            self._pinned[host] += 1
            return host

    def unpin(self, host: DecoderHost) -> None:
        with self._lock:
            if host in self._pinned:
                self._pinned[host] -= 1

    def call(self, op: str, *args: Any) -> Any:
        """Request ``op`` of any host (one that holds no state for it)."""
        host = self.pin()
        try:
            return host.call(op, *args)
        finally:
            self.unpin(host)

    def hosts(self) -> list[DecoderHost]:
        with self._lock:
            return list(self._pinned)

    def close(self) -> None:
        with self._lock:
            self.closed = True
            hosts, self._pinned = list(self._pinned), {}
        for host in hosts:
            host.close()


class HostedRecognizer:
    """A recogniser that lives in a decoder host (see ``voicebot.asr.engine.Recognizer``)."""

    def __init__(
        self, pool: HostPool, grammar: Sequence[str] | None, groups: Mapping[str, str] | None, band: Band | None
    ) -> None:
        self.pool = pool
        self.host: DecoderHost | None = pool.pin()
        try:
            self.id, self.grammar = self.host.call("open", grammar, groups, band)
        except BaseException:
            pool.unpin(self.host)
            raise

    def _call(self, op: str, *args: Any) -> Any:
        if self.host is None:
            raise ConfigError("this recogniser is closed")
        return self.host.call(op, self.id, *args)

    def accept(self, pcm: Pcm) -> AsrEvent | None:
        result: AsrEvent | None = self._call("accept", check_pcm(pcm))
        return result

    def finish(self) -> FinalResult:
        result: FinalResult = self._call("finish")
        return result

    def reset(self) -> None:
        self._call("reset")

    def close(self) -> None:
        """Release the recogniser in its host (nothing to release when the host is lost)."""
        host, self.host = self.host, None
        if host is None:
            return
        try:
            if host.lost is None:
                host.call("close", self.id)
        except AsrHostLost:
            pass
        finally:
            self.pool.unpin(host)


class HostedEngine:
    """An engine whose recognisers live in decoder hosts (see ``voicebot.asr.engine.AsrEngine``)."""

    # its recognisers' calls wait on a pipe, which releases the GIL: they spread over the pool
    # of worker threads, so several hosts decode at once
    holds_gil = False

    def __init__(self, name: str, model_dir: str | None, processes: int) -> None:
        self.pool = HostPool(name, model_dir, processes)
        facts = self.pool.facts
        self.name = facts.name
        self.sample_rate = facts.sample_rate
        self.accept_confidence = facts.accept[None]
        self._facts = facts

    @property
    def hosts(self) -> int:
        """How many host processes decode for it (one worker thread more each, ``asr_executor``)."""
        return self.pool.size

    def accept_on(self, band: Band | None) -> float:
        return self._facts.accept[band]

    def confirm_on(self, band: Band | None) -> float:
        return self._facts.confirm[band]

    def recognizer(
        self,
        grammar: Sequence[str] | None = None,
        *,
        groups: Mapping[str, str] | None = None,
        band: Band | None = None,
    ) -> HostedRecognizer:
        return HostedRecognizer(self.pool, grammar, groups, band)

    def vocabulary_check(self, phrases: Sequence[str]) -> list[str]:
        missing: list[str] = self.pool.call("vocabulary_check", list(phrases))
        return missing

    def prepare_grammar(self, phrases: Sequence[str]) -> Grammar:
        grammar: Grammar = self.pool.call("prepare_grammar", list(phrases))
        return grammar

    def close(self) -> None:
        self.pool.close()


_HOSTED: dict[tuple[str, str | None, int], HostedEngine] = {}
_HOSTED_LOCK = threading.Lock()


def hosted_engine(name: str, model_dir: str | os.PathLike[str] | None, processes: int) -> HostedEngine:
    """The process-wide hosted engine ``name`` (its hosts started on first use, closed at exit)."""
    key = (name, os.fspath(model_dir) if model_dir is not None else None, processes)
    with _HOSTED_LOCK:
        engine = _HOSTED.get(key)
        if engine is None or engine.pool.closed:
            engine = _HOSTED[key] = HostedEngine(name, key[1], processes)
            atexit.register(engine.close)
        return engine


__all__ = [
    "AsrHostLost",
    "DecoderHost",
    "EngineFacts",
    "HostPool",
    "HostedEngine",
    "HostedRecognizer",
    "hosted_engine",
    "serve_host",
]
