"""Would batching the numpy work of many calls into one pass pay? Measured, not assumed.

The media clock ticks every stream of a worker in one pass, so the per-frame numpy work of
N calls could be done as one (N, samples) array operation instead of N small ones. For the
work a bot call does every frame (8 -> 16 kHz resampling of the caller, 16 -> 8 kHz of the
bot, G.711 decode/encode) this measures, per call and frame:

* ``per_stream``: N calls of the streaming :class:`voicebot_codecs.Resampler` as today;
* ``batched``: the same polyphase filter bank applied to all N streams at once (the same
  taps, state kept as an (N, span) history), checked to give identical output;
* G.711 through ``audioop`` one frame at a time (C, no numpy), for scale.

Echo calls do none of this (their payloads pass through untouched), so batching matters for
bot calls only. Run: ``python benchmarks/batching.py``.
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import per_call_us, write_results

from voicebot_codecs import Resampler, get_codec

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import audioop

FRAME_8K = 160


class BatchUpsampler2:
    """8 -> 16 kHz for N streams at once with the streaming Resampler's own filter bank."""

    def __init__(self, n: int) -> None:
        bank = Resampler(8000, 16000).filter_bank
        assert bank is not None
        self.bank = bank  # the same taps: the output is compared for identity below
        self.span = self.bank.shape[1]
        self.hist = np.zeros((n, self.span), dtype=np.float64)

    def process(self, frames: np.ndarray) -> np.ndarray:
        x = np.concatenate([self.hist, frames.astype(np.float64)], axis=1)
        n, m = frames.shape
        windows = np.lib.stride_tricks.sliding_window_view(x, self.span, axis=1)[:, 1 : m + 1, ::-1]
        out = np.empty((n, 2 * m))
        for p in range(2):
            out[:, p::2] = windows @ self.bank[p]
        self.hist = x[:, -self.span :]
        return np.clip(np.rint(out), -32768, 32767).astype(np.int16)


def measure(n: int) -> dict[str, float]:
    rng = np.random.default_rng(3)
    frames = (rng.standard_normal((n, FRAME_8K)) * 3000).astype(np.int16)
    streams = [Resampler(8000, 16000) for _ in range(n)]
    batch = BatchUpsampler2(n)
    # the batched filter gives what the per-stream one gives, frame after frame
    for _ in range(3):
        one = np.stack([s.process(f) for s, f in zip(streams, frames, strict=True)])
        assert np.array_equal(one, batch.process(frames)), "batched output differs"

    def per_stream() -> None:
        for s, f in zip(streams, frames, strict=True):
            s.process(f)

    payloads = [get_codec("PCMA/8000").encoder().encode(f) for f in frames]

    def g711() -> None:
        for p in payloads:
            audioop.lin2alaw(audioop.alaw2lin(p, 2), 2)

    return {
        "calls": n,
        "resample_per_stream_us_per_call": round(per_call_us(per_stream) / n, 2),
        "resample_batched_us_per_call": round(per_call_us(lambda: batch.process(frames)) / n, 2),
        "g711_decode_encode_us_per_call": round(per_call_us(g711) / n, 2),
    }


def main() -> None:
    rows = [measure(n) for n in (10, 50, 200)]
    for r in rows:
        gain = r["resample_per_stream_us_per_call"] / r["resample_batched_us_per_call"]
        r["batched_gain"] = round(gain, 1)
        print(
            f"N={r['calls']:<4} 8->16 kHz per stream {r['resample_per_stream_us_per_call']:6.1f} us/call, "
            f"batched {r['resample_batched_us_per_call']:5.1f} us/call ({gain:.1f}x); "
            f"G.711 dec+enc {r['g711_decode_encode_us_per_call']:.1f} us/call"
        )
    path = write_results("batching", {"unit": "microseconds per call per 20 ms frame", "rows": rows})
    print(f"results: {path}")


if __name__ == "__main__":
    main()
