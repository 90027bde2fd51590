"""Read the tensors of a ``torch.save`` file in torch's legacy (pre-1.6, non-zip) format without
importing torch.

That format is a run of pickles followed by raw storage bytes:

1. the magic number ``0x1950a86a20f9469cfc6c``;
2. the protocol version, ``1001``;
3. system information: ``{"protocol_version", "little_endian", "type_sizes"}``;
4. the saved object. Each tensor in it is pickled as a call to ``torch._utils._rebuild_tensor_v2``
   with a storage, an element offset, a size, a stride, ``requires_grad`` and backward hooks; the
   storage is a *persistent id* ``("storage", torch.FloatStorage, key, location, numel, view)``
   instead of the data;
5. the list of storage keys, in the order their data follows;
6. for each key: its element count (8 bytes, little-endian) and then its elements.

:class:`_RestrictedUnpickler` resolves exactly the globals such a file names —
``collections.OrderedDict``, ``torch._utils._rebuild_tensor_v2`` and the ``torch.*Storage``
types — to local stand-ins, and refuses every other global, so a file cannot make the reader
import or call anything. Tensors come back as numpy arrays (copies, C-contiguous).
"""

from __future__ import annotations

import collections
import io
import pickle
import struct
from dataclasses import dataclass
from typing import Any

import numpy as np

from voicebot.errors import VoicebotError

MAGIC_NUMBER = 0x1950A86A20F9469CFC6C
PROTOCOL_VERSION = 1001
MAX_ELEMENTS = 1 << 28  # 1 GiB of float32: far beyond any speaker encoder; refuses absurd headers

# torch storage class name -> numpy dtype of its elements (little-endian)
STORAGE_DTYPES: dict[str, str] = {
    "FloatStorage": "<f4",
    "DoubleStorage": "<f8",
    "HalfStorage": "<f2",
    "LongStorage": "<i8",
    "IntStorage": "<i4",
    "ShortStorage": "<i2",
    "CharStorage": "i1",
    "ByteStorage": "u1",
    "BoolStorage": "?",
}


class TorchFileError(VoicebotError):
    """The file is not a legacy torch file this reader accepts (or it is damaged)."""


@dataclass(frozen=True, slots=True)
class _StorageType:
    name: str


@dataclass(frozen=True, slots=True)
class _StorageRef:
    key: str
    dtype: str
    numel: int


@dataclass(frozen=True, slots=True)
class _TensorRef:
    storage: _StorageRef
    offset: int
    size: tuple[int, ...]
    stride: tuple[int, ...]


def _rebuild_tensor(storage: Any, offset: Any, size: Any, stride: Any, *_rest: Any) -> _TensorRef:
    """The stand-in for ``torch._utils._rebuild_tensor_v2``: remembers where the tensor lives."""
    if not isinstance(storage, _StorageRef):
        raise TorchFileError("a tensor refers to something that is not a storage")
    try:
        return _TensorRef(storage, int(offset), tuple(int(s) for s in size), tuple(int(s) for s in stride))
    except (TypeError, ValueError) as exc:
        raise TorchFileError(f"a tensor has a malformed shape: {exc}") from None


class _RestrictedUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) == ("collections", "OrderedDict"):
            return collections.OrderedDict
        if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
            return _rebuild_tensor
        if module == "torch" and name in STORAGE_DTYPES:
            return _StorageType(name)
        raise TorchFileError(f"refusing to load {module}.{name} (only tensors, storages and dicts are read)")

    def persistent_load(self, pid: Any) -> Any:
        if not (isinstance(pid, tuple) and len(pid) >= 5 and pid[0] == "storage"):
            raise TorchFileError(f"unknown persistent id {pid!r:.60}")
        kind, key, numel = pid[1], pid[2], pid[4]
        if not isinstance(kind, _StorageType) or not isinstance(key, str) or not isinstance(numel, int):
            raise TorchFileError(f"malformed storage reference {pid!r:.60}")
        if not 0 <= numel <= MAX_ELEMENTS:
            raise TorchFileError(f"storage {key} claims {numel} elements")
        return _StorageRef(key, STORAGE_DTYPES[kind.name], numel)


def _load(stream: io.BytesIO, what: str) -> Any:
    try:
        return _RestrictedUnpickler(stream).load()
    except TorchFileError:
        raise
    except Exception as exc:  # any malformed pickle: EOFError, UnpicklingError, ValueError ...
        raise TorchFileError(f"cannot read the {what}: {type(exc).__name__}: {exc}") from None


def read_legacy(data: bytes) -> Any:
    """The object saved in ``data`` (the bytes of a legacy torch file), with every tensor as a
    numpy array. Raises :class:`TorchFileError` for anything else."""
    stream = io.BytesIO(data)
    if _load(stream, "magic number") != MAGIC_NUMBER:
        raise TorchFileError("not a legacy torch file (wrong magic number; a zip-format file needs torch >= 1.6)")
    version = _load(stream, "protocol version")
    if version != PROTOCOL_VERSION:
        raise TorchFileError(f"unsupported torch file protocol {version!r}")
    info = _load(stream, "system information")
    if not isinstance(info, dict) or info.get("little_endian") is not True:
        raise TorchFileError("only little-endian torch files are read")
    saved = _load(stream, "saved object")
    keys = _load(stream, "storage key list")
    if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
        raise TorchFileError("the storage key list is malformed")
    wanted: dict[str, _StorageRef] = {}
    _collect(saved, wanted)
    arrays: dict[str, np.ndarray[Any, Any]] = {}
    pos = stream.tell()
    for key in keys:
        if pos + 8 > len(data):
            raise TorchFileError(f"the file ends before storage {key}")
        (numel,) = struct.unpack_from("<q", data, pos)
        pos += 8
        ref = wanted.get(key)
        if ref is None:
            raise TorchFileError(f"storage {key} is listed but nothing refers to it")
        if numel != ref.numel:
            raise TorchFileError(f"storage {key} holds {numel} elements, its reference says {ref.numel}")
        dtype = np.dtype(ref.dtype)
        end = pos + numel * dtype.itemsize
        if not 0 <= numel <= MAX_ELEMENTS or end > len(data):
            raise TorchFileError(f"storage {key} runs past the end of the file")
        arrays[key] = np.frombuffer(data, dtype=dtype, count=numel, offset=pos)
        pos = end
    if pos != len(data):
        raise TorchFileError(f"{len(data) - pos} unexpected bytes after the last storage")
    missing = set(wanted) - set(arrays)
    if missing:
        raise TorchFileError(f"storages {sorted(missing)[:3]} are referred to but not in the file")
    return _materialise(saved, arrays)


def _collect(obj: Any, out: dict[str, _StorageRef]) -> None:
    if isinstance(obj, _TensorRef):
        known = out.setdefault(obj.storage.key, obj.storage)
        if known != obj.storage:
            raise TorchFileError(f"storage {obj.storage.key} is described two ways")
    elif isinstance(obj, dict):
        for v in obj.values():
            _collect(v, out)
    elif isinstance(obj, list | tuple):
        for v in obj:
            _collect(v, out)


def _materialise(obj: Any, arrays: dict[str, np.ndarray[Any, Any]]) -> Any:
    if isinstance(obj, _TensorRef):
        return _tensor(obj, arrays[obj.storage.key])
    if isinstance(obj, collections.OrderedDict):
        return collections.OrderedDict((k, _materialise(v, arrays)) for k, v in obj.items())
    if isinstance(obj, dict):
        return {k: _materialise(v, arrays) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_materialise(v, arrays) for v in obj]
    if isinstance(obj, tuple):
        return tuple(_materialise(v, arrays) for v in obj)
    return obj


def _tensor(ref: _TensorRef, storage: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    if len(ref.size) != len(ref.stride) or any(s < 0 for s in (*ref.size, *ref.stride)) or ref.offset < 0:
        raise TorchFileError(f"a tensor in storage {ref.storage.key} has a malformed shape")
    last = ref.offset + sum((n - 1) * s for n, s in zip(ref.size, ref.stride, strict=True)) if all(ref.size) else -1
    if last >= storage.size:
        raise TorchFileError(f"a tensor reaches past the end of storage {ref.storage.key}")
    if not all(ref.size):
        return np.zeros(ref.size, dtype=storage.dtype)
    view = np.lib.stride_tricks.as_strided(
        storage[ref.offset :],
        shape=ref.size,
        strides=tuple(s * storage.itemsize for s in ref.stride),
        writeable=False,
    )
    return np.array(view, dtype=storage.dtype.newbyteorder("="), copy=True)


__all__ = ["MAGIC_NUMBER", "TorchFileError", "read_legacy"]
