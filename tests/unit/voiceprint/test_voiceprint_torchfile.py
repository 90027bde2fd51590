"""The restricted reader of torch's legacy format: it reads what torch writes (files made here
with stand-in ``torch`` modules, byte for byte in torch's layout), refuses every global but the
few a state dict needs, and rejects damaged files with a clear error instead of a crash."""

from __future__ import annotations

import collections
import io
import os
import pickle
import struct
import sys
import types
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from voicebot.errors import DependencyError
from voicebot.voiceprint import model
from voicebot.voiceprint.torchfile import MAGIC_NUMBER, TorchFileError, read_legacy


@pytest.fixture
def fake_torch() -> Iterator[types.SimpleNamespace]:
    """Modules named torch and torch._utils, only while a test writes its file (never imported
    by the code under test: the reader must work without them)."""
    torch = types.ModuleType("torch")
    utils = types.ModuleType("torch._utils")

    class FloatStorage:
        pass

    def _rebuild_tensor_v2(*args: Any) -> None:
        raise AssertionError("never called while writing")

    FloatStorage.__module__, FloatStorage.__qualname__ = "torch", "FloatStorage"
    _rebuild_tensor_v2.__module__, _rebuild_tensor_v2.__qualname__ = "torch._utils", "_rebuild_tensor_v2"
    torch.FloatStorage = FloatStorage  # type: ignore[attr-defined]
    utils._rebuild_tensor_v2 = _rebuild_tensor_v2  # type: ignore[attr-defined]
    sys.modules["torch"], sys.modules["torch._utils"] = torch, utils
    try:
        yield types.SimpleNamespace(FloatStorage=FloatStorage, rebuild=_rebuild_tensor_v2)
    finally:
        del sys.modules["torch"], sys.modules["torch._utils"]


class _Tensor:
    def __init__(self, torch: types.SimpleNamespace, key: str, offset: int, size: tuple[int, ...]) -> None:
        self.torch, self.key, self.offset, self.size = torch, key, offset, size

    def __reduce__(self) -> Any:
        stride = tuple(int(np.prod(self.size[i + 1 :])) for i in range(len(self.size)))
        return (self.torch.rebuild, (_Storage(self.torch, self.key), self.offset, self.size, stride, False,
                                     collections.OrderedDict()))  # fmt: skip


class _Storage:
    def __init__(self, torch: types.SimpleNamespace, key: str) -> None:
        self.torch, self.key = torch, key


def legacy_file(torch: types.SimpleNamespace, obj: Any, storages: dict[str, np.ndarray]) -> bytes:
    """What torch.save(obj, f, _use_new_zipfile_serialization=False) writes."""
    buf = io.BytesIO()
    for header in (MAGIC_NUMBER, 1001, {"protocol_version": 1001, "little_endian": True,
                                        "type_sizes": {"short": 2, "int": 4, "long": 4}}):  # fmt: skip
        pickle.dump(header, buf, protocol=2)

    class Pickler(pickle.Pickler):
        def persistent_id(self, o: Any) -> Any:
            if isinstance(o, _Storage):
                return ("storage", torch.FloatStorage, o.key, "cpu", storages[o.key].size, None)
            return None

    Pickler(buf, protocol=2).dump(obj)
    pickle.dump(list(storages), buf, protocol=2)
    for data in storages.values():
        buf.write(struct.pack("<q", data.size))
        buf.write(data.astype("<f4").tobytes())
    return buf.getvalue()


def test_reads_tensors_sharing_one_storage_at_offsets(fake_torch: types.SimpleNamespace) -> None:
    flat = np.arange(20, dtype=np.float32)
    state = collections.OrderedDict(a=_Tensor(fake_torch, "k1", 0, (2, 3)), b=_Tensor(fake_torch, "k1", 6, (14,)))
    blob = legacy_file(fake_torch, {"step": 7, "model_state": state}, {"k1": flat})
    out = read_legacy(blob)
    assert out["step"] == 7 and isinstance(out["model_state"], collections.OrderedDict)
    np.testing.assert_array_equal(out["model_state"]["a"], flat[:6].reshape(2, 3))
    np.testing.assert_array_equal(out["model_state"]["b"], flat[6:])
    assert out["model_state"]["a"].flags.writeable and out["model_state"]["a"].flags.c_contiguous


def test_refuses_any_other_global() -> None:
    class Evil:
        def __reduce__(self) -> Any:
            return (os.system, ("echo pwned",))

    buf = io.BytesIO()
    for header in (MAGIC_NUMBER, 1001, {"little_endian": True}):
        pickle.dump(header, buf, protocol=2)
    pickle.dump({"model_state": Evil()}, buf, protocol=2)
    with pytest.raises(TorchFileError, match=r"refusing to load (posix|os)\.system"):
        read_legacy(buf.getvalue())


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda b: b[:1000], "runs past the end of the file"),
        (lambda b: b[:300], "cannot read the|ends before"),
        (lambda b: b + b"\0" * 4, "unexpected bytes"),
        (lambda b: pickle.dumps(123, protocol=2) + b[15:], "wrong magic number"),
        (lambda b: b"PK\x03\x04" + b[4:], "cannot read the magic number"),
        (lambda b: b"", "cannot read the magic number"),
    ],
)
def test_damaged_files_get_one_clear_error(fake_torch: types.SimpleNamespace, damage: Any, message: str) -> None:
    state = {"w": _Tensor(fake_torch, "k", 0, (300,))}
    blob = legacy_file(fake_torch, {"model_state": state}, {"k": np.ones(300, np.float32)})
    with pytest.raises(TorchFileError, match=message):
        read_legacy(damage(blob))


def test_a_tensor_past_its_storage_is_refused(fake_torch: types.SimpleNamespace) -> None:
    state = {"w": _Tensor(fake_torch, "k", 5, (10,))}
    blob = legacy_file(fake_torch, {"model_state": state}, {"k": np.ones(10, np.float32)})
    with pytest.raises(TorchFileError, match="past the end of storage"):
        read_legacy(blob)


def test_the_real_weights_load_with_their_shapes() -> None:
    weights = model.default_weights()
    assert [w.shape for w in weights.weight_ih] == [(1024, 40), (1024, 256), (1024, 256)]
    assert weights.linear_weight.shape == (256, 256) and weights.similarity_weight > 0
    assert "torch" not in sys.modules  # read without importing it


def test_weights_are_found_from_the_environment_and_checked(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    found = model.find_weights()
    monkeypatch.setenv(model.ENV_MODEL, str(found))
    assert model.find_weights() == found
    bad = tmp_path / "pretrained.pt"
    bad.write_bytes(b"not the model")
    monkeypatch.setenv(model.ENV_MODEL, str(bad))
    with pytest.raises(DependencyError, match=r"is not resemblyzer 0\.1\.4's pretrained\.pt"):
        model.load_weights()
    monkeypatch.setenv(model.ENV_MODEL, str(tmp_path / "missing.whl"))
    with pytest.raises(DependencyError, match="not a file"):
        model.find_weights()


def test_without_the_model_the_error_says_how_to_get_it(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(model.ENV_MODEL, raising=False)
    monkeypatch.setattr(model, "share_dir", lambda: tmp_path)
    monkeypatch.setattr(model.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(DependencyError, match=r"make setup.*pip download --no-deps resemblyzer==0.1.4"):
        model.find_weights()
