"""Local speech synthesis with espeak-ng, driven through pyttsx3.

pyttsx3 keeps one espeak-ng instance per process and is not thread-safe, so this engine
gives it a single dedicated worker thread: every pyttsx3 call runs there, one at a time,
and ``synthesize`` (callable from any thread) waits for its turn. pyttsx3's espeak driver
can only speak to the sound card or to a file, so synthesis goes through
``save_to_file`` + ``runAndWait`` into a private temporary directory; the 22.05 kHz WAV is
read back and resampled to 16 kHz.

Fallback: when pyttsx3 cannot start or fails (no ``libespeak-ng1``, a headless quirk), the
same engine runs the ``espeak-ng`` command (``--stdout``, one process per phrase) and logs
which backend it uses (``EspeakEngine.backend``).
"""

from __future__ import annotations

import concurrent.futures
import io
import logging
import shutil
import subprocess
import tempfile
import threading
import wave
import weakref
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


class EspeakEngine:
    """espeak-ng voices at 16 kHz; ``backend`` is "pyttsx3" or "espeak-ng" (or "auto")."""

    name = "espeak"
    sample_rate = SAMPLE_RATE

    def __init__(self, *, backend: str = "auto") -> None:
        if backend not in {"auto", "pyttsx3", "espeak-ng"}:
            raise ConfigError(f"unknown espeak backend '{backend}': auto, pyttsx3 or espeak-ng")
        self._cli = shutil.which("espeak-ng")
        self._worker = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="voicebot-tts")
        self._tmp = tempfile.TemporaryDirectory(prefix="voicebot-tts-")
        self._finalizer = weakref.finalize(self, _shutdown, self._worker, self._tmp)
        self._engine: Any = None
        self._driver_cls: Any = None
        self._counter = 0
        self._voices: dict[str, str] | None = None
        self._variants: set[str] | None = None
        self._lock = threading.Lock()
        self.backend = "espeak-ng"
        if backend in {"auto", "pyttsx3"}:
            try:
                self._worker.submit(self._start_pyttsx3).result(timeout=SYNTH_TIMEOUT)
                self.backend = "pyttsx3"
            except Exception as exc:
                if backend == "pyttsx3":
                    raise DependencyError(f"pyttsx3 could not start espeak-ng: {exc}; " + ESPEAK_MISSING) from exc
                log.warning("pyttsx3 unavailable (%s); using the espeak-ng command", exc)
        if self.backend == "espeak-ng" and self._cli is None:
            raise DependencyError(ESPEAK_MISSING)

    def close(self) -> None:
        self._finalizer()

    # -- pyttsx3 (worker thread only) --------------------------------------------------------
    def _start_pyttsx3(self) -> None:
        import pyttsx3
        import pyttsx3.drivers.espeak as driver

        # The driver announces every saved file with print(); keep stdout clean (the CLI's
        # --json output goes there) by routing that to the debug log instead.
        driver.print = lambda *args, **kwargs: log.debug(" ".join(str(a) for a in args))
        self._engine = pyttsx3.init("espeak")
        self._driver_cls = driver.EspeakDriver

    def _pyttsx3_render(self, text: str, voice: str, rate: int) -> Pcm:
        self._counter += 1
        path = Path(self._tmp.name) / f"p{self._counter}.wav"
        engine = self._engine
        # pyttsx3 queues setProperty behind its busy flag, and measured here the queued
        # settings landed one phrase late (a phrase spoken with the previous phrase's voice
        # and rate); the driver's own setProperty applies them to espeak-ng at once. The rate
        # is set twice: right after a voice change (ko+f3 -> ko) a single rate setting was
        # lost in 2 of 8 switches, never when repeated (test_pyttsx3_and_cli_backends_agree).
        self._driver_cls.setProperty("voice", voice)
        self._driver_cls.setProperty("rate", rate)
        self._driver_cls.setProperty("rate", rate)
        engine.save_to_file(text, str(path))
        engine.runAndWait()
        if not path.exists():
            raise SynthesisError(f"pyttsx3 produced no audio for {text[:40]!r}")
        pcm, sr = read_wav(path)
        path.unlink()
        return to_16k(pcm, sr)

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
        if self.backend == "pyttsx3":
            try:
                future = self._worker.submit(self._pyttsx3_render, text, voice, rate)
                return trim_silence(future.result(timeout=SYNTH_TIMEOUT))
            except Exception as exc:
                if self._cli is None:
                    raise SynthesisError(f"pyttsx3 failed: {exc}") from exc
                log.warning("pyttsx3 failed (%s); switching to the espeak-ng command", exc)
                self.backend = "espeak-ng"
        return trim_silence(self._cli_render(text, voice, rate))


def _shutdown(worker: concurrent.futures.ThreadPoolExecutor, tmp: tempfile.TemporaryDirectory[str]) -> None:
    worker.shutdown(wait=False, cancel_futures=True)
    tmp.cleanup()


__all__ = ["EspeakEngine", "SynthesisError", "read_wav", "to_16k", "trim_silence"]
