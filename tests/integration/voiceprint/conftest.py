"""Speech of two espeak-ng voices as WAV files, a key file, and the `voicebot` command."""

from __future__ import annotations

import os
import subprocess
import sys
import wave
from pathlib import Path

import numpy as np
import pytest

from voicebot.tts import EspeakEngine
from voicebot.tts.cache import write_wav

ENROL = [
    "Hello, I am calling about the letter I received from you last week.",
    "My account number should be on the front page of the last statement.",
    "I usually pay by card at the end of every month, sometimes a little later.",
]
TEST = "We moved to a new address in the spring, near the river, and the post is slow."
ENROLLED, OTHER = "en-us+m3", "en-us+f4"  # a male and a female variant


def voicebot(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if not k.startswith("VOICEBOT_")} | (env or {})
    return subprocess.run([sys.executable, "-m", "voicebot", *args], capture_output=True, text=True, timeout=120,
                          env=full)  # fmt: skip


@pytest.fixture(scope="session")
def wavs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """enrol0..2 and test (voice ENROLLED), other (voice OTHER), short ("yes"), silent, and two
    files that are not what they claim: text.wav (not audio) and pcm8.wav (8-bit samples)."""
    folder = tmp_path_factory.mktemp("voiceprint-wavs")
    tts = EspeakEngine(backend="espeak-ng")
    out: dict[str, Path] = {}
    for name, voice, text in [(f"enrol{i}", ENROLLED, t) for i, t in enumerate(ENROL)] + [
        ("test", ENROLLED, TEST), ("other", OTHER, TEST), ("short", ENROLLED, "yes")
    ]:  # fmt: skip
        out[name] = folder / f"{name}.wav"
        write_wav(out[name], tts.synthesize(text, voice=voice, rate=170))
    out["silent"] = folder / "silent.wav"
    write_wav(out["silent"], np.zeros(16000 * 4, np.int16))
    out["text"] = folder / "text.wav"
    out["text"].write_text("this is not a WAV file\n")
    out["pcm8"] = folder / "pcm8.wav"
    with wave.open(str(out["pcm8"]), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(1)
        w.setframerate(8000)
        w.writeframes(bytes(range(256)) * 100)
    return out


def new_key_file(folder: Path) -> Path:
    path = folder / "keys.json"
    done = voicebot("keys", "generate", "-o", str(path))
    assert done.returncode == 0, done.stderr
    return path


@pytest.fixture
def key_file(tmp_path: Path) -> Path:
    return new_key_file(tmp_path)
