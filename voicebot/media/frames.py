"""Internal audio frames: 16 kHz mono int16, 20 ms (320 samples), and the helpers that move
audio in and out of that format (sample FIFOs, WAV loading with resampling).

:class:`AudioFrame` is what the media layer hands upwards: one 20 ms frame of the far end's
audio stamped with its *media time*, the loop-clock instant at which it was due on the
stream's 20 ms playout grid. The stamp is made once, where the frame is played out of the
jitter buffer; endpointing, barge-in and the ASR read it instead of the time the frame
happened to reach them (a frame can reach a consumer late when the machine is busy).
"""

from __future__ import annotations

import wave
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from voicebot.media.wav import load_wav
from voicebot_codecs import G711, Resampler, get_codec, resample
from voicebot_codecs.base import FRAME_MS as FRAME_MS  # re-exported: the frame size is the codecs' fact
from voicebot_codecs.base import PCM as PCM

RATE = 16000  # the one internal rate: every frame above the codecs is 16 kHz mono int16 (PCM)
FRAME = RATE * FRAME_MS // 1000  # 320 samples
FRAME_SECONDS = FRAME_MS / 1000


@dataclass(frozen=True, slots=True, kw_only=True)
class AudioFrame:
    """20 ms of far-end audio at 16 kHz.

    ``media_time``: loop-clock seconds at which the frame was due on the playout grid (its
    playout time); consecutive frames are exactly 20 ms apart. ``index``: frames since the
    stream started. ``concealed``: made up by the jitter buffer (a lost or late packet, or no
    packet yet) rather than decoded from a packet that arrived.
    """

    pcm: PCM
    media_time: float
    index: int
    concealed: bool = False

    @property
    def end_time(self) -> float:
        return self.media_time + FRAME_MS / 1000


def silence(samples: int = FRAME) -> PCM:
    return np.zeros(samples, dtype=np.int16)


class SampleFifo:
    """A FIFO of int16 samples that hands out fixed-size frames.

    When a frame is asked for and too few samples are queued (a resampler still filling its
    filter at the start), the shortfall is padded with zeros *in front*, once, so the stream
    is delayed by that much instead of getting a hole in the middle.

    A frame that lies within one pushed chunk is handed out as that chunk (or a view of it),
    not copied: on the media path each 20 ms frame is pushed and taken whole, three times per
    call and frame. So what is pushed must not be written to afterwards (every pusher hands
    over a fresh array: a decoder's or resampler's output, a slice of a clip nobody writes).
    """

    def __init__(self) -> None:
        self._chunks: deque[PCM] = deque()
        self._size = 0

    def __len__(self) -> int:
        return self._size

    def push(self, pcm: PCM) -> None:
        if len(pcm):
            self._chunks.append(pcm)
            self._size += len(pcm)

    def clear(self) -> None:
        self._chunks.clear()
        self._size = 0

    def take(self, n: int) -> PCM:
        if self._size < n:
            self._chunks.appendleft(silence(n - self._size))
            self._size = n
        chunk = self._chunks[0]
        if len(chunk) >= n:  # the usual case: no copy
            if len(chunk) == n:
                self._chunks.popleft()
            else:
                self._chunks[0] = chunk[n:]
            self._size -= n
            return chunk[:n]
        out = np.empty(n, dtype=np.int16)
        filled = 0
        while filled < n:
            chunk = self._chunks[0]
            k = min(n - filled, len(chunk))
            out[filled : filled + k] = chunk[:k]
            filled += k
            if k == len(chunk):
                self._chunks.popleft()
            else:
                self._chunks[0] = chunk[k:]
        self._size -= n
        return out


def mix(a: PCM, b: PCM) -> PCM:
    """Saturating sum of two equal-length int16 frames."""
    return np.clip(a.astype(np.int32) + b.astype(np.int32), -32768, 32767).astype(np.int16)


def crossfade(head: PCM, tail: PCM, n: int) -> PCM:
    """``tail`` whose first ``n`` samples fade in over the first ``n`` samples of ``head``
    (linear, equal length), used where a frame was cut out of the stream."""
    n = min(n, len(head), len(tail))
    if n <= 0:
        return tail
    w = np.linspace(0.0, 1.0, n, endpoint=False)
    out = tail.astype(np.float64)
    out[:n] = head[:n] * (1.0 - w) + out[:n] * w
    return np.clip(np.rint(out), -32768, 32767).astype(np.int16)


def read_wav(source: bytes | str | Path, rate: int = RATE) -> PCM:
    """A WAV file (a path, or its bytes) as mono int16 at ``rate`` (channels averaged,
    resampled); any integer PCM layout :func:`voicebot.media.wav.load_wav` reads, and its
    one-line :class:`ConfigError` for a file that is missing or unusable."""
    return read_wav_and_rate(source, rate)[0]


def read_wav_and_rate(source: bytes | str | Path, rate: int = RATE) -> tuple[PCM, int]:
    """As :func:`read_wav`, and the rate the file was sampled at (which says, e.g., that a
    recording holds telephone audio)."""
    pcm, src_rate = load_wav(source)
    if src_rate != rate:
        pcm = resample(np.ascontiguousarray(pcm), src_rate, rate)
    return pcm, src_rate


def telephone_band(pcm: PCM, codec: str = "PCMU/8000") -> PCM:
    """16 kHz ``pcm`` as it sounds after a call's codec: resampled to the codec's rate, coded
    and decoded frame by frame, resampled back to 16 kHz (same length, plus the resamplers'
    delay). No network: loss and jitter are the tests' channel model, ``tests/sim/channel.py``."""
    c = get_codec(codec)
    down, up = Resampler(RATE, c.sample_rate), Resampler(c.sample_rate, RATE)
    enc, dec = c.encoder(), c.decoder()
    wire = np.concatenate([down.process(np.ascontiguousarray(pcm)), down.flush()])
    n = c.frame_samples
    wire = np.concatenate([wire, np.zeros((-len(wire)) % n, dtype=np.int16)]).astype(np.int16)
    out = [up.process(dec.decode(enc.encode(wire[i : i + n]))) for i in range(0, len(wire), n)]
    out.append(up.flush())
    return np.concatenate(out).astype(np.int16)


def write_wav(path: str | Path, pcm: PCM | npt.NDArray[np.int16], rate: int = RATE) -> None:
    """Write int16 audio (1-D mono, or 2-D samples x channels) as a 16-bit PCM WAV."""
    arr = np.asarray(pcm, dtype=np.int16)
    channels = 1 if arr.ndim == 1 else int(arr.shape[1])
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(arr.astype("<i2").tobytes())


SILENCE_RMS = 100.0  # about -50 dBFS
OPUS_SILENCE_BYTES = 10  # libopus codes digital silence (and DTX) in a handful of bytes


def silence_detector(codec_name: str) -> Callable[[bytes], bool] | None:
    """A cheap "is this payload silence?" test for the jitter buffer, which may then drop the
    frame at once to shrink its delay. G.711: RMS of the samples (``audioop`` in C, no decoder
    state touched). Opus: the packet size. Other codecs: None."""
    name = codec_name.upper()
    if name.startswith(("PCMU", "PCMA")):
        codec = get_codec(codec_name)
        assert isinstance(codec, G711)
        rms = codec.rms

        def g711_silent(payload: bytes) -> bool:
            return rms(payload) < SILENCE_RMS

        return g711_silent
    if name.startswith("OPUS"):
        return lambda payload: len(payload) <= OPUS_SILENCE_BYTES
    return None
