"""Local speech synthesis with espeak-ng, through pyttsx3's espeak binding.

pyttsx3 keeps one libespeak-ng instance per process and is not thread-safe, so this engine
gives it a single dedicated worker thread: every call into it runs there, one at a time,
and ``synthesize`` (callable from any thread) waits for its turn.

pyttsx3 starts libespeak-ng (``pyttsx3.init("espeak")``, audio handed back to a callback)
and sets voice and rate, but its own loop misbehaved headless, measured here: with
``save_to_file`` + ``runAndWait`` the queued voice/rate settings reached espeak one phrase
late, and under load a phrase came back empty because the driver writes the file before it
keeps the samples delivered with the end-of-message event. So the engine registers its own
audio callback through pyttsx3's binding (``pyttsx3.drivers._espeak``), keeps every sample,
and waits for end-of-message; the 22.05 kHz audio is resampled to 16 kHz.

Fallback: when pyttsx3 cannot start or fails (no ``libespeak-ng1``, a headless quirk), the
same engine runs the ``espeak-ng`` command (``--stdout``, one process per phrase) and logs
which backend it uses (``EspeakEngine.backend``).
"""

from __future__ import annotations

import atexit
import concurrent.futures
import ctypes
import functools
import logging
import re
import shutil
import subprocess
import threading
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from voicebot.errors import ConfigError, DependencyError, VoicebotError
from voicebot.media.frames import read_wav
from voicebot.runtime import name_os_thread
from voicebot.tts.engine import MAX_RATE, MIN_RATE, SAMPLE_RATE, Pcm
from voicebot_codecs import resample

log = logging.getLogger(__name__)

ESPEAK_MISSING = (
    "espeak-ng is not installed: `apt-get install espeak-ng libespeak-ng1` "
    "(pyttsx3 uses libespeak-ng; the `espeak-ng` command is the fallback)"
)
SYNTH_TIMEOUT = 30.0
ESPEAK_RATE = 22050  # libespeak-ng's output rate for its own voices
DEFAULT_PITCH = 50  # espeak-ng's -p default


class SynthesisError(VoicebotError):
    """The TTS engine failed to render a phrase."""


def to_16k(pcm: Pcm, rate: int) -> Pcm:
    if rate == SAMPLE_RATE:
        return pcm
    return resample(pcm, rate, SAMPLE_RATE)


def trim_silence(pcm: Pcm, *, keep_ms: int = 40, threshold: int = 64) -> Pcm:
    """Drop leading and trailing near-silence beyond ``keep_ms`` (espeak pads both ends)."""
    loud = np.flatnonzero(np.abs(pcm.astype(np.int32)) > threshold)
    if loud.size == 0:
        return pcm[:0]
    keep = SAMPLE_RATE * keep_ms // 1000
    return pcm[max(0, int(loud[0]) - keep) : min(len(pcm), int(loud[-1]) + 1 + keep)]


_OTHER_LANGUAGE = re.compile(r"\(([^\s()]+) (\d+)\)")
# The project's voice for a language when espeak-ng would pick another one (espeak-ng
# prefers en-gb for "en"; voicebot speaks American English by default).
PREFERRED_VOICES = {"en": "en-us"}
# ISO 639-3 languages of espeak-ng voices that belong to a two-letter macrolanguage.
_MACRO_LANGUAGE = {"cmn": "zh", "yue": "zh", "hak": "zh"}


@dataclass(frozen=True, slots=True)
class VoiceTable:
    """``espeak-ng --voices`` as lookups: every name a voice answers to -> its language,
    language codes -> the voices that speak them (best first), and the variant names."""

    voices: dict[str, str] = field(default_factory=dict)
    by_language: dict[str, tuple[str, ...]] = field(default_factory=dict)
    variants: frozenset[str] = frozenset()

    @staticmethod
    def parse(listing: str, variant_listing: str = "") -> VoiceTable:
        voices: dict[str, str] = {}
        ranked: dict[str, list[tuple[int, int, str]]] = {}
        for order, line in enumerate(listing.splitlines()[1:]):
            parts = line.split()
            if len(parts) < 5 or not parts[0].isdigit():
                continue
            lang, name, file = parts[1].lower(), parts[3], parts[4]
            for key in (lang, file, file.rsplit("/", 1)[-1], name):
                voices.setdefault(key.lower(), lang)
            ranked.setdefault(lang, []).append((0, order, lang))
            for code, priority in _OTHER_LANGUAGE.findall(line):
                ranked.setdefault(code.lower(), []).append((int(priority), order, lang))
        variants: set[str] = set()
        for line in variant_listing.splitlines()[1:]:
            parts = line.split()
            if len(parts) >= 5:
                variants.add(parts[3].lower())
                variants.add(parts[4].rsplit("/", 1)[-1].lower())
        by_language = {code: tuple(dict.fromkeys(v for _, _, v in sorted(rows))) for code, rows in ranked.items()}
        for code, voice in PREFERRED_VOICES.items():
            if voice in voices and code in by_language:
                by_language[code] = (voice, *(v for v in by_language[code] if v != voice))
        return VoiceTable(voices=voices, by_language=by_language, variants=frozenset(variants))

    def knows(self, voice: str) -> bool:
        base = voice.partition("+")[0].lower()
        return base in self.voices or base in self.by_language

    def resolve(self, voice: str) -> str:
        """The espeak-ng voice a name or language code stands for, variant kept: zh -> cmn."""
        base, plus, variant = voice.partition("+")
        spoken = self.by_language.get(base.lower())
        if base.lower() in self.voices or not spoken:
            return voice
        return f"{spoken[0]}{plus}{variant}"

    def language(self, voice: str) -> str:
        base = self.resolve(voice).partition("+")[0].lower()
        base = self.voices.get(base, base).split("-")[0]
        return _MACRO_LANGUAGE.get(base, base)


def _listing(*args: str) -> str:
    cli = shutil.which("espeak-ng")
    if cli is None:
        return ""
    return subprocess.run([cli, *args], capture_output=True, text=True, check=False, timeout=10).stdout


@functools.cache
def voice_table() -> VoiceTable:
    """The installed espeak-ng voices (read once per process; empty without espeak-ng)."""
    return VoiceTable.parse(_listing("--voices"), _listing("--voices=variant"))


def voice_for_language(language: str) -> str:
    """The espeak-ng voice that speaks ``language`` (an ISO 639 code such as en, ko, zh)."""
    code = language.strip().lower().replace("_", "-")
    table = voice_table()
    if not table.voices:
        raise DependencyError(ESPEAK_MISSING)
    for candidate in (code, code.split("-")[0]):
        spoken = table.by_language.get(candidate)
        if spoken:
            return spoken[0]
    raise ConfigError(f"no espeak-ng voice speaks '{language}' (`espeak-ng --voices` lists the languages)")


class _Pyttsx3:
    """The process's one pyttsx3/libespeak-ng instance and the one thread that uses it."""

    def __init__(self) -> None:
        self.worker = concurrent.futures.ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="voicebot-tts", initializer=name_os_thread
        )
        self._chunks: list[bytes] = []
        self._done = threading.Event()
        self.worker.submit(self._start).result(timeout=SYNTH_TIMEOUT)

    def _start(self) -> None:
        import pyttsx3
        import pyttsx3.drivers.espeak as driver
        from pyttsx3.drivers import _espeak

        self._engine: Any = pyttsx3.init("espeak")  # initialises libespeak-ng (retrieval mode)
        self._driver: Any = driver.EspeakDriver
        self._espeak: Any = _espeak
        _espeak.SetSynthCallback(self._on_synth)

    def _on_synth(self, wav: Any, numsamples: int, events: Any) -> int:
        """libespeak-ng's audio callback (its own thread): keep samples, then see events."""
        if numsamples > 0:
            self._chunks.append(ctypes.string_at(wav, numsamples * ctypes.sizeof(ctypes.c_short)))
        i = 0
        while events[i].type != self._espeak.EVENT_LIST_TERMINATED:
            if events[i].type == self._espeak.EVENT_MSG_TERMINATED:
                self._done.set()
            i += 1
        return 0

    def close(self) -> None:
        """Stop the worker and drop the pyttsx3 engine now (see ``_release_pyttsx3``)."""
        self.worker.shutdown(wait=True)
        self._engine = None

    def render(self, text: str, voice: str, rate: int, pitch: int = DEFAULT_PITCH) -> Pcm:
        """Blocks until rendered; runs on the worker thread, one phrase at a time."""
        return self.worker.submit(self._render, text, voice, rate, pitch).result(timeout=SYNTH_TIMEOUT + 5)

    def _render(self, text: str, voice: str, rate: int, pitch: int) -> Pcm:
        # Settings go to espeak-ng through the driver's own setProperty, which applies them
        # at once (pyttsx3's queued Engine.setProperty landed one phrase late here). The rate
        # is set twice: right after a voice change (ko+f3 -> ko) a single rate setting was
        # lost in 2 of 8 switches, never when repeated (test_pyttsx3_and_cli_backends_agree).
        self._driver.setProperty("voice", voice)
        self._driver.setProperty("rate", rate)
        self._driver.setProperty("rate", rate)
        self._driver.setProperty("pitch", pitch)
        self._chunks = []
        self._done.clear()
        self._espeak.Synth(text.encode("utf-8"), flags=self._espeak.ENDPAUSE | self._espeak.CHARS_UTF8)
        if not self._done.wait(SYNTH_TIMEOUT):
            raise SynthesisError(f"espeak-ng did not finish {text[:40]!r} in {SYNTH_TIMEOUT}s")
        pcm = np.frombuffer(b"".join(self._chunks), dtype="<i2").astype(np.int16)
        self._chunks = []
        return to_16k(pcm, ESPEAK_RATE)


_PYTTSX3: _Pyttsx3 | None = None
_PYTTSX3_LOCK = threading.Lock()


def _pyttsx3() -> _Pyttsx3:
    """pyttsx3 and libespeak-ng hold process-wide state: every engine shares one instance."""
    global _PYTTSX3
    with _PYTTSX3_LOCK:
        if _PYTTSX3 is None:
            _PYTTSX3 = _Pyttsx3()
        return _PYTTSX3


def _release_pyttsx3() -> None:
    """Drop the pyttsx3 engine at exit, while the interpreter is whole.

    pyttsx3's ``DriverProxy.__del__`` uses its module's globals (``contextlib``, the espeak
    binding); left to interpreter teardown it runs after they were cleared and prints
    "Exception ignored in: <function DriverProxy.__del__>". Dropping the last reference from
    an ``atexit`` hook runs it while they still exist.
    """
    global _PYTTSX3
    with _PYTTSX3_LOCK:
        instance, _PYTTSX3 = _PYTTSX3, None
    if instance is not None:
        instance.close()


atexit.register(_release_pyttsx3)


class EspeakEngine:
    """espeak-ng voices at 16 kHz; ``backend`` is "pyttsx3" or "espeak-ng" (or "auto")."""

    name = "espeak"
    sample_rate = SAMPLE_RATE

    def __init__(self, *, backend: str = "auto") -> None:
        if backend not in {"auto", "pyttsx3", "espeak-ng"}:
            raise ConfigError(f"unknown espeak backend '{backend}': auto, pyttsx3 or espeak-ng")
        self._cli = shutil.which("espeak-ng")
        self._pyttsx3: _Pyttsx3 | None = None
        self.backend = "espeak-ng"
        if backend in {"auto", "pyttsx3"}:
            try:
                self._pyttsx3 = _pyttsx3()
                self.backend = "pyttsx3"
            except Exception as exc:
                if backend == "pyttsx3":
                    raise DependencyError(f"pyttsx3 could not start espeak-ng: {exc}; " + ESPEAK_MISSING) from exc
                log.warning("pyttsx3 unavailable (%s); using the espeak-ng command", exc)
        if self.backend == "espeak-ng" and self._cli is None:
            raise DependencyError(ESPEAK_MISSING)

    def close(self) -> None:
        """Nothing to release per engine: the pyttsx3 instance lives as long as the process."""

    # -- espeak-ng command ----------------------------------------------------------------
    def _cli_render(self, text: str, voice: str, rate: int, pitch: int = DEFAULT_PITCH) -> Pcm:
        if self._cli is None:
            raise DependencyError(ESPEAK_MISSING)
        try:
            proc = subprocess.run(
                [self._cli, "-v", voice, "-s", str(rate), "-p", str(pitch), "--stdout", "-b", "1", text],
                capture_output=True,
                timeout=SYNTH_TIMEOUT,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise SynthesisError(f"espeak-ng took longer than {SYNTH_TIMEOUT}s") from exc
        if proc.returncode != 0 or not proc.stdout:
            raise SynthesisError(f"espeak-ng failed: {proc.stderr.decode(errors='replace').strip()}")
        return read_wav(proc.stdout, SAMPLE_RATE)

    # -- voices ---------------------------------------------------------------------------
    def check_voice(self, voice: str) -> str:
        """``voice`` as espeak-ng knows it (a language code becomes its voice: zh -> cmn)."""
        variant = voice.partition("+")[2]
        table = voice_table()
        if table.voices and not table.knows(voice):
            sample = ", ".join(sorted(k for k in table.by_language if len(k) <= 3)[:20])
            raise ConfigError(
                f"unknown voice '{voice}': use an espeak-ng voice or language ({sample}, ...; "
                "`espeak-ng --voices` lists them), optionally with a variant like ko+f3"
            )
        if variant and table.variants and variant.lower() not in table.variants:
            raise ConfigError(
                f"unknown voice variant '{variant}': `espeak-ng --voices=variant` lists them (e.g. f3, m3)"
            )
        return table.resolve(voice)

    def language(self, voice: str) -> str:
        return voice_table().language(voice)

    # -- TtsEngine ------------------------------------------------------------------------
    def synthesize(self, text: str, *, voice: str, rate: int, pitch: int = DEFAULT_PITCH) -> Pcm:
        """``text`` in ``voice`` at ``rate`` words per minute; ``pitch`` 0..99 (espeak-ng's
        base pitch, 50 = the voice's own)."""
        if not text.strip():
            return np.zeros(0, dtype=np.int16)
        rate = max(MIN_RATE, min(MAX_RATE, int(rate)))
        voice = voice_table().resolve(voice)
        if self.backend == "pyttsx3" and self._pyttsx3 is not None:
            try:
                return trim_silence(self._pyttsx3.render(text, voice, rate, pitch))
            except Exception as exc:
                if self._cli is None:
                    raise SynthesisError(f"pyttsx3 failed: {exc}") from exc
                log.warning("pyttsx3 failed (%s); switching to the espeak-ng command", exc)
                self.backend = "espeak-ng"
        return trim_silence(self._cli_render(text, voice, rate, pitch))


__all__ = [
    "EspeakEngine",
    "SynthesisError",
    "VoiceTable",
    "to_16k",
    "trim_silence",
    "voice_for_language",
    "voice_table",
]
