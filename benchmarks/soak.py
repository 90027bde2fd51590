"""Memory that returns, and a burst of INVITEs that is answered.

* Soak: SIPp's built-in UAC places 100 short calls (1 s, media from the server) into
  ``voicebot serve --echo``; once the calls and their transactions are over (Timer J/L, 32 s)
  the server's RSS is read. Then 10,000 more calls the same way, the same wait, and RSS
  again. The aim: the end within 10 % of the level after the first 100 calls. Run twice:
  with CPython's small-object allocator (pymalloc, whose 1 MB arenas stay mapped while any
  object in them lives) and with ``PYTHONMALLOC=malloc`` (glibc, whose free pages the idle
  worker's ``malloc_trim`` hands back).
* Burst: 3,000 INVITEs at 2,500/s into ``voicebot serve --reject 486``: how many got no
  answer at all (the receive buffer is sized for such bursts), and RSS before and after.

Run: ``python benchmarks/soak.py`` (``SOAK_CALLS``, ``SOAK_RATE``, ``BURST_CALLS``,
``BURST_RATE`` change the sizes; ``SOAK_SETTLE`` the wait, default 40 s).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import write_results
from _procs import cpu_seconds, exit_on_sigterm, free_port, load_average, rss_bytes, start, stop, tree, wait_sip
from _sipp import REJECTED_UAC, sipp_exe, sipp_summary

from voicebot.transport.buffers import kernel_receive_cap

CALLS = int(os.environ.get("SOAK_CALLS", "10000"))
RATE = int(os.environ.get("SOAK_RATE", "100"))
BURST = int(os.environ.get("BURST_CALLS", "3000"))
BURST_RATE = int(os.environ.get("BURST_RATE", "2500"))
SETTLE = float(os.environ.get("SOAK_SETTLE", "40"))


def sipp(args: list[str], port: int, n: int, rate: int, cwd: Path) -> dict[str, int]:
    done = subprocess.run(
        [sipp_exe(), *args, f"127.0.0.1:{port}", "-s", "bot", "-i", "127.0.0.1", "-p", str(free_port()),
         "-mp", str(free_port()), "-m", str(n), "-r", str(rate), "-l", str(rate * 2), "-nostdin",
         "-timeout", f"{int(n / rate) + 90}s", "-max_socket", "60000"],
        cwd=cwd, capture_output=True, text=True, timeout=n / rate + 150,
    )  # fmt: skip
    return sipp_summary(done.stdout + done.stderr)


def mb(n: int) -> float:
    return round(n / 2**20, 1)


def soak(cwd: Path, allocator: str) -> dict[str, Any]:
    port = free_port()
    env = {**os.environ, "PYTHONMALLOC": allocator} if allocator != "pymalloc" else None
    # one SIPp source places every call: the per-source limits are off (they are not what is measured)
    server = start([sys.executable, "-m", "voicebot", "serve", "-q", "--listen", f"127.0.0.1:{port}", "--echo",
                    "--user", "bot", "--max-calls", "5000", "--no-defence"], cwd=cwd, env=env)  # fmt: skip
    try:
        wait_sip(port)
        rss_start = rss_bytes([server.pid])
        first = sipp(["-sn", "uac", "-d", "1000"], port, 100, RATE, cwd)
        time.sleep(SETTLE)
        rss_100 = rss_bytes([server.pid])
        c0 = cpu_seconds([server.pid])
        peak = 0
        t0 = time.monotonic()
        proc = subprocess.Popen(
            [sipp_exe(), "-sn", "uac", "-d", "1000", f"127.0.0.1:{port}", "-s", "bot", "-i", "127.0.0.1",
             "-p", str(free_port()), "-mp", str(free_port()), "-m", str(CALLS), "-r", str(RATE), "-l", str(RATE * 2),
             "-nostdin", "-timeout", f"{int(CALLS / RATE) + 90}s", "-max_socket", "60000"],
            cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
        while proc.poll() is None:
            peak = max(peak, rss_bytes([server.pid]))
            time.sleep(0.5)
        rest = sipp_summary(proc.communicate()[0])
        elapsed = time.monotonic() - t0
        cpu = cpu_seconds([server.pid]) - c0
        time.sleep(SETTLE)
        rss_end = rss_bytes([server.pid])
    finally:
        stop(server)
    return {
        "calls_first": first,
        "calls_rest": rest,
        "rss_start_mb": mb(rss_start),
        "rss_after_100_mb": mb(rss_100),
        "rss_peak_mb": mb(peak),
        "rss_end_mb": mb(rss_end),
        "end_vs_after_100": round(rss_end / rss_100, 3),
        "server_cpu_s_per_call": round(cpu / max(1, rest["successful"]), 5),
        "seconds": round(elapsed, 1),
    }


def burst(cwd: Path) -> dict[str, Any]:
    port = free_port()
    server = start([sys.executable, "-m", "voicebot", "serve", "-q", "--listen", f"127.0.0.1:{port}", "--reject", "486",
                    "--user", "bot", "--no-defence"], cwd=cwd)  # fmt: skip
    scenario = cwd / "rejected_uac.xml"
    scenario.write_text(REJECTED_UAC)
    try:
        wait_sip(port)
        rss_before = rss_bytes(tree(server.pid))
        got = sipp(["-sf", str(scenario)], port, BURST, BURST_RATE, cwd)
        time.sleep(SETTLE)
        rss_after = rss_bytes(tree(server.pid))
    finally:
        stop(server)
    return {
        "invites": BURST,
        "rate": BURST_RATE,
        "answered_486": got["successful"],
        "unanswered": got["failed"],
        "rss_before_mb": mb(rss_before),
        "rss_after_mb": mb(rss_after),
    }


def main() -> None:
    exit_on_sigterm()
    load = load_average()
    with tempfile.TemporaryDirectory(prefix="voicebot-soak-") as tmp:
        cwd = Path(tmp)
        b = burst(cwd)
        print(f"burst: {b}", flush=True)
        s = {name: soak(cwd, name) for name in ("pymalloc", "malloc")}
        print(f"soak: {s}", flush=True)
    path = write_results(
        "soak",
        {
            "what": "RSS of voicebot serve --echo after 100 and after 100 + N short SIPp calls (each read once "
            "the calls' transactions are over); a burst of INVITEs into serve --reject 486",
            "net_core_rmem_max": kernel_receive_cap(),
            "load_average_before": load,
            "load_average_after": load_average(),
            "soak": s,
            "burst": b,
        },
    )
    print(f"results: {path}")


if __name__ == "__main__":
    main()
