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

import concurrent.futures
import ctypes
import io
import logging
import shutil
import subprocess
import threading
import wave
from pathlib import Path
from typing import Any

import numpy as np

from voicebot.errors import ConfigError, DependencyError, VoicebotError
from voicebot.tts.engine import MAX_RATE, MIN_RATE, SAMPLE_RATE, Pcm
from voicebot_codecs import resample

log = logging.getLogger(__name__)

ESPEAK_MISSING = (
    "espeak-ng is not installed: `apt-get install espeak-ng libespeak-ng1` "
    "(pyttsx3 uses libespeak-ng; the `espeak-ng` command is the fallback)"
)
SYNTH_TIMEOUT = 30.0
ESPEAK_RATE = 22050  # libespeak-ng's output rate for its own voices


class SynthesisError(VoicebotError):
    """The TTS engine failed to render a phrase."""


def read_wav(data: bytes | Path) -> tuple[Pcm, int]:
    """Mono int16 samples and sample rate of a 16-bit PCM WAV (bytes or a path)."""
    source: Any = io.BytesIO(data) if isinstance(data, bytes) else str(data)
    try:
        with wave.open(source, "rb") as w:
            if w.getsampwidth() != 2:
                raise ConfigError(f"{data if isinstance(data, Path) else 'WAV'}: only 16-bit PCM WAV is supported")
            frames = w.readframes(w.getnframes())
            channels = w.getnchannels()
            rate = w.getframerate()
    except (wave.Error, EOFError) as exc:
        raise ConfigError(f"not a PCM WAV file: {exc}") from exc
    pcm = np.frombuffer(frames, dtype="<i2").astype(np.int16)
    if channels > 1:
        pcm = pcm.reshape(-1, channels).mean(axis=1).astype(np.int16)
    return pcm, rate


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


def _parse_voice_listing(text: str) -> list[tuple[str, str, str]]:
    """``espeak-ng --voices`` rows as (language, name, file)."""
    rows = []
    for line in text.splitlines()[1:]:
        parts = line.split()
        if len(parts) >= 5:
            rows.append((parts[1], parts[3], parts[4]))
    return rows


class _Pyttsx3:
    """The process's one pyttsx3/libespeak-ng instance and the one thread that uses it."""

    def __init__(self) -> None:
        self.worker = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="voicebot-tts")
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

    def render(self, text: str, voice: str, rate: int) -> Pcm:
        """Blocks until rendered; runs on the worker thread, one phrase at a time."""
        return self.worker.submit(self._render, text, voice, rate).result(timeout=SYNTH_TIMEOUT + 5)

    def _render(self, text: str, voice: str, rate: int) -> Pcm:
        # Settings go to espeak-ng through the driver's own setProperty, which applies them
        # at once (pyttsx3's queued Engine.setProperty landed one phrase late here). The rate
        # is set twice: right after a voice change (ko+f3 -> ko) a single rate setting was
        # lost in 2 of 8 switches, never when repeated (test_pyttsx3_and_cli_backends_agree).
        self._driver.setProperty("voice", voice)
        self._driver.setProperty("rate", rate)
        self._driver.setProperty("rate", rate)
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


class EspeakEngine:
    """espeak-ng voices at 16 kHz; ``backend`` is "pyttsx3" or "espeak-ng" (or "auto")."""

    name = "espeak"
    sample_rate = SAMPLE_RATE

    def __init__(self, *, backend: str = "auto") -> None:
        if backend not in {"auto", "pyttsx3", "espeak-ng"}:
            raise ConfigError(f"unknown espeak backend '{backend}': auto, pyttsx3 or espeak-ng")
        self._cli = shutil.which("espeak-ng")
        self._pyttsx3: _Pyttsx3 | None = None
        self._voices: dict[str, str] | None = None
        self._variants: set[str] | None = None
        self._lock = threading.Lock()
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
    def _cli_render(self, text: str, voice: str, rate: int) -> Pcm:
        if self._cli is None:
            raise DependencyError(ESPEAK_MISSING)
        try:
            proc = subprocess.run(
                [self._cli, "-v", voice, "-s", str(rate), "--stdout", "-b", "1", text],
                capture_output=True,
                timeout=SYNTH_TIMEOUT,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise SynthesisError(f"espeak-ng took longer than {SYNTH_TIMEOUT}s") from exc
        if proc.returncode != 0 or not proc.stdout:
            raise SynthesisError(f"espeak-ng failed: {proc.stderr.decode(errors='replace').strip()}")
        pcm, sr = read_wav(proc.stdout)
        return to_16k(pcm, sr)

    # -- voices ---------------------------------------------------------------------------
    def _voice_table(self) -> tuple[dict[str, str], set[str]]:
        with self._lock:
            if self._voices is None or self._variants is None:
                voices: dict[str, str] = {}
                variants: set[str] = set()
                if self._cli is not None:
                    out = subprocess.run(
                        [self._cli, "--voices"], capture_output=True, text=True, check=False, timeout=10
                    ).stdout
                    for lang, name, file in _parse_voice_listing(out):
                        for key in (lang, file, file.rsplit("/", 1)[-1], name):
                            voices.setdefault(key.lower(), lang)
                    out = subprocess.run(
                        [self._cli, "--voices=variant"], capture_output=True, text=True, check=False, timeout=10
                    ).stdout
                    for _lang, name, file in _parse_voice_listing(out):
                        variants.add(name.lower())
                        variants.add(file.rsplit("/", 1)[-1].lower())
                self._voices, self._variants = voices, variants
            return self._voices, self._variants

    def check_voice(self, voice: str) -> str:
        base, _, variant = voice.partition("+")
        voices, variants = self._voice_table()
        if voices and base.lower() not in voices:
            sample = ", ".join(sorted(k for k in voices if len(k) <= 3)[:20])
            raise ConfigError(
                f"unknown voice '{voice}': use an espeak-ng voice or language ({sample}, ...; "
                "`espeak-ng --voices` lists them), optionally with a variant like ko+f3"
            )
        if variant and variants and variant.lower() not in variants:
            raise ConfigError(
                f"unknown voice variant '{variant}': `espeak-ng --voices=variant` lists them (e.g. f3, m3)"
            )
        return voice

    def language(self, voice: str) -> str:
        base = voice.partition("+")[0].lower()
        voices, _ = self._voice_table()
        return voices.get(base, base).split("-")[0]

    # -- TtsEngine ------------------------------------------------------------------------
    def synthesize(self, text: str, *, voice: str, rate: int) -> Pcm:
        if not text.strip():
            return np.zeros(0, dtype=np.int16)
        rate = max(MIN_RATE, min(MAX_RATE, int(rate)))
        if self.backend == "pyttsx3" and self._pyttsx3 is not None:
            try:
                return trim_silence(self._pyttsx3.render(text, voice, rate))
            except Exception as exc:
                if self._cli is None:
                    raise SynthesisError(f"pyttsx3 failed: {exc}") from exc
                log.warning("pyttsx3 failed (%s); switching to the espeak-ng command", exc)
                self.backend = "espeak-ng"
        return trim_silence(self._cli_render(text, voice, rate))


__all__ = ["EspeakEngine", "SynthesisError", "read_wav", "to_16k", "trim_silence"]
