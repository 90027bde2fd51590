"""Codec layer cost: µs per 20 ms frame for encode, decode, conceal and resample.

Beside each voicebot operation stands the cheapest way to do the same work in the same run:
bare ``audioop`` on bytes for G.711 and for resampling (``audioop.ratecv``), a bare
``opuslib`` encoder/decoder for Opus, and libsoxr's stream for resampling.

Opus encoder complexity: three espeak-ng sentences (16 kHz, three voices) are coded at 24
kbit/s wideband at each complexity and decoded; each row gives the encode time per 20 ms
frame of that speech and its PESQ score against the original (ITU-T P.862.2, wideband, the
``pesq`` package; MOS-LQO, 1-4.5), which is how the encoder's default was chosen.

Run: ``python benchmarks/codecs.py``; results go to ``benchmarks/results/codecs.json``.
"""

from __future__ import annotations

import itertools
import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import soxr

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import per_call_us, write_results

from voicebot_codecs import Resampler, get_codec

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import audioop


def frame(rate: int) -> np.ndarray:
    t = np.arange(rate // 50) / rate
    return (np.sin(2 * np.pi * 440 * t) * 8000).astype(np.int16)


def measure_codec(name: str) -> dict[str, object]:
    codec = get_codec(name)
    pcm = frame(codec.sample_rate)
    enc, dec = codec.encoder(), codec.decoder()
    payload = enc.encode(pcm)
    row: dict[str, object] = {
        "codec": name,
        "encode_us": per_call_us(lambda: enc.encode(pcm)),
        "decode_us": per_call_us(lambda: dec.decode(payload)),
        "conceal_us": per_call_us(dec.conceal),
    }
    raw = pcm.tobytes()
    if name.startswith(("PCMU", "PCMA")):
        law_enc, law_dec = (
            (audioop.lin2ulaw, audioop.ulaw2lin) if name.startswith("PCMU") else (audioop.lin2alaw, audioop.alaw2lin)
        )
        row["baseline"] = "bare audioop"
        row["baseline_encode_us"] = per_call_us(lambda: law_enc(raw, 2))
        row["baseline_decode_us"] = per_call_us(lambda: law_dec(payload, 2))
    elif name.startswith("opus"):
        import opuslib

        rate = codec.sample_rate
        bare_enc = opuslib.Encoder(rate, 1, "voip")
        bare_dec = opuslib.Decoder(rate, 1)
        row["baseline"] = "bare opuslib, no FEC"
        row["baseline_encode_us"] = per_call_us(lambda: bare_enc.encode(raw, rate // 50))
        row["baseline_decode_us"] = per_call_us(lambda: bare_dec.decode(payload, rate // 50))
    return row


def measure_resample(a: int, b: int) -> dict[str, object]:
    pcm = frame(a)
    raw = pcm.tobytes()
    r = Resampler(a, b)
    state: list[object] = [None]

    def ratecv() -> None:
        _, state[0] = audioop.ratecv(raw, 2, 1, a, b, state[0])

    stream = soxr.ResampleStream(a, b, 1, dtype="int16", quality="HQ")
    return {
        "from_hz": a,
        "to_hz": b,
        "voicebot_us": per_call_us(lambda: r.process(pcm)),
        "voicebot_delay_ms": r.delay * 1000 / b,
        "audioop_ratecv_us": per_call_us(ratecv),
        "soxr_hq_stream_us": per_call_us(lambda: stream.resample_chunk(pcm)),
    }


SENTENCES = (
    ("en-us", "Hello Ann, this is the clinic calling about your appointment on Thursday."),
    ("en-gb", "Your prescription is ready for pickup. Please call us back if you have any questions."),
    ("en-us+f3", "Would you like to pick another day? Please say yes or no."),
)
COMPLEXITIES = (10, 8, 6, 5, 4, 2, 0)


def _encode_cost(enc: Any, frames: np.ndarray) -> float:
    """µs to encode one frame of ``frames`` (coded again and again, in order)."""
    it = itertools.cycle(frames)
    return per_call_us(lambda: enc.encode(next(it)), min_time=0.2, repeat=3)


def measure_opus_complexity(rounds: int = 3) -> list[dict[str, object]]:
    from pesq import pesq

    from voicebot.tts import Synthesizer
    from voicebot_codecs.opus import OpusDecoder, OpusEncoder

    speech = []
    for voice, text in SENTENCES:
        pcm = Synthesizer(voice=voice).render(text)
        speech.append(pcm[: len(pcm) // 320 * 320].reshape(-1, 320))
    scores: dict[int, list[float]] = {c: [] for c in COMPLEXITIES}
    for complexity in COMPLEXITIES:
        for frames in speech:
            enc, dec = OpusEncoder(complexity=complexity), OpusDecoder()
            out = np.concatenate([dec.decode(enc.encode(f)) for f in frames])
            scores[complexity].append(pesq(16000, frames.ravel().astype(np.float32), out.astype(np.float32), "wb"))
    # the cost: every complexity in turn, round after round, so that all see the same machine
    costs: dict[int, list[float]] = {c: [] for c in COMPLEXITIES}
    for _ in range(rounds):
        for complexity in COMPLEXITIES:
            costs[complexity].append(_encode_cost(OpusEncoder(complexity=complexity), np.concatenate(speech)))
    return [
        {"complexity": c, "encode_us": round(float(np.median(costs[c])), 1),
         "encode_us_rounds": [round(x, 1) for x in costs[c]],
         "pesq_wb": [round(float(x), 2) for x in scores[c]], "pesq_wb_mean": round(float(np.mean(scores[c])), 2)}
        for c in COMPLEXITIES
    ]  # fmt: skip


def main() -> None:
    rows = [measure_codec(n) for n in ("PCMU/8000", "PCMA/8000", "L16/16000", "opus/48000/2")]
    pairs = ((8000, 16000), (16000, 8000), (16000, 48000), (48000, 16000))
    resample_rows = [measure_resample(a, b) for a, b in pairs]
    opus_rows = measure_opus_complexity()
    path = write_results(
        "codecs", {"frame_ms": 20, "codecs": rows, "resample": resample_rows, "opus_complexity": opus_rows}
    )
    print(f"{'codec':14} {'encode':>8} {'decode':>8} {'conceal':>8}   baseline enc/dec")
    for row in rows:
        base = (
            f"{row['baseline_encode_us']:.1f}/{row['baseline_decode_us']:.1f} µs ({row['baseline']})"
            if "baseline" in row
            else "-"
        )
        print(
            f"{row['codec']:14} {row['encode_us']:8.1f} {row['decode_us']:8.1f} {row['conceal_us']:8.1f}   {base}"
        )
    print(f"\n{'resample':14} {'voicebot':>9} {'ratecv':>8} {'soxr HQ':>8} {'delay':>8}")
    for rr in resample_rows:
        print(
            f"{rr['from_hz']}->{rr['to_hz']:<8} {rr['voicebot_us']:9.1f} {rr['audioop_ratecv_us']:8.1f} "
            f"{rr['soxr_hq_stream_us']:8.1f} {rr['voicebot_delay_ms']:6.1f}ms"
        )
    print(f"\n{'opus complexity':16} {'encode µs':>10} {'PESQ-WB':>8}  (each sentence)")
    for orow in opus_rows:
        print(f"{orow['complexity']:<16} {orow['encode_us']:10.1f} {orow['pesq_wb_mean']:8.2f}  {orow['pesq_wb']}")
    print(f"\nµs per 20 ms frame; results in {path}")


if __name__ == "__main__":
    main()
