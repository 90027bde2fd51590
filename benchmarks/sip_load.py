"""OPTIONS transactions per second over loopback UDP: SIPp as the client against
``voicebot serve``, beside SIPp's own server (a one-transaction OPTIONS scenario, the C
reference) in the same run. Also INVITE/ACK/BYE calls per second (``sipp -sn uac``) against
``voicebot serve --no-media`` beside ``sipp -sn uas``.

Writes benchmarks/results/sip_load.json and prints a table. Run:
``.venv/bin/python benchmarks/sip_load.py`` (needs ``sipp``: Debian package sip-tester).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = ROOT / "tests" / "interop" / "sip" / "scenarios"
RESULTS = ROOT / "benchmarks" / "results" / "sip_load.json"
OPTIONS_N = int(os.environ.get("SIP_LOAD_OPTIONS", "4000"))
CALLS_N = int(os.environ.get("SIP_LOAD_CALLS", "600"))


def free_port() -> int:
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as t:
                t.bind(("127.0.0.1", port))
        except OSError:
            continue
        return port


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def wait_listening(port: int, timeout: float = 15.0) -> None:
    probe = (
        f"OPTIONS sip:x@127.0.0.1:{port} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:1;branch=z9hG4bKw;rport\r\n"
        "Max-Forwards: 70\r\nFrom: <sip:p@127.0.0.1>;tag=1\r\nTo: <sip:x@127.0.0.1>\r\n"
        "Call-ID: wait@bench\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
    ).encode()
    end = time.monotonic() + timeout
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        s.settimeout(0.2)
        while time.monotonic() < end:
            s.sendto(probe, ("127.0.0.1", port))
            try:
                if s.recv(65535).startswith(b"SIP/2.0"):
                    return
            except OSError:
                pass
    raise RuntimeError(f"nothing answers on 127.0.0.1:{port}")


def sipp_client(args: list[str], port: int, n: int, cwd: Path) -> dict[str, float]:
    sipp = shutil.which("sipp")
    if sipp is None:
        raise SystemExit("sipp not found: apt-get install sip-tester")
    cmd = [
        sipp,
        *args,
        f"127.0.0.1:{port}",
        "-i",
        "127.0.0.1",
        "-p",
        str(free_port()),
        "-s",
        "bot",
        "-m",
        str(n),
        "-r",
        "20000",
        "-l",
        "100",
        "-nostdin",
        "-timeout",
        "90s",
        "-mi",
        "127.0.0.1",
        "-buff_size",
        "1048576",
    ]
    t0 = time.monotonic()
    done = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=120)
    elapsed = time.monotonic() - t0
    out = done.stdout + done.stderr
    ok = _cumulative(out, "Successful call")
    failed = _cumulative(out, "Failed call")
    retrans = sum(int(m.group(1)) for m in re.finditer(r"---------->\s+\d+\s+(\d+)", out))
    return {
        "transactions": ok,
        "failed": failed,
        "retransmissions": retrans,
        "seconds": round(elapsed, 3),
        "per_second": round(ok / elapsed, 1) if elapsed > 0 else 0.0,
    }


def _cumulative(text: str, label: str) -> int:
    m = re.search(rf"{label}\s*\|\s*\d+\s*\|\s*(\d+)", text)
    return int(m.group(1)) if m else 0


def server(cmd: list[str], port: int, cwd: Path) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        wait_listening(port)
    except RuntimeError:
        stop(proc)
        raise
    return proc


def core_only(n: int) -> dict[str, float]:
    """The I/O-free core alone: OPTIONS datagrams in, 200 OK datagrams out, no sockets."""
    sys.path.insert(0, str(ROOT))
    from voicebot.sip.transaction import Address
    from voicebot.sip.useragent import UaConfig, UserAgentCore

    core = UserAgentCore(UaConfig(addresses={"udp": ("127.0.0.1", 5080)}, defence=None))  # one source: no limits
    src = Address("udp", "127.0.0.1", 5090)
    msgs = [
        (
            f"OPTIONS sip:bot@127.0.0.1:5080 SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP 127.0.0.1:5090;branch=z9hG4bK-{i}-1-0\r\n"
            f"From: sipp <sip:sipp@127.0.0.1:5090>;tag={i}SIPpTag001\r\nTo: <sip:bot@127.0.0.1:5080>\r\n"
            f"Call-ID: {i}-1@127.0.0.1\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
        ).encode()
        for i in range(n)
    ]
    t0 = time.perf_counter()
    answered = 0
    for i, m in enumerate(msgs):
        core.receive_datagram(m, src, i * 1e-4)
        answered += sum(1 for d, _ in core.datagrams_to_send() if d.startswith(b"SIP/2.0 200"))
        core.next_deadline()
    elapsed = time.perf_counter() - t0
    return {
        "transactions": answered,
        "failed": n - answered,
        "retransmissions": 0,
        "seconds": round(elapsed, 3),
        "per_second": round(answered / elapsed, 1),
    }


def main() -> int:
    results: dict[str, dict[str, float]] = {"voicebot_core_in_process": core_only(OPTIONS_N)}
    with tempfile.TemporaryDirectory() as tmp:
        cwd = Path(tmp)
        port = free_port()
        vb = server(
            [sys.executable, "-m", "voicebot", "serve", "--listen", f"127.0.0.1:{port}", "--user", "bot", "--no-media",
             "--no-defence"],  # one source at full speed: the per-source limits would throttle it (see security.py)
            port,
            cwd,
        )
        try:
            results["voicebot_options"] = sipp_client(["-sf", str(SCENARIOS / "options_uac.xml")], port, OPTIONS_N, cwd)
            results["voicebot_calls"] = sipp_client(["-sn", "uac", "-d", "0"], port, CALLS_N, cwd)
        finally:
            stop(vb)
        port = free_port()
        ref = server(
            [
                shutil.which("sipp") or "sipp",
                "-sf",
                str(SCENARIOS / "options_uas.xml"),
                "-i",
                "127.0.0.1",
                "-p",
                str(port),
                "-nostdin",
                "-buff_size",
                "1048576",
            ],
            port,
            cwd,
        )
        try:
            results["sipp_options"] = sipp_client(["-sf", str(SCENARIOS / "options_uac.xml")], port, OPTIONS_N, cwd)
        finally:
            stop(ref)
        port = free_port()
        ref = subprocess.Popen(
            [
                shutil.which("sipp") or "sipp",
                "-sn",
                "uas",
                "-i",
                "127.0.0.1",
                "-p",
                str(port),
                "-nostdin",
                "-buff_size",
                "1048576",
            ],
            cwd=cwd,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        time.sleep(0.5)
        try:
            results["sipp_calls"] = sipp_client(["-sn", "uac", "-d", "0"], port, CALLS_N, cwd)
        finally:
            stop(ref)
    ratio_o = results["voicebot_options"]["per_second"] / max(results["sipp_options"]["per_second"], 1e-9)
    ratio_c = results["voicebot_calls"]["per_second"] / max(results["sipp_calls"]["per_second"], 1e-9)
    summary = {
        "what": "SIPp client over loopback UDP, window 100 outstanding; per_second = completed/elapsed",
        "cpu_count": os.cpu_count(),
        "results": results,
        "ratio_options_voicebot_vs_sipp": round(ratio_o, 3),
        "ratio_calls_voicebot_vs_sipp": round(ratio_c, 3),
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(summary, indent=2) + "\n")
    print(f"{'server':<22}{'done':>8}{'failed':>8}{'retrans':>9}{'seconds':>9}{'per s':>10}")
    for name, r in results.items():
        print(
            f"{name:<22}{int(r['transactions']):>8}{int(r['failed']):>8}{int(r['retransmissions']):>9}"
            f"{r['seconds']:>9.2f}{r['per_second']:>10.1f}"
        )
    print(f"voicebot/SIPp: OPTIONS {ratio_o:.2f}x, calls {ratio_c:.2f}x  -> {RESULTS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
