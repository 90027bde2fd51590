"""The GE2E speaker encoder in numpy: mel frames -> 3-layer LSTM -> projection -> embedding.

An utterance is cut into partial windows of 160 mel frames (1.6 s), started every 77 frames
(1.3 windows a second); the last one is zero-padded, and dropped when less than 75 % of it is
audio (unless it is the only one). Each window's embedding is ReLU(W h_T + b) of the last
layer's final hidden state, L2-normalised; the utterance's embedding is the L2-normalised mean
of its windows' — and a speaker's, the L2-normalised mean of their utterances'. These are the
choices of resemblyzer 0.1.4's ``VoiceEncoder.embed_utterance``; the output matches it to 1e-4
cosine (tests/unit/voiceprint/test_voiceprint_reference.py).

The LSTM runs all windows of an utterance as one batch, one layer at a time: each layer's input
projection is one matrix product over every step, so only ``h @ W_hh`` stays in the time loop.
The sigmoid gates use sigmoid(x) = (1 + tanh(x/2)) / 2 with the halving folded into the
weights, so a step is one product and one ``tanh`` over all four gates. The products are small
(a few rows by 256), so BLAS runs them on the calling thread: its worker threads would only
spin (ten times the CPU for no gain, measured); several calls scale by running in several
threads or processes instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from threadpoolctl import ThreadpoolController

from voicebot.voiceprint.features import HOP, RATE, Audio, mel_spectrogram, n_frames
from voicebot.voiceprint.model import HIDDEN, EncoderWeights, default_weights

PARTIAL_FRAMES = 160  # 1.6 s per window
PARTIALS_PER_SECOND = 1.3
MIN_COVERAGE = 0.75
FRAME_STEP = round(RATE / PARTIALS_PER_SECOND / HOP)  # 77 frames between window starts

Vector = np.ndarray[Any, np.dtype[np.float32]]
_BLAS = ThreadpoolController()


def partial_starts(n_samples: int) -> list[int]:
    """First mel frame of each window for ``n_samples`` of audio (at least one window)."""
    frames = -(-(n_samples + 1) // HOP)  # ceil((n + 1) / hop), as resemblyzer counts them
    starts = list(range(0, max(1, frames - PARTIAL_FRAMES + FRAME_STEP + 1), FRAME_STEP))
    last = starts[-1] * HOP
    coverage = (n_samples - last) / (PARTIAL_FRAMES * HOP)
    if coverage < MIN_COVERAGE and len(starts) > 1:
        starts.pop()
    return starts


def padded_length(n_samples: int) -> int:
    """Samples the audio is zero-padded to so that every window lies inside it."""
    return max(n_samples, (partial_starts(n_samples)[-1] + PARTIAL_FRAMES) * HOP)


def l2_normalise(v: np.ndarray[Any, Any]) -> Vector:
    norm = float(np.linalg.norm(v))
    return (v / norm).astype(np.float32) if norm > 0 else np.asarray(v, dtype=np.float32)


@dataclass(frozen=True, slots=True)
class _Layer:
    w_ih_t: np.ndarray[Any, np.dtype[np.float32]]  # (in, 4H), i/f/o columns halved
    w_hh_t: np.ndarray[Any, np.dtype[np.float32]]  # (H, 4H), i/f/o columns halved
    bias: np.ndarray[Any, np.dtype[np.float32]]  # (4H,), i/f/o halved


class SpeakerEncoder:
    """Embeddings of 16 kHz audio. Thread-safe: it holds only read-only weights."""

    def __init__(self, weights: EncoderWeights | None = None) -> None:
        self.weights = weights or default_weights()
        half = np.ones(4 * HIDDEN, np.float32)
        half[: 2 * HIDDEN] = 0.5  # input and forget gates
        half[3 * HIDDEN :] = 0.5  # output gate; the cell candidate (g) keeps tanh(x)
        self._layers = tuple(
            _Layer(
                np.ascontiguousarray((w_ih * half[:, None]).T),
                np.ascontiguousarray((w_hh * half[:, None]).T),
                (b * half).astype(np.float32),
            )
            for w_ih, w_hh, b in zip(self.weights.weight_ih, self.weights.weight_hh, self.weights.bias, strict=True)
        )
        self._proj_t = np.ascontiguousarray(self.weights.linear_weight.T)
        self._proj_b = self.weights.linear_bias

    # ------------------------------------------------------------------ the network
    def embed_windows(self, mels: np.ndarray[Any, np.dtype[np.float32]]) -> np.ndarray[Any, np.dtype[np.float32]]:
        """(batch, frames, 40) mel windows -> (batch, 256) L2-normalised window embeddings."""
        with _BLAS.limit(limits=1, user_api="blas"):
            return self._run(np.asarray(mels, dtype=np.float32))

    def _run(self, x: np.ndarray[Any, np.dtype[np.float32]]) -> np.ndarray[Any, np.dtype[np.float32]]:
        batch, steps, _ = x.shape
        h = np.zeros((batch, HIDDEN), np.float32)
        for i, layer in enumerate(self._layers):
            gates_in = (x.reshape(batch * steps, -1) @ layer.w_ih_t + layer.bias).reshape(batch, steps, 4 * HIDDEN)
            last = i == len(self._layers) - 1
            out = None if last else np.empty((batch, steps, HIDDEN), np.float32)
            h = np.zeros((batch, HIDDEN), np.float32)
            c = np.zeros((batch, HIDDEN), np.float32)
            g = np.empty((batch, 4 * HIDDEN), np.float32)
            tanh_c = np.empty((batch, HIDDEN), np.float32)
            # views of the four gates; i, f and o hold tanh(x/2), so sigmoid(x) = (1 + them) / 2
            gi, gf, gc, go = (g[:, k * HIDDEN : (k + 1) * HIDDEN] for k in range(4))
            for t in range(steps):
                np.matmul(h, layer.w_hh_t, out=g)
                g += gates_in[:, t]
                np.tanh(g, out=g)
                gf += 1.0
                c *= gf  # 2 f c
                gi += 1.0
                gi *= gc  # 2 i g
                c += gi
                c *= 0.5  # c = f c + i g
                np.tanh(c, out=tanh_c)
                go += 1.0
                go *= 0.5
                np.multiply(go, tanh_c, out=h)  # h = o tanh(c)
                if out is not None:
                    out[:, t] = h
            if out is not None:
                x = out
        raw = np.maximum(h @ self._proj_t + self._proj_b, 0.0)
        norms = np.linalg.norm(raw, axis=1, keepdims=True)
        result: np.ndarray[Any, np.dtype[np.float32]] = (raw / np.where(norms > 0, norms, 1.0)).astype(np.float32)
        return result

    # ------------------------------------------------------------------ utterances
    def window_embeddings(self, wav: Audio) -> np.ndarray[Any, np.dtype[np.float32]]:
        """The embeddings of each partial window of preprocessed ``wav``: (windows, 256)."""
        starts = partial_starts(len(wav))
        total = padded_length(len(wav))
        padded = np.concatenate((wav.astype(np.float32), np.zeros(total - len(wav), np.float32)))
        mel = mel_spectrogram(padded)
        assert mel.shape[0] == n_frames(total)
        windows = np.stack([mel[s : s + PARTIAL_FRAMES] for s in starts])
        return self.embed_windows(windows)

    def embed_utterance(self, wav: Audio) -> Vector:
        """One utterance's embedding (256 floats, unit length) from preprocessed 16 kHz audio."""
        return l2_normalise(self.window_embeddings(wav).mean(axis=0))

    def embed_speaker(self, wavs: Sequence[Audio]) -> Vector:
        """A speaker's embedding from several utterances: the normalised mean of theirs."""
        return l2_normalise(np.mean([self.embed_utterance(w) for w in wavs], axis=0))


def cosine(a: np.ndarray[Any, Any], b: np.ndarray[Any, Any]) -> float:
    """Cosine similarity of two embeddings (both already unit length give their dot product)."""
    na, nb = float(np.linalg.norm(a)), float(np.linalg.norm(b))
    return float(np.dot(a, b) / (na * nb)) if na > 0 and nb > 0 else 0.0


__all__ = [
    "FRAME_STEP",
    "PARTIAL_FRAMES",
    "SpeakerEncoder",
    "cosine",
    "l2_normalise",
    "padded_length",
    "partial_starts",
]
