"""Readers for the standard on-disk formats: MNIST-style IDX, CIFAR-10 pickles, SVHN .mat
(CelebA is in :mod:`.celeba`).

Each reader hands the files to torchvision's own data-set class (``download=False``)
when they are in the layout that class reads and pass its checks, and reads them
itself otherwise; each reader's docstring says which files only it can read, and
why. Both paths return the same images, labels and order. Each returns
``(images, labels)``: a uint8 ``(N, C, H, W)`` tensor and an int64 ``(N,)`` tensor.
Nothing is downloaded.
"""

from __future__ import annotations

import gzip
import math
import os
import pickle
import struct
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

from torch_deepsmote._utils.validation import check_bool, check_option
from torch_deepsmote.evaluation._extras import import_extra

__all__ = [
    "IDX_FOLDERS",
    "load_cifar10",
    "load_idx",
    "load_svhn",
]

IDX_FOLDERS = {
    "mnist": ("MNIST/raw", "MNIST", "mnist"),
    "fashion-mnist": ("FashionMNIST/raw", "FashionMNIST", "fashion-mnist", "fashion_mnist"),
}
_IDX_DTYPES = {0x08: "u1", 0x09: "i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
_CIFAR_FOLDER = "cifar-10-batches-py"
_SVHN_SPLITS = ("train", "test", "extra")
_TORCHVISION_IDX_CLASSES = ("MNIST", "FashionMNIST")
# How torchvision's data-set classes refuse files: missing or failing a checksum
# (RuntimeError), or malformed IDX files (AssertionError, TypeError, ValueError).
_TORCHVISION_REFUSALS = (RuntimeError, AssertionError, TypeError, ValueError)


def torchvision_dataset(name: str, root: Path, **options: Any) -> Any | None:
    """torchvision's ``datasets.<name>`` read from ``root`` without downloading, or ``None``.

    ``None`` means torchvision refused the files: missing, failing its checksum or
    malformed. The caller then reads them itself, which either succeeds (a layout or a
    file that torchvision does not take) or raises an error naming the problem.

    Args:
        name: Class of :mod:`torchvision.datasets`, e.g. ``"CIFAR10"``.
        root: The class's ``root`` argument.
        **options: Its other arguments (``train``, ``split`` ...).

    Returns:
        The data-set object, or ``None``.
    """
    from torchvision import datasets

    try:
        return getattr(datasets, name)(root, download=False, **options)
    except _TORCHVISION_REFUSALS:
        return None


def _read_bytes(path: Path) -> bytes:
    """Read a file, transparently un-gzipping it when it starts with the gzip magic."""
    data = path.read_bytes()
    return gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data


def _read_idx(path: Path) -> np.ndarray:
    """Parse an IDX file (magic ``00 00 <type> <ndim>``, big-endian uint32 dims, data)."""
    data = _read_bytes(path)
    if len(data) < 4 or data[:2] != b"\x00\x00" or data[2] not in _IDX_DTYPES or data[3] == 0:
        raise ValueError(f"{path} is not an IDX file (bad magic number {data[:4].hex()}).")
    ndim = data[3]
    header = 4 + 4 * ndim
    if len(data) < header:
        raise ValueError(f"{path} is truncated: its IDX header announces {ndim} dimensions.")
    dims = struct.unpack(f">{ndim}I", data[4:header])
    dtype = np.dtype(_IDX_DTYPES[data[2]])
    expected = math.prod(dims) * dtype.itemsize
    if len(data) - header != expected:
        raise ValueError(f"{path} holds {len(data) - header} data bytes but its header {dims} announces {expected}.")
    return np.frombuffer(data, dtype=dtype, offset=header).reshape(dims)


def _idx_names(train: bool) -> tuple[list[str], list[str]]:
    prefix = "train" if train else "t10k"
    names = []
    for kind, dims in (("images", 3), ("labels", 1)):
        stems = [f"{prefix}-{kind}-idx{dims}-ubyte", f"{prefix}-{kind}.idx{dims}-ubyte"]
        names.append([name for stem in stems for name in (stem, stem + ".gz")])
    return names[0], names[1]


def _first_existing(folder: Path, names: Sequence[str]) -> Path | None:
    return next((folder / name for name in names if (folder / name).is_file()), None)


def _idx_pair(folder: Path, train: bool) -> tuple[Path, Path] | None:
    image_names, label_names = _idx_names(train)
    images, labels = _first_existing(folder, image_names), _first_existing(folder, label_names)
    return (images, labels) if images and labels else None


def _find_idx(root: Path, train: bool, dataset: str | None) -> tuple[Path, Path]:
    """Locate the IDX image and label files under ``root`` (see :func:`load_idx`)."""
    looked = [root, root / "raw"]
    for folder in looked:
        if pair := _idx_pair(folder, train):
            return pair
    found = {}
    for family in [dataset] if dataset else list(IDX_FOLDERS):
        for sub in IDX_FOLDERS[family]:
            looked.append(root / sub)
            if pair := _idx_pair(root / sub, train):
                found[family] = pair
                break
    if len(found) > 1:
        raise ValueError(
            f"`root` {root} holds both MNIST and Fashion-MNIST files; pass "
            f"`dataset='mnist'` or `dataset='fashion-mnist'`, or point `root` at one folder."
        )
    if found:
        return next(iter(found.values()))
    image_names, label_names = _idx_names(train)
    raise FileNotFoundError(
        f"No IDX files for the {'train' if train else 'test'} split under `root` {root}. "
        f"Looked in: {', '.join(map(str, looked))}. Expected one of {image_names} and one "
        f"of {label_names} in the same folder."
    )


def load_idx(
    root: str | os.PathLike, train: bool = True, *, dataset: str | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Load MNIST or Fashion-MNIST from IDX files, plain or gzipped.

    Looks in ``root``, ``root/raw``, then torchvision's and common sub-folders
    (``MNIST/raw``, ``FashionMNIST/raw``, ``MNIST``, ``FashionMNIST``, ``mnist``,
    ``fashion-mnist``, ``fashion_mnist``); the Debian package's folder
    ``/usr/share/datasets/fashion-mnist`` works as ``root``. A plain file is preferred
    over its ``.gz`` twin.

    Files found in torchvision's layout are read by torchvision's ``MNIST`` or
    ``FashionMNIST``. Those classes read only decompressed files named
    ``train-images-idx3-ubyte`` (and so on) under ``<parent>/MNIST/raw`` or
    ``<parent>/FashionMNIST/raw``, and only when the four files of both splits are all
    there: un-gzipping is part of their download step. So the files are read here when
    they are gzipped (the Debian package's flat folder of ``.gz`` files), in any other
    folder, spelled ``train-images.idx3-ubyte``, or when one split is missing; this
    parser also checks that the two files hold as many images as labels. (Where
    torchvision's legacy ``<parent>/MNIST/processed/training.pt`` and ``test.pt`` exist
    too, torchvision reads those instead: the same data in its older copy.)

    Args:
        root: Folder holding the files, or a parent of such a folder.
        train: Load ``train-*`` files (60000 items) or ``t10k-*`` files (10000).
        dataset: ``"mnist"`` or ``"fashion-mnist"`` restricts the sub-folder search;
            needed only when ``root`` holds both.

    Returns:
        ``images`` uint8 of shape ``(N, 1, H, W)`` and ``labels`` int64 of shape ``(N,)``.

    Raises:
        FileNotFoundError: If no folder holds both files; lists where it looked.
        ValueError: If a file is not a valid IDX image/label file or counts differ.
    """
    train = check_bool("train", train)
    if dataset is not None:
        dataset = check_option("dataset", dataset, tuple(IDX_FOLDERS))
    image_path, label_path = _find_idx(Path(root), train, dataset)
    folder = image_path.parent
    if folder.name == "raw" and folder.parent.name in _TORCHVISION_IDX_CLASSES:
        read = torchvision_dataset(folder.parent.name, folder.parent.parent, train=train)
        if read is not None and len(read.data) == len(read.targets):
            return read.data.unsqueeze(1), read.targets
    return _read_idx_files(image_path, label_path)


def _read_idx_files(image_path: Path, label_path: Path) -> tuple[torch.Tensor, torch.Tensor]:
    """Parse an IDX image file and its label file (see :func:`load_idx`)."""
    images, labels = _read_idx(image_path), _read_idx(label_path)
    if images.dtype != np.uint8 or images.ndim != 3:
        raise ValueError(
            f"{image_path} is not an IDX image file: expected magic number 2051 (unsigned "
            f"bytes, 3 dimensions), got {images.dtype} data with {images.ndim} dimensions."
        )
    if labels.dtype != np.uint8 or labels.ndim != 1:
        raise ValueError(
            f"{label_path} is not an IDX label file: expected magic number 2049 (unsigned "
            f"bytes, 1 dimension), got {labels.dtype} data with {labels.ndim} dimensions."
        )
    if len(images) != len(labels):
        raise ValueError(f"{image_path} holds {len(images)} images but {label_path} {len(labels)} labels.")
    return torch.from_numpy(images.copy()).unsqueeze(1), torch.from_numpy(labels.astype(np.int64))


class _ArrayUnpickler(pickle.Unpickler):
    """Unpickler that only rebuilds numpy arrays, so a data file cannot run code."""

    _ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("_codecs", "encode"),
    }

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in self._ALLOWED:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name} from a data file")
        return super().find_class(module, name)


def _read_cifar_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Read one CIFAR-10 python batch: data ``(n, 3072)`` uint8 and labels ``(n,)``."""
    with path.open("rb") as handle:
        batch = _ArrayUnpickler(handle, encoding="latin1").load()
    data = batch.get("data", batch.get(b"data")) if isinstance(batch, dict) else None
    labels = batch.get("labels", batch.get(b"labels")) if isinstance(batch, dict) else None
    if data is None or labels is None:
        raise ValueError(f"{path} is not a CIFAR-10 batch: no 'data' and 'labels' entries.")
    data, labels = np.asarray(data), np.asarray(labels, dtype=np.int64)
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3 * 32 * 32:
        raise ValueError(f"{path}: expected uint8 data of shape (n, 3072), got {data.dtype} {data.shape}.")
    if labels.shape != (len(data),):
        raise ValueError(f"{path} holds {len(data)} images but {labels.size} labels.")
    return data, labels


def load_cifar10(root: str | os.PathLike, train: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """Load CIFAR-10 from the python pickle batches.

    Batches in a ``cifar-10-batches-py`` folder are read by torchvision's ``CIFAR10``
    when its check passes: all six batches and ``batches.meta`` match the official
    files' MD5 checksums, whichever split is asked for. It unpickles them with plain
    :mod:`pickle`, which is safe only because the checksums passed. Other files (a
    copy without ``batches.meta``, rewritten or partial batches, another folder name)
    are read here, with an unpickler that rebuilds nothing but numpy arrays, so a
    data file cannot run code.

    Args:
        root: The ``cifar-10-batches-py`` folder or its parent.
        train: Load ``data_batch_1`` .. ``data_batch_5`` (50000 items) or
            ``test_batch`` (10000).

    Returns:
        ``images`` uint8 of shape ``(N, 3, 32, 32)`` and ``labels`` int64 of shape ``(N,)``.

    Raises:
        FileNotFoundError: If a batch file is missing; lists where it looked.
        ValueError: If a batch is malformed.
    """
    train = check_bool("train", train)
    names = [f"data_batch_{i}" for i in range(1, 6)] if train else ["test_batch"]
    looked = [Path(root), Path(root) / _CIFAR_FOLDER]
    folder = next((f for f in looked if all((f / n).is_file() for n in names)), None)
    if folder is None:
        raise FileNotFoundError(
            f"No CIFAR-10 {'train' if train else 'test'} batches under `root` {root}. "
            f"Looked in: {', '.join(map(str, looked))}. Expected files: {names}."
        )
    if folder.name == _CIFAR_FOLDER:
        read = torchvision_dataset("CIFAR10", folder.parent, train=train)
        if read is not None:
            images = torch.from_numpy(read.data).permute(0, 3, 1, 2).contiguous()  # its HWC → CHW
            return images, torch.tensor(read.targets, dtype=torch.int64)
    batches = [_read_cifar_batch(folder / name) for name in names]
    data = np.concatenate([data for data, _ in batches]).reshape(-1, 3, 32, 32)
    labels = np.concatenate([labels for _, labels in batches])
    return torch.from_numpy(data), torch.from_numpy(labels)


def load_svhn(root: str | os.PathLike, split: str = "train") -> tuple[torch.Tensor, torch.Tensor]:
    """Load SVHN (cropped digits) from ``{split}_32x32.mat``; needs scipy.

    Label 10 (digit 0 in the files) becomes 0, as in torchvision. The file is read by
    torchvision's ``SVHN`` when it matches the official file's MD5 checksum; any other
    file with the same variables (a subset, a rewritten copy) is read here.

    Args:
        root: Folder holding the ``.mat`` file, or its parent (``svhn``/``SVHN`` sub-folder).
        split: ``"train"``, ``"test"`` or ``"extra"``.

    Returns:
        ``images`` uint8 of shape ``(N, 3, 32, 32)`` and ``labels`` int64 of shape
        ``(N,)`` with values 0..9.

    Raises:
        FileNotFoundError: If the file is missing; lists where it looked.
        ValueError: If the file lacks ``X``/``y`` or they are malformed.
        ImportError: If scipy is not installed.
    """
    split = check_option("split", split, _SVHN_SPLITS)
    scipy_io = import_extra("scipy.io", needed_by="load_svhn")
    name = f"{split}_32x32.mat"
    looked = [Path(root), Path(root) / "svhn", Path(root) / "SVHN"]
    path = next((folder / name for folder in looked if (folder / name).is_file()), None)
    if path is None:
        raise FileNotFoundError(f"No SVHN file {name!r} under `root` {root}. Looked in: {', '.join(map(str, looked))}.")
    read = torchvision_dataset("SVHN", path.parent, split=split)
    if read is not None:
        return torch.from_numpy(np.ascontiguousarray(read.data)), torch.from_numpy(read.labels.reshape(-1))
    content = scipy_io.loadmat(str(path), variable_names=["X", "y"])
    if "X" not in content or "y" not in content:
        raise ValueError(f"{path} is not an SVHN file: it lacks the 'X' or 'y' variable.")
    images, labels = content["X"], content["y"].reshape(-1)
    if images.dtype != np.uint8 or images.ndim != 4 or images.shape[3] != labels.size:
        raise ValueError(
            f"{path}: expected uint8 X of shape (H, W, C, N) and N labels, got {images.dtype} "
            f"{images.shape} and {labels.size} labels."
        )
    if labels.size and (labels.min() < 1 or labels.max() > 10):
        raise ValueError(f"{path}: labels must lie in 1..10, got {labels.min()}..{labels.max()}.")
    images = np.ascontiguousarray(images.transpose(3, 2, 0, 1))
    return torch.from_numpy(images), torch.from_numpy(labels.astype(np.int64) % 10)
