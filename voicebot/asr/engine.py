"""The streaming speech-recognition protocol every ASR engine implements.

Audio in: 16 kHz mono int16 PCM (numpy arrays, normally 20 ms = 320 samples, any length
accepted). Out: ``PartialResult`` while an utterance is in progress and ``FinalResult``
when it is finished (``finish()``), with word times, confidences and, in grammar mode, the
closest expected phrase (``FinalResult.match``).

One engine per process and model (it holds the shared, read-only model); one recogniser per
call (it holds the decoder state). Recognisers are not thread-safe: use each from one
thread at a time. ``AsyncRecognizer`` runs a recogniser in worker threads so the event
loop never blocks on a decode (DESIGN.md rule 8). A decoder that keeps the GIL while it
works (``AsrEngine.holds_gil``: pocketsphinx) still takes the loop's turns meanwhile: the
loop waits for the GIL up to a switch interval (5 ms) and more while one C call lasts
(``benchmarks/asr_threads.py``).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import enum
import functools
import logging
import os
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

from voicebot.asr.events import AsrEvent, FinalResult
from voicebot.errors import ConfigError
from voicebot.media.frames import PCM as Pcm
from voicebot.media.frames import RATE as SAMPLE_RATE
from voicebot.runtime import name_os_thread


@dataclass(frozen=True, slots=True, kw_only=True)
class Grammar:
    """Expected phrases prepared for one engine.

    ``phrases``: what the flow expects (what ``match`` answers with). ``decoder_phrases``:
    the same phrases spelled with the engine's vocabulary (out-of-vocabulary words split
    into known pieces or dropped). ``warnings``: one line per word that had to be changed;
    ``unknown``: those words (first seen first), ``dropped`` the ones no piece could spell.
    ``spellings``: (phrase, decoder spelling) for every phrase that has one.
    """

    phrases: tuple[str, ...]
    decoder_phrases: tuple[str, ...]
    warnings: tuple[str, ...] = ()
    unknown: tuple[str, ...] = ()
    dropped: tuple[str, ...] = ()
    spellings: tuple[tuple[str, str], ...] = ()

    def summary(self, shown: int = 4) -> str | None:
        """One line for the log: how many words the model lacks, the first few, what became of them."""
        if not self.unknown and not self.warnings:
            return None
        n = len(self.unknown)
        head = ", ".join(self.unknown[:shown]) + (", ..." if n > shown else "")
        kept = n - len(self.dropped)
        fates = [f"{kept} spelled with known words"] if kept else []
        if self.dropped:
            fates.append(f"{len(self.dropped)} dropped")
        lost = len(self.phrases) - len(self.decoder_phrases)
        if lost:
            fates.append(f"{lost} phrase{'s' if lost != 1 else ''} can never match")
        return f"{n} word{'s' if n != 1 else ''} not in the model's vocabulary ({head}): {', '.join(fates)}"


_REPORTED: set[tuple[str, tuple[str, ...]]] = set()
_REPORTED_LOCK = threading.Lock()


def report_grammar(logger: logging.Logger, model: str, grammar: Grammar) -> None:
    """Log ``grammar.summary()`` once per model and grammar in this process (every changed
    word at debug level): a flow's listening states reuse their grammars call after call."""
    summary = grammar.summary()
    if summary is None:
        return
    key = (model, grammar.phrases)
    with _REPORTED_LOCK:
        if key in _REPORTED:
            return
        _REPORTED.add(key)
    logger.warning("grammar: %s", summary)
    for line in grammar.warnings:
        logger.debug("grammar: %s", line)


class Band(enum.StrEnum):
    """What a call's line carries, known when the recogniser opens.

    ``NARROW``: telephone band, a codec whose audio is sampled at 8 kHz (G.711 PCMU/PCMA,
    L16/8000): resampled to 16 kHz it holds nothing above 4 kHz. ``WIDE``: a codec that carries
    16 kHz audio or more (L16/16000, G.722, Opus as voicebot decodes it). Engines use it to start
    from what such a line sounds like (pocketsphinx: a cepstral mean per band; Vosk: the band
    fill without waiting for its detector)."""

    NARROW = "narrow"
    WIDE = "wide"

    @classmethod
    def of_rate(cls, sample_rate: int) -> Band:
        """The band of a codec whose audio is sampled at ``sample_rate`` Hz."""
        return cls.NARROW if sample_rate < SAMPLE_RATE else cls.WIDE


@runtime_checkable
class Recognizer(Protocol):
    """Decoder state for one call. Feed frames, read partials, ``finish()`` per utterance."""

    grammar: Grammar | None

    def accept(self, pcm: Pcm) -> AsrEvent | None:
        """Feed audio; returns a ``PartialResult`` when the guess changed, else ``None``."""
        ...

    def finish(self) -> FinalResult:
        """End the utterance: its final result. The recogniser is ready for the next one."""
        ...

    def reset(self) -> None:
        """Drop the utterance in progress (e.g. a barge-in attempt that was only noise)."""
        ...

    def close(self) -> None:
        """Release the decoder."""
        ...


@runtime_checkable
class AsrEngine(Protocol):
    """A loaded speech model that makes recognisers."""

    name: str
    sample_rate: int
    # True when decoding keeps the GIL (pocketsphinx's bindings never release it; Vosk's cffi
    # calls do): such recognisers share one worker thread, since more threads cannot decode in
    # parallel and only add a thread for the event loop to queue behind for the GIL
    holds_gil: bool

    @property
    def hosts(self) -> int:
        """How many decoder host processes its recognisers live in (``voicebot.asr.host``); 0
        for an engine that decodes in this process. It sizes their worker threads
        (``asr_executor``)."""
        ...

    # the calibrated confidence at or above which an answer is taken without asking
    # (``voicebot/asr/calibration.json``); below it a flow reads the answer back
    accept_confidence: float

    def accept_on(self, band: Band | None) -> float:
        """The accept threshold on a line of ``band`` (None: unknown), where the engine's
        policy depends on the band; else ``accept_confidence``."""
        ...

    def confirm_on(self, band: Band | None) -> float:
        """The confidence at which the caller's "yes" to a read-back ("Did you say ...?") is
        taken on a line of ``band`` (None: unknown): fitted apart from ``accept_on``, never
        above it."""
        ...

    def recognizer(
        self,
        grammar: Sequence[str] | None = None,
        *,
        groups: Mapping[str, str] | None = None,
        band: Band | None = None,
    ) -> Recognizer:
        """A new recogniser; ``grammar`` = expected phrases (grammar mode) or None (free);
        ``band``: the line's, when the call knows it (None: unknown, e.g. a file)."""
        ...

    def vocabulary_check(self, phrases: Sequence[str]) -> list[str]:
        """Words of ``phrases`` the model does not know (in order, without duplicates)."""
        ...

    def prepare_grammar(self, phrases: Sequence[str]) -> Grammar:
        """The phrases spelled in the model's vocabulary, with a warning per changed word."""
        ...


def check_pcm(pcm: Pcm) -> Pcm:
    """Reject audio that is not mono int16 (the one internal format)."""
    if not isinstance(pcm, np.ndarray) or pcm.dtype != np.int16 or pcm.ndim != 1:
        raise ConfigError("ASR input must be a 1-D numpy int16 array of 16 kHz mono PCM")
    return pcm


def recognize_pcm(recognizer: Recognizer, pcm: Pcm, frame: int = 320) -> FinalResult:
    """Feed a whole recording in 20 ms frames and finish the utterance (files, tests)."""
    check_pcm(pcm)
    for i in range(0, len(pcm), frame):
        recognizer.accept(pcm[i : i + frame])
    return recognizer.finish()


# how many decoder host processes (``voicebot.asr.host``) decode engines that keep the GIL
ENV_PROCESSES = "VOICEBOT_ASR_PROCESSES"


def host_processes(asked: int | None = None) -> int:
    """How many decoder hosts to decode in: ``asked`` (``--asr-processes``) when given, else
    what ``VOICEBOT_ASR_PROCESSES`` says, else 0 (decode in this process). The one place the
    variable is read: it is the default of every process, never a way to pass the option on."""
    if asked is not None:
        if asked < 0:
            raise ConfigError(f"decoder host processes must be a whole number (0: none), not {asked}")
        return asked
    text = os.environ.get(ENV_PROCESSES, "").strip()
    try:
        count = int(text or "0")
    except ValueError:
        count = -1
    if count < 0:
        raise ConfigError(f"{ENV_PROCESSES} must be a whole number of processes (0: none), not {text!r}")
    return count


_EXECUTORS: dict[tuple[bool, int], concurrent.futures.ThreadPoolExecutor] = {}


def asr_executor(holds_gil: bool = False, hosts: int = 0) -> concurrent.futures.ThreadPoolExecutor:
    """The process-wide worker threads for an engine's recognisers: one per core for decoders
    that release the GIL, a single one for those that keep it (see ``AsrEngine.holds_gil``).

    Recognisers in ``hosts`` decoder host processes (``AsrEngine.hosts``, ``voicebot.asr.host``)
    wait on their host's pipe, one request per host at a time: their pool has one more thread
    per host, so that threads waiting their turn at one host do not leave another host idle."""
    key = (holds_gil, hosts)
    pool = _EXECUTORS.get(key)
    if pool is None:
        pool = _EXECUTORS[key] = concurrent.futures.ThreadPoolExecutor(
            max_workers=1 if holds_gil else max(2, os.cpu_count() or 2) + hosts,
            thread_name_prefix="voicebot-asr",
            initializer=name_os_thread,
        )
    return pool


def _close_built(pool: concurrent.futures.Executor, built: asyncio.Future[Recognizer]) -> None:
    """Close a recogniser nobody took (its decoders go back to their pool, or its host's)."""
    if not built.cancelled() and built.exception() is None:
        pool.submit(built.result().close)


class AsyncRecognizer:
    """Asyncio face of a ``Recognizer``: every decoder call runs in a worker thread.

    Calls on one ``AsyncRecognizer`` are serialised (an ``asyncio.Lock``), so frames are
    decoded in the order they were given even when many calls share the pool.
    """

    def __init__(
        self,
        recognizer: Recognizer,
        executor: concurrent.futures.Executor | None = None,
    ) -> None:
        self.recognizer = recognizer
        self._executor = executor or asr_executor()
        self._lock = asyncio.Lock()

    @classmethod
    async def open(
        cls,
        engine: AsrEngine,
        grammar: Sequence[str] | None = None,
        executor: concurrent.futures.Executor | None = None,
        *,
        groups: Mapping[str, str] | None = None,
        band: Band | None = None,
    ) -> AsyncRecognizer:
        """Create the recogniser in a worker thread too (a Vosk free-mode recogniser takes
        a few hundred ms to build, the first grammar one reads the model's word list). When
        the caller is cancelled meanwhile (the call ended), the recogniser is closed once
        built, so none outlives its call (in a decoder host, none stays held there)."""
        pool = executor or asr_executor(engine.holds_gil, engine.hosts)
        loop = asyncio.get_running_loop()
        build = functools.partial(engine.recognizer, grammar, groups=groups, band=band)
        built = loop.run_in_executor(pool, build)
        try:
            recognizer = await asyncio.shield(built)
        except asyncio.CancelledError:  # the call ended first: close the recogniser once it is built
            built.add_done_callback(functools.partial(_close_built, pool))
            raise
        return cls(recognizer, pool)

    async def accept(self, pcm: Pcm) -> AsrEvent | None:
        async with self._lock:
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(self._executor, self.recognizer.accept, pcm)

    async def finish(self) -> FinalResult:
        async with self._lock:
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(self._executor, self.recognizer.finish)

    async def reset(self) -> None:
        async with self._lock:
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(self._executor, self.recognizer.reset)

    async def aclose(self) -> None:
        async with self._lock:
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(self._executor, self.recognizer.close)


__all__ = [
    "ENV_PROCESSES",
    "SAMPLE_RATE",
    "AsrEngine",
    "AsyncRecognizer",
    "Band",
    "Grammar",
    "Pcm",
    "Recognizer",
    "asr_executor",
    "check_pcm",
    "host_processes",
    "recognize_pcm",
    "report_grammar",
]
