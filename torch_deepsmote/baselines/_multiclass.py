"""The multi-class "sampling" scheme shared by MC-CCR and MC-RBO, on flattened pixels.

Both methods are binary oversamplers (one minority set against one "majority" set)
lifted to many classes the same way (Koziarski, Woźniak, Krawczyk, 2020, the
"sampling" variant):

1. Sort the classes by size, largest first; ``n_max`` is the largest size.
2. For the i-th class ``c_i`` (i = 2..C), draw ``n_max // (i - 1)`` points from the
   *current* version of each larger class ``c_1..c_{i-1}`` (already oversampled, and
   already translated by earlier cleaning) and call them the majority set. Run the
   binary method ``c_i`` vs that set to make ``n_max - |c_i|`` points. Write the
   cleaned versions of the drawn points back into their classes (MC-CCR only), and
   append the new points to ``c_i``, where later classes may draw them.
3. Return every class.

:func:`resample_multiclass` does all of it for an image batch: flatten to ``[0, 1]``
pixels, run the scheme with a method's binary ``step``, and assemble the result in the
package's baseline layout (original items first, in their order; then the synthetic
items grouped by class in ascending class order).

Choices where the description leaves room (with the reason):

* Ties in class size are broken by ascending label, so the order is deterministic.
* A class already as large as the largest one is skipped entirely (nothing to make,
  so its binary run, and the cleaning it would do, is skipped too).
* Draws come only from the points still present (MC-CCR's ``cleaning='remove'`` can
  delete some); without replacement a class gives ``min(n_max // (i - 1), present)``.
* Points written back and points appended are clipped to ``[0, 1]``, the valid pixel
  range, before a later class sees them. For a seed inside ``[0, 1]^d`` clipping
  never moves a point further from it in L1 (each coordinate moves toward the seed's).
* Work runs on the CPU in ``float32`` (``float64`` when the input is ``float64``).
  Original items that no cleaning touched are copied from the input, so they come back
  bit-identical whatever the working precision.
"""

from __future__ import annotations

import logging
from typing import Any, Callable, Iterator, NamedTuple

import torch
from torch import Tensor
from tqdm.auto import tqdm

from torch_deepsmote._utils.validation import check_images, check_labels

__all__ = [
    "StepResult",
    "Resampled",
    "class_order",
    "l1_blocks",
    "sampling_scheme",
    "resample_multiclass",
]

logger = logging.getLogger(__name__)

BLOCK_ELEMENTS = 4 * 2**20
"""Pairwise distances held at once by :func:`l1_blocks` (16 MiB in float32)."""


class StepResult(NamedTuple):
    """What one binary run returns to the multi-class scheme.

    Attributes:
        synthetic: New minority points, shape ``(n_new, d)``.
        majority: The majority set after cleaning, shape ``(M, d)`` in the order it was
            given, or ``None`` when the method does not move majority points.
        kept: ``(M,)`` bool, ``False`` for majority points to delete, or ``None``.
    """

    synthetic: Tensor
    majority: Tensor | None = None
    kept: Tensor | None = None


StepFn = Callable[[Tensor, Tensor, int, torch.Generator], StepResult]
"""``step(minority (m, d), majority (M, d), n_new, generator) -> StepResult``."""


class Resampled(NamedTuple):
    """A resampled image set and what happened to it.

    Attributes:
        X: ``(N_kept + n_new, C, H, W)``, the input's dtype and value range.
        y: ``(N_kept + n_new,)`` int64.
        n_synthetic: Class -> number of synthetic items in ``X`` (0 for none).
        sample_indices: Indices of the original items kept, ascending, ``(N_kept,)``.
        modified: ``(N,)`` bool, original items whose output pixels differ from the input
            (moved by cleaning, after conversion back to the input's dtype).
    """

    X: Tensor
    y: Tensor
    n_synthetic: dict[int, int]
    sample_indices: Tensor
    modified: Tensor


def class_order(labels: Tensor) -> list[int]:
    """Class labels sorted by size, largest first; ties by ascending label."""
    classes, counts = torch.unique(labels, return_counts=True)
    pairs = sorted(zip(classes.tolist(), counts.tolist()), key=lambda pair: (-pair[1], pair[0]))
    return [int(cls) for cls, _ in pairs]


def _draw(available: Tensor, n_draw: int, replace: bool, generator: torch.Generator) -> Tensor:
    """Pick ``n_draw`` of the row indices ``available`` (fewer without replacement if short)."""
    if len(available) == 0:
        return available
    if replace:
        return available[torch.randint(len(available), (n_draw,), generator=generator)]
    return available[torch.randperm(len(available), generator=generator)[:n_draw]]


def _write_back(
    members: dict[int, Tensor],
    present: dict[int, Tensor],
    sources: list[tuple[int, Tensor]],
    result: StepResult,
) -> None:
    """Put cleaned majority points back into their classes (in place)."""
    start = 0
    for cls, picks in sources:
        stop = start + len(picks)
        if result.majority is not None:
            members[cls][picks] = result.majority[start:stop].clamp(0.0, 1.0)
        if result.kept is not None:
            present[cls][picks[~result.kept[start:stop]]] = False
        start = stop


def sampling_scheme(
    points: Tensor,
    labels: Tensor,
    step: StepFn,
    *,
    replace: bool,
    generator: torch.Generator,
    progress: bool = False,
) -> tuple[dict[int, Tensor], dict[int, Tensor]]:
    """Run the multi-class "sampling" scheme around a binary oversampler ``step``.

    Args:
        points: ``(N, d)`` float points in ``[0, 1]``.
        labels: ``(N,)`` int64 labels.
        step: The binary method (see :data:`StepFn`).
        replace: Draw the majority points with replacement (MC-RBO's reference) or
            without (MC-CCR's newest reference).
        generator: Source of all randomness.
        progress: Show a tqdm bar over the classes.

    Returns:
        ``(members, present)``: per class, its points ``(n_c + n_new_c, d)`` (its
        originals first, in their order, possibly cleaned; then its new points) and an
        ``(n_c + n_new_c,)`` bool mask of the points not deleted.
    """
    order = class_order(labels)
    members = {cls: points[labels == cls].clone() for cls in order}
    present = {cls: torch.ones(len(members[cls]), dtype=torch.bool) for cls in order}
    n_max = len(members[order[0]])
    bar = tqdm(order[1:], desc="classes", unit="class", disable=not progress, leave=False)
    for position, cls in enumerate(bar, start=1):
        n_new = n_max - len(members[cls])
        if n_new <= 0:
            continue
        n_draw = n_max // position
        sources = [
            (larger, _draw(torch.nonzero(present[larger]).flatten(), n_draw, replace, generator))
            for larger in order[:position]
        ]
        majority = torch.cat([members[larger][picks] for larger, picks in sources])
        result = step(members[cls], majority, n_new, generator)
        _write_back(members, present, sources, result)
        members[cls] = torch.cat([members[cls], result.synthetic.clamp(0.0, 1.0)])
        present[cls] = torch.cat([present[cls], torch.ones(n_new, dtype=torch.bool)])
        logger.info("class %d: %d new points against %d majority points", cls, n_new, len(majority))
    return members, present


def l1_blocks(queries: Tensor, points: Tensor) -> Iterator[tuple[slice, Tensor]]:
    """L1 distances from blocks of query rows to all points, a bounded block at a time.

    Args:
        queries: ``(q, d)`` float.
        points: ``(P, d)`` float.

    Yields:
        ``(rows, distances)``: a slice of ``queries`` and its ``(len(rows), P)`` distances,
        at most :data:`BLOCK_ELEMENTS` of them.
    """
    size = max(1, BLOCK_ELEMENTS // max(1, len(points)))
    for start in range(0, len(queries), size):
        rows = slice(start, start + size)
        yield rows, torch.cdist(queries[rows], points, p=1)


def to_flat(images: Tensor) -> Tensor:
    """``(N, C, H, W)`` uint8 or float images -> ``(N, C*H*W)`` float in ``[0, 1]`` on the CPU."""
    flat = images.detach().cpu().reshape(len(images), -1)
    if images.dtype == torch.uint8:
        return flat.float().div_(255.0)
    return flat.to(torch.float64 if images.dtype == torch.float64 else torch.float32)


def from_flat(flat: Tensor, like: Tensor) -> Tensor:
    """``(n, d)`` float in ``[0, 1]`` -> ``(n, *like.shape[1:])`` in ``like``'s dtype (clipped)."""
    images = flat.reshape(len(flat), *like.shape[1:]).clamp(0.0, 1.0)
    if like.dtype == torch.uint8:
        return images.mul(255.0).round_().to(torch.uint8)
    return images.to(like.dtype)


def _assemble(
    images: Tensor,
    labels: Tensor,
    members: dict[int, Tensor],
    present: dict[int, Tensor],
) -> Resampled:
    """Lay out the scheme's result: kept originals in input order, then new items by class."""
    originals = images.clone()
    keep = torch.ones(len(labels), dtype=torch.bool)
    modified = torch.zeros(len(labels), dtype=torch.bool)
    new_x, new_y, n_synthetic = [], [], {}
    for cls in sorted(members):
        positions = torch.nonzero(labels == cls).flatten()
        n_own = len(positions)
        cleaned = from_flat(members[cls][:n_own], images)
        changed = (cleaned != images[positions]).flatten(1).any(dim=1)
        modified[positions] = changed
        keep[positions] = present[cls][:n_own]
        originals[positions[changed]] = cleaned[changed]
        new = members[cls][n_own:][present[cls][n_own:]]
        n_synthetic[cls] = len(new)
        new_x.append(from_flat(new, images))
        new_y.append(torch.full((len(new),), cls, dtype=torch.int64))
    sample_indices = torch.nonzero(keep).flatten()
    return Resampled(
        X=torch.cat([originals[sample_indices], *new_x]),
        y=torch.cat([labels[sample_indices], *new_y]),
        n_synthetic=n_synthetic,
        sample_indices=sample_indices,
        modified=modified,
    )


def resample_multiclass(
    X: Any,
    y: Any,
    step: StepFn,
    *,
    replace: bool,
    generator: torch.Generator,
    progress: bool = False,
) -> Resampled:
    """Validate images and labels, run :func:`sampling_scheme`, and lay out the result.

    Args:
        X: ``(N, C, H, W)`` uint8 in ``[0, 255]`` or float in ``[0, 1]`` (tensor or array).
        y: ``(N,)`` integer labels.
        step: The binary method (see :data:`StepFn`).
        replace: Draw majority points with replacement.
        generator: Source of all randomness.
        progress: Show a tqdm bar over the classes.

    Returns:
        A :class:`Resampled` (on the CPU).
    """
    images = check_images(X).detach().cpu()
    labels = check_labels(y, len(images)).cpu()
    members, present = sampling_scheme(
        to_flat(images), labels, step, replace=replace, generator=generator, progress=progress
    )
    return _assemble(images, labels, members, present)
