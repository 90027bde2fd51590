"""How many echo calls one machine holds with clean media: ``voicebot serve --echo`` in one
process, the same behind Kamailio with one worker per core, and SIPp's C echo
(``sipp -sn uas -rtp_echo``) in the same harness and the same run.

SIPp places N calls (PCMA, 20 ms, 25 s of speech each, ramped in at 50 calls/s or faster)
with the scenario in ``_sipp.py``; tcpdump on ``lo`` keeps the headers of every RTP packet
the server sends back. A round is *clean* when every call was set up, no returned packet
was lost and no stream had a gap over 40 ms (the first and last second of each stream
excepted). Over 15 s in the middle of the calls the benchmark reads the CPU seconds of the
server's whole process tree (Kamailio included) and of the SIPp client, and the server's RSS.

Reported: the largest clean N per server; CPU seconds per call-second and RSS per call, each
as a ratio to SIPp's at the same N; the servers' loop-lag, media-tick and GC-pause histograms
(``serve --stats``); the same round with CPython's GC settings, with ``gc.freeze()`` only, and
tuned (``VOICEBOT_GC``); an overload round (``--max-calls`` set, 1.5x that many calls
offered: the extra get 503 at once, the rest keep clean media); a flood round (N live calls on a
server full at N, then a second SIPp sends a burst of INVITEs that must each get 503: the live
streams' gaps just before and during the burst, per 1,000 packets, the server's loop lag, its
CPU per flooded INVITE beyond what the calls cost, and the flooding SIPp's CPU); and the
projection to an 8-core server with its arithmetic.

Run: ``python benchmarks/capacity.py``. ``CAPACITY_N="100,150,200"`` sets the call counts,
``CAPACITY_TARGETS="voicebot,workers,sipp"`` the servers, ``CAPACITY_GC=0`` skips the GC
comparison, ``CAPACITY_GC_REPEAT=3`` runs it three times (the modes interleaved; the summary
lists each mode's rounds), ``CAPACITY_OVERLOAD=0`` skips the overload round,
``CAPACITY_FLOOD=50:3000@1500`` sets the flood round (live calls : INVITEs @ per second; ``0``
skips it), ``CAPACITY_FLOOD_VIA=direct,dispatcher`` whether one process takes it or the same
process as one worker behind Kamailio, which refuses the flood itself, and
``CAPACITY_FLOOD_REPEAT=2`` repeats it. ``CAPACITY_AB=before=/path/to/checkout`` adds a target
``before``: ``serve --echo`` in one process with that checkout's ``voicebot`` and ``voicebot_codecs``
(other code in the same run, for A/B; several as ``a=path,b=path``). ``CAPACITY_TARGETS=`` (empty) with
``CAPACITY_GC=0 CAPACITY_OVERLOAD=0`` runs the flood round alone. Needs sipp, tcpdump and kamailio.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import write_results
from _procs import (
    ab_checkouts,
    cpu_seconds,
    exit_on_sigterm,
    free_port,
    load_average,
    rss_bytes,
    start,
    stop,
    tree,
    wait_sip,
)
from _sipp import (
    Capture,
    caller_argv,
    rejected_scenario,
    sipp_exe,
    sipp_summary,
    stream_report,
    write_echo_scenario,
)

from voicebot.workers.argv import worker_path

CALL_SECONDS = 25.0
WINDOW = 15.0  # seconds of steady state measured
NS = [int(n) for n in os.environ.get("CAPACITY_N", "100,150,200,250").split(",")]
TARGETS = [t for t in os.environ.get("CAPACITY_TARGETS", "voicebot,workers,sipp").split(",") if t]
CORES = len(os.sched_getaffinity(0))
GC_MODES = ("off", "freeze", "tuned")  # CPython's settings, gc.freeze() only, freeze + larger thresholds
GC_REPEAT = int(os.environ.get("CAPACITY_GC_REPEAT", "1"))
# the flood round: live calls, then INVITEs@rate from a second SIPp ("0" skips it)
FLOOD = os.environ.get("CAPACITY_FLOOD", "50:3000@1500")
FLOOD_QUIET = 5.0  # seconds of live calls measured before the flood
# extra targets: one serve process running another checkout's code (name=path), for A/B
AB = ab_checkouts("CAPACITY_AB")
# who takes the flood: one serve process, and/or the same behind Kamailio (--workers 1)
FLOOD_VIA = [v for v in os.environ.get("CAPACITY_FLOOD_VIA", "direct,dispatcher").split(",") if v]


def server_argv(target: str, port: int, media_port: int, stats: Path, extra: list[str]) -> list[str]:
    if target == "sipp":
        return [sipp_exe(), "-sn", "uas", "-rtp_echo", "-i", "127.0.0.1", "-p", str(port), "-mp", str(media_port),
                "-nostdin", "-max_socket", "60000"]  # fmt: skip
    argv = [sys.executable, "-m", "voicebot", "serve", "--listen", f"127.0.0.1:{port}", "--echo", "-q", "--user", "bot",
            "--stats", str(stats), "--max-calls", "5000", "--no-defence", *extra]  # fmt: skip
    if target == "workers":
        argv += ["--workers", str(CORES)]
    # SIPp is one source placing every call: the per-source limits (a defence against floods)
    # would be what is measured, so they are off
    return argv


def _histograms(stats_files: list[Path]) -> dict[str, Any]:
    """Loop lag and GC pauses of every worker, merged bucket by bucket."""
    merged: dict[str, Any] = {}
    for path in stats_files:
        if not path.exists():
            continue
        data = json.loads(path.read_text())
        named = {"loop_lag": data["loop_lag"]}
        named.update({f"gc_gen{g}": h for g, h in data["gc_pauses"].items()})
        for name, h in named.items():
            m = merged.setdefault(name, {"le": {}, "count": 0, "sum": 0.0, "max": 0.0})
            for le, n in h["le"].items():
                m["le"][le] = m["le"].get(le, 0) + n
            m["count"] += h["count"]
            m["sum"] = round(m["sum"] + h["sum"], 6)
            m["max"] = max(m["max"], h["max"])
        merged.setdefault("loop", data.get("loop"))
    return merged


def one_round(target: str, n: int, work: Path, scenario: Path, *, extra: list[str] | None = None,
              env: dict[str, str] | None = None, offered: int | None = None) -> dict[str, Any]:  # fmt: skip
    """Offer ``offered or n`` calls to a fresh ``target`` server and measure it."""
    offered = offered or n
    if target in AB:
        env = {**(env or {}), **AB[target]}
    port, media_port, client_media = free_port(), free_port(), free_port()
    stats = work / f"stats-{target}-{n}.json"
    log = open(work / f"server-{target}-{n}.log", "wb")  # noqa: SIM115 - closed below
    server = start(server_argv(target, port, media_port, stats, extra or []), cwd=work, output=log,
                   env={**os.environ, **(env or {})})  # fmt: skip
    capture = Capture(work / f"rtp-{target}-{n}.pcap", client_media, client_media)
    row: dict[str, Any] = {"target": target, "n": n, "offered": offered}
    try:
        if target == "sipp":
            time.sleep(1.0)
        else:
            wait_sip(port, 60)
        time.sleep(1.0)
        idle_rss = rss_bytes(tree(server.pid))
        capture.start()
        rate = max(50, n // 6)
        client = start(caller_argv(scenario, port, client_media, offered, rate, CALL_SECONDS + 60),
                       cwd=work, output=subprocess.PIPE)  # fmt: skip
        ramp = offered / rate + 1.5
        time.sleep(ramp)
        pids = tree(server.pid)
        c0, k0, t0 = cpu_seconds(pids), cpu_seconds(tree(client.pid)), time.monotonic()
        time.sleep(WINDOW)
        pids = tree(server.pid)
        c1, k1, t1 = cpu_seconds(pids), cpu_seconds(tree(client.pid)), time.monotonic()
        busy_rss = rss_bytes(pids)
        out, _ = client.communicate(timeout=CALL_SECONDS + 90)
        sipp = sipp_summary(out.decode(errors="replace"))
    finally:
        report = capture.stop()
        stop(server)
        log.close()
    answered = sipp["successful"] - sipp["got_503"]
    media = stream_report(capture.path)
    expected = answered * int(CALL_SECONDS / 0.020)
    row.update(
        answered=answered,
        rejected_503=sipp["got_503"],
        failed=sipp["failed"],
        media=media,
        capture_dropped=_dropped(report),
        cpu_s_per_call_s=round((c1 - c0) / (answered * (t1 - t0)), 6) if answered else None,
        server_cpu_pct=round(100 * (c1 - c0) / (t1 - t0), 1),
        client_cpu_pct=round(100 * (k1 - k0) / (t1 - t0), 1),
        rss_idle_mb=round(idle_rss / 2**20, 1),
        rss_per_call_kb=round((busy_rss - idle_rss) / answered / 1024, 1) if answered else None,
        returned_vs_expected=round(media.get("packets", 0) / expected, 3) if expected else None,
        load_average=load_average(),
    )
    if target == "sipp":
        # every SIPp echo stream shares one port pair and one SSRC: no per-stream gaps to read
        row["clean"] = answered == offered and (row["returned_vs_expected"] or 0) >= 0.9
    else:
        row["clean"] = (
            answered == min(n, offered) and media.get("lost", 1) == 0 and media.get("gaps_over_40ms", 1) == 0
        )
        row["histograms"] = _histograms(sorted(work.glob(f"stats-{target}-{n}*.json")))
    print(
        f"{target:<9} N={n:<4} offered={offered:<4} answered={answered:<4} 503={sipp['got_503']:<4} "
        f"lost={media.get('lost')} gaps>40ms={media.get('gaps_over_40ms')} max_gap={media.get('max_gap_ms')}ms "
        f"cpu/call-s={row['cpu_s_per_call_s']} rss/call={row['rss_per_call_kb']}KB "
        f"server={row['server_cpu_pct']}% client={row['client_cpu_pct']}% clean={row['clean']} "
        f"load={row['load_average']}",
        flush=True,
    )
    return row


def flood_round(n: int, work: Path, scenario: Path, invites: int, rate: int, via: str = "direct") -> dict[str, Any]:
    """``n`` live echo calls on a server full at ``n`` (``--max-calls n``), then a second SIPp
    floods it with ``invites`` INVITEs at ``rate`` per second, each of which must get 503.
    The live calls' returned RTP is compared in two spans: the seconds just before the flood
    (quiet) and from its first INVITE until SIPp has every final response (+1 s).
    ``via``: ``direct`` (one ``serve`` process takes the flood) or ``dispatcher`` (the same
    process as the one worker behind Kamailio, ``--workers 1``, which refuses the flood itself
    once its count of the worker's calls reaches ``--max-calls``)."""
    port, media_port, client_media = free_port(), free_port(), free_port()
    stats = work / f"stats-flood-{n}-{via}.json"
    log = open(work / f"server-flood-{n}-{via}.log", "wb")  # noqa: SIM115 - closed below
    extra = ["--max-calls", str(n), *(["--workers", "1"] if via == "dispatcher" else [])]
    server = start(server_argv("voicebot", port, media_port, stats, extra), cwd=work, output=log)
    capture = Capture(work / f"rtp-flood-{n}.pcap", client_media, client_media)
    flood_xml = work / "flood_uac.xml"
    flood_xml.write_text(rejected_scenario(503))
    try:
        wait_sip(port, 60)
        time.sleep(1.0)
        capture.start()
        live_rate = max(50, n // 6)
        live = start(caller_argv(scenario, port, client_media, n, live_rate, CALL_SECONDS + 60),
                     cwd=work, output=subprocess.PIPE)  # fmt: skip
        time.sleep(n / live_rate + 1.5)  # the calls are up
        pids = tree(server.pid)
        q0, tq0 = cpu_seconds(pids), time.monotonic()
        time.sleep(FLOOD_QUIET)  # a quiet span: what the live calls alone cost and sound like
        q1, tq1 = cpu_seconds(pids), time.monotonic()
        flood = start(caller_argv(flood_xml, port, free_port(), invites, rate, 30), cwd=work, output=subprocess.PIPE)
        w0, c0, k0, t0 = time.time(), cpu_seconds(pids), cpu_seconds(tree(flood.pid)), time.monotonic()
        load_during = load_average()
        k1 = k0
        while flood.poll() is None and time.monotonic() - t0 < 60:
            k1 = cpu_seconds(tree(flood.pid)) or k1  # SIPp's own CPU, read until it exits
            time.sleep(0.2)
        flood_out, _ = flood.communicate(timeout=30)
        w1, c1, t1 = time.time(), cpu_seconds(pids), time.monotonic()
        live_out, _ = live.communicate(timeout=CALL_SECONDS + 90)
    finally:
        report = capture.stop()
        stop(server)
        log.close()
    flood_text = flood_out.decode(errors="replace")
    got = sipp_summary(flood_text)
    resent = re.search(r"INVITE\s+-+>\s+\d+\s+(\d+)", flood_text)  # SIPp's Retrans column
    calls = sipp_summary(live_out.decode(errors="replace"))
    quiet = stream_report(capture.path, between=(w0 - FLOOD_QUIET, w0))
    during = stream_report(capture.path, between=(w0, w1 + 1.0))
    for media in (quiet, during):  # the spans differ in length: gaps per 1,000 packets compare them
        media["gaps_per_1000"] = round(1000 * media.get("gaps_over_40ms", 0) / max(1, media.get("packets", 0)), 1)
    hist = _histograms([stats] if via == "direct" else [worker_path(stats, 0)])
    row: dict[str, Any] = {
        "n": n,
        "via": via,
        "flood_invites": invites,
        "flood_rate": rate,
        "flood_seconds": round(t1 - t0, 2),
        "flood_answered_503": got["successful"],
        "flood_unanswered": got["failed"],
        "flood_invites_resent": int(resent.group(1)) if resent else None,  # after 500 ms without an answer
        # a round only counts when the flooding SIPp placed every INVITE and got an end to each
        "flood_valid": got["successful"] + got["failed"] == invites,
        "flood_sipp_exit": flood.returncode,
        "live_completed": calls["successful"] - calls["got_503"],
        "live_failed": calls["failed"],
        "media_quiet": quiet,
        "media_flood": during,
        "capture_dropped": _dropped(report),
        "server_cpu_pct_quiet": round(100 * (q1 - q0) / (tq1 - tq0), 1),
        "server_cpu_pct": round(100 * (c1 - c0) / (t1 - t0), 1),
        # the server's CPU over the flood beyond what the live calls cost in the quiet span
        "server_cpu_ms_per_invite": round(1000 * ((c1 - c0) - (q1 - q0) / (tq1 - tq0) * (t1 - t0)) / invites, 3),
        "flood_sipp_cpu_pct": round(100 * (k1 - k0) / (t1 - t0), 1),
        "loop_lag_max_ms": round(1000 * hist.get("loop_lag", {}).get("max", 0.0), 1),
        # the loop's lag probes (the whole run) that woke more than 20 ms late, of all probes
        "loop_lag_over_20ms": _over(hist.get("loop_lag"), "0.02"),
        "loop_lag": hist.get("loop_lag"),
        "gc_pause_max_ms": {k[3:]: round(1000 * h["max"], 1) for k, h in hist.items() if k.startswith("gc_gen")},
        "load_average": load_during,
    }
    if not row["flood_valid"]:
        last = [line.strip() for line in flood_text.splitlines() if line.strip()][-3:]
        row["flood_sipp_said"] = last
        print(f"flood    {via} N={n} NOT VALID: the flooding SIPp exited {flood.returncode} having answered "
              f"{got['successful'] + got['failed']} of {invites} INVITEs: {' / '.join(last)}", flush=True)  # fmt: skip
    print(
        f"flood    {via} N={n} invites={invites}@{rate}/s in {row['flood_seconds']}s 503={got['successful']} "
        f"unanswered={got['failed']} resent={row['flood_invites_resent']} "
        f"live ok={row['live_completed']}/{n} failed={calls['failed']} | "
        + " | ".join(
            f"{name}: gaps>40ms={m.get('gaps_over_40ms')} ({m['gaps_per_1000']}/1000 pkts) max={m.get('max_gap_ms')}ms"
            for name, m in (("quiet", quiet), ("flood", during))
        )
        + f" lost={during.get('lost')} | "
        f"loop lag max={row['loop_lag_max_ms']}ms >20ms={row['loop_lag_over_20ms']} gc max={row['gc_pause_max_ms']} "
        f"server={row['server_cpu_pct_quiet']}%->{row['server_cpu_pct']}% "
        f"({row['server_cpu_ms_per_invite']} ms/INVITE) "
        f"sipp={row['flood_sipp_cpu_pct']}% load={load_during}",
        flush=True,
    )
    return row


def core_rejection_ms(n: int = 3000, rounds: int = 3) -> float:
    """CPU ms per INVITE that a full SIP core (``max_sessions=0``) turns down, with its ACK and
    every timer it leaves, in process: the flood's cost without sockets or the machine's load
    (process CPU time, best of ``rounds``)."""
    from voicebot.sip.transaction import TransportAddress
    from voicebot.sip.useragent import UaConfig, UserAgentCore

    src = TransportAddress("udp", "127.0.0.2", 5999)
    head = "sip:bot@127.0.0.1:5080 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.2:5999;branch=z9hG4bK-f{0};rport\r\n"
    dialog = "From: <sip:f@127.0.0.2>;tag=t{0}\r\nCall-ID: flood-{0}@127.0.0.2\r\nMax-Forwards: 70\r\n"
    sdp = "v=0\r\no=- 1 1 IN IP4 127.0.0.2\r\ns=-\r\nc=IN IP4 127.0.0.2\r\nt=0 0\r\nm=audio 7000 RTP/AVP 8\r\n"
    best = float("inf")
    for _ in range(rounds):
        core = UserAgentCore(UaConfig(addresses={"udp": ("127.0.0.1", 5080)}, user="bot", defence=None, max_sessions=0))
        invites = [
            (f"INVITE {head}{dialog}To: <sip:bot@127.0.0.1:5080>\r\nCSeq: 1 INVITE\r\n"
             f"Content-Type: application/sdp\r\nContent-Length: {len(sdp)}\r\n\r\n{sdp}").format(i).encode()
            for i in range(n)
        ]  # fmt: skip
        t0 = time.process_time()
        for i, data in enumerate(invites):
            core.receive_datagram(data, src, i * 1e-3)
            for out, _dest in core.datagrams_to_send():
                if out.startswith(b"SIP/2.0 503"):  # the ACK of a non-2xx final response (§17.1.1.3)
                    to = next(line for line in out.decode().split("\r\n") if line.startswith("To:"))
                    ack = f"ACK {head}{dialog}{to}\r\nCSeq: 1 ACK\r\nContent-Length: 0\r\n\r\n".format(i)
                    core.receive_datagram(ack.encode(), src, i * 1e-3)
                    core.datagrams_to_send()
            while core.next_event() is not None:
                pass
        while (deadline := core.next_deadline()) is not None:  # Timers G, H, I of a stateful 503
            core.handle_timer(deadline)
            core.datagrams_to_send()
        best = min(best, time.process_time() - t0)
    return round(1000 * best / n, 3)


def _over(hist: dict[str, Any] | None, le: str) -> str | None:
    """``"k/n"``: how many of a histogram's n samples were above its bucket ``le``."""
    if not hist or le not in hist["le"]:
        return None
    return f"{hist['count'] - hist['le'][le]}/{hist['count']}"


def _dropped(tcpdump_report: str) -> int | None:
    for line in tcpdump_report.splitlines():
        if "dropped by kernel" in line:
            return int(line.split()[0])
    return None


def main() -> None:
    exit_on_sigterm()
    load_before = load_average()
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="voicebot-capacity-") as tmp:
        work = Path(tmp)
        scenario = write_echo_scenario(work, CALL_SECONDS)
        for target in [*TARGETS, *AB]:
            for n in NS:
                row = one_round(target, n, work, scenario)
                rows.append(row)
                if not row["clean"] and target != "sipp":
                    break  # the next N would not be clean either
        gc_rows: list[dict[str, Any]] = []
        if os.environ.get("CAPACITY_GC", "1") != "0" and "voicebot" in TARGETS:
            clean = [r["n"] for r in rows if r["target"] == "voicebot" and r["clean"]]
            n_gc = max(clean) if clean else NS[0]
            for _ in range(GC_REPEAT):  # the modes interleaved, so the machine's load falls on each alike
                for mode in GC_MODES:
                    r = one_round("voicebot", n_gc, work, scenario, env={"VOICEBOT_GC": mode})
                    r["gc_mode"] = mode
                    gc_rows.append(r)
        overload: dict[str, Any] | None = None
        if os.environ.get("CAPACITY_OVERLOAD", "1") != "0" and "voicebot" in TARGETS:
            clean = [r["n"] for r in rows if r["target"] == "voicebot" and r["clean"]]
            limit = max(clean) if clean else NS[0]
            overload = one_round("voicebot", limit, work, scenario, extra=["--max-calls", str(limit)],
                                 offered=int(limit * 1.5))  # fmt: skip
        flood: list[dict[str, Any]] = []
        core_ms = core_rejection_ms() if FLOOD != "0" else None
        if core_ms is not None:
            print(f"flood    SIP core alone: {core_ms} ms CPU per rejected INVITE (its ACK and timers too)", flush=True)
        if FLOOD != "0":
            live, _, burst = FLOOD.partition(":")
            invites, _, rate = burst.partition("@")
            for _ in range(int(os.environ.get("CAPACITY_FLOOD_REPEAT", "1"))):
                for via in FLOOD_VIA:  # interleaved, so that both see the same machine
                    flood.append(flood_round(int(live), work, scenario, int(invites), int(rate), via))
    summary = _summary(rows)
    path = write_results(
        "capacity",
        {
            "what": "echo calls (PCMA 20 ms, 25 s) placed by SIPp; clean = all set up, no loss, no return gap > 40 ms",
            "cores": CORES,
            "load_average_before": load_before,
            "load_average_after": load_average(),
            "rounds": rows,
            "gc_comparison": gc_rows,
            "gc_summary": _gc_summary(gc_rows),
            "overload": overload,
            "flood": flood,
            "flood_core_ms_per_rejected_invite": core_ms,
            **summary,
        },
    )
    print(json.dumps(summary, indent=1))
    print(f"results: {path}")


def _gc_summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Per GC mode over its repeats: clean rounds, return gaps over 40 ms, the largest gap, CPU
    per call-second, SIPp's CPU and the load average (1 min) of each round."""
    out: dict[str, Any] = {}
    for mode in GC_MODES:
        mine = [r for r in rows if r.get("gc_mode") == mode]
        if not mine:
            continue
        out[mode] = {
            "rounds": len(mine),
            "clean": sum(1 for r in mine if r["clean"]),
            "gaps_over_40ms": [r["media"].get("gaps_over_40ms") for r in mine],
            "max_gap_ms": [r["media"].get("max_gap_ms") for r in mine],
            "lost": [r["media"].get("lost") for r in mine],
            "gc_gen2_max_ms": [round(1000 * r["histograms"].get("gc_gen2", {}).get("max", 0.0), 1) for r in mine],
            "cpu_s_per_call_s": [r["cpu_s_per_call_s"] for r in mine],
            "client_cpu_pct": [r["client_cpu_pct"] for r in mine],
            "load_1min": [r["load_average"][0] for r in mine],
        }
        print(f"GC {mode:<7} {json.dumps(out[mode])}", flush=True)
    return out


def _summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    best: dict[str, int | None] = {}
    for target in [*TARGETS, *AB]:
        clean = [r["n"] for r in rows if r["target"] == target and r["clean"]]
        best[target] = max(clean) if clean else None
    ratios: dict[str, Any] = {}
    for r in rows:
        ref = next((s for s in rows if s["target"] == "sipp" and s["n"] == r["n"]), None)
        if r["target"] == "sipp" or ref is None or not r["cpu_s_per_call_s"] or not ref["cpu_s_per_call_s"]:
            continue
        ratios[f"{r['target']}@{r['n']}"] = {
            "cpu_per_call_s_vs_sipp": round(r["cpu_s_per_call_s"] / ref["cpu_s_per_call_s"], 2),
            "rss_per_call_vs_sipp": round(r["rss_per_call_kb"] / ref["rss_per_call_kb"], 2)
            if r["rss_per_call_kb"] and ref["rss_per_call_kb"]
            else None,
        }
    projection: dict[str, Any] = {}
    workers = [r for r in rows if r["target"] == "workers" and r["clean"]]
    if workers:
        top = max(workers, key=lambda r: r["n"])
        cpu = top["cpu_s_per_call_s"]
        projection = {
            "by_clean_calls": f"{top['n']} clean calls on {CORES} cores -> {top['n']} / {CORES} x 8 = "
            f"{top['n'] * 8 // CORES} calls on 8 cores (the same per-core load)",
            "by_cpu": f"8 cores x 0.75 usable / {cpu} CPU-s per call-second = {int(8 * 0.75 / cpu)} calls"
            if cpu
            else None,
        }
    return {"largest_clean_n": best, "ratios_to_sipp": ratios, "projection_8_cores": projection}


if __name__ == "__main__":
    main()
