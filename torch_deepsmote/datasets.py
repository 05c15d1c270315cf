"""The paper's imbalance profiles, seeded imbalanced subsets, and on-disk loaders.

Loaders read the standard distribution formats directly (no torchvision dataset
objects, never a download) and all return ``(images, labels)``: ``images`` a uint8
tensor of shape ``(N, C, H, W)`` and ``labels`` an int64 tensor of shape ``(N,)``.

Profiles (per-class counts, index = class):

* ``"mnist"`` / ``"fashion-mnist"``: train and test counts as stated in the paper
  (the test profile is the train profile divided by 4, rounded down).
* ``"cifar10"`` / ``"svhn"``, ``"celeba"``: train counts only. The journal says the
  imbalanced test sets keep "the same ratios" but does not state their size for these
  sets (the MNIST factor 1/4 would ask for 1125 images of a CIFAR-10 test class that
  has 1000), so no test profile is given; :func:`scale_profile` derives one from a
  factor of your choice.
"""

from __future__ import annotations

import gzip
import math
import numbers
import os
import pickle
import struct
from fractions import Fraction
from pathlib import Path
from types import MappingProxyType
from typing import Any, Mapping, Sequence

import numpy as np
import torch

from ._validation import check_float, check_generator, check_int, check_option

__all__ = [
    "MNIST_TRAIN_PROFILE",
    "MNIST_TEST_PROFILE",
    "CIFAR10_TRAIN_PROFILE",
    "CELEBA_TRAIN_PROFILE",
    "CELEBA_HAIR_COLOURS",
    "PROFILES",
    "DATASET_NAMES",
    "DEBIAN_FASHION_MNIST",
    "scale_profile",
    "make_imbalanced",
    "load_digits_images",
    "load_idx",
    "load_cifar10",
    "load_svhn",
    "load_dataset",
]

MNIST_TRAIN_PROFILE = (4000, 2000, 1000, 750, 500, 350, 200, 100, 60, 40)
MNIST_TEST_PROFILE = (1000, 500, 250, 187, 125, 87, 50, 25, 15, 10)
CIFAR10_TRAIN_PROFILE = (4500, 2000, 1000, 800, 600, 500, 400, 250, 150, 80)
CELEBA_TRAIN_PROFILE = (9000, 4500, 1000, 500, 160)
CELEBA_HAIR_COLOURS = ("black", "brown", "blond", "gray", "bald")

PROFILES: Mapping[str, Mapping[str, tuple[int, ...]]] = MappingProxyType(
    {
        "mnist": MappingProxyType({"train": MNIST_TRAIN_PROFILE, "test": MNIST_TEST_PROFILE}),
        "fashion-mnist": MappingProxyType(
            {"train": MNIST_TRAIN_PROFILE, "test": MNIST_TEST_PROFILE}
        ),
        "cifar10": MappingProxyType({"train": CIFAR10_TRAIN_PROFILE}),
        "svhn": MappingProxyType({"train": CIFAR10_TRAIN_PROFILE}),
        "celeba": MappingProxyType({"train": CELEBA_TRAIN_PROFILE}),
    }
)

DATASET_NAMES = ("digits", "mnist", "fashion-mnist", "cifar10", "svhn")
DEBIAN_FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")

_IDX_FOLDERS = {
    "mnist": ("MNIST/raw", "MNIST", "mnist"),
    "fashion-mnist": ("FashionMNIST/raw", "FashionMNIST", "fashion-mnist", "fashion_mnist"),
}
_IDX_DTYPES = {0x08: "u1", 0x09: "i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
_CIFAR_FOLDER = "cifar-10-batches-py"
_SVHN_SPLITS = ("train", "test", "extra")


def _check_bool(name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"`{name}` must be a bool, got {value!r} (type {type(value).__name__}).")
    return value


# --------------------------------------------------------------------------- profiles


def scale_profile(counts: Sequence[int], factor: float) -> tuple[int, ...]:
    """Scale per-class counts by ``factor``, rounding down (exact decimal arithmetic).

    ``scale_profile(MNIST_TRAIN_PROFILE, 0.25) == MNIST_TEST_PROFILE``. For CIFAR-10 or
    SVHN test sets pick a factor yourself (not stated by the paper), e.g. ``0.2``.

    Args:
        counts: Per-class counts.
        factor: Positive scale factor.

    Returns:
        The scaled counts, one per class.
    """
    factor = check_float("factor", factor, minimum=0.0, inclusive_minimum=False)
    exact = Fraction(repr(factor))
    return tuple(
        math.floor(check_int(f"counts[{i}]", count, minimum=0) * exact)
        for i, count in enumerate(counts)
    )


def _as_targets(targets: Any) -> torch.Tensor:
    """Return ``targets`` (tensor, array or list of int labels) as a 1-D int64 CPU tensor."""
    if isinstance(targets, torch.Tensor):
        tensor = targets.detach().cpu()
    else:
        tensor = torch.as_tensor(np.asarray(targets))
    if tensor.dtype.is_floating_point or tensor.dtype.is_complex or tensor.dtype == torch.bool:
        raise TypeError(f"`targets` must hold integer class labels, got dtype {tensor.dtype}.")
    if tensor.dim() != 1:
        raise ValueError(f"`targets` must be 1-D, got shape {tuple(tensor.shape)}.")
    return tensor.to(torch.int64)


def _as_count_table(counts: Any) -> dict[int, int]:
    """Return ``counts`` (sequence indexed by class, or dict class -> count) as a dict."""
    if isinstance(counts, (torch.Tensor, np.ndarray)):
        counts = counts.tolist()
    if isinstance(counts, Mapping):
        items = list(counts.items())
    elif isinstance(counts, Sequence) and not isinstance(counts, (str, bytes)):
        items = list(enumerate(counts))
    else:
        raise TypeError(
            f"`counts` must be a sequence indexed by class or a dict class -> count, "
            f"got {type(counts).__name__}."
        )
    table = {}
    for cls, count in items:
        if isinstance(cls, bool) or not isinstance(cls, numbers.Integral):
            raise TypeError(f"`counts` keys must be int class labels, got {cls!r}.")
        table[int(cls)] = check_int(f"counts[{cls}]", count, minimum=0)
    return table


def make_imbalanced(
    targets: Any, counts: Sequence[int] | Mapping[int, int], *, random_state: Any = None
) -> torch.Tensor:
    """Pick a seeded random subset with ``counts[c]`` items of each class ``c``.

    Within a class the items are drawn uniformly without replacement. Classes are
    visited in ascending order and every listed class draws one permutation of its
    members, so a class's picks depend only on the seed and the class sizes: asking
    for more of a class keeps its earlier picks and changes no other class's.
    Classes not listed in ``counts`` are left out.

    Args:
        targets: Class labels of the full data set, shape ``(N,)`` (tensor, array, list).
        counts: Items wanted per class: a sequence indexed by class (e.g.
            ``PROFILES["mnist"]["train"]``) or a dict ``{class: count}``.
        random_state: ``None``, an int seed or a ``torch.Generator``.

    Returns:
        Selected indices into ``targets``, an int64 tensor of shape ``(sum(counts),)``
        sorted in ascending order (the data set's own order is kept).

    Raises:
        ValueError: If a class has fewer items than ``counts`` asks for.
    """
    labels = _as_targets(targets)
    table = _as_count_table(counts)
    generator = check_generator(random_state)
    picks = [torch.empty(0, dtype=torch.int64)]
    for cls in sorted(table):
        members = torch.nonzero(labels == cls).flatten()
        wanted = table[cls]
        if len(members) < wanted:
            raise ValueError(
                f"`counts` asks for {wanted} items of class {cls}, but `targets` has only "
                f"{len(members)}."
            )
        order = torch.randperm(len(members), generator=generator)
        picks.append(members[order[:wanted]])
    return torch.sort(torch.cat(picks)).values


# --------------------------------------------------------------------------- loaders


def load_digits_images() -> tuple[torch.Tensor, torch.Tensor]:
    """Load scikit-learn's bundled 8×8 digits (no download).

    Pixel values 0..16 are mapped to 0..255 as ``round(v * 255 / 16)``, halves up.

    Returns:
        ``images`` uint8 of shape ``(1797, 1, 8, 8)`` and ``labels`` int64 of shape
        ``(1797,)`` with values 0..9.
    """
    from sklearn.datasets import load_digits

    bunch = load_digits()
    values = bunch.images.astype(np.int64)
    scaled = ((values * 255 + 8) // 16).astype(np.uint8)
    images = torch.from_numpy(scaled).unsqueeze(1)
    return images, torch.from_numpy(bunch.target.astype(np.int64))


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
        raise ValueError(
            f"{path} holds {len(data) - header} data bytes but its header {dims} announces "
            f"{expected}."
        )
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
    for family in [dataset] if dataset else list(_IDX_FOLDERS):
        for sub in _IDX_FOLDERS[family]:
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
    train = _check_bool("train", train)
    if dataset is not None:
        dataset = check_option("dataset", dataset, tuple(_IDX_FOLDERS))
    image_path, label_path = _find_idx(Path(root), train, dataset)
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
        raise ValueError(
            f"{image_path} holds {len(images)} images but {label_path} {len(labels)} labels."
        )
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
        raise ValueError(
            f"{path}: expected uint8 data of shape (n, 3072), got {data.dtype} {data.shape}."
        )
    if labels.shape != (len(data),):
        raise ValueError(f"{path} holds {len(data)} images but {labels.size} labels.")
    return data, labels


def load_cifar10(
    root: str | os.PathLike, train: bool = True
) -> tuple[torch.Tensor, torch.Tensor]:
    """Load CIFAR-10 from the python pickle batches.

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
    train = _check_bool("train", train)
    names = [f"data_batch_{i}" for i in range(1, 6)] if train else ["test_batch"]
    looked = [Path(root), Path(root) / _CIFAR_FOLDER]
    folder = next((f for f in looked if all((f / n).is_file() for n in names)), None)
    if folder is None:
        raise FileNotFoundError(
            f"No CIFAR-10 {'train' if train else 'test'} batches under `root` {root}. "
            f"Looked in: {', '.join(map(str, looked))}. Expected files: {names}."
        )
    batches = [_read_cifar_batch(folder / name) for name in names]
    data = np.concatenate([data for data, _ in batches]).reshape(-1, 3, 32, 32)
    labels = np.concatenate([labels for _, labels in batches])
    return torch.from_numpy(data), torch.from_numpy(labels)


def load_svhn(root: str | os.PathLike, split: str = "train") -> tuple[torch.Tensor, torch.Tensor]:
    """Load SVHN (cropped digits) from ``{split}_32x32.mat``; needs scipy.

    Label 10 (digit 0 in the files) becomes 0, as in torchvision.

    Args:
        root: Folder holding the ``.mat`` file, or its parent (``svhn``/``SVHN`` sub-folder).
        split: ``"train"``, ``"test"`` or ``"extra"``.

    Returns:
        ``images`` uint8 of shape ``(N, 3, 32, 32)`` and ``labels`` int64 of shape
        ``(N,)`` with values 0..9.

    Raises:
        FileNotFoundError: If the file is missing; lists where it looked.
        ValueError: If the file lacks ``X``/``y`` or they are malformed.
    """
    split = check_option("split", split, _SVHN_SPLITS)
    name = f"{split}_32x32.mat"
    looked = [Path(root), Path(root) / "svhn", Path(root) / "SVHN"]
    path = next((folder / name for folder in looked if (folder / name).is_file()), None)
    if path is None:
        raise FileNotFoundError(
            f"No SVHN file {name!r} under `root` {root}. Looked in: {', '.join(map(str, looked))}."
        )
    from scipy.io import loadmat

    content = loadmat(str(path), variable_names=["X", "y"])
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


def load_dataset(
    name: str, root: str | os.PathLike | None = None, train: bool = True
) -> tuple[torch.Tensor, torch.Tensor]:
    """Load one of :data:`DATASET_NAMES` as ``(images, labels)``.

    Args:
        name: ``"digits"``, ``"mnist"``, ``"fashion-mnist"``, ``"cifar10"`` or ``"svhn"``.
        root: Where the files are (see each loader). Ignored for ``"digits"``; for
            ``"fashion-mnist"``, ``None`` means the Debian package's folder
            ``/usr/share/datasets/fashion-mnist``; required otherwise.
        train: Train or test split. ``"digits"`` has no split: only ``True`` is accepted.

    Returns:
        ``images`` uint8 of shape ``(N, C, H, W)`` and ``labels`` int64 of shape ``(N,)``.
    """
    name = check_option("name", name, DATASET_NAMES)
    train = _check_bool("train", train)
    if name == "digits":
        if not train:
            raise ValueError("`train` must be True for 'digits': it has no separate test split.")
        return load_digits_images()
    if root is None and name == "fashion-mnist":
        root = DEBIAN_FASHION_MNIST
    if root is None:
        raise ValueError(f"`root` is required for {name!r}: nothing is downloaded.")
    if name in _IDX_FOLDERS:
        return load_idx(root, train, dataset=name)
    if name == "cifar10":
        return load_cifar10(root, train)
    return load_svhn(root, "train" if train else "test")
