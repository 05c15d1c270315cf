"""The pool of within-class variations that synthetic images borrow.

A rare class has seen few of the ways its images can differ. The common classes have
seen many, and in the autoencoder's latent space a step between two neighbouring
images of one class (``z_j − z_i``) is such a way: a slightly wider sleeve, a darker
fabric, a shifted outline. ``DeepSMOTE(variation_transfer=s)`` adds such a step, drawn
from every class and weighted by ``u · s`` with ``u ~ U[0, 1)``, to each synthetic
latent (feature transfer from head to tail classes, as in Yin et al., CVPR 2019).
"""

from __future__ import annotations

import torch

from ._validation import check_int

__all__ = ["VARIATION_POOL_SIZE", "variation_pool"]

VARIATION_POOL_SIZE = 8192


def variation_pool(
    latents: dict[int, torch.Tensor], neighbors: dict[int, torch.Tensor], size: int = VARIATION_POOL_SIZE
) -> torch.Tensor:
    """Differences ``z_j − z_i`` between latents and their same-class neighbours.

    Args:
        latents: class → (n_c, d) latents.
        neighbors: class → (n_c, k_c) int64 table of each row's nearest other rows of
            the same class, for every class to borrow from; a row that names itself
            (a class of one image) adds nothing.
        size: most rows to keep; with more pairs, an evenly spaced subset of the pairs
            listed class by class, image by image (so every class keeps its share).

    Returns:
        (min(size, n_pairs), d) float32 pool on the latents' device.
    """
    size = check_int("size", size, minimum=1)
    points = torch.cat([latents[label] for label in neighbors]).float()
    firsts, seconds, offset = [], [], 0
    for label, table in neighbors.items():
        rows = torch.arange(table.shape[0], device=table.device).unsqueeze(1).expand_as(table)
        distinct = rows != table
        firsts.append(rows[distinct] + offset)
        seconds.append(table[distinct] + offset)
        offset += latents[label].shape[0]
    first, second = torch.cat(firsts).to(points.device), torch.cat(seconds).to(points.device)
    if len(first) > size:
        kept = torch.arange(size, device=points.device) * len(first) // size
        first, second = first[kept], second[kept]
    return points[second] - points[first]
