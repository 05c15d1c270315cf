"""Reading a base dataset once: its labels' coding and its images as one (N, C, H, W) tensor."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any, Sequence

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset
from tqdm.auto import tqdm

from torch_deepsmote._utils.labels import LabelCoding
from torch_deepsmote._utils.warn import warn
from torch_deepsmote.data.items import RawFormat

__all__ = [
    "base_attribute",
    "check_dataset",
    "describe_item",
    "read_format",
    "read_images",
    "read_item",
    "raw_chw",
    "check_raw_values",
    "read_targets",
    "split_item",
]

UNREADABLE = (OSError, KeyError, IndexError)
"""What reading one item of a base dataset may raise that is reported as a bad item: an
unreadable, truncated or missing image file (``OSError``, PIL's errors among them), or a
dataset whose ``__getitem__`` fails inside its own ``len``."""


def check_dataset(dataset: Any) -> int:
    """``len(dataset)`` of a map-style dataset; ``TypeError`` naming ``dataset`` otherwise."""
    if isinstance(dataset, (str, bytes)) or not hasattr(dataset, "__getitem__"):
        raise TypeError(
            f"`dataset` must be a map-style dataset (with __len__ and __getitem__ yielding (image, label) pairs), "
            f"got {type(dataset).__name__}."
        )
    try:
        return len(dataset)
    except TypeError as error:
        raise TypeError(
            f"`dataset` must be a map-style dataset with a length, got {type(dataset).__name__} without one "
            f"({error}); an IterableDataset cannot be indexed."
        ) from error


def describe_item(dataset: Dataset, index: int) -> str:
    """``"item 16"``, with the item's file where the base dataset lists one
    (``ImageFolder``'s ``samples``, through ``Subset`` wrappers): ``"item 16 (a/b.png)"``."""
    base, position = dataset, index
    try:
        while isinstance(base, torch.utils.data.Subset):
            base, position = base.dataset, int(base.indices[position])
        samples = getattr(base, "samples", None) or getattr(base, "imgs", None)
        path = samples[position][0] if samples is not None else None
    except (TypeError, IndexError, KeyError, ValueError):
        path = None
    return f"item {index} ({path})" if isinstance(path, (str, os.PathLike)) else f"item {index}"


def read_item(dataset: Dataset, index: int) -> tuple[Any, Any]:
    """``dataset[index]`` as an ``(image, label)`` pair; an item that cannot be read or is
    not such a pair raises an error naming ``dataset``, the item and its file."""
    try:
        item = dataset[index]
    except UNREADABLE as error:
        raise ValueError(
            f"`dataset` {describe_item(dataset, index)} cannot be read ({type(error).__name__}: {error})."
        ) from error
    return split_item(item, dataset, index)


def split_item(item: Any, dataset: Dataset, index: int) -> tuple[Any, Any]:
    """The ``(image, label)`` of one item: a tuple or list of at least two values."""
    if isinstance(item, (tuple, list)) and len(item) >= 2:
        return item[0], item[1]
    if isinstance(item, Mapping):
        found = f"a {type(item).__name__} with the keys {list(item)[:5]}"
    elif isinstance(item, (tuple, list)):
        found = f"a {type(item).__name__} of {len(item)} value(s)"
    elif isinstance(item, (torch.Tensor, np.ndarray, Image.Image)):
        found = f"a bare image ({type(item).__name__}) without a label"
    else:
        found = f"{type(item).__name__}"
    raise TypeError(
        f"`dataset` items must be (image, label) pairs, but {describe_item(dataset, index)} is {found}: "
        "wrap the dataset so that it yields (image, label)."
    )


def read_targets(dataset: Dataset, targets: Any, progress: bool) -> LabelCoding:
    """The coding of the labels from ``targets=``, ``.targets``, ``.labels``, a ``Subset``'s
    parent, or one pass over the dataset."""
    n_items = check_dataset(dataset)
    if n_items == 0:
        raise ValueError(
            f"`dataset` must hold at least one item to oversample, got an empty {type(dataset).__name__} (0 items)."
        )
    if targets is None:
        targets = _stored_targets(dataset)
    if targets is None:
        indices = tqdm(range(n_items), desc="reading labels", leave=False, disable=not progress)
        targets = [read_item(dataset, i)[1] for i in indices]
    coding = LabelCoding.fit(targets, "targets")
    if len(coding.codes) != n_items:
        raise ValueError(
            f"`targets` must hold one label per item of `dataset` ({n_items}), got {len(coding.codes)} labels."
        )
    return coding


def base_attribute(dataset: Dataset, name: str) -> Any:
    """``dataset.<name>``, or its parent's through ``Subset`` wrappers; ``None`` if absent."""
    while getattr(dataset, name, None) is None and isinstance(dataset, torch.utils.data.Subset):
        dataset = dataset.dataset
    return getattr(dataset, name, None)


def _stored_targets(dataset: Dataset) -> Any:
    for name in ("targets", "labels"):
        if getattr(dataset, name, None) is not None:
            return getattr(dataset, name)
    if isinstance(dataset, torch.utils.data.Subset):
        parent = _stored_targets(dataset.dataset)
        if parent is not None:
            parent = parent.tolist() if isinstance(parent, (torch.Tensor, np.ndarray)) else list(parent)
            return [parent[int(i)] for i in dataset.indices]
    return None


def read_format(dataset: Dataset) -> tuple[RawFormat, Any]:
    """The raw format of the base images, read from item 0, and that item's image.

    Items of more than two values (``(image, label, extra)``) are read as ``(image,
    label)``, with one warning: the dataset returns pairs.
    """
    item = _read_raw(dataset, 0)
    first, _ = split_item(item, dataset, 0)
    if len(item) > 2:
        warn(
            f"`dataset` items hold {len(item)} values; DeepSMOTEDataset reads the first two as (image, label) "
            f"and returns (image, label) pairs, for real and synthetic items alike: the other "
            f"{len(item) - 2} value(s) are dropped."
        )
    try:
        return RawFormat.of(first), first
    except (TypeError, ValueError) as error:
        raise type(error)(
            f"`dataset` items must be raw images; {describe_item(dataset, 0)} is not ({error}). If the dataset has "
            "its own `transform`, set it to None and pass it to DeepSMOTEDataset(transform=...)."
        ) from error


def _read_raw(dataset: Dataset, index: int) -> Any:
    try:
        return dataset[index]
    except UNREADABLE as error:
        raise ValueError(
            f"`dataset` {describe_item(dataset, index)} cannot be read ({type(error).__name__}: {error})."
        ) from error


def read_images(
    dataset: Dataset, n_items: int, progress: bool, head: tuple[RawFormat, Any] | None = None
) -> tuple[RawFormat, torch.Tensor]:
    """The raw format and an (N, C, H, W) tensor of every base image; ``head`` is
    :func:`read_format`'s answer when it was asked already."""
    raw_format, first = read_format(dataset) if head is None else head
    images = torch.empty((n_items, *raw_format.shape), dtype=raw_format.dtype)
    for index in tqdm(range(n_items), desc="reading images", leave=False, disable=not progress):
        item = first if index == 0 else read_item(dataset, index)[0]
        images[index] = raw_chw(item, raw_format, dataset, index)
    check_raw_values(images, dataset, range(n_items))
    return raw_format, images


def raw_chw(image: Any, raw_format: RawFormat, dataset: Dataset, index: int) -> torch.Tensor:
    """Item ``index``'s image as a (C, H, W) tensor of ``raw_format`` (that of item 0);
    an image of another format raises an error naming both items."""
    if not raw_format.matches(image):
        try:
            found = RawFormat.of(image)
        except (TypeError, ValueError) as error:
            found = f"a {type(image).__name__}, not an image this package reads ({error})"
        raise ValueError(
            f"`dataset` items must all share one image format; {describe_item(dataset, 0)} is {raw_format}, "
            f"{describe_item(dataset, index)} is {found}."
        )
    return raw_format.to_chw(image)


def check_raw_values(images: torch.Tensor, dataset: Dataset, indices: Sequence[int]) -> None:
    """Refuse float (B, C, H, W) images of the items ``indices`` that are not finite values in [0, 1]."""
    if not images.is_floating_point():
        return
    finite = torch.isfinite(images)
    if not bool(finite.all()):
        first = indices[int(torch.nonzero(~finite.flatten(1).all(1))[0])]
        raise ValueError(
            f"`dataset` must yield images with finite pixel values, got "
            f"{int((~finite).sum())} NaN or infinite value(s) (first in {describe_item(dataset, first)})."
        )
    low, high = float(images.min()), float(images.max())
    if low < 0 or high > 1:
        outside = ((images < 0) | (images > 1)).flatten(1).any(1)
        first = indices[int(torch.nonzero(outside)[0])]
        raise ValueError(
            f"`dataset` must yield raw images (uint8, or float in [0, 1]), got float images with "
            f"values in [{low:.4g}, {high:.4g}] (first in {describe_item(dataset, first)}; normalised tensors?): "
            "give DeepSMOTEDataset the raw images (base `transform=None`) and pass normalisation as its `transform=`."
        )
