"""The pool of within-class variations that synthetic images borrow.

A rare class has seen few of the ways its images can differ. The common classes have
seen many, and in the autoencoder's latent space a step between two neighbouring
images of one class (``z_j − z_i``) is such a way: a slightly wider sleeve, a darker
fabric, a shifted outline. ``DeepSMOTE(variation_transfer=s)`` adds such a step,
weighted by ``u · s`` with ``u ~ U[0, 1)``, to each synthetic latent (feature transfer
from head to tail classes, as in Yin et al., CVPR 2019). A class borrows from itself
and the classes whose mean latent is nearest its own (``variation_classes``): shoes
vary like shoes, tops like tops.
"""

from __future__ import annotations

import torch

from torch_deepsmote._utils.validation import check_int

__all__ = ["VARIATION_POOL_SIZE", "borrowable_rows", "nearest_classes", "variation_pool"]

VARIATION_POOL_SIZE = 8192


def variation_pool(
    latents: dict[int, torch.Tensor], neighbors: dict[int, torch.Tensor], size: int = VARIATION_POOL_SIZE
) -> tuple[torch.Tensor, torch.Tensor]:
    """Differences ``z_j − z_i`` between latents and their same-class neighbours.

    Args:
        latents: class → (n_c, d) latents.
        neighbors: class → (n_c, k_c) int64 table of each row's nearest other rows of
            the same class, for every class to borrow from; a row that names itself
            (a class of one image) adds nothing.
        size: most rows to keep; with more pairs, an evenly spaced subset of the pairs
            listed class by class, image by image (so every class keeps its share).

    Returns:
        ``(pool, sources)``: (V, d) float32 differences and (V,) int64 class of each,
        V = min(size, n_pairs), on the latents' device.
    """
    size = check_int("size", size, minimum=1)
    points = torch.cat([latents[label] for label in neighbors]).float()
    firsts, seconds, sources, offset = [], [], [], 0
    for label, table in neighbors.items():
        rows = torch.arange(table.shape[0], device=table.device).unsqueeze(1).expand_as(table)
        distinct = rows != table
        firsts.append(rows[distinct] + offset)
        seconds.append(table[distinct] + offset)
        sources.append(torch.full((int(distinct.sum()),), label, dtype=torch.long, device=table.device))
        offset += latents[label].shape[0]
    first, second, source = (torch.cat(parts).to(points.device) for parts in (firsts, seconds, sources))
    if len(first) > size:
        kept = torch.arange(size, device=points.device) * len(first) // size
        first, second, source = first[kept], second[kept], source[kept]
    return points[second] - points[first], source


def nearest_classes(classes: torch.Tensor, means: torch.Tensor, label: int, n_classes: int | None) -> torch.Tensor:
    """``label`` and the ``n_classes − 1`` classes whose mean latent is nearest its own.

    Args:
        classes: (C,) class labels; means: (C, d) their mean latents.
        label: one of ``classes``.
        n_classes: how many to return (all ``C`` when ``None`` or larger).

    Returns:
        (min(n_classes, C),) int64 labels, ``label`` first, then by distance.
    """
    classes, means = classes.cpu(), means.float().cpu()
    position = int(torch.nonzero(classes == label).flatten()[0])
    distances = (means - means[position]).pow(2).sum(1)
    distances[position] = -1.0  # first, whatever ties
    return classes[distances.argsort(stable=True)][: len(classes) if n_classes is None else n_classes]


def borrowable_rows(sources: torch.Tensor, lenders: torch.Tensor) -> torch.Tensor:
    """(R,) int64 rows of a pool whose (V,) ``sources`` are among the ``lenders`` classes."""
    return torch.nonzero(torch.isin(sources.cpu(), lenders.cpu())).flatten()
