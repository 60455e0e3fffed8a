"""Read a PyTorch state dict (``torch.save`` file) into numpy arrays, without torch.

Torch files are pickles, and unpickling runs whatever code the file names. The
unpickler here resolves only the handful of globals a state dict needs (tensor
rebuilding, ``OrderedDict``, storage types) and refuses anything else, so a
hostile or damaged file fails with :class:`UnsafeTorchFile` instead of running.
Both on-disk formats are read: the zip archive (torch >= 1.6) and the legacy
stream of pickles followed by raw storages.
"""

from __future__ import annotations

import collections
import io
import pickle
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

# Storage class name -> element type, little-endian as torch writes it.
STORAGE_DTYPES: dict[str, np.dtype] = {
    name: np.dtype(code)
    for name, code in {
        "DoubleStorage": "<f8",
        "FloatStorage": "<f4",
        "HalfStorage": "<f2",
        "BFloat16Storage": "<u2",  # widened to float32 in _materialise
        "LongStorage": "<i8",
        "IntStorage": "<i4",
        "ShortStorage": "<i2",
        "CharStorage": "i1",
        "ByteStorage": "u1",
        "BoolStorage": "?",
    }.items()
}
LEGACY_MAGIC = 0x1950A86A20F9469CFC6C


class UnsafeTorchFile(ValueError):
    """The file is not a plain state dict: it names code we will not run, or is malformed."""


@dataclass(frozen=True, slots=True)
class _StorageType:
    name: str

    @property
    def dtype(self) -> np.dtype:
        return STORAGE_DTYPES[self.name]


@dataclass(slots=True)
class _Tensor:
    """A tensor as the pickle describes it; materialised once the storages are read."""

    storage: str  # the key of its storage
    offset: int
    size: tuple[int, ...]
    stride: tuple[int, ...]


def _rebuild_tensor(storage: str, offset: int, size: tuple[int, ...], stride: tuple[int, ...],
                    *_ignored: Any) -> _Tensor:
    return _Tensor(storage, offset, tuple(size), tuple(stride))


def _rebuild_parameter(data: _Tensor, *_ignored: Any) -> _Tensor:
    return data


ALLOWED_GLOBALS: dict[tuple[str, str], Any] = {
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    **{("torch", name): _StorageType(name) for name in STORAGE_DTYPES},
}


class _RestrictedUnpickler(pickle.Unpickler):
    """Resolves only :data:`ALLOWED_GLOBALS`; storages stay references (persistent ids)."""

    def __init__(self, file: BinaryIO):
        super().__init__(file)
        self.storages: dict[str, tuple[_StorageType, int]] = {}  # key -> (type, numel)

    def find_class(self, module: str, name: str) -> Any:
        try:
            return ALLOWED_GLOBALS[(module, name)]
        except KeyError:
            raise UnsafeTorchFile(
                f"refusing to load {module}.{name}: a weights file should hold only tensors"
            ) from None

    def persistent_load(self, pid: Any) -> str:
        # zip: ('storage', type, key, location, numel); legacy adds a view, None since torch 1.0
        if not (isinstance(pid, tuple) and len(pid) in (5, 6) and pid[0] == "storage"
                and isinstance(pid[1], _StorageType)):
            raise UnsafeTorchFile(f"unexpected persistent id {pid!r}")
        if len(pid) == 6 and pid[5] is not None:
            raise UnsafeTorchFile("storage views (files from torch before 1.0) are not supported")
        key = str(pid[2])
        self.storages[key] = (pid[1], int(pid[4]))
        return key


def _unpickle(data: BinaryIO) -> tuple[Any, _RestrictedUnpickler]:
    unpickler = _RestrictedUnpickler(data)
    return unpickler.load(), unpickler


def _materialise(obj: Any, storages: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    if not isinstance(obj, dict):
        raise UnsafeTorchFile(f"expected a state dict, found {type(obj).__name__}")
    result = {}
    for name, tensor in obj.items():
        if not isinstance(tensor, _Tensor):
            raise UnsafeTorchFile(f"entry {name!r} is not a tensor")
        flat = storages[tensor.storage]
        end = tensor.offset + sum((n - 1) * s for n, s in zip(tensor.size, tensor.stride)) + 1
        numel = int(np.prod(tensor.size, dtype=np.int64))
        if tensor.offset < 0 or min(tensor.stride, default=0) < 0 or (numel and end > flat.size):
            raise UnsafeTorchFile(f"tensor {name!r} lies outside its storage")
        if numel > flat.size:  # only broadcast views do this; in a file it is a memory bomb
            raise UnsafeTorchFile(f"tensor {name!r} has more elements than its storage")
        view = np.lib.stride_tricks.as_strided(
            flat[tensor.offset:], shape=tensor.size,
            strides=[s * flat.itemsize for s in tensor.stride], writeable=False)
        array = np.array(view)  # own, contiguous copy
        if flat.dtype == np.uint16:  # bfloat16: the high half of a float32
            array = (array.astype(np.uint32) << 16).view(np.float32)
        result[str(name)] = array.astype(array.dtype.newbyteorder("="), copy=False)
    return result


def _load_zip(path: Path) -> dict[str, np.ndarray]:
    with zipfile.ZipFile(path) as archive:
        pickles = [n for n in archive.namelist() if n.endswith("/data.pkl") and n.count("/") == 1]
        if len(pickles) != 1:
            raise UnsafeTorchFile(f"{path.name}: no single data.pkl in the archive")
        prefix = pickles[0][: -len("data.pkl")]
        obj, unpickler = _unpickle(io.BytesIO(archive.read(pickles[0])))
        big_endian = f"{prefix}byteorder" in archive.namelist() and archive.read(f"{prefix}byteorder") == b"big"
        storages = {}
        for key, (kind, numel) in unpickler.storages.items():
            dtype = kind.dtype.newbyteorder(">") if big_endian else kind.dtype
            raw = archive.read(f"{prefix}data/{key}")
            if len(raw) < numel * dtype.itemsize:
                raise UnsafeTorchFile(f"{path.name}: storage {key} is truncated")
            storages[key] = np.frombuffer(raw, dtype=dtype, count=numel)
    return _materialise(obj, storages)


def _load_legacy(path: Path) -> dict[str, np.ndarray]:
    with path.open("rb") as f:
        header = [_unpickle(f)[0] for _ in range(3)]  # magic number, protocol version, sys info
        if header[0] != LEGACY_MAGIC or header[1] != 1001:
            raise UnsafeTorchFile(f"{path.name}: not a torch.save file")
        obj, unpickler = _unpickle(f)
        keys, _ = _unpickle(f)
        if not isinstance(keys, list) or set(map(str, keys)) != set(unpickler.storages):
            raise UnsafeTorchFile(f"{path.name}: storage list does not match the tensors")
        storages = {}
        for key in map(str, keys):  # each: int64 element count, then the elements
            kind, numel = unpickler.storages[key]
            count = int.from_bytes(f.read(8), "little")
            raw = f.read(count * kind.dtype.itemsize)
            if count < numel or len(raw) != count * kind.dtype.itemsize:
                raise UnsafeTorchFile(f"{path.name}: storage {key} is truncated")
            storages[key] = np.frombuffer(raw, dtype=kind.dtype)
    return _materialise(obj, storages)


def load_state_dict(path: Path) -> dict[str, np.ndarray]:
    """Every tensor of the state dict saved at ``path``, by name, as contiguous numpy arrays."""
    path = Path(path)
    try:
        return _load_zip(path) if zipfile.is_zipfile(path) else _load_legacy(path)
    except (pickle.UnpicklingError, EOFError, zipfile.BadZipFile, KeyError, TypeError, IndexError) as exc:
        raise UnsafeTorchFile(f"{path.name}: not a readable state dict ({exc!r})") from exc
