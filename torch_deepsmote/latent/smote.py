"""SMOTE in latent space, as pure tensor functions.

A SMOTE draw picks, for each new sample, a base point (uniform), one of its k
nearest neighbours (uniform) and a gap ``u ~ U[0, 1)``; the new point is
``z_base + u · (z_neighbour − z_base)``. A draw may also borrow a within-class
variation ``v`` (the difference of two neighbouring latents of one class, see
:mod:`.variations`) with a weight ``s``, moving the point by ``s · v``. Draws are made
on the CPU from a ``torch.Generator``, so the same generator state gives the same
samples on every device.
"""

from __future__ import annotations

from typing import NamedTuple

import torch

from torch_deepsmote._utils.validation import check_float, check_int

__all__ = ["SmoteDraw", "draw_smote", "interpolate", "smote_interpolate"]


class SmoteDraw(NamedTuple):
    """Which points a batch of SMOTE samples is made from.

    Attributes:
        base: (m,) int64 row of each sample's base point.
        neighbor: (m,) int64 row of the neighbour it moves towards.
        gap: (m,) float32 position on the segment, in [0, 1).
        variation: (m,) int64 row of the borrowed variation (0 when none is borrowed).
        strength: (m,) float32 weight of the borrowed variation (0 when none).
    """

    base: torch.Tensor
    neighbor: torch.Tensor
    gap: torch.Tensor
    variation: torch.Tensor
    strength: torch.Tensor


def draw_smote(
    neighbors: torch.Tensor,
    n_samples: int,
    generator: torch.Generator,
    max_gap: float = 1.0,
    copy_fraction: float = 0.0,
    n_variations: int = 0,
    variation_transfer: float = 0.0,
) -> SmoteDraw:
    """Draw ``n_samples`` SMOTE samples (base, neighbour, gap) from a neighbour table.

    Args:
        neighbors: (n, k) int64 table; row i holds the k nearest other points of i.
        n_samples: number of triples to draw.
        generator: a CPU generator; all draws come from it.
        max_gap: gaps are uniform in ``[0, max_gap)`` (SMOTE: 1), in (0, 1].
        copy_fraction: the first ``round(copy_fraction · n_samples)`` triples get a
            gap of exactly 0, so they stand on their base point; in [0, 1]. The bases
            are drawn independently of their position, so these are a uniform share.
        n_variations: rows of the variation pool to borrow from (0: none).
        variation_transfer: each sample borrows a uniform row of the pool with a
            strength uniform in ``[0, variation_transfer)``; 0 borrows nothing and
            draws nothing more from ``generator``.

    Returns:
        A :class:`SmoteDraw` with CPU tensors of length ``n_samples``.
    """
    n_samples = check_int("n_samples", n_samples, minimum=0)
    max_gap = check_float("max_gap", max_gap, minimum=0.0, maximum=1.0, inclusive_minimum=False)
    copy_fraction = check_float("copy_fraction", copy_fraction, minimum=0.0, maximum=1.0)
    n_variations = check_int("n_variations", n_variations, minimum=0)
    variation_transfer = check_float("variation_transfer", variation_transfer, minimum=0.0)
    if variation_transfer > 0 and n_variations == 0:
        raise ValueError("`variation_transfer` > 0 needs a variation pool, but `n_variations` is 0.")
    if neighbors.ndim != 2 or neighbors.shape[0] == 0 or neighbors.shape[1] == 0:
        raise ValueError(f"`neighbors` must be a non-empty (n, k) table, got shape {tuple(neighbors.shape)}.")
    n_points, k = neighbors.shape
    base = torch.randint(n_points, (n_samples,), generator=generator)
    column = torch.randint(k, (n_samples,), generator=generator)
    gap = torch.rand(n_samples, generator=generator) * max_gap
    gap[: round(copy_fraction * n_samples)] = 0.0
    neighbor = neighbors.cpu()[base, column]
    if variation_transfer > 0:
        variation = torch.randint(n_variations, (n_samples,), generator=generator)
        strength = torch.rand(n_samples, generator=generator) * variation_transfer
    else:
        variation, strength = torch.zeros(n_samples, dtype=torch.long), torch.zeros(n_samples)
    return SmoteDraw(base, neighbor, gap, variation, strength)


def interpolate(latents: torch.Tensor, draw: SmoteDraw, variations: torch.Tensor | None = None) -> torch.Tensor:
    """Points ``z_base + gap · (z_neighbour − z_base) + strength · v`` for each sample.

    Args:
        latents: (n, d) points.
        draw: samples from :func:`draw_smote`.
        variations: (V, d) pool the draw's ``variation`` rows index; only read when
            some strength is not 0 (``None`` is then an error).

    Returns:
        (m, d) new points, on the device and in the dtype of ``latents``.
    """
    device = latents.device
    base = latents[draw.base.to(device)]
    neighbor = latents[draw.neighbor.to(device)]
    gap = draw.gap.to(device=device, dtype=latents.dtype).unsqueeze(1)
    points = torch.lerp(base, neighbor, gap)
    if not bool(draw.strength.ne(0).any()):
        return points
    if variations is None:
        raise ValueError("`draw` borrows variations, but no `variations` pool was given.")
    strength = draw.strength.to(device=device, dtype=latents.dtype).unsqueeze(1)
    return points + strength * variations[draw.variation.to(device)].to(latents.dtype)


def smote_interpolate(
    latents: torch.Tensor,
    neighbors: torch.Tensor,
    n_samples: int,
    generator: torch.Generator,
) -> tuple[torch.Tensor, SmoteDraw]:
    """Make ``n_samples`` new points by SMOTE from one class's latents.

    Args:
        latents: (n, d) latents of one class.
        neighbors: (n, k) int64 indices of each row's k nearest other rows.
        n_samples: how many new points to make.
        generator: CPU generator for every random draw.

    Returns:
        ``(new_latents, draw)``: (n_samples, d) points and the :class:`SmoteDraw`
        (base row, neighbour row, gap) each was made from.
    """
    if latents.ndim != 2 or neighbors.shape[:1] != latents.shape[:1]:
        raise ValueError(
            f"`latents` must be (n, d) and `neighbors` (n, k) with the same n, got "
            f"{tuple(latents.shape)} and {tuple(neighbors.shape)}."
        )
    draw = draw_smote(neighbors, n_samples, generator)
    return interpolate(latents, draw), draw
