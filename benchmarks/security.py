"""What the defences of issue 13 cost, and what they buy, over loopback with SIPp.

1. Cost: OPTIONS transactions/s and INVITE/ACK/BYE calls/s of ``voicebot serve`` with the
   per-source defence off (``--no-defence``) and on with limits set so high that every check
   runs and none refuses, beside SIPp's own server in the same run (as ``sip_load.py``).
2. Live calls first: a call from 127.0.0.3 to ``serve --echo`` plays speech and records the
   echo; correlation with the source and the delay of the echo are measured quietly and during
   a 500 INVITE/s SIPp flood from 127.0.0.2, with the defence on and off. Goal: within 0.1 of
   the quiet correlation and 100 ms of the quiet delay (defence on).
3. Memory: ``serve`` RSS before, right after a 500 INVITE/s flood of FLOOD_S seconds, and every
   10 s after it for up to 120 s; goal: back within 20 % of the baseline in 2 minutes.

SIPp's CPU time is reported so the load generator is not the bottleneck. Writes
benchmarks/results/security.json. Run: ``.venv/bin/python benchmarks/security.py``
(SECURITY_FLOOD_S=20 and SECURITY_FOLLOW_S=120 by default).
"""

from __future__ import annotations

import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parent.parent))

from _common import write_results
from sip_load import SCENARIOS, free_port, server, sipp_client, stop

from tests.likeness import best_lag
from voicebot.media import read_wav
from voicebot_codecs import resample

ROOT = Path(__file__).resolve().parent.parent
FLOOD = ROOT / "tests" / "interop" / "security" / "scenarios" / "invite_flood.xml"
FLOOD_S = int(os.environ.get("SECURITY_FLOOD_S", "20"))
FOLLOW_S = int(os.environ.get("SECURITY_FOLLOW_S", "120"))
OPTIONS_N = int(os.environ.get("SIP_LOAD_OPTIONS", "4000"))
CALLS_N = int(os.environ.get("SIP_LOAD_CALLS", "600"))
GENEROUS = ["--max-request-rate", "1e9", "--request-burst", "1000000000", "--max-dialogs-per-source", "1000000"]
ATTACKER, CALLER = "127.0.0.2", "127.0.0.3"


def serve(port: int, cwd: Path, *args: str) -> subprocess.Popen[bytes]:
    cmd = [sys.executable, "-m", "voicebot", "serve", "--listen", f"127.0.0.1:{port}", "--user", "bot", *args]
    return server(cmd, port, cwd)


def rss_mib(pid: int) -> float:
    m = re.search(r"VmRSS:\s+(\d+) kB", Path(f"/proc/{pid}/status").read_text())
    return round(int(m.group(1)) / 1024, 1) if m else 0.0


def flood(port: int, seconds: float, cwd: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [shutil.which("sipp") or "sipp", "-sf", str(FLOOD), "-i", ATTACKER, "-p", "0", "-r", "500",
         "-m", str(int(500 * seconds)), "-nr", "-default_behaviors", "none", "-nostdin", "-s", "bot",
         f"127.0.0.1:{port}"],
        cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip


def children_cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


# ------------------------------------------------------------------ 1. cost


def cost(cwd: Path) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, extra in (("defence_off", ["--no-defence"]), ("defence_on", GENEROUS)):
        port = free_port()
        vb = serve(port, cwd, "--no-media", *extra)
        try:
            options = ["-sf", str(SCENARIOS / "options_uac.xml")]
            out[f"voicebot_options_{name}"] = sipp_client(options, port, OPTIONS_N, cwd)
            out[f"voicebot_calls_{name}"] = sipp_client(["-sn", "uac", "-d", "0"], port, CALLS_N, cwd)
        finally:
            stop(vb)
    port = free_port()
    sipp = shutil.which("sipp") or "sipp"
    ref = server([sipp, "-sf", str(SCENARIOS / "options_uas.xml"), "-i", "127.0.0.1", "-p", str(port), "-nostdin",
                  "-buff_size", "1048576"], port, cwd)  # fmt: skip
    try:
        out["sipp_options"] = sipp_client(["-sf", str(SCENARIOS / "options_uac.xml")], port, OPTIONS_N, cwd)
    finally:
        stop(ref)
    return out


# ------------------------------------------------------------------ 2. live call under a flood


def _lagged(ref: np.ndarray, rec: np.ndarray, rate: int = 16000) -> tuple[float, float]:
    """(correlation at the best lag, that lag in ms) of ``rec`` against ``ref``."""
    a = ref.astype(np.float64)
    b = rec.astype(np.float64)
    lag = best_lag(a, b)
    seg = b[lag : lag + len(a)]
    m = min(len(seg), len(a))
    x, y = a[:m], seg[:m]
    den = float(np.sqrt(np.dot(x, x) * np.dot(y, y)))
    return (float(np.dot(x, y)) / den if den else 0.0), lag * 1000.0 / rate


def live_call(port: int, speech: Path, cwd: Path, tag: str) -> dict[str, float]:
    heard = cwd / f"heard-{tag}.wav"
    run = subprocess.run(
        [sys.executable, "-m", "voicebot", "dial", f"sip:bot@127.0.0.1:{port}", "--listen", f"{CALLER}:0",
         "--play", str(speech), "--record-wav", str(heard), "--hangup-after", "8", "--json"],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    if run.returncode != 0 or not heard.exists():
        return {"answered": 0.0, "correlation": 0.0, "delay_ms": float("nan")}
    ref = resample(resample(read_wav(speech, 16000), 16000, 8000), 8000, 16000)
    import wave

    with wave.open(str(heard)) as w:
        frames = np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16).reshape(-1, w.getnchannels())
    corr, delay = _lagged(ref, frames[:, 0])
    return {"answered": 1.0, "correlation": round(corr, 3), "delay_ms": round(delay, 1)}


def under_flood(cwd: Path, speech: Path) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, extra in (("defence_on", []), ("defence_off", ["--no-defence"])):
        port = free_port()
        vb = serve(port, cwd, "--echo", *extra)
        try:
            out[f"quiet_{name}"] = live_call(port, speech, cwd, f"quiet-{name}")
            cpu0, t0 = children_cpu(), time.monotonic()
            f = flood(port, 12, cwd)
            time.sleep(1.0)
            out[f"flood_{name}"] = live_call(port, speech, cwd, f"flood-{name}")
            f.wait(timeout=60)
            out[f"flood_{name}"]["sipp_cpu_share"] = round((children_cpu() - cpu0) / (time.monotonic() - t0), 3)
        finally:
            stop(vb)
    q, fl = out["quiet_defence_on"], out["flood_defence_on"]
    out["goal_met"] = bool(
        fl["answered"] and q["correlation"] - fl["correlation"] <= 0.1 and fl["delay_ms"] - q["delay_ms"] <= 100
    )
    return out


# ------------------------------------------------------------------ 3. memory after a flood


def memory(cwd: Path) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, extra in (("defence_on", []), ("defence_off", ["--no-defence"])):
        port = free_port()
        vb = serve(port, cwd, "--no-media", *extra)
        try:
            time.sleep(1.0)
            base = rss_mib(vb.pid)
            f = flood(port, FLOOD_S, cwd)
            f.wait(timeout=FLOOD_S * 3 + 30)
            samples = [(0, rss_mib(vb.pid))]
            back_at = 0 if samples[0][1] <= base * 1.2 else None
            for t in range(10, FOLLOW_S + 1, 10):
                if back_at is not None:
                    break
                time.sleep(10)
                samples.append((t, rss_mib(vb.pid)))
                if samples[-1][1] <= base * 1.2:
                    back_at = t
            out[name] = {
                "baseline_mib": base,
                "after_flood_mib": samples[0][1],
                "samples_s_mib": samples,
                "back_within_20pct_after_s": back_at,
            }
        finally:
            stop(vb)
    return out


def main() -> int:
    if shutil.which("sipp") is None:
        raise SystemExit("sipp not found: apt-get install sip-tester")
    with tempfile.TemporaryDirectory() as tmp:
        cwd = Path(tmp)
        speech = cwd / "speech.wav"
        subprocess.run(["espeak-ng", "-w", str(speech), "Please hold while I check the delivery date for your "
                        "order. It should arrive on Thursday morning."], check=True, timeout=60)  # fmt: skip
        results = {"cost": cost(cwd), "live_call": under_flood(cwd, speech), "memory": memory(cwd)}
    c = results["cost"]
    ratio = {}
    for kind in ("options", "calls"):
        on, off = c[f"voicebot_{kind}_defence_on"]["per_second"], c[f"voicebot_{kind}_defence_off"]["per_second"]
        ratio[kind] = round(on / max(off, 1e-9), 3)
    path = write_results("security", {"results": results, "defence_on_vs_off": ratio, "cpu_count": os.cpu_count()})
    for name, r in c.items():
        print(f"{name:<32}{r['per_second']:>10.1f}/s  ({int(r['transactions'])} done, {int(r['failed'])} failed)")
    print(f"defence on / off: OPTIONS {ratio['options']:.2f}x, calls {ratio['calls']:.2f}x")
    for name, r in results["live_call"].items():
        print(f"live call {name:<22}{r}")
    for name, r in results["memory"].items():
        print(f"memory {name:<12} base {r['baseline_mib']} MiB, after flood {r['after_flood_mib']} MiB, "
              f"back within 20 % after {r['back_within_20pct_after_s']} s")  # fmt: skip
    print(f"-> {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
