"""`voicebot dial` / `serve` with bad input, signals and vanishing peers: one-line errors and
their own exit codes; nothing sent for a bad argument, nothing left behind for a failed call."""

from __future__ import annotations

import json
import signal
import struct
import subprocess
import time
import wave
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.interop.sip.conftest import Served, voicebot_cmd
from tests.procs import free_port

from .test_sipengine_cli import EXIT, dial, tone

EXIT.update({"vanished": 8, "interrupted": 9})


def _bad_wavs(tmp_path: Path) -> dict[str, Path]:
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    junk = tmp_path / "junk.wav"
    junk.write_bytes(b"this is not a wave file at all" * 10)
    floats = tmp_path / "float.wav"  # IEEE float samples (format 3): any integer PCM plays, this does not
    fmt = struct.pack("<HHIIHH", 3, 1, 8000, 32000, 4, 32)
    data = bytes(3200)
    floats.write_bytes(
        b"RIFF" + struct.pack("<I", 4 + 8 + len(fmt) + 8 + len(data)) + b"WAVE"
        + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", len(data)) + data
    )
    silent = tmp_path / "no-frames.wav"
    with wave.open(str(silent), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
    return {"missing": tmp_path / "nope.wav", "empty": empty, "junk": junk, "float": floats, "no frames": silent}


def test_every_bad_argument_gets_one_line_and_exit_2_and_nothing_is_sent(
    serve: Callable[..., Served], tmp_path: Path
) -> None:
    served = serve()
    uri = served.uri
    cases: list[tuple[str, list[str]]] = [
        (f"--play {name}", [uri, "--play", str(path)]) for name, path in _bad_wavs(tmp_path).items()
    ]
    cases += [
        ("dtmf", [uri, "--dtmf", "12x"]),
        ("listen port", [uri, "--listen", "127.0.0.1:70000"]),
        ("uri port", ["sip:bob@127.0.0.1:99999"]),
        ("uri no host", ["sip:bob@"]),
        ("uri spaces", ["sip:bo b@127.0.0.1"]),
        ("not a uri", ["bob"]),
        ("no-media with play", [uri, "--no-media", "--play", str(tone(tmp_path / "t.wav"))]),
        ("no-media with record", [uri, "--no-media", "--record-wav", str(tmp_path / "r.wav")]),
        ("context without flow", [uri, "--context", "a=b"]),
        ("bad codec", [uri, "--codec", "g729"]),
        ("ptime off the 10 ms steps", [uri, "--ptime", "25"]),
        ("ptime too long", [uri, "--ptime", "100"]),
        ("ptime opus cannot send", [uri, "--codec", "opus", "--ptime", "30"]),
        ("webhook base not a url", [uri, "--webhook-base", "crm.local:8080"]),
        ("webhook base with a query", [uri, "--webhook-base", "http://crm.local/?x=1"]),
    ]
    for name, args in cases:
        done = dial(*args)
        assert done.returncode == EXIT["usage"], (name, done.stderr)
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and "Traceback" not in done.stderr, (name, done.stderr)
    assert "call 1" not in served.stop()  # none of them reached the far end


def test_a_host_that_does_not_resolve_and_a_closed_port_fail_fast_as_network_failures() -> None:
    t0 = time.monotonic()
    # in a network namespace of its own (no route anywhere): the name lookup fails here, and
    # no DNS query leaves the machine
    isolated = ["unshare", "--user", "--map-root-user", "--net", *voicebot_cmd("dial")]
    done = subprocess.run([*isolated, "sip:bob@no-such-host.invalid", "--no-media"], capture_output=True,
                          text=True, timeout=60)  # fmt: skip
    assert done.returncode == EXIT["network"] and "cannot resolve no-such-host.invalid" in done.stderr, done.stderr
    closed = dial(f"sip:bob@127.0.0.1:{free_port()}", "--no-media", "--json")
    assert closed.returncode == EXIT["network"] and "port unreachable" in closed.stderr
    assert "] ended: port unreachable (503)" in closed.stderr  # live progress on stderr
    assert json.loads(closed.stdout)["reason"] == "port unreachable"
    quiet = dial(f"sip:bob@127.0.0.1:{free_port()}", "--no-media", "-q")
    assert quiet.returncode == EXIT["network"]
    assert quiet.stderr.strip().splitlines() == [quiet.stderr.strip()] and "]" not in quiet.stderr  # -q: no progress
    assert time.monotonic() - t0 < 20  # no 32 s Timer B wait for either


def test_ctrl_c_while_ringing_has_its_own_exit_code_and_a_rejected_call_leaves_no_wav(
    serve: Callable[..., Served], tmp_path: Path
) -> None:
    ringing = serve("--answer-after", "30")
    proc = subprocess.Popen(
        voicebot_cmd("dial", ringing.uri, "--json"), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert proc.stderr is not None
    progress = proc.stderr.readline()  # the first progress line: the far end is ringing (not a fixed sleep,
    assert "ringing (180)" in progress, progress  # which a slow start-up under load could outlast)
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=20)
    assert proc.returncode == EXIT["interrupted"], out
    assert json.loads(out)["answered"] is False
    assert "ended: cancelled" in ringing.stop()  # the far end saw the call cancelled

    rejecting = serve("--reject", "486")
    wav = tmp_path / "never.wav"
    done = dial(rejecting.uri, "--record-wav", str(wav))
    assert done.returncode == EXIT["busy"]
    assert not wav.exists()


def test_sigterm_hangs_up_every_call_and_closes_the_recording(serve: Callable[..., Served], tmp_path: Path) -> None:
    rec = tmp_path / "served.wav"
    served = serve("--record-wav", str(rec))
    proc = subprocess.Popen(voicebot_cmd("dial", served.uri, "--json", "-q"), stdout=subprocess.PIPE, text=True)
    _wait_for(served, "answered (")
    time.sleep(2)  # two seconds of recorded call (the WAV must hold more than one)
    served.process.send_signal(signal.SIGTERM)
    assert served.process.wait(15) == 0
    out, _ = proc.communicate(timeout=20)
    assert proc.returncode == EXIT["answered"]
    assert json.loads(out)["ended_by"] == "remote"  # serve sent BYE on its way out
    with wave.open(str(rec), "rb") as w:  # a complete WAV: header and frames agree
        assert w.getnchannels() == 2 and w.getnframes() > 16000


@pytest.mark.slow
def test_a_far_end_that_vanishes_ends_the_call_with_its_own_exit_code(serve: Callable[..., Served]) -> None:
    served = serve()
    proc = subprocess.Popen(
        voicebot_cmd("dial", served.uri, "--rtp-timeout", "2", "--json", "-q"), stdout=subprocess.PIPE, text=True
    )
    _wait_for(served, "answered (")
    served.process.send_signal(signal.SIGKILL)  # gone without a BYE
    t0 = time.monotonic()
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == EXIT["vanished"], out
    assert json.loads(out)["reason"].startswith("media timeout")
    assert time.monotonic() - t0 < 2 + 4 + 3  # the RTP timeout plus the BYE grace (and slack)


def test_serve_on_ipv6_prints_a_bracketed_uri() -> None:
    port = _ipv6_port()
    if port is None:
        pytest.skip("no IPv6 loopback on this machine")
    cmd = voicebot_cmd("serve", "--listen", f"[::1]:{port}", "--duration", "1")
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    assert f"as sip:voicebot@[::1]:{port}" in done.stdout


def _wait_for(served: Served, line: str, timeout: float = 20.0) -> None:
    """Wait until ``serve`` has printed ``line`` (its live progress), instead of sleeping a fixed
    time that a slow start-up under load can outlast."""
    deadline = time.monotonic() + timeout
    while line not in served.output():
        assert time.monotonic() < deadline and served.process.poll() is None, served.output()
        time.sleep(0.05)


def _ipv6_port() -> int | None:
    import socket

    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as s:
            s.bind(("::1", 0))
            return int(s.getsockname()[1])
    except OSError:
        return None
