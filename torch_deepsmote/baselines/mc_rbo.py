"""MC-RBO: multi-class radial-based oversampling, on pixels.

Krawczyk, Koziarski, Woźniak, "Radial-Based Oversampling for Multiclass Imbalanced
Data Classification", IEEE TNNLS 31(8), 2020, written from the method's description
(no original code used).

Binary core (:func:`rbo_binary`), one minority set against one majority set:

* **Potential** ``Φ(x) = Σ_other exp(-(‖x-y‖₁/γ)²) - Σ_own exp(-(‖x-y‖₁/γ)²)``
  (:func:`rbo_potential`), over the seed's ``k`` nearest points (L1) among minority and
  majority, the seed itself included (the later reference's approximation).
* **Walk.** A new point starts at a seed drawn uniformly from the class; ``n_steps``
  times it proposes ``±step_size`` along one random pixel and keeps the move only if the
  score drops (:func:`rbo_step`): ``'balance'`` scores ``|Φ|`` (toward where own and
  other potentials cancel), ``'minimize'`` ``Φ``, ``'maximize'`` ``-Φ``.
* **Batched** (:func:`rbo_walk`). A class's new points walk together, each with a row of
  L1 distances to its ``k`` neighbours (and its Φ), updated for the one changed pixel,
  ``d' = d - |p_j - q_j| + |p_j' - q_j|``: O(k) per point and step, not O(k·d).

:class:`MCRBO` lifts it to many classes with the shared "sampling" scheme
(:mod:`._multiclass`): majority points drawn with replacement, no cleaning, new points
join their class for later classes.

Choices where the description is ambiguous (with the reason):

* **Pixel-scale defaults.** On ``[0, 1]`` pixels the reference defaults (γ = 0.05, step
  0.001, for MinMax-scaled tables) do nothing: every RBF term but the seed's is 0 and a
  point moves ≤ 0.5 in L1. ``gamma=50`` sits between the median L1 nearest-neighbour
  distances on the paper's imbalanced Fashion-MNIST (45 within a class, 67 to another,
  measured); ``step_size=0.05`` × ``n_steps=500`` bounds a walk at 25 in L1. For
  32×32×3 images distances are about 4× larger: scale ``gamma`` too.
* **Directions.** Every step draws a fresh (pixel, sign) per point, with replacement;
  the reference's "without replacement until one is accepted" would make the batch
  wait on its slowest point. **Stopping** after a fixed ``n_steps`` (the later
  reference), not the older variant's random stop (probability 0.02 per step).
* **Range.** A proposed pixel value is clipped to ``[0, 1]``; a proposal that clipping
  leaves unchanged is rejected, so points stay in ``[0, 1]``.
* **Blocks and one thread.** Points walk in blocks whose neighbours' pixel values
  (``block × d × k``, laid out pixel-major so a step reads one contiguous row per
  point) fit in 64 MiB. A step's tensors are small, and threading them on this busy
  2-core CPU made a step 25× slower (8 ms vs 0.3 ms measured; MKL's threaded ``exp`` and
  the row gather were the worst), so the walk runs under ``torch.set_num_threads(1)``,
  restored after (torch calls from other Python threads meanwhile run single-threaded
  too). The neighbour search (large ``cdist`` calls) keeps the caller's thread count.
* **Precision.** The walk computes in the points' dtype (``float32`` for uint8 input);
  incremental distances drift from a recomputation by ~1e-4 in 500 steps.
* **Counts.** Exactly ``n_max - |c|`` seeds per class, drawn uniformly with
  replacement, so the classes end exactly balanced.
"""

from __future__ import annotations

import contextlib
import functools
import logging
from typing import Any, Iterator, NamedTuple

import torch
from torch import Tensor

from torch_deepsmote._utils.validation import check_float, check_generator, check_int, check_option

from ._multiclass import StepResult, l1_blocks, resample_multiclass

__all__ = [
    "CRITERIA",
    "MCRBO",
    "StepOutcome",
    "neighbour_tables",
    "rbo_binary",
    "rbo_potential",
    "rbo_step",
    "rbo_walk",
]

logger = logging.getLogger(__name__)

CRITERIA = ("balance", "minimize", "maximize")

_BLOCK_BYTES = 64 * 2**20
"""Neighbour pixel values held at once during the walk (a block of points × d × k)."""


def rbo_potential(distances: Tensor, own: Tensor, gamma: float) -> Tensor:
    """Mutual class potential from L1 distances to a set of points.

    Args:
        distances: ``(n, k)`` L1 distances from each point to its ``k`` neighbours.
        own: ``(n, k)`` bool, ``True`` where the neighbour is of the point's own class.
        gamma: RBF spread (> 0).

    Returns:
        ``(n,)`` ``Σ_other exp(-(d/γ)²) - Σ_own exp(-(d/γ)²)``.
    """
    rbf = torch.exp(-((distances / gamma) ** 2))
    return torch.where(own, -rbf, rbf).sum(dim=1)


def _score(potential: Tensor, criterion: str) -> Tensor:
    if criterion == "balance":
        return potential.abs()
    return potential if criterion == "minimize" else -potential


class StepOutcome(NamedTuple):
    """Result of :func:`rbo_step`, one row per point.

    Attributes:
        values: ``(n,)`` the chosen pixel's value after the step (moved or not).
        distances: ``(n, k)`` L1 distances to the neighbours after the step.
        potential: ``(n,)`` Φ after the step.
        accepted: ``(n,)`` bool, the points that moved.
    """

    values: Tensor
    distances: Tensor
    potential: Tensor
    accepted: Tensor


def rbo_step(
    values: Tensor,
    neighbour_values: Tensor,
    distances: Tensor,
    own: Tensor,
    signs: Tensor,
    *,
    step_size: float,
    gamma: float,
    criterion: str = "balance",
    potential: Tensor | None = None,
) -> StepOutcome:
    """One proposal per point along one pixel each; keep it where the score drops.

    A pure function: nothing passed in is modified. Distances are updated for the one
    changed pixel only (``d' = d - |p_j - q_j| + |p_j' - q_j|``); arithmetic is in
    ``distances``' dtype.

    Args:
        values: ``(n,)`` each point's value at its chosen pixel.
        neighbour_values: ``(n, k)`` the neighbours' values at that pixel.
        distances: ``(n, k)`` L1 distances from each point to its neighbours.
        own: ``(n, k)`` bool, neighbours of the point's own class.
        signs: ``(n,)`` +1 or -1, the direction of each proposal.
        step_size: Move length (> 0); the moved value is clipped to ``[0, 1]``.
        gamma: RBF spread.
        criterion: ``'balance'`` (``|Φ|``), ``'minimize'`` (``Φ``) or ``'maximize'`` (``-Φ``).
        potential: ``(n,)`` Φ at ``distances`` if already known (saves one evaluation).

    Returns:
        A :class:`StepOutcome`; ``values`` keeps its dtype.
    """
    if potential is None:
        potential = rbo_potential(distances, own, gamma)
    proposed = (values + signs.to(values.dtype) * step_size).clamp(0.0, 1.0)
    here = neighbour_values.to(distances.dtype)
    moved = distances - (values.to(distances.dtype)[:, None] - here).abs()
    moved += (proposed.to(distances.dtype)[:, None] - here).abs()
    candidate = rbo_potential(moved, own, gamma)
    accepted = (proposed != values) & (_score(candidate, criterion) < _score(potential, criterion))
    return StepOutcome(
        values=torch.where(accepted, proposed, values),
        distances=torch.where(accepted[:, None], moved, distances),
        potential=torch.where(accepted, candidate, potential),
        accepted=accepted,
    )


@contextlib.contextmanager
def _single_threaded() -> Iterator[None]:
    """Run torch on one intra-op thread inside the block; restore the count after."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def _walk_block(
    starts: Tensor,
    pool: Tensor,
    neighbours: Tensor,
    own: Tensor,
    distances: Tensor,
    *,
    n_steps: int,
    generator: torch.Generator,
    **options: Any,
) -> tuple[Tensor, int]:
    """:func:`rbo_walk` for one block of points; also returns the number of accepted moves.

    ``options`` are :func:`rbo_step`'s ``step_size``, ``gamma`` and ``criterion``.
    """
    points, (n, d) = starts.clone(), starts.shape
    # Neighbour values pixel-major, (n * d, k): a step reads one contiguous row per point.
    table = pool[neighbours].transpose(1, 2).reshape(n * d, -1)
    rows, offsets = torch.arange(n), torch.arange(n) * d
    distances = distances.to(points.dtype)
    potential, n_accepted = rbo_potential(distances, own, options["gamma"]), 0
    for _ in range(n_steps):
        pixels = torch.randint(d, (n,), generator=generator)
        signs = torch.randint(0, 2, (n,), generator=generator) * 2 - 1
        out = rbo_step(
            points[rows, pixels],
            table[offsets + pixels],
            distances,
            own,
            signs,
            potential=potential,
            **options,
        )
        points[rows, pixels], distances, potential = out.values, out.distances, out.potential
        n_accepted += int(out.accepted.sum())
    return points, n_accepted


def rbo_walk(
    starts: Tensor,
    pool: Tensor,
    neighbours: Tensor,
    own: Tensor,
    distances: Tensor,
    *,
    n_steps: int,
    step_size: float,
    gamma: float,
    criterion: str,
    generator: torch.Generator,
) -> Tensor:
    """Walk every point ``n_steps`` times with :func:`rbo_step`, in blocks, one thread.

    Args:
        starts: ``(n, d)`` starting points (the seeds).
        pool: ``(P, d)`` the points the neighbour indices refer to.
        neighbours: ``(n, k)`` int64 indices into ``pool``.
        own: ``(n, k)`` bool, neighbours of the minority class.
        distances: ``(n, k)`` L1 distances from ``starts`` to their neighbours.
        n_steps, step_size, gamma, criterion: See :class:`MCRBO`.
        generator: Source of randomness.

    Returns:
        ``(n, d)`` the final points (``starts``' dtype), in ``[0, 1]`` if ``starts`` are.
    """
    per_point = starts.shape[1] * max(1, neighbours.shape[1]) * starts.element_size()
    size = max(1, _BLOCK_BYTES // per_point)
    options = dict(step_size=step_size, gamma=gamma, criterion=criterion)
    walked, n_accepted = [], 0
    with _single_threaded():
        for i in range(0, len(starts), size):
            block = slice(i, i + size)
            points, accepted = _walk_block(
                starts[block],
                pool,
                neighbours[block],
                own[block],
                distances[block],
                n_steps=n_steps,
                generator=generator,
                **options,
            )
            walked.append(points)
            n_accepted += accepted
    rate = 100 * n_accepted / max(1, len(starts) * n_steps)
    logger.info("RBO: %d points, %.1f%% of moves accepted", len(starts), rate)
    return torch.cat(walked) if walked else starts.clone()


def neighbour_tables(queries: Tensor, pool: Tensor, k: int) -> tuple[Tensor, Tensor]:
    """The ``k`` nearest points of ``pool`` (L1) to each query, nearest first.

    Args:
        queries: ``(q, d)`` points (a query inside ``pool`` finds itself at distance 0).
        pool: ``(P, d)`` candidate neighbours.
        k: Neighbours per query, capped at ``P``.

    Returns:
        ``(indices, distances)``: ``(q, min(k, P))`` int64 into ``pool``, and distances
        in ``queries``' dtype.
    """
    k = min(k, len(pool))
    found = [distances.topk(k, dim=1, largest=False) for _, distances in l1_blocks(queries, pool)]
    return torch.cat([f.indices for f in found]), torch.cat([f.values for f in found])


def rbo_binary(
    minority: Tensor,
    majority: Tensor,
    n_new: int,
    *,
    gamma: float,
    step_size: float,
    n_steps: int,
    k_neighbors: int = 25,
    criterion: str = "balance",
    generator: torch.Generator,
) -> tuple[Tensor, Tensor]:
    """RBO for one minority set against one majority set.

    Args:
        minority: ``(m, d)`` minority points in ``[0, 1]``, ``m >= 1``.
        majority: ``(M, d)`` majority points (may be empty).
        n_new: Number of new points.
        gamma, step_size, n_steps, k_neighbors, criterion: See :class:`MCRBO`.
        generator: Source of randomness.

    Returns:
        ``(points, seeds)``: ``(n_new, d)`` new points and ``(n_new,)`` int64 seed rows.
    """
    seeds = torch.randint(len(minority), (n_new,), generator=generator)
    used, which = torch.unique(seeds, return_inverse=True)
    pool = torch.cat([minority, majority])
    indices, distances = neighbour_tables(minority[used], pool, k_neighbors)
    indices, distances = indices[which], distances[which]
    points = rbo_walk(
        minority[seeds],
        pool,
        indices,
        indices < len(minority),
        distances,
        n_steps=n_steps,
        step_size=step_size,
        gamma=gamma,
        criterion=criterion,
        generator=generator,
    )
    return points, seeds


def _step(minority: Tensor, majority: Tensor, n_new: int, generator: torch.Generator, **options: Any) -> StepResult:
    points, _ = rbo_binary(minority, majority, n_new, generator=generator, **options)
    return StepResult(synthetic=points)


class MCRBO:
    """MC-RBO oversampler for images (pixel space, L1 distance).

    Args:
        gamma: RBF spread in L1 units of ``[0, 1]``-scaled pixels (> 0); the default 50
            suits 28×28 images (see the module notes).
        step_size: Length of one move along one pixel (> 0).
        n_steps: Moves proposed per new point (>= 0).
        k_neighbors: Neighbours of the seed that approximate the potential (>= 1).
        criterion: ``'balance'`` (``|Φ|`` decreases), ``'minimize'`` or ``'maximize'``.
        random_state: ``None``, an int seed or a ``torch.Generator``.
        progress: Show a tqdm bar over the classes.

    Attributes:
        n_synthetic_: Class -> number of synthetic items added.
        sample_indices_: ``(N,)`` indices of the original items in the output (all).
    """

    def __init__(
        self,
        *,
        gamma: float = 50.0,
        step_size: float = 0.05,
        n_steps: int = 500,
        k_neighbors: int = 25,
        criterion: str = "balance",
        random_state: int | torch.Generator | None = None,
        progress: bool = False,
    ) -> None:
        self.gamma = gamma
        self.step_size = step_size
        self.n_steps = n_steps
        self.k_neighbors = k_neighbors
        self.criterion = criterion
        self.random_state = random_state
        self.progress = progress

    def _options(self) -> dict[str, Any]:
        positive = dict(minimum=0.0, inclusive_minimum=False)
        return dict(
            gamma=check_float("gamma", self.gamma, **positive),
            step_size=check_float("step_size", self.step_size, **positive),
            n_steps=check_int("n_steps", self.n_steps, minimum=0),
            k_neighbors=check_int("k_neighbors", self.k_neighbors, minimum=1),
            criterion=check_option("criterion", self.criterion, CRITERIA),
        )

    def fit_resample(self, X: Any, y: Any) -> tuple[Tensor, Tensor]:
        """Oversample every class to the largest class's size.

        Args:
            X: ``(N, C, H, W)`` uint8 in ``[0, 255]`` or float in ``[0, 1]`` (tensor or array).
            y: ``(N,)`` integer labels.

        Returns:
            ``(X_res, y_res)``: the original items first (unchanged, same order), then the
            synthetic ones grouped by class in ascending class order. ``X_res`` has ``X``'s
            dtype and value range; ``y_res`` is int64.
        """
        step = functools.partial(_step, **self._options())
        generator = check_generator(self.random_state)
        out = resample_multiclass(X, y, step, replace=True, generator=generator, progress=bool(self.progress))
        self.n_synthetic_ = out.n_synthetic
        self.sample_indices_ = out.sample_indices
        return out.X, out.y
