"""OPTIONS transactions per second over loopback UDP: SIPp as the client against
``voicebot serve``, beside SIPp's own server (a one-transaction OPTIONS scenario, the C
reference) in the same run. Also INVITE/ACK/BYE calls per second (``sipp -sn uac``) against
``voicebot serve --no-media`` beside ``sipp -sn uas``.

Besides throughput (completed / elapsed), each run reads the server's CPU seconds and the
client's, so the comparison is work per server CPU-second and shows whether the client was
the limit (a client near 100 % of a core is).

Writes benchmarks/results/sip_load.json and prints a table. Run:
``.venv/bin/python benchmarks/sip_load.py`` (needs ``sipp``: Debian package sip-tester).
"""

from __future__ import annotations

import json
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _procs import cpu_seconds, exit_on_sigterm, free_port, load_average, stop, tree, wait_sip

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = ROOT / "tests" / "interop" / "sip" / "scenarios"
RESULTS = ROOT / "benchmarks" / "results" / "sip_load.json"
OPTIONS_N = int(os.environ.get("SIP_LOAD_OPTIONS", "4000"))
CALLS_N = int(os.environ.get("SIP_LOAD_CALLS", "600"))


def sipp_client(args: list[str], port: int, n: int, cwd: Path, server_pid: int) -> dict[str, float]:
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
    server = tree(server_pid)
    s0, c0, t0 = cpu_seconds(server), resource.getrusage(resource.RUSAGE_CHILDREN), time.monotonic()
    done = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=120)
    elapsed = time.monotonic() - t0
    s1, c1 = cpu_seconds(server), resource.getrusage(resource.RUSAGE_CHILDREN)
    server_cpu = s1 - s0
    client_cpu = (c1.ru_utime - c0.ru_utime) + (c1.ru_stime - c0.ru_stime)
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
        "server_cpu_s": round(server_cpu, 3),
        "per_server_cpu_second": round(ok / server_cpu, 1) if server_cpu > 0 else 0.0,
        "client_cpu_pct": round(100 * client_cpu / elapsed, 1) if elapsed > 0 else 0.0,
    }


def _cumulative(text: str, label: str) -> int:
    m = re.search(rf"{label}\s*\|\s*\d+\s*\|\s*(\d+)", text)
    return int(m.group(1)) if m else 0


def server(cmd: list[str], port: int, cwd: Path) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        wait_sip(port)
    except RuntimeError:
        stop(proc)
        raise
    return proc


def core_only(n: int) -> dict[str, float]:
    """The I/O-free core alone: OPTIONS datagrams in, 200 OK datagrams out, no sockets."""
    sys.path.insert(0, str(ROOT))
    from voicebot.sip.transaction import TransportAddress
    from voicebot.sip.useragent import UaConfig, UserAgentCore

    core = UserAgentCore(UaConfig(addresses={"udp": ("127.0.0.1", 5080)}, defence=None))  # one source: no limits
    src = TransportAddress("udp", "127.0.0.1", 5090)
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
    exit_on_sigterm()
    load = load_average()
    results: dict[str, dict[str, float]] = {"voicebot_core_in_process": core_only(OPTIONS_N)}
    sipp = shutil.which("sipp") or "sipp"
    options_uac = ["-sf", str(SCENARIOS / "options_uac.xml")]
    with tempfile.TemporaryDirectory() as tmp:
        cwd = Path(tmp)
        port = free_port()
        # one source at full speed: the per-source limits would throttle it (see security.py)
        vb = server([sys.executable, "-m", "voicebot", "serve", "-q", "--listen", f"127.0.0.1:{port}", "--user", "bot",
                     "--no-media", "--no-defence", "--max-calls", "100000"], port, cwd)  # fmt: skip
        try:
            results["voicebot_options"] = sipp_client(options_uac, port, OPTIONS_N, cwd, vb.pid)
            results["voicebot_calls"] = sipp_client(["-sn", "uac", "-d", "0"], port, CALLS_N, cwd, vb.pid)
        finally:
            stop(vb)
        port = free_port()
        ref = server([sipp, "-sf", str(SCENARIOS / "options_uas.xml"), "-i", "127.0.0.1", "-p", str(port), "-nostdin",
                      "-buff_size", "1048576"], port, cwd)  # fmt: skip
        try:
            results["sipp_options"] = sipp_client(options_uac, port, OPTIONS_N, cwd, ref.pid)
        finally:
            stop(ref)
        port = free_port()
        ref = subprocess.Popen(
            [sipp, "-sn", "uas", "-i", "127.0.0.1", "-p", str(port), "-nostdin", "-buff_size", "1048576"],
            cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
        time.sleep(0.5)
        try:
            results["sipp_calls"] = sipp_client(["-sn", "uac", "-d", "0"], port, CALLS_N, cwd, ref.pid)
        finally:
            stop(ref)

    def ratio(kind: str, key: str) -> float:
        return round(results[f"voicebot_{kind}"][key] / max(results[f"sipp_{kind}"][key], 1e-9), 3)

    summary = {
        "what": "SIPp client over loopback UDP, window 100 outstanding; per_second = completed/elapsed; "
        "per_server_cpu_second = completed / server CPU seconds",
        "cpu_count": os.cpu_count(),
        "load_average_before": load,
        "load_average_after": load_average(),
        "results": results,
        "ratio_options_voicebot_vs_sipp": ratio("options", "per_second"),
        "ratio_calls_voicebot_vs_sipp": ratio("calls", "per_second"),
        "ratio_options_per_cpu_second_vs_sipp": ratio("options", "per_server_cpu_second"),
        "ratio_calls_per_cpu_second_vs_sipp": ratio("calls", "per_server_cpu_second"),
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(summary, indent=2) + "\n")
    print(f"{'server':<26}{'done':>7}{'failed':>7}{'retrans':>8}{'per s':>9}{'per srv CPU-s':>14}{'client CPU':>11}")
    for name, r in results.items():
        print(
            f"{name:<26}{int(r['transactions']):>7}{int(r['failed']):>7}{int(r['retransmissions']):>8}"
            f"{r['per_second']:>9.0f}{r.get('per_server_cpu_second', 0):>14.0f}{r.get('client_cpu_pct', 0):>10.0f}%"
        )
    print(
        f"voicebot/SIPp per server CPU-second: OPTIONS {summary['ratio_options_per_cpu_second_vs_sipp']}x, "
        f"calls {summary['ratio_calls_per_cpu_second_vs_sipp']}x  -> {RESULTS.relative_to(ROOT)}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
