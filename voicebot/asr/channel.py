"""What a phrase sounds like after a telephone line: for testing and measuring recognisers.

``telephone_channel`` takes 16 kHz speech, resamples it to the codec's rate, encodes and
decodes it 20 ms frame by frame (G.711 μ-law by default), drops packets with a
Gilbert-Elliott bursty loss model (``voicebot.rtp.impair``) and replaces each lost frame with
the decoder's packet-loss concealment, then resamples back to 16 kHz, the way a call's
inbound audio reaches the recogniser.
"""

from __future__ import annotations

import numpy as np

from voicebot.asr.engine import SAMPLE_RATE, Pcm
from voicebot.rtp.impair import GilbertElliott
from voicebot_codecs import Resampler, get_codec


def frames_of(pcm: Pcm, size: int = 320) -> list[Pcm]:
    """``pcm`` cut into ``size``-sample frames, the last one zero-padded."""
    pad = (-len(pcm)) % size
    if pad:
        pcm = np.concatenate([pcm, np.zeros(pad, dtype=np.int16)])
    return [pcm[i : i + size] for i in range(0, len(pcm), size)]


def telephone_channel(
    pcm: Pcm,
    *,
    codec: str = "PCMU/8000",
    loss_rate: float = 0.0,
    mean_burst: float = 3.0,
    seed: int = 1,
) -> tuple[Pcm, int]:
    """``pcm`` (16 kHz) through codec and loss; returns (16 kHz audio, frames lost)."""
    c = get_codec(codec)
    rate = c.sample_rate
    down, up = Resampler(SAMPLE_RATE, rate), Resampler(rate, SAMPLE_RATE)
    enc, dec = c.encoder(), c.decoder()
    wire = np.concatenate([down.process(f) for f in frames_of(pcm)] + [down.flush()])
    frames = frames_of(wire, c.frame_samples)
    lost = GilbertElliott(seed, loss_rate, mean_burst).lost(len(frames)) if loss_rate > 0 else [False] * len(frames)
    out: list[Pcm] = []
    for frame, gone in zip(frames, lost, strict=True):
        payload = enc.encode(frame)
        out.append(up.process(dec.conceal() if gone else dec.decode(payload)))
    out.append(up.flush())
    return np.concatenate(out).astype(np.int16), sum(lost)


__all__ = ["frames_of", "telephone_channel"]
