"""RTP receive/send cost per 20 ms packet, beside a bare loopback sendto+recvfrom.

Receive pipeline per packet: parse + session checks (source filter, RFC 3550 statistics)
+ jitter buffer put/pop + decode + resample to 16 kHz. Send pipeline per packet: resample
from 16 kHz + encode + packetize. The floor is one ``sendto`` + ``recvfrom`` of the same
datagram on a loopback UDP socket pair, measured in the same run.
Run: ``python benchmarks/rtp.py``; results go to ``benchmarks/results/rtp.json``.
"""

from __future__ import annotations

import socket
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import per_call_us, write_results

from voicebot.rtp.jitterbuffer import JitterBuffer
from voicebot.rtp.packet import RtpPacket
from voicebot.rtp.session import RtpSession, SessionConfig
from voicebot_codecs import Resampler, get_codec

PEER = ("127.0.0.1", 40000)


def speechlike(rate: int, seconds: float = 2.0) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    sig = 6000 * np.sin(2 * np.pi * 180 * t) * (1 + 0.5 * np.sin(2 * np.pi * 3 * t)) + 1500 * np.sin(
        2 * np.pi * 1250 * t
    )
    return sig.astype(np.int16)


def bare_io_us(size: int) -> float:
    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rx.bind(("127.0.0.1", 0))
    addr = rx.getsockname()
    data = b"\x80" * size

    def once() -> None:
        tx.sendto(data, addr)
        rx.recvfrom(2048)

    try:
        return per_call_us(once)
    finally:
        rx.close()
        tx.close()


def measure(codec_name: str) -> dict[str, object]:
    codec = get_codec(codec_name)
    step = codec.info.frame_timestamp_step
    pcm = speechlike(codec.sample_rate)
    enc = codec.encoder()
    fs = codec.frame_samples
    payloads = [enc.encode(pcm[i : i + fs]) for i in range(0, len(pcm) - fs, fs)]
    datagrams = [
        bytes(
            RtpPacket(
                payload_type=codec.payload_type, sequence_number=i & 0xFFFF, timestamp=i * step, ssrc=7, payload=p
            )
        )
        for i, p in enumerate(payloads)
    ]
    n = len(datagrams)
    state = {"i": 0, "t": 0.0}
    session = RtpSession(now=0.0, ssrc=1, rng_seed=1)
    session.configure(
        SessionConfig(payload_type=codec.payload_type, clock_rate=codec.clock_rate, frame_samples=step),
        remote_rtp=PEER,
        remote_rtcp=None,
        now=0.0,
    )
    jb = JitterBuffer(codec.clock_rate, step)
    dec = codec.decoder()
    rs = Resampler(codec.sample_rate, 16000)

    def parse() -> None:
        RtpPacket.parse(datagrams[state["i"] % n])
        state["i"] += 1

    def receive_pipeline() -> None:
        i = state["i"]
        state["i"] = i + 1
        t = i * 0.02
        pkt = session.receive_rtp(datagrams[i % n], PEER, t)
        assert pkt is not None
        # the steps MediaStream's receive path takes per packet, the packet's length read
        # from its payload included (a per-packet library lookup once hid there)
        samples = codec.payload_duration(pkt.payload)
        jb.put(pkt.sequence_number, pkt.timestamp + (i // n) * n * step, pkt.payload, t, samples)
        f = jb.pop(t + 0.0001)
        out = dec.decode(f.payload) if f.payload is not None else dec.conceal()
        rs.process(out)

    def jb_only() -> None:
        i = state["i"]
        state["i"] = i + 1
        jbx.put(i & 0xFFFF, (i * step) & 0xFFFFFFFF, b"x", i * 0.02)
        jbx.pop(i * 0.02 + 0.0001)

    def decode_only() -> None:
        dec2.decode(payloads[state["i"] % len(payloads)])
        state["i"] += 1

    frame16 = speechlike(16000)[:320]
    enc2 = codec.encoder()
    rs_out = Resampler(16000, codec.sample_rate)
    sender_session = RtpSession(now=0.0, ssrc=2, rng_seed=2)
    sender_session.configure(
        SessionConfig(payload_type=codec.payload_type, clock_rate=codec.clock_rate, frame_samples=step),
        remote_rtp=PEER,
        remote_rtcp=None,
        now=0.0,
    )
    sender_session.start(0.0)
    fifo: list[np.ndarray] = []

    def send_pipeline() -> None:
        fifo.append(rs_out.process(frame16))
        buf = np.concatenate(fifo)
        if len(buf) < codec.frame_samples:
            buf = np.concatenate([np.zeros(codec.frame_samples - len(buf), np.int16), buf])
        fifo[:] = [buf[codec.frame_samples :]]
        payload = enc2.encode(buf[: codec.frame_samples])
        sender_session.send_frame(payload, speech=True)
        sender_session.datagrams_to_send()

    results: dict[str, object] = {"codec": codec_name, "datagram_bytes": len(datagrams[0])}
    results["parse_us"] = per_call_us(parse)
    state["i"] = 0
    results["receive_pipeline_us"] = per_call_us(receive_pipeline)
    jbx = JitterBuffer(codec.clock_rate, step)
    state["i"] = 0
    results["jitter_buffer_put_pop_us"] = per_call_us(jb_only)
    dec2 = codec.decoder()
    state["i"] = 0
    results["decode_us"] = per_call_us(decode_only)
    rs2 = Resampler(codec.sample_rate, 16000)
    frame = pcm[: codec.frame_samples]
    results["resample_to_16k_us"] = per_call_us(lambda: rs2.process(frame))
    results["send_pipeline_us"] = per_call_us(send_pipeline)
    bare = bare_io_us(len(datagrams[0]))
    results["bare_sendto_recvfrom_us"] = bare
    results["receive_pipeline_vs_bare_io"] = float(results["receive_pipeline_us"]) / bare  # type: ignore[arg-type]
    results["send_pipeline_vs_bare_io"] = float(results["send_pipeline_us"]) / bare  # type: ignore[arg-type]
    results["realtime_budget_share_pct"] = (
        100 * (float(results["receive_pipeline_us"]) + float(results["send_pipeline_us"])) / 20000  # type: ignore[arg-type]
    )
    return {k: round(v, 2) if isinstance(v, float) else v for k, v in results.items()}


def main() -> None:
    rows = [measure(name) for name in ("PCMU/8000", "opus/48000/2")]
    keys = [k for k in rows[0] if k != "codec"]
    print(f"{'':32}" + "".join(f"{r['codec']:>16}" for r in rows))
    for k in keys:
        print(f"{k:32}" + "".join(f"{r[k]!s:>16}" for r in rows))
    path = write_results("rtp", {"unit": "microseconds per 20 ms packet", "rows": rows})
    print(f"results: {path}")


if __name__ == "__main__":
    main()
