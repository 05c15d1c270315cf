"""Reading a base dataset once: its labels' coding and its images as one (N, C, H, W) tensor."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset
from tqdm.auto import tqdm

from torch_deepsmote._utils.labels import LabelCoding
from torch_deepsmote.data.items import RawFormat

__all__ = ["base_attribute", "read_format", "read_images", "read_targets"]


def read_targets(dataset: Dataset, targets: Any, progress: bool) -> LabelCoding:
    """The coding of the labels from ``targets=``, ``.targets``, ``.labels``, a ``Subset``'s
    parent, or one pass over the dataset."""
    n_items = len(dataset)
    if n_items == 0:
        raise ValueError(
            f"`dataset` must hold at least one item to oversample, got an empty {type(dataset).__name__} (0 items)."
        )
    if targets is None:
        targets = _stored_targets(dataset)
    if targets is None:
        indices = tqdm(range(n_items), desc="reading labels", leave=False, disable=not progress)
        targets = [dataset[i][1] for i in indices]
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
    """The raw format of the base images, read from item 0, and that item's image."""
    first = dataset[0][0]
    try:
        return RawFormat.of(first), first
    except TypeError as error:
        raise TypeError(
            f"`dataset` items must be raw images; item 0 is not ({error}). If the dataset has "
            "its own `transform`, set it to None and pass it to DeepSMOTEDataset(transform=...)."
        ) from error


def read_images(dataset: Dataset, n_items: int, progress: bool) -> tuple[RawFormat, torch.Tensor]:
    """The raw format and an (N, C, H, W) tensor of every base image."""
    raw_format, first = read_format(dataset)
    images = torch.empty((n_items, *raw_format.shape), dtype=raw_format.dtype)
    for index in tqdm(range(n_items), desc="reading images", leave=False, disable=not progress):
        item = first if index == 0 else dataset[index][0]
        if not raw_format.matches(item):
            found = RawFormat.of(item) if isinstance(item, type(first)) else type(item).__name__
            raise ValueError(
                f"`dataset` items must all share one image format; item 0 is {raw_format}, item {index} is {found}."
            )
        images[index] = raw_format.to_chw(item)
    if images.is_floating_point():
        finite = torch.isfinite(images)
        if not bool(finite.all()):
            first = int(torch.nonzero(~finite.flatten(1).all(1))[0])
            raise ValueError(
                f"`dataset` must yield images with finite pixel values, got "
                f"{int((~finite).sum())} NaN or infinite value(s) (first in item {first})."
            )
        low, high = float(images.min()), float(images.max())
        if low < 0 or high > 1:
            raise ValueError(
                f"`dataset` must yield raw images (uint8, or float in [0, 1]), got float images with "
                f"values in [{low:.4g}, {high:.4g}] (normalised tensors?): give DeepSMOTEDataset the raw "
                "images (base `transform=None`) and pass normalisation as its `transform=`."
            )
    return raw_format, images
