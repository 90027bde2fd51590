"""`voicebot serve` and `voicebot dial` as processes: media wiring and documented exit codes."""

from __future__ import annotations

import json
import math
import re
import socket
import struct
import subprocess
import wave
from collections.abc import Callable
from pathlib import Path

from tests.interop.sip.conftest import Served, voicebot_cmd
from tests.procs import free_port

EXIT = {"answered": 0, "usage": 2, "busy": 3, "no_answer": 4, "rejected": 5, "auth": 6, "network": 7}


def tone(path: Path, seconds: float = 2.0, freq: float = 440.0) -> Path:
    rate = 16000
    n = int(rate * seconds)
    frames = b"".join(struct.pack("<h", int(12000 * math.sin(2 * math.pi * freq * i / rate))) for i in range(n))
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(frames)
    return path


def channel_energy(path: Path) -> tuple[float, float]:
    with wave.open(str(path), "rb") as w:
        assert w.getnchannels() == 2
        data = w.readframes(w.getnframes())
    samples = struct.unpack(f"<{len(data) // 2}h", data)
    left, right = samples[0::2], samples[1::2]
    rms = [math.sqrt(sum(x * x for x in ch) / max(len(ch), 1)) for ch in (left, right)]
    return rms[0], rms[1]


def dial(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(voicebot_cmd("dial", *args), capture_output=True, text=True, timeout=timeout)


def test_dial_play_to_serve_record(serve: Callable[..., Served], tmp_path: Path) -> None:
    rec = tmp_path / "served.wav"
    served = serve("--record-wav", str(rec))
    done = dial(served.uri, "--play", str(tone(tmp_path / "tone.wav")), "--hangup-after", "2.5", "--json")
    assert done.returncode == EXIT["answered"], done.stdout + done.stderr
    served.stop()
    caller, bot = channel_energy(rec)
    assert caller > 500  # the tone arrived over RTP
    assert caller > 10 * max(bot, 1.0)


def test_serve_echo_comes_back_to_dial_recording(serve: Callable[..., Served], tmp_path: Path) -> None:
    served = serve("--echo")
    rec = tmp_path / "dialer.wav"
    done = dial(served.uri, "--play", str(tone(tmp_path / "t.wav")), "--record-wav", str(rec), "--hangup-after", "2.5")
    assert done.returncode == EXIT["answered"], done.stdout + done.stderr
    remote, ours = channel_energy(rec)
    assert ours > 500 and remote > 500  # what we played came back echoed


def test_exit_codes_busy_rejected_no_answer_auth(serve: Callable[..., Served]) -> None:
    busy = serve("--reject", "486", "--no-media")
    assert dial(busy.uri, "--no-media").returncode == EXIT["busy"]
    rejected = serve("--reject", "603", "--no-media")
    out = dial(rejected.uri, "--no-media", "--json")
    assert out.returncode == EXIT["rejected"]
    assert json.loads(out.stdout)["status"] == 603
    slow = serve("--answer-after", "30", "--no-media")
    assert dial(slow.uri, "--no-media", "--timeout", "1").returncode == EXIT["no_answer"]
    locked = serve("--auth-user", "alice", "--auth-password", "pw", "--no-media")
    assert dial(locked.uri, "--no-media").returncode == EXIT["auth"]
    assert dial(locked.uri, "--no-media", "--user", "alice", "--password", "bad").returncode == EXIT["auth"]
    ok = dial(locked.uri, "--no-media", "--user", "alice", "--password", "pw", "--hangup-after", "0.2")
    assert ok.returncode == EXIT["answered"], ok.stdout + ok.stderr


def test_exit_code_network_failure_and_bad_arguments() -> None:
    port = free_port()  # nothing listens: TCP connect is refused
    out = dial(f"sip:nobody@127.0.0.1:{port};transport=tcp", "--no-media")
    assert out.returncode == EXIT["network"], out.stdout + out.stderr
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:  # UDP: bound, but never answers
        silent.bind(("127.0.0.1", 0))
        quick = dial(f"sip:nobody@127.0.0.1:{silent.getsockname()[1]}", "--no-media", "--timeout", "1", "--json")
    assert quick.returncode == EXIT["network"], quick.stdout + quick.stderr
    assert json.loads(quick.stdout)["status"] == 408  # not even 100 Trying: given up after a second
    bad = dial("not-a-uri")
    assert bad.returncode == EXIT["usage"] and "expected a sip: URI" in bad.stderr
    assert dial("sip:x@127.0.0.1", "--timeout", "-1").returncode == EXIT["usage"]
    help_text = dial("--help").stdout
    assert "exit codes" in help_text and "network failure" in help_text


def test_trace_and_dtmf_reach_serve(serve: Callable[..., Served]) -> None:
    served = serve()
    done = dial(served.uri, "--dtmf", "19#", "--hangup-after", "1.5", "--trace")
    assert done.returncode == EXIT["answered"], done.stdout + done.stderr
    # every message sent and received, timestamped, both directions
    assert re.search(r"--- \d\d:\d\d:\d\d\.\d{3} sent to UDP 127\.0\.0\.1:\d+ \(\d+ bytes\)\nINVITE sip:", done.stdout)
    assert re.search(r"--- \d\d:\d\d:\d\d\.\d{3} received from UDP [^\n]*\nSIP/2\.0 200 OK", done.stdout)
    out = served.stop()
    digits = re.findall(r"dtmf: (\S) \((rfc4733|info)", out)
    assert "".join(d for d, _src in digits) == "19#", out
