"""The paper's imbalance profiles, seeded imbalanced subsets, and on-disk loaders.

Loaders never download. They hand the standard distribution files to torchvision's
own data-set classes where those can read them, and read the rest themselves (see
:mod:`.formats` and :mod:`.celeba` for which files and why). All return
``(images, labels)``: ``images`` a uint8 tensor of shape ``(N, C, H, W)`` and
``labels`` an int64 tensor of shape ``(N,)``.

Profiles (per-class counts, index = class):

* ``"mnist"`` / ``"fashion-mnist"``: train and test counts as stated in the paper
  (the test profile is the train profile divided by 4, rounded down).
* ``"cifar10"`` / ``"svhn"``, ``"celeba"``: train counts only (CelebA: hair colours
  :data:`CELEBA_HAIR_COLOURS`, read by :func:`load_celeba`). The journal says the
  imbalanced test sets keep "the same ratios" but does not state their size for these
  sets (the MNIST factor 1/4 would ask for 1125 images of a CIFAR-10 test class that
  has 1000), so no test profile is given; :func:`scale_profile` derives one from a
  factor of your choice.
"""

from __future__ import annotations

import math
import numbers
import os
from fractions import Fraction
from pathlib import Path
from types import MappingProxyType
from typing import Any, Mapping, Sequence

import numpy as np
import torch

from torch_deepsmote._utils.validation import check_bool, check_float, check_generator, check_int, check_option
from torch_deepsmote.evaluation._extras import import_extra
from torch_deepsmote.evaluation.celeba import CELEBA_HAIR_ATTRIBUTES, load_celeba
from torch_deepsmote.evaluation.formats import IDX_FOLDERS, load_cifar10, load_idx, load_svhn

__all__ = [
    "MNIST_TRAIN_PROFILE",
    "MNIST_TEST_PROFILE",
    "CIFAR10_TRAIN_PROFILE",
    "CELEBA_TRAIN_PROFILE",
    "CELEBA_HAIR_COLOURS",
    "CELEBA_HAIR_ATTRIBUTES",
    "PROFILES",
    "DATASET_NAMES",
    "DEBIAN_FASHION_MNIST",
    "scale_profile",
    "make_imbalanced",
    "load_digits_images",
    "load_idx",
    "load_cifar10",
    "load_svhn",
    "load_celeba",
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
        "fashion-mnist": MappingProxyType({"train": MNIST_TRAIN_PROFILE, "test": MNIST_TEST_PROFILE}),
        "cifar10": MappingProxyType({"train": CIFAR10_TRAIN_PROFILE}),
        "svhn": MappingProxyType({"train": CIFAR10_TRAIN_PROFILE}),
        "celeba": MappingProxyType({"train": CELEBA_TRAIN_PROFILE}),
    }
)

DATASET_NAMES = ("digits", "mnist", "fashion-mnist", "cifar10", "svhn", "celeba")
DEBIAN_FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")


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
    return tuple(math.floor(check_int(f"counts[{i}]", count, minimum=0) * exact) for i, count in enumerate(counts))


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
            f"`counts` must be a sequence indexed by class or a dict class -> count, got {type(counts).__name__}."
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
            raise ValueError(f"`counts` asks for {wanted} items of class {cls}, but `targets` has only {len(members)}.")
        order = torch.randperm(len(members), generator=generator)
        picks.append(members[order[:wanted]])
    return torch.sort(torch.cat(picks)).values


# --------------------------------------------------------------------------- loaders


def load_digits_images() -> tuple[torch.Tensor, torch.Tensor]:
    """Load scikit-learn's bundled 8×8 digits (no download); needs scikit-learn.

    Pixel values 0..16 are mapped to 0..255 as ``round(v * 255 / 16)``, halves up.

    Returns:
        ``images`` uint8 of shape ``(1797, 1, 8, 8)`` and ``labels`` int64 of shape
        ``(1797,)`` with values 0..9.

    Raises:
        ImportError: If scikit-learn is not installed.
    """
    bunch = import_extra("sklearn.datasets", needed_by="load_digits_images").load_digits()
    values = bunch.images.astype(np.int64)
    scaled = ((values * 255 + 8) // 16).astype(np.uint8)
    images = torch.from_numpy(scaled).unsqueeze(1)
    return images, torch.from_numpy(bunch.target.astype(np.int64))


def load_dataset(
    name: str,
    root: str | os.PathLike | None = None,
    train: bool = True,
    *,
    cache_dir: str | os.PathLike | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Load one of :data:`DATASET_NAMES` as ``(images, labels)``.

    Args:
        name: ``"digits"``, ``"mnist"``, ``"fashion-mnist"``, ``"cifar10"``, ``"svhn"``
            or ``"celeba"`` (5 hair colours, 32×32, see :func:`load_celeba`).
        root: Where the files are (see each loader). Ignored for ``"digits"``; for
            ``"fashion-mnist"``, ``None`` means the Debian package's folder
            ``/usr/share/datasets/fashion-mnist``; required otherwise.
        train: Train or test split. ``"digits"`` has no split: only ``True`` is accepted.
            For ``"celeba"``: partition 0 (``"train"``) or 2 (``"test"``); the
            validation partition is not used.
        cache_dir: ``"celeba"`` only: folder where the decoded images are kept for the
            next call; ``None`` caches nothing. Must be ``None`` for the other names.

    Returns:
        ``images`` uint8 of shape ``(N, C, H, W)`` and ``labels`` int64 of shape ``(N,)``.

    Raises:
        ValueError: If an argument is invalid, ``root`` is missing, or a file is
            malformed (see each loader).
        FileNotFoundError: If the files are not under ``root`` (see each loader).
        ImportError: For ``"digits"`` without scikit-learn, ``"svhn"`` without scipy.
    """
    name = check_option("name", name, DATASET_NAMES)
    train = check_bool("train", train)
    if cache_dir is not None and name != "celeba":
        raise ValueError(f"`cache_dir` is for 'celeba' only, got it with {name!r}.")
    if name == "digits":
        if not train:
            raise ValueError("`train` must be True for 'digits': it has no separate test split.")
        return load_digits_images()
    if root is None and name == "fashion-mnist":
        root = DEBIAN_FASHION_MNIST
    if root is None:
        raise ValueError(f"`root` is required for {name!r}: nothing is downloaded.")
    if name in IDX_FOLDERS:
        return load_idx(root, train, dataset=name)
    if name == "cifar10":
        return load_cifar10(root, train)
    if name == "celeba":
        return load_celeba(root, "train" if train else "test", cache_dir=cache_dir)
    return load_svhn(root, "train" if train else "test")
