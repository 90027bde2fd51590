"""Encrypted call recordings through the real path: `voicebot serve --record` answers a
`voicebot dial` call over SIP/RTP on loopback, the recording is encrypted on disk, `voicebot
recording export` decrypts it, and a wrong key, a tampered byte or a crash are handled."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import time
import wave
from collections.abc import Callable
from pathlib import Path

import numpy as np

from tests.integration.media.conftest import read_channels, windowed_correlation
from tests.interop.sip.conftest import Served, voicebot_cmd
from voicebot.agent import UserAgent
from voicebot.call import Call
from voicebot.media import read_wav
from voicebot.media.recorder import AudioSink, WavSink
from voicebot.privacy import Keyring, Vault, party_subject

NUMBER = "+15551234567"
ID_RE = re.compile(r"recording ([0-9a-f]{20}) \(encrypted\)")


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("VOICEBOT_")}


def run(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(voicebot_cmd(*args), capture_output=True, text=True, timeout=timeout, env=_env())


def _export(rid: str, out: Path, keys: Path, data: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return run("recording", "export", rid, "-o", str(out), "--key-file", str(keys), "--data-dir", str(data), *extra)


def test_serve_records_encrypted_and_only_the_key_holder_gets_the_audio_back(
    serve: Callable[..., Served], key_file: Path, speech_wav: Path, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    served = serve("--echo", "--record", "--key-file", str(key_file), "--data-dir", str(data))
    dial = run("dial", served.uri, "--from", f"sip:{NUMBER}@127.0.0.1", "--play", str(speech_wav),
               "--hangup-after", "5.5")  # fmt: skip
    assert dial.returncode == 0, dial.stdout + dial.stderr
    log = served.stop()
    found = ID_RE.search(log)
    assert found, log
    rid = found.group(1)

    files = [p for p in data.rglob("*") if p.is_file()]
    assert len(files) == 1 and files[0].name == f"{rid}.vbrec"
    assert all(NUMBER[1:] not in str(p) and NUMBER[-7:] not in str(p) for p in data.rglob("*"))
    sealed = files[0].read_bytes()
    assert b"RIFF" not in sealed and b"WAVE" not in sealed

    out = tmp_path / "out.wav"
    done = _export(rid, out, key_file, data)
    assert done.returncode == 0, done.stderr
    channels = read_channels(out)
    src = read_wav(speech_wav)
    # channel 0 is the caller: dial's prompt after one Opus generation (0.955 measured for it)
    assert windowed_correlation(src, channels[:, 0]) >= 0.9
    with wave.open(str(out)) as w:
        pcm = w.readframes(w.getnframes())
    loud = [i for i in range(0, len(pcm) - 32, 4096) if max(abs(b - 128) for b in pcm[i : i + 32 : 2]) > 0]
    assert len(loud) > 20 and not any(pcm[i : i + 32] in sealed for i in loud)  # no run of the audio on disk

    other = tmp_path / "other-keys.json"
    assert run("keys", "generate", "-o", str(other)).returncode == 0
    wrong = _export(rid, tmp_path / "wrong.wav", other, data)
    assert wrong.returncode == 3 and "wrong key" in wrong.stderr and wrong.stderr.count("\n") == 1, wrong.stderr
    assert not (tmp_path / "wrong.wav").exists()

    bad = bytearray(sealed)
    bad[len(bad) // 2] ^= 0x04
    files[0].write_bytes(bytes(bad))
    tampered = _export(rid, tmp_path / "tampered.wav", key_file, data)
    assert tampered.returncode == 4 and "fails authentication" in tampered.stderr, tampered.stderr
    assert not (tmp_path / "tampered.wav").exists()


def test_recording_without_a_key_is_refused_unless_plain_wav_is_asked_for(tmp_path: Path) -> None:
    for cmd in (("serve", "--listen", "127.0.0.1:0", "--record"), ("dial", "sip:x@127.0.0.1:9", "--record")):
        done = run(*cmd, "--data-dir", str(tmp_path / "d"), timeout=20)
        assert done.returncode == 2, done.stderr
        assert "needs a recording key" in done.stderr and "--record-wav" in done.stderr
        assert "Traceback" not in done.stderr
    both = run("dial", "sip:x@127.0.0.1:9", "--record", "--record-wav", str(tmp_path / "a.wav"))
    assert both.returncode == 2 and "exclude each other" in both.stderr
    assert not (tmp_path / "d").exists()


def test_a_crash_during_the_call_keeps_what_was_written(
    serve: Callable[..., Served], key_file: Path, speech_wav: Path, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    served = serve("--echo", "--record", "--key-file", str(key_file), "--data-dir", str(data))
    dial = subprocess.Popen(voicebot_cmd("dial", served.uri, "--play", str(speech_wav), "--hangup-after", "20"),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=_env())  # fmt: skip
    try:
        deadline = time.monotonic() + 20
        while not ID_RE.search(served.output()):
            assert time.monotonic() < deadline and served.process.poll() is None, served.output()
            time.sleep(0.05)
        time.sleep(3.5)
        os.kill(served.process.pid, signal.SIGKILL)  # no close(), no final chunk
        served.process.wait(10)
    finally:
        dial.kill()
        dial.wait(10)
    found = ID_RE.search(served.output())
    assert found
    rid = found.group(1)
    strict = _export(rid, tmp_path / "strict.wav", key_file, data)
    assert strict.returncode == 5 and "cut short" in strict.stderr and "--partial" in strict.stderr, strict.stderr
    assert not (tmp_path / "strict.wav").exists()
    partial = _export(rid, tmp_path / "partial.wav", key_file, data, "--partial")
    assert partial.returncode == 0 and "cut short" in partial.stdout, partial.stderr
    caller = read_channels(tmp_path / "partial.wav")[:, 0]
    assert 1.0 <= len(caller) / 16000 <= 3.6  # whole seconds sealed before the kill; at most the last one lost
    src = read_wav(speech_wav)[: len(caller)]
    assert windowed_correlation(src[: len(src) // 2], caller) >= 0.85  # the start of the prompt is there


class _Tee:
    """Records the same frames twice: a plain WAV and an encrypted recording."""

    def __init__(self, *sinks: AudioSink) -> None:
        self.sinks = sinks

    def write(self, data: bytes) -> None:
        for s in self.sinks:
            s.write(data)

    def flush(self) -> None:
        for s in self.sinks:
            s.flush()

    def close(self) -> None:
        for s in self.sinks:
            s.close()


async def test_the_encrypted_recording_decrypts_to_exactly_the_audio_recorded(speech_wav: Path, tmp_path: Path) -> None:
    vault = Vault(tmp_path / "data", Keyring.new())
    plain = tmp_path / "plain.wav"
    ids: list[str] = []

    async def answer(call: Call) -> None:
        await call.answer()  # media sockets open on answer; recording starts before the first frame
        assert call.media is not None
        sink = vault.new_recording(party_subject(call.remote_uri))
        ids.append(sink.id)
        call.media.start_recording(_Tee(WavSink(plain), sink))

    async with UserAgent("127.0.0.1:0", user="bot") as bot_ua, UserAgent("127.0.0.1:0", user="caller") as caller_ua:
        bot_ua.on_call(answer)
        host, port = bot_ua.local_address
        call = await caller_ua.dial(f"sip:bot@{host}:{port}")
        assert await call.answered and call.media is not None
        await call.media.play_wav(speech_wav)
        await call.hangup()
        await asyncio.sleep(0.2)
    out = tmp_path / "export.wav"
    vault.export_wav(ids[0], out)
    with wave.open(str(plain)) as a, wave.open(str(out)) as b:
        assert a.getparams() == b.getparams()
        expected = a.readframes(a.getnframes())
        assert len(expected) > 16000 * 4 * 3 and np.any(np.frombuffer(expected, "<i2"))
        assert b.readframes(b.getnframes()) == expected
