"""How many bot calls one process holds with a quick turn: SIPp callers answer a shipped
dialog served by ``voicebot serve --flow``, and the turn latency is read on the wire.

Each caller (SIPp, PCMA 20 ms) plays one recorded turn: silence while the bot greets and asks
its question, then the answer spoken by espeak-ng (made at run time, at 8 kHz), then silence
until the bot hangs up (or ``WAIT`` seconds pass). The default flow is
``dialogs/prescription_ready.yaml``: "Shall we keep it for you until tomorrow evening? Say yes
or no." -- "yes" -- "We will keep it for you. Goodbye." and BYE. tcpdump on ``lo`` keeps both
directions of every call's RTP with its payload; per call the benchmark finds the caller's
last loud packet (end of caller speech as sent) and the bot's first loud packet after it (the
reply as sent): their difference is the turn latency on the wire. A caller that began to speak
while the bot's prompt was still playing is counted (``spoke_over_prompt``), and so is a call
whose bot said nothing within 5 s of the answer (``no_reply``).

CPU: the server's threads are read from ``/proc`` before the first call and after the last:
the event loop (media, signalling, VAD, endpointing, flow), the ASR pool (``voicebot-asr``),
the TTS thread (``voicebot-tts``) and the rest (the threads name themselves with
``voicebot.runtime.name_os_thread``). Reported per call and per call-second (a call lasts
from the bot's first RTP packet to its last), with SIPp's own CPU and the load average beside
them. Recognisers per core: call-seconds over the ASR pool's CPU seconds, i.e. how many calls
of this flow one core keeps recognising at once; beside it the ASR CPU per second of the span
the bot had to listen for the answer (its prompt's end -> its reply).

How the callers arrive (``BOTCALLS_ARRIVAL``): ``burst`` (the default) places the N calls within
at most 4 s, so their answers come within the same seconds -- the worst case for the recogniser;
``steady`` keeps N calls up the way a campaign or a busy line does: 2N calls, placed evenly over
``BOTCALLS_CALL_S`` seconds (default 20, the length of a call of the default flow and answer)
with at most N up at once, so each one that ends lets the next one in, and the answers come
spread over time. In a steady round only the turns whose answer begins after the first
``BOTCALLS_CALL_S`` seconds count (by then N calls are up).

``BOTCALLS_WORKERS=W`` serves with ``--workers W`` (W worker processes behind Kamailio's
dispatcher) instead of one process: the figures are then the whole server's, every worker's
threads and Kamailio's (``dispatcher``) summed by role.

Each N runs on a fresh server that first takes one unmeasured wave of N callers, so its
pools (pocketsphinx decoders: a pair per call listening at once, about 0.03 s of CPU to build)
are as a server that has run a while has them, and the prompt cache is warm;
``BOTCALLS_WARM=0`` measures the first wave instead.

Beside the wire figure, the bot's own account of each turn (``serve --json``): endpointing,
final ASR result, flow + TTS to the first audio queued (medians), its jitter buffer's delay
and its media clock's worst lateness.

Reported per N: calls set up, RSS per call, turn latency p50/p95/max, the CPU breakdown, and the largest N
whose p95 is <= 300 ms with every call set up and answered (or that none was).

Run: ``python benchmarks/botcalls.py``. ``BOTCALLS_N="1,2,4,8"`` sets the call counts (the
default is the quick form ``make bench`` runs), ``BOTCALLS_FLOW`` the flow, ``BOTCALLS_ANSWER``
the caller's words, ``BOTCALLS_LEAD`` the caller's silence before it speaks (seconds; default:
the rendered length of ``BOTCALLS_PROMPTS``, the bot's prompts before the answer separated by
``|``, + 1.5 s; set them with another flow), ``BOTCALLS_VOICE`` the espeak-ng voice of both
(default ``en-us``) and ``BOTCALLS_CONTEXT`` the flow's context as ``key=value`` pairs split by
``;`` (each passed as ``--context``). Needs sipp, tcpdump and espeak-ng.

A/B in the same run: ``BOTCALLS_AB=main=/path/to/checkout`` (several as ``a=path,b=path``; a
setting for that server's environment after a ``;``, as in ``hosts=$PWD;VOICEBOT_ASR_PROCESSES=1``)
serves each N a second time with that checkout's code, right after this checkout's round, and
``BOTCALLS_REPEAT=3`` runs the whole interleaved sequence three times, so the machine's load
falls on each alike; every round is reported with its ``target`` ("this" or the name).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import write_results
from _procs import (
    CLK_TCK,
    ab_checkouts,
    exit_on_sigterm,
    free_port,
    load_average,
    rss_bytes,
    start,
    stop,
    tree,
    wait_sip,
)
from _sipp import BOT_UAC, Capture, caller_argv, read_pcap, sipp_summary, write_pcma_pcap

from voicebot.tts.espeak import EspeakEngine
from voicebot_codecs import get_codec, resample

ROOT = Path(__file__).resolve().parent.parent
FLOW = Path(os.environ.get("BOTCALLS_FLOW", ROOT / "dialogs" / "prescription_ready.yaml"))
ANSWER = os.environ.get("BOTCALLS_ANSWER", "yes")
VOICE = os.environ.get("BOTCALLS_VOICE", "en-us")
CONTEXT = [pair for pair in os.environ.get("BOTCALLS_CONTEXT", "").split(";") if pair]
PROMPTS = os.environ.get(
    "BOTCALLS_PROMPTS",
    "Hello there, this is the pharmacy. Your prescription is ready for pickup.|"
    "Shall we keep it for you until tomorrow evening? Say yes or no.",
)
NS = [int(n) for n in os.environ.get("BOTCALLS_N", "1,2,4,8").split(",")]
WAIT = 20.0  # seconds after the answer before a caller gives up on the bot's BYE
LOUD = 300  # a 20 ms packet whose largest sample exceeds this is speech (silence is 8 here)
REPLY_WITHIN = 5.0
WARM = os.environ.get("BOTCALLS_WARM", "1") != "0"
CORES = len(os.sched_getaffinity(0))
AB = ab_checkouts("BOTCALLS_AB")  # other checkouts served beside this one, for A/B
REPEAT = int(os.environ.get("BOTCALLS_REPEAT", "1"))
ARRIVAL = os.environ.get("BOTCALLS_ARRIVAL", "burst")
CALL_S = float(os.environ.get("BOTCALLS_CALL_S", "20"))
WORKERS = int(os.environ.get("BOTCALLS_WORKERS", "0"))  # 0: one process, no dispatcher
if ARRIVAL not in ("burst", "steady"):
    sys.exit(f"botcalls: BOTCALLS_ARRIVAL must be burst or steady, not {ARRIVAL!r}")
THIS = "this"


def caller_turn(work: Path) -> tuple[Path, float, float]:
    """The caller's pcap: silence through the bot's prompts, the answer, then silence.
    Returns the path, the lead silence and the answer's length (seconds)."""
    tts = EspeakEngine()
    try:
        prompts = sum(len(tts.synthesize(p, voice=VOICE, rate=175)) for p in PROMPTS.split("|")) / 16000
        answer16 = tts.synthesize(ANSWER, voice=VOICE, rate=175)
    finally:
        tts.close()
    lead = float(os.environ.get("BOTCALLS_LEAD", prompts + 1.5))
    answer = resample(answer16, 16000, 8000)
    pcm = np.concatenate([np.zeros(int(lead * 8000), np.int16), answer, np.zeros(int((WAIT - lead) * 8000), np.int16)])
    path = work / "caller_turn.pcap"
    write_pcma_pcap(path, pcm[: len(pcm) // 160 * 160])
    return path, lead, len(answer) / 8000


def thread_cpu(server: int) -> dict[str, float]:
    """CPU seconds so far of the threads of the ``server`` process and its children, by role
    (the OS thread names): each serving process's main thread is its event loop (with workers,
    the supervisor's own counts as "other"), Kamailio's processes are the dispatcher."""
    out = {"loop": 0.0, "asr": 0.0, "tts": 0.0, "dispatcher": 0.0, "other": 0.0}
    for pid in tree(server):
        try:
            tids = os.listdir(f"/proc/{pid}/task")
        except OSError:
            continue  # the process ended
        for tid in tids:
            try:
                with open(f"/proc/{pid}/task/{tid}/comm") as f:
                    name = f.read().strip()
                with open(f"/proc/{pid}/task/{tid}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue  # the thread ended
            out[_role(name, int(tid) == pid, pid == server)] += (int(fields[11]) + int(fields[12])) / CLK_TCK
    return out


def _role(name: str, main_thread: bool, root: bool) -> str:
    if name.startswith("voicebot-asr"):
        return "asr"
    if name.startswith("voicebot-tts"):
        return "tts"
    if name.startswith("kamailio"):
        return "dispatcher"
    if main_thread and not (root and WORKERS):
        return "loop"
    return "other"


def utterances(packets: list[tuple[float, int, bool]], bridge: int = 15, least: int = 3) -> list[tuple[float, float]]:
    """(first, last) wire times of the utterances in one RTP stream of (time, sequence number,
    loud) packets. Utterances are runs of loud packets in *media* order (sequence numbers,
    bridging up to ``bridge`` quiet packets), so a prompt whose tail a stalled sender put on
    the wire late stays one utterance; a run of fewer than ``least`` loud packets is a click."""
    if not packets:
        return []
    seqs = np.unwrap(np.array([p[1] for p in packets], dtype=np.float64), period=65536)
    order = np.argsort(seqs, kind="stable")
    out: list[tuple[float, float]] = []
    run: list[float] = []
    last_seq = -1e9
    for k in order:
        t, _seq, loud = packets[k]
        if not loud:
            continue
        if run and seqs[k] - last_seq > bridge + 1:
            if len(run) >= least:
                out.append((min(run), max(run)))
            run = []
        run.append(t)
        last_seq = seqs[k]
    if len(run) >= least:
        out.append((min(run), max(run)))
    return out


def turns(capture: Path, caller_port: int, settle: float = 0.0) -> dict[str, Any]:
    """Per call (the bot's RTP port) in the capture: the turn latency and the listening time,
    for the answers that begin ``settle`` seconds or more after the capture's first packet."""
    dec = get_codec("PCMA/8000").decoder()
    sent: dict[int, list[tuple[float, int, bool]]] = {}  # bot port -> caller packets to it
    heard: dict[int, list[tuple[float, int, bool]]] = {}  # bot port -> bot packets to the caller
    first: float | None = None
    for t, sport, dport, seq, payload in read_pcap(capture):
        first = t if first is None else first
        if len(payload) != 160:
            continue  # not a 20 ms PCMA payload (RTCP, events)
        loud = int(np.abs(dec.decode(payload)).max()) > LOUD
        if dport == caller_port:
            heard.setdefault(sport, []).append((t, seq, loud))
        elif sport == caller_port:
            sent.setdefault(dport, []).append((t, seq, loud))
    latencies: list[float] = []
    listened: list[float] = []
    durations = [max(p[0] for p in pkts) - min(p[0] for p in pkts) for pkts in heard.values() if len(pkts) > 1]
    over = no_reply = counted = 0
    for port, pkts in sent.items():
        said = utterances(pkts)
        bot = utterances(heard.get(port, []))
        if not said or first is None or said[0][0] < first + settle:
            continue
        counted += 1
        begin, end = said[0][0], said[-1][1]
        prompt = [u for u in bot if u[0] < begin]
        if prompt and prompt[-1][1] >= begin:
            over += 1  # the bot was still (late) playing its prompt when the caller spoke
        reply = [u for u in bot if end < u[0] <= end + REPLY_WITHIN]
        if not reply:
            no_reply += 1
            continue
        latencies.append(reply[0][0] - end)
        listened.append(reply[0][0] - (prompt[-1][1] if prompt else begin))
    return {"latencies": latencies, "listened": listened, "spoke_over_prompt": over, "no_reply": no_reply,
            "calls_seen": len(sent), "answers_counted": counted, "durations": durations}  # fmt: skip


def _ms(values: list[float], q: float) -> float | None:
    if not values:
        return None
    return round(float(np.quantile(values, q)) * 1000, 1)


def bot_breakdown(log: Path, skip: int) -> dict[str, Any]:
    """The bot's own account of its turns (``serve --json``, one object per call), for the calls
    after the first ``skip``: medians of endpointing, final ASR result and flow + TTS to the
    first audio queued, the jitter buffer's mean delay and the media clock's worst lateness."""
    parts: dict[str, list[float]] = {}
    late: list[float] = []
    calls = [json.loads(line) for line in log.read_text(errors="replace").splitlines() if line.startswith('{"call_id"')]
    for call in calls[skip:]:  # the warm wave's calls ended before the measured wave began
        for turn in call.get("transcript", []):
            for name, ms in (turn.get("latency_breakdown_ms") or {}).items():
                parts.setdefault(name, []).append(ms)
        rtp = call.get("rtp") or {}
        parts.setdefault("playout_delay", []).append(rtp.get("mean_playout_delay_ms") or 0.0)
        late.append(rtp.get("media_clock_late_max_ms") or 0.0)
    out: dict[str, Any] = {f"{k}_ms_p50": round(statistics.median(v), 1) for k, v in parts.items() if v}
    out["media_clock_late_max_ms"] = max(late, default=None)
    return out


def _callers(n: int, port: int, media_port: int, work: Path, scenario: Path, wave: str, arrival: str) -> dict[str, int]:
    """SIPp places the callers of one wave (``burst``: ``n`` callers with at most 4 s of ramp;
    ``steady``: 2n callers over ``CALL_S`` seconds, at most n at once) and returns its summary
    once they are done (its screen is kept in ``sipp-N-WAVE.log``)."""
    if arrival == "steady":
        argv = caller_argv(scenario, port, media_port, 2 * n, n, WAIT + 60, at_once=n, period_ms=int(CALL_S * 1000))
        took = 2 * CALL_S
    else:
        rate = max(5, n // 4)
        argv = caller_argv(scenario, port, media_port, n, rate, WAIT + 60)
        took = n / rate
    client = start(argv, cwd=work, output=subprocess.PIPE)
    out, _ = client.communicate(timeout=WAIT + took + 90)
    (work / f"sipp-{n}-{wave}.log").write_bytes(out)
    return sipp_summary(out.decode(errors="replace"))


def one_round(n: int, work: Path, scenario: Path, target: str = THIS) -> dict[str, Any]:
    port, client_media = free_port(), free_port()
    tag = f"{target}-{n}"
    log = open(work / f"server-{tag}.log", "wb")  # noqa: SIM115 - closed below
    server = start(
        [sys.executable, "-m", "voicebot", "serve", "--listen", f"127.0.0.1:{port}", "--flow", str(FLOW), "--json",
         "--user", "bot", "--stats", str(work / f"stats-{tag}.json"), "--max-calls", "5000", "--no-defence",
         *(["--workers", str(WORKERS)] if WORKERS else []), *(a for pair in CONTEXT for a in ("--context", pair))],
        cwd=work, output=log, env={**os.environ, **AB.get(target, {})},
    )  # fmt: skip
    capture = Capture(work / f"rtp-{tag}.pcap", client_media, client_media, snaplen=256, both_ways=True)
    row: dict[str, Any] = {"target": target, "n": n, "arrival": ARRIVAL}
    try:
        wait_sip(port, 60)
        if WARM:
            _callers(n, port, free_port(), work, scenario, "warm", "burst")  # the recogniser pool grows to N
        time.sleep(1.0)
        load0 = load_average()
        idle_rss = rss_bytes(tree(server.pid))
        capture.start()
        cpu0, k0, t0 = thread_cpu(server.pid), _children_cpu(), time.monotonic()
        sipp = _callers(n, port, client_media, work, scenario, "measured", ARRIVAL)
        k_cpu = _children_cpu() - k0
        cpu1, t1 = thread_cpu(server.pid), time.monotonic()
        rss = rss_bytes(tree(server.pid))
    finally:
        capture.stop()
        stop(server)
        log.close()
    result = turns(capture.path, client_media, CALL_S if ARRIVAL == "steady" else 0.0)
    row["bot_says"] = bot_breakdown(work / f"server-{tag}.log", n if WARM else 0)
    lat = result.pop("latencies")
    listened = result.pop("listened")
    call_seconds = sum(result.pop("durations"))
    used = {k: cpu1[k] - cpu0[k] for k in cpu0}
    calls = sipp["successful"]
    placed = 2 * n if ARRIVAL == "steady" else n
    row.update(
        placed=placed,
        set_up=calls,
        failed=sipp["failed"],
        turns_measured=len(lat),
        **result,
        turn_ms={"p50": _ms(lat, 0.5), "p95": _ms(lat, 0.95), "max": _ms(lat, 1.0)},
        cpu_s_per_call={k: round(v / calls, 3) for k, v in used.items()} if calls else None,
        cpu_s_per_call_total=round(sum(used.values()) / calls, 3) if calls else None,
        rss_mb_idle=round(idle_rss / 2**20),
        rss_mb_per_call=round((rss - idle_rss) / 2**20 / n, 1),
        mean_call_s=round(call_seconds / calls, 1) if calls else None,
        cpu_s_per_call_s=round(sum(used.values()) / call_seconds, 4) if call_seconds else None,
        server_cpu_pct=round(100 * sum(used.values()) / (t1 - t0), 1),
        client_cpu_s=round(k_cpu, 2),
        client_cpu_pct=round(100 * k_cpu / (t1 - t0), 1),
        round_seconds=round(t1 - t0, 1),
        listened_s_per_call=round(statistics.mean(listened), 2) if listened else None,
        recognisers_per_core=round(call_seconds / used["asr"], 1) if used["asr"] > 0 else None,
        asr_cpu_per_listened_s=round(used["asr"] / sum(listened), 3) if listened else None,
        load_average_before=load0,
        load_average_after=load_average(),
    )
    p95 = row["turn_ms"]["p95"]
    row["ok"] = (
        calls == placed
        and len(lat) == result["answers_counted"] > 0
        and not result["spoke_over_prompt"]
        and p95 is not None
        and p95 <= 300
    )
    print(
        f"{target} {ARRIVAL} N={n:<3} set up={calls}/{placed} turns={len(lat)}/{result['answers_counted']} "
        f"over_prompt={result['spoke_over_prompt']} "
        f"no_reply={result['no_reply']} turn p50/p95/max={row['turn_ms']['p50']}/{p95}/{row['turn_ms']['max']} ms "
        f"cpu/call={row['cpu_s_per_call']} server={row['server_cpu_pct']}% sipp={row['client_cpu_pct']}% "
        f"bot={row['bot_says']} rss/call={row['rss_mb_per_call']}MB rec/core={row['recognisers_per_core']} "
        f"load={load0}->{row['load_average_after']} ok={row['ok']}",
        flush=True,
    )
    return row


def _children_cpu() -> float:
    """CPU seconds of this process's waited-for children so far (SIPp, once it has exited)."""
    t = os.times()
    return t.children_user + t.children_system


def main() -> None:
    exit_on_sigterm()
    rows: list[dict[str, Any]] = []
    load_before = load_average()
    with tempfile.TemporaryDirectory(prefix="voicebot-botcalls-") as tmp:
        work = Path(os.environ.get("BOTCALLS_WORK") or tmp)  # BOTCALLS_WORK=DIR keeps the logs and captures
        work.mkdir(parents=True, exist_ok=True)
        pcap, lead, answer_s = caller_turn(work)
        scenario = work / "bot_uac.xml"
        scenario.write_text(BOT_UAC.format(pcap=pcap, wait_ms=int(WAIT * 1000)))
        for _ in range(REPEAT):
            for n in NS:
                for target in [THIS, *AB]:
                    rows.append(one_round(n, work, scenario, target))
    summary: dict[str, Any] = {}
    for target in [THIS, *AB]:
        mine = [r for r in rows if r["target"] == target]
        ok = [r["n"] for r in mine if r["ok"]]
        failing = [r["n"] for r in mine if not r["ok"]]
        # an N counts only if every round of it passed (with BOTCALLS_REPEAT, one miss is a miss)
        largest = max((x for x in ok if not any(f <= x for f in failing)), default=None)
        name = "" if target == THIS else f"{target}_"
        summary[f"{name}largest_n_p95_le_300ms"] = largest
        summary[f"{name}verdict"] = (
            f"largest N with turn p95 <= 300 ms: {largest}" if largest else f"below the smallest N tried ({min(NS)})"
        )
    path = write_results(
        "botcalls",
        {
            "what": f"SIPp callers answer {FLOW.name} served by `voicebot serve --flow`; turn latency on the wire "
            "= caller's last loud packet -> bot's first loud packet after it",
            "flow": str(FLOW.relative_to(ROOT)) if FLOW.is_relative_to(ROOT) else str(FLOW),
            "answer": ANSWER,
            "caller_lead_s": round(lead, 2),
            "answer_s": round(answer_s, 2),
            "arrival": ARRIVAL,
            "workers": WORKERS,
            "call_s": CALL_S,
            "cores": CORES,
            "load_average_before": load_before,
            "load_average_after": load_average(),
            "rounds": rows,
            **summary,
        },
    )
    print(json.dumps(summary))
    print(f"results: {path}")


if __name__ == "__main__":
    main()
