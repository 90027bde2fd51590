"""The speaker encoder's weights: where they are found and how they are checked.

The weights are resemblyzer 0.1.4's trained GE2E encoder (``resemblyzer/pretrained.pt``, 17 MB,
Apache-2.0): 40 mel channels into a 3-layer LSTM of 256 units, then a 256 x 256 projection.
voicebot reads them without torch (:mod:`.torchfile`). They are looked for, first found wins:

1. ``$VOICEBOT_VOICEPRINT_MODEL``: the ``pretrained.pt`` file itself or the resemblyzer wheel;
2. the resemblyzer wheel cached under ``<sys.prefix>/share/voicebot/`` — ``make setup`` puts it
   there with ``pip download --no-deps resemblyzer==0.1.4`` (so torch and its CUDA libraries
   are never installed);
3. an installed ``resemblyzer`` package (found without importing it, which would import torch).

The file's SHA-256 is checked against the one published in the 0.1.4 wheel, so a different or
damaged file is refused before it is parsed.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import os
import sys
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from voicebot.errors import DependencyError
from voicebot.voiceprint.torchfile import TorchFileError, read_legacy

ENV_MODEL = "VOICEBOT_VOICEPRINT_MODEL"
WHEEL_VERSION = "0.1.4"
WHEEL_GLOB = f"[Rr]esemblyzer-{WHEEL_VERSION}-*.whl"
MEMBER = "resemblyzer/pretrained.pt"
SHA256 = "39373b86598fa3da9fcddee6142382efe09777e8d37dc9c0561f41f0070f134e"
N_MELS = 40
HIDDEN = 256
LAYERS = 3
EMBEDDING = 256
HOW_TO_GET = (
    f"run `make setup`, or `pip download --no-deps resemblyzer=={WHEEL_VERSION} -d {{share}}`, "
    f"or point ${ENV_MODEL} at the wheel or its pretrained.pt"
)


@dataclass(frozen=True, slots=True)
class EncoderWeights:
    """The encoder's parameters as float32 arrays, in torch's layout (gate rows i, f, g, o)."""

    weight_ih: tuple[np.ndarray[Any, np.dtype[np.float32]], ...]  # per layer: (4H, in)
    weight_hh: tuple[np.ndarray[Any, np.dtype[np.float32]], ...]  # per layer: (4H, H)
    bias: tuple[np.ndarray[Any, np.dtype[np.float32]], ...]  # per layer: b_ih + b_hh, (4H,)
    linear_weight: np.ndarray[Any, np.dtype[np.float32]]  # (E, H)
    linear_bias: np.ndarray[Any, np.dtype[np.float32]]  # (E,)
    similarity_weight: float  # GE2E's learned scale and offset of the cosine (training only)
    similarity_bias: float
    source: str

    @classmethod
    def from_state(cls, state: Mapping[str, Any], source: str) -> EncoderWeights:
        """From a ``model_state`` dict; checks every shape."""

        def get(name: str, shape: tuple[int, ...]) -> np.ndarray[Any, np.dtype[np.float32]]:
            value = state.get(name)
            if not isinstance(value, np.ndarray) or value.shape != shape:
                got = getattr(value, "shape", type(value).__name__)
                raise DependencyError(f"{source}: {name} should be {shape}, found {got}")
            return value.astype(np.float32)

        four = 4 * HIDDEN
        w_ih, w_hh, bias = [], [], []
        for layer in range(LAYERS):
            width = N_MELS if layer == 0 else HIDDEN
            w_ih.append(get(f"lstm.weight_ih_l{layer}", (four, width)))
            w_hh.append(get(f"lstm.weight_hh_l{layer}", (four, HIDDEN)))
            bias.append(get(f"lstm.bias_ih_l{layer}", (four,)) + get(f"lstm.bias_hh_l{layer}", (four,)))
        return cls(
            weight_ih=tuple(w_ih),
            weight_hh=tuple(w_hh),
            bias=tuple(bias),
            linear_weight=get("linear.weight", (EMBEDDING, HIDDEN)),
            linear_bias=get("linear.bias", (EMBEDDING,)),
            similarity_weight=float(get("similarity_weight", (1,))[0]),
            similarity_bias=float(get("similarity_bias", (1,))[0]),
            source=source,
        )


def share_dir() -> Path:
    """Where ``make setup`` caches the wheel: ``<sys.prefix>/share/voicebot``."""
    return Path(sys.prefix) / "share" / "voicebot"


def find_weights(env: Mapping[str, str] | None = None) -> Path:
    """The path of the wheel or ``pretrained.pt`` to read; :class:`DependencyError` if none."""
    env = os.environ if env is None else env
    if env.get(ENV_MODEL):
        path = Path(env[ENV_MODEL])
        if not path.is_file():
            raise DependencyError(f"${ENV_MODEL} names {path}, which is not a file")
        return path
    cached = sorted(share_dir().glob(WHEEL_GLOB))
    if cached:
        return cached[-1]
    spec = importlib.util.find_spec("resemblyzer")  # finds the package without running it
    for folder in (spec.submodule_search_locations or []) if spec is not None else []:
        candidate = Path(folder) / "pretrained.pt"
        if candidate.is_file():
            return candidate
    raise DependencyError(
        f"the voiceprint model (resemblyzer {WHEEL_VERSION}'s pretrained.pt) is not installed: "
        + HOW_TO_GET.format(share=share_dir())
    )


def read_weights_file(path: Path) -> bytes:
    """The bytes of ``pretrained.pt``, from the file or from inside the wheel, hash-checked."""
    try:
        if path.suffix == ".whl":
            with zipfile.ZipFile(path) as wheel:
                data = wheel.read(MEMBER)
        else:
            data = path.read_bytes()
    except (OSError, KeyError, zipfile.BadZipFile) as exc:
        raise DependencyError(f"cannot read the voiceprint model from {path}: {exc}") from None
    digest = hashlib.sha256(data).hexdigest()
    if digest != SHA256:
        raise DependencyError(
            f"{path} is not resemblyzer {WHEEL_VERSION}'s pretrained.pt (sha256 {digest[:16]}..., "
            f"expected {SHA256[:16]}...): " + HOW_TO_GET.format(share=share_dir())
        )
    return data


def load_weights(path: Path | None = None) -> EncoderWeights:
    """Read and check the encoder weights (about 0.1 s)."""
    path = path or find_weights()
    data = read_weights_file(path)
    try:
        saved = read_legacy(data)
    except TorchFileError as exc:
        raise DependencyError(f"{path}: {exc}") from None
    state = saved.get("model_state") if isinstance(saved, dict) else None
    if not isinstance(state, Mapping):
        raise DependencyError(f"{path}: no model_state in the file")
    return EncoderWeights.from_state(state, str(path))


@functools.cache
def default_weights() -> EncoderWeights:
    """The weights found by :func:`find_weights`, read once per process."""
    return load_weights()


__all__ = [
    "ENV_MODEL",
    "EncoderWeights",
    "default_weights",
    "find_weights",
    "load_weights",
    "read_weights_file",
    "share_dir",
]
