"""`voicebot say` and `voicebot transcribe` end to end, as separate processes."""

from __future__ import annotations

import json
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from voicebot.asr.engine import Band, recognize_pcm
from voicebot.asr.vosk_engine import VoskEngine
from voicebot.media.frames import read_wav, telephone_band, write_wav
from voicebot.media.wav import load_wav
from voicebot_codecs import resample


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
    pcm, rate = load_wav(wav)
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
    assert p.returncode == 1 and "is not a Vosk model directory" in p.stderr


def _wav_header(fmt_tag: int, *, bits: int = 16, rate: int = 16000, data_bytes: int = 3200) -> bytes:
    align = bits // 8
    fmt = struct.pack("<HHIIHH", fmt_tag, 1, rate, rate * align, align, bits)
    head = b"RIFF" + struct.pack("<I", 36 + data_bytes) + b"WAVEfmt " + struct.pack("<I", 16) + fmt
    return head + b"data" + struct.pack("<I", data_bytes)


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        (b"", "the file is empty (0 bytes)"),
        (b"RIFF\x10\x00\x00\x00WA", "truncated WAV: the file ends inside its 10-byte header"),
        (_wav_header(1)[:30], "truncated WAV: the format chunk is cut short"),
        (_wav_header(1) + bytes(1000), "truncated WAV: the header promises 0.10 s of audio, the file holds 0.03 s"),
        (_wav_header(3, bits=32) + bytes(3200), "IEEE float audio, not PCM"),
        (_wav_header(7, bits=8, rate=8000) + bytes(3200), "μ-law audio, not PCM"),
        (b"ID3\x04 an mp3 file", "not a WAV file (no RIFF/WAVE header)"),
    ],
    ids=["empty", "cut-header", "cut-fmt", "cut-data", "float", "mulaw", "mp3"],
)
def test_transcribe_says_what_is_wrong_with_a_wav(tmp_path: Path, content: bytes, needle: str) -> None:
    bad = tmp_path / "bad.wav"
    bad.write_bytes(content)
    p = voicebot("transcribe", str(bad), "--engine", "pocketsphinx")
    assert p.returncode == 2, p.stderr
    assert p.stderr.count("\n") == 1 and needle in p.stderr and str(bad) in p.stderr
    assert "Traceback" not in p.stderr


def test_transcribe_json_lists_grammar_warnings_and_logs_none(tmp_path: Path) -> None:
    wav = tmp_path / "k.wav"
    assert voicebot("say", "취소해 주세요", "--voice", "ko", "-o", str(wav)).returncode == 0
    grammar = "네 맞습니다|아니요|취소해 주세요|못 들었어요"
    p = voicebot("transcribe", str(wav), "--grammar", grammar, "--json")
    assert p.returncode == 0, p.stderr
    assert p.stderr == ""
    out = json.loads(p.stdout)
    assert len(out["grammar_warnings"]) == 3 and all("vocabulary" in w for w in out["grammar_warnings"])
    # without --json: one summary line for the whole grammar, not one line per word
    p = voicebot("transcribe", str(wav), "--grammar", grammar)
    assert p.returncode == 0, p.stderr
    lines = [line for line in p.stderr.splitlines() if "grammar" in line]
    assert len(lines) == 1
    assert "3 words not in the model's vocabulary (맞습니다, 취소해, 들었어요)" in lines[0]


def test_say_speaks_chinese_with_the_mandarin_voice(tmp_path: Path) -> None:
    wav = tmp_path / "zh.wav"
    p = voicebot("say", "您好，这里是客服中心", "--voice", "zh", "-o", str(wav), "--json")
    assert p.returncode == 0, p.stderr
    summary = json.loads(p.stdout)
    assert summary["voice"] == "cmn" and summary["seconds"] > 1.0


def test_transcribe_hears_an_8khz_file_as_a_telephone_line(tmp_path: Path, vosk_engine: VoskEngine) -> None:
    """The file's own rate is the line band: an 8 kHz recording opens its recogniser as a
    G.711 call's does (the narrowband policy, the band fill from the start), the same audio
    at 16 kHz as a line of unknown band; the answer is the in-process recogniser's for that band."""
    wide = tmp_path / "k16.wav"
    assert voicebot("say", "다음 주에 이사 가요", "--voice", "ko", "-o", str(wide)).returncode == 0
    line = telephone_band(read_wav(wide))  # through μ-law, back at 16 kHz
    narrow = tmp_path / "k8.wav"
    write_wav(narrow, resample(line, 16000, 8000), rate=8000)
    write_wav(wide, line)
    grammar = "경비실|문 앞|택배함|내일 주세요"
    heard = {}
    for path in (narrow, wide):
        p = voicebot("transcribe", str(path), "--grammar", grammar, "--json")
        assert p.returncode == 0, p.stderr
        heard[path] = json.loads(p.stdout)
    assert (heard[narrow]["band"], heard[wide]["band"]) == ("narrow", "wide")
    for path, band in ((narrow, Band.NARROW), (wide, None)):
        r = vosk_engine.recognizer(grammar.split("|"), band=band)
        try:
            match = recognize_pcm(r, read_wav(path)).match
        finally:
            r.close()
        assert match is not None
        assert heard[path]["match"]["phrase"] == match.phrase
        assert heard[path]["match"]["confidence"] == pytest.approx(match.confidence, abs=1e-4)
    assert heard[narrow]["match"]["confidence"] != pytest.approx(heard[wide]["match"]["confidence"], abs=1e-3), heard
