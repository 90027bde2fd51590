"""Does the echo delay come back after a stall? ``voicebot serve --echo`` (which relays each
packet as it arrives), ``voicebot serve --echo --record-wav`` (whose echo goes through the
jitter buffer, decoder, resamplers and encoder: what a bot hears, then says) and SIPp's
``-sn uas -rtp_echo`` (the floor), in the same run.

Each echo server gets three calls from the measuring caller in ``_echo_client.py`` (PCMA,
20 ms, band-limited noise, delay read off by correlation every 200 ms):

* ``quiet``: nothing else happens; its median delay is the quiet value;
* ``hog``: three busy-looping processes on this machine for the first 15 s of the call;
* ``stall``: the echo server is stopped (SIGSTOP) for 300 ms at 20 s, then continued.

Reported per call: the median delay before/after, the worst delay, and the time from the end
of the disturbance until the delay (its median over a sliding second) is back within 20 ms of
the quiet value for good (None: it was not, at the end of the call).
Run: ``python benchmarks/echo_recovery.py`` (``ECHO_SECONDS`` sets the call length, default 45).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import write_results
from _echo_client import echo_delays, run_call
from _procs import exit_on_sigterm, free_port, load_average, start, stop, wait_sip

SECONDS = float(os.environ.get("ECHO_SECONDS", "45"))
HOG_SECONDS = 15.0
STALL_AT, STALL = 20.0, 0.300
WITHIN = 0.020


def _hogs() -> tuple[Callable[[], None], Callable[[], None]]:
    procs: list[subprocess.Popen[bytes]] = []

    def on() -> None:
        for _ in range(3):
            procs.append(subprocess.Popen([sys.executable, "-c", "while True: pass"]))

    def off() -> None:
        for p in procs:
            p.kill()
            p.wait()
        procs.clear()

    return on, off


def _summary(delays: list[tuple[float, float]], quiet: float | None, disturbed_until: float) -> dict[str, float | None]:
    t = np.array([x[0] for x in delays])
    d = np.array([x[1] for x in delays])
    if not len(d):
        return {"windows": 0}
    after = d[t > disturbed_until + 1.0]
    row: dict[str, float | None] = {
        "windows": len(d),
        "median_ms": round(float(np.median(d)) * 1000, 1),
        "max_ms": round(float(d.max()) * 1000, 1),
        "median_after_ms": round(float(np.median(after)) * 1000, 1) if len(after) else None,
        "final_ms": round(float(np.median(d[-25:])) * 1000, 1),
    }
    if quiet is not None:
        # the delay over a sliding second (5 windows), so one noisy window on a shared machine
        # does not count as the delay not being back
        smooth = np.array([np.median(d[max(0, i - 4) : i + 1]) for i in range(len(d))])
        off = np.abs(smooth - quiet) > WITHIN
        late = t[(t >= disturbed_until) & off]
        settled = float(late.max()) if len(late) else disturbed_until
        row["recovery_s"] = round(max(0.0, settled - disturbed_until), 2) if not off[-1] else None
    return row


def measure(name: str, argv: list[str], port: int, *, answers_options: bool = True) -> dict[str, object]:
    proc = start(argv)
    try:
        if answers_options:
            wait_sip(port)
        else:  # SIPp's UAS answers its scenario only: give it a moment to bind
            time.sleep(1.0)
            if proc.poll() is not None:
                raise RuntimeError(f"{name} exited at start")
        quiet_delays = echo_delays(run_call(("127.0.0.1", port), SECONDS))
        quiet = float(np.median([d for t, d in quiet_delays if t > 2.0]))
        hog_on, hog_off = _hogs()
        try:
            hog = echo_delays(run_call(("127.0.0.1", port), SECONDS, events=[(0.0, hog_on), (HOG_SECONDS, hog_off)]))
        finally:
            hog_off()

        def stall() -> None:
            os.kill(proc.pid, signal.SIGSTOP)
            time.sleep(STALL)
            os.kill(proc.pid, signal.SIGCONT)

        stalled = echo_delays(run_call(("127.0.0.1", port), SECONDS, events=[(STALL_AT, stall)]))
    finally:
        stop(proc)
    out = {
        "quiet": _summary(quiet_delays, None, 0.0),
        "hog_first_15s": _summary(hog, quiet, HOG_SECONDS),
        "stall_300ms_at_20s": _summary(stalled, quiet, STALL_AT + STALL),
    }
    print(f"{name}: quiet {out['quiet']['median_ms']} ms")
    for k in ("hog_first_15s", "stall_300ms_at_20s"):
        r = out[k]
        print(
            f"  {k:<20} worst {r.get('max_ms')} ms, after {r.get('median_after_ms')} ms, "
            f"back within 20 ms of quiet after {r.get('recovery_s')} s"
        )
    return out


def main() -> None:
    exit_on_sigterm()
    load_before = load_average()
    results: dict[str, object] = {}
    port = free_port()
    serve = [sys.executable, "-m", "voicebot", "serve", "--echo", "-q", "--user", "bot"]
    results["voicebot_serve_echo"] = measure("voicebot serve --echo", [*serve, "--listen", f"127.0.0.1:{port}"], port)
    with tempfile.TemporaryDirectory(prefix="voicebot-echo-") as tmp:
        port = free_port()
        results["voicebot_echo_through_jitter_buffer"] = measure(
            "voicebot serve --echo --record-wav (jitter buffer, codec, resampling)",
            [*serve, "--listen", f"127.0.0.1:{port}", "--record-wav", str(Path(tmp) / "call.wav")],
            port,
        )
    sipp = shutil.which("sipp")
    if sipp:
        port = free_port()
        results["sipp_uas_rtp_echo"] = measure(
            "sipp -sn uas -rtp_echo",
            [sipp, "-sn", "uas", "-rtp_echo", "-i", "127.0.0.1", "-p", str(port), "-mp", str(free_port() & ~1),
             "-nostdin"],
            port,
            answers_options=False,
        )  # fmt: skip
    path = write_results(
        "echo_recovery",
        {
            "what": "echo delay of one PCMA call before/after a 15 s CPU hog and a 300 ms SIGSTOP of the server",
            "call_seconds": SECONDS,
            "load_average_before": load_before,
            "load_average_after": load_average(),
            **results,
        },
    )
    print(f"results: {path}")


if __name__ == "__main__":
    main()
