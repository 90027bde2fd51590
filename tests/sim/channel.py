"""What a phrase sounds like after a telephone line: for testing and measuring recognisers.

``telephone_channel`` takes 16 kHz speech and does to it what a call does: resample to the
codec's rate, encode 20 ms frames (G.711 μ-law by default, A-law or Opus), packetise, drop
packets with a Gilbert-Elliott bursty loss model (``tests.sim.impair``), put what arrives
into the receiver's adaptive jitter buffer (``voicebot.rtp.jitterbuffer``), play it out
every 20 ms — decoding, concealing lost frames with the decoder's PLC or rebuilding them
from the next Opus packet's in-band FEC — and resample back to 16 kHz, the way a call's
inbound audio reaches the recogniser. ``add_noise`` mixes background noise (white, or babble
made from other speech) in at a given signal-to-noise ratio before the line.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from tests.sim.impair import GilbertElliott
from voicebot.asr.engine import SAMPLE_RATE, Pcm
from voicebot.media.frames import FRAME_SECONDS, silence_detector
from voicebot.rtp.jitterbuffer import JitterBuffer, PlayoutFrame
from voicebot_codecs import Decoder, Resampler, get_codec

TRANSIT = 0.04  # one-way network delay of every packet (constant: loss is the impairment here)


def frames_of(pcm: Pcm, size: int = 320) -> list[Pcm]:
    """``pcm`` cut into ``size``-sample frames, the last one zero-padded."""
    pad = (-len(pcm)) % size
    if pad:
        pcm = np.concatenate([pcm, np.zeros(pad, dtype=np.int16)])
    return [pcm[i : i + size] for i in range(0, len(pcm), size)]


def playout_pcm(frame: PlayoutFrame, decoder: Decoder, frame_samples: int) -> Pcm:
    """The audio of one playout decision: decode, rebuild from FEC, conceal, or silence."""
    if frame.kind == "audio" and frame.payload is not None:
        if frame.skipped_payload is not None:
            decoder.decode(frame.skipped_payload)  # keep the decoder's state continuous
        return decoder.decode(frame.payload)
    if frame.kind == "lost":
        decode_fec = getattr(decoder, "decode_fec", None)
        if frame.next_payload is not None and decode_fec is not None and not frame.inserted:
            fec: Pcm = decode_fec(frame.next_payload)
            return fec
        return decoder.conceal()
    return np.zeros(frame_samples, dtype=np.int16)


def telephone_channel(
    pcm: Pcm,
    *,
    codec: str = "PCMU/8000",
    loss_rate: float = 0.0,
    mean_burst: float = 3.0,
    seed: int = 1,
) -> tuple[Pcm, int]:
    """``pcm`` (16 kHz) through codec, loss and jitter buffer; returns (16 kHz audio, packets lost).

    The output starts after the jitter buffer's playout delay and carries the whole input.
    """
    c = get_codec(codec)
    rate, step = c.sample_rate, c.info.frame_timestamp_step
    down, up = Resampler(SAMPLE_RATE, rate), Resampler(rate, SAMPLE_RATE)
    enc, dec = c.encoder(), c.decoder()
    wire = np.concatenate([down.process(f) for f in frames_of(pcm)] + [down.flush()])
    frames = frames_of(wire, c.frame_samples)
    lost = GilbertElliott(seed, loss_rate, mean_burst).lost(len(frames)) if loss_rate > 0 else [False] * len(frames)
    jb = JitterBuffer(c.clock_rate, step, is_silent=silence_detector(c.name))
    out: list[Pcm] = []
    sent = 0
    tick = 0
    # Play out until every packet was sent and the buffer has drained (bounded by its delay).
    while sent < len(frames) or (jb.buffered > 0 and tick < len(frames) + 100):
        now = tick * FRAME_SECONDS
        while sent < len(frames) and sent * FRAME_SECONDS + TRANSIT <= now:
            if not lost[sent]:
                jb.put(sent, sent * step, enc.encode(frames[sent]), sent * FRAME_SECONDS + TRANSIT)
            else:
                enc.encode(frames[sent])  # the sender coded it; the network dropped it
            sent += 1
        out.append(up.process(playout_pcm(jb.pop(now), dec, c.frame_samples)))
        tick += 1
    out.append(up.flush())
    return np.concatenate(out).astype(np.int16), sum(lost)


def _rms(x: npt.NDArray[np.float64]) -> float:
    return float(np.sqrt(np.mean(x * x))) if len(x) else 0.0


def speech_rms(pcm: Pcm, *, frame: int = 320, floor_db: float = 40.0) -> float:
    """RMS over the frames within ``floor_db`` of the loudest (the speech, not the pauses)."""
    x = pcm.astype(np.float64)
    n = len(x) // frame
    if n == 0:
        return _rms(x)
    energies = np.sqrt(np.mean(x[: n * frame].reshape(n, frame) ** 2, axis=1))
    loud = energies[energies >= energies.max() * 10 ** (-floor_db / 20)]
    return float(np.sqrt(np.mean(loud**2)))


def white_noise(n: int, seed: int) -> npt.NDArray[np.float64]:
    return np.random.default_rng(seed).normal(0.0, 1.0, n)


def babble(n: int, talkers: Sequence[Pcm], seed: int) -> npt.NDArray[np.float64]:
    """``n`` samples of several talkers at once, each looped from a random offset, each at the
    same level (a crowd, not one voice that could be followed)."""
    rng = np.random.default_rng(seed)
    mix = np.zeros(n)
    for talk in talkers:
        x = talk.astype(np.float64)
        level = _rms(x)
        if not len(x) or level == 0.0:
            continue
        idx = (int(rng.integers(len(x))) + np.arange(n)) % len(x)
        mix += x[idx] / level
    return mix


def add_noise(pcm: Pcm, noise: npt.NDArray[np.float64], snr_db: float) -> Pcm:
    """``pcm`` with ``noise`` mixed in so that speech RMS / noise RMS is ``snr_db``."""
    if len(noise) < len(pcm):
        raise ValueError("the noise must be at least as long as the speech")
    n = noise[: len(pcm)]
    level = _rms(n)
    if level == 0.0:
        return pcm
    scaled = n * (speech_rms(pcm) / level) * 10 ** (-snr_db / 20)
    return np.clip(pcm + scaled, -32768, 32767).astype(np.int16)


__all__ = [
    "add_noise",
    "babble",
    "frames_of",
    "playout_pcm",
    "speech_rms",
    "telephone_channel",
    "white_noise",
]
