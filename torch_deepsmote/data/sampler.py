"""Class-balanced index batches for a ``DataLoader``, seeded, epoch-aware and DDP-aware.

``BalancedBatchSampler`` only needs the labels of a data set, so it works with any
map-style data set (a plain one, where it oversamples the minority classes by
revisiting their items, or a ``DeepSMOTEDataset``, whose minority classes already
hold synthetic items)::

    sampler = BalancedBatchSampler(ds.targets, 128, generator=0)
    loader = DataLoader(ds, batch_sampler=sampler)
    for epoch in range(epochs):
        sampler.set_epoch(epoch)
        for x, y in loader: ...
"""

from __future__ import annotations

import numbers
from collections.abc import Hashable, Iterator, Sequence
from typing import Any

import numpy as np
import torch
from torch.utils.data import Sampler

from torch_deepsmote._utils.distributed import distributed_context
from torch_deepsmote._utils.labels import LabelCoding
from torch_deepsmote._utils.seeding import mix_seed
from torch_deepsmote._utils.validation import check_generator, check_int

__all__ = ["BalancedBatchSampler"]


def _divide(numerator: int, denominator: int, *, round_up: bool) -> int:
    """Integer division rounded up or down, exact for any int size."""
    return -(-numerator // denominator) if round_up else numerator // denominator


def _encode_targets(targets: Any) -> LabelCoding:
    """Encode ``targets`` with the package's :class:`LabelCoding`, refusing empty or float labels.

    Raises:
        TypeError: ``targets`` is not a sequence, or holds unhashable, unsortable or
            floating-point labels.
        ValueError: ``targets`` is empty or not 1-D.
    """
    coding = LabelCoding.fit(targets, "targets")
    if not coding.classes:
        raise ValueError(
            "`targets` must hold at least one class label (ints, strings or other hashable, "
            "sortable values), got an empty sequence."
        )
    floats = [label for label in coding.classes if _is_float(label)]
    if floats:
        dtype = getattr(targets, "dtype", None)
        received = f"labels of dtype {dtype}" if dtype is not None else f"the label {floats[0]!r}"
        raise TypeError(
            "`targets` must hold class labels that are not floating-point numbers (ints, strings "
            f"or other hashable, sortable values; cast whole-number labels to int), got {received}."
        )
    return coding


def _is_float(label: Hashable) -> bool:
    """Whether ``label`` is a number but not an integer (a Python or numpy float, complex, ...)."""
    return isinstance(label, numbers.Complex) and not isinstance(label, numbers.Integral)


def _draw_base_seed(generator: Any) -> int:
    """Draw the sampler's base seed from ``generator`` (a ``torch.Generator``, an int or None)."""
    source = check_generator(generator, "generator")
    draw = torch.randint(0, 2**62, (1,), generator=source, device=source.device)
    return int(draw.item())


class BalancedBatchSampler(Sampler[list[int]]):
    """Yield batches of data-set indices in which every class appears equally often.

    With ``C`` classes and batch size ``B`` each batch holds ``B // C`` items of every
    class; the ``B % C`` leftover slots go to distinct classes chosen at random for each
    batch, so per-class counts inside a batch differ by at most one and every class gets
    the same share on average over an epoch. Inside a batch the classes are shuffled.

    Within a class, items are drawn by walking through a fresh random permutation of
    that class's indices and starting a new permutation when it runs out: every item of
    a class is visited once before any item repeats, and small classes are cycled
    through several times per epoch (this is how a plain imbalanced data set gets its
    minority classes oversampled). Every batch is full-size.

    Epoch length: by default one epoch is one pass over the largest class, i.e.
    ``ceil(max_class_count * C / B)`` batches, or ``floor(...)`` with ``drop_last=True``
    (then no item of the largest class repeats within an epoch, but a few may be left
    out); never fewer than one batch. An explicit ``num_batches`` overrides this. Under
    DDP ``num_batches`` counts the batches of all ranks together: it is rounded up to a
    multiple of ``num_replicas`` (down with ``drop_last=True``, but to at least one
    batch per rank) and rank ``r`` yields global batches ``r, r + R, r + 2R, ...``.
    ``len(sampler)`` is the number of batches this rank yields.

    Randomness: a base seed is drawn once from ``generator`` at construction (this
    advances a passed ``torch.Generator`` by one draw); the batches of epoch ``e`` are a
    pure function of ``(base seed, e)``, so iterating twice in the same epoch gives the
    same batches and :meth:`set_epoch` moves to different ones. The global torch RNG is
    never touched. Under DDP every rank must build the same base seed, so an explicit
    ``generator`` (the same int seed, or a generator in the same state, on every rank)
    is required when ``num_replicas > 1``.

    Args:
        targets: One class label per data-set item, shape ``(N,)``: a sequence, numpy
            array or integer/bool tensor of hashable labels that sort against each
            other (ints, with gaps or negative, strings, numpy scalars, ...), as
            imbalanced-learn accepts them. Floating-point labels are refused (cast
            whole-number ones to int). The labels are encoded once, in sorted order,
            as ``DeepSMOTE`` encodes its ``y``.
        batch_size: Items per batch; at least the number of classes.
        num_batches: Batches per epoch over all ranks; ``None`` for one pass over the
            largest class (see above).
        drop_last: Round the epoch length down instead of up (see above).
        generator: ``torch.Generator``, int seed, or ``None`` for a seed from the
            operating system's entropy (single process only).
        num_replicas: Number of DDP processes; defaults to the world size of an
            initialised ``torch.distributed`` process group, else 1.
        rank: This process's rank in ``[0, num_replicas)``; defaults to the rank in the
            initialised process group, else 0.

    Attributes:
        classes: Sorted distinct labels, a list of length ``C`` (Python values for
            the labels of a tensor or array).
        class_counts: ``{label: number of items}`` in label order.
        batch_size, num_batches, drop_last, num_replicas, rank: As resolved from the
            arguments (``num_batches`` before rounding to a multiple of ``num_replicas``).
        epoch: Current epoch, set by :meth:`set_epoch`.
        seed: The base seed drawn at construction.

    Raises:
        TypeError: ``targets`` that is not a sequence, holds floating-point labels, or
            holds labels that cannot be hashed or sorted against each other (such as
            ``1`` and ``"a"``, or ``None``); or a non-int ``batch_size``,
            ``num_batches``, ``num_replicas``, ``rank`` or ``generator`` seed (bools
            are refused).
        ValueError: Empty ``targets`` or a ``targets`` array or tensor that is not 1-D,
            ``batch_size`` below 1 or below the number of classes, ``rank`` outside
            ``[0, num_replicas)``, or ``generator=None`` with ``num_replicas > 1``.
    """

    def __init__(
        self,
        targets: Sequence[Hashable] | np.ndarray | torch.Tensor,
        batch_size: int,
        *,
        num_batches: int | None = None,
        drop_last: bool = False,
        generator: torch.Generator | int | None = None,
        num_replicas: int | None = None,
        rank: int | None = None,
    ) -> None:
        super().__init__()
        coding = _encode_targets(targets)
        codes = coding.codes.numpy()
        num_classes = len(coding.classes)
        counts = np.bincount(codes, minlength=num_classes)
        self.batch_size = check_int("batch_size", batch_size, minimum=1)
        if self.batch_size < num_classes:
            raise ValueError(
                f"`batch_size` must be >= the number of classes ({num_classes}) so every class "
                f"fits in each batch, got {self.batch_size}."
            )
        if not isinstance(drop_last, bool):
            raise TypeError(f"`drop_last` must be a bool, got {drop_last!r}.")
        self.drop_last = drop_last

        world_rank, world_size = distributed_context()
        if num_replicas is None:
            num_replicas = world_size
        if rank is None:
            rank = world_rank
        self.num_replicas = check_int("num_replicas", num_replicas, minimum=1)
        self.rank = check_int("rank", rank, minimum=0)
        if self.rank >= self.num_replicas:
            raise ValueError(
                f"`rank` must be in [0, {self.num_replicas}) for num_replicas={self.num_replicas}, got {self.rank}."
            )
        if generator is None and self.num_replicas > 1:
            raise ValueError(
                f"`generator` must be given when num_replicas={self.num_replicas} > 1: pass the "
                "same int seed (e.g. generator=0) on every rank so all ranks draw the same "
                "batches, got None."
            )

        self.classes: list[Hashable] = list(coding.classes)
        self.class_counts: dict[Hashable, int] = dict(zip(self.classes, counts.tolist()))
        if num_batches is None:
            slots_needed = max(self.class_counts.values()) * num_classes
            num_batches = max(1, _divide(slots_needed, self.batch_size, round_up=not drop_last))
        self.num_batches = check_int("num_batches", num_batches, minimum=1)
        self._per_replica = max(1, _divide(self.num_batches, self.num_replicas, round_up=not drop_last))

        self.seed = _draw_base_seed(generator)
        self.epoch = 0
        # Item indices grouped by class (stable), and where each class starts in that order.
        self._order = np.argsort(codes, kind="stable")
        self._counts = counts
        self._starts = np.cumsum(self._counts) - self._counts

    def set_epoch(self, epoch: int) -> None:
        """Select the draw for ``epoch``; call it before each epoch, like ``DistributedSampler``."""
        self.epoch = check_int("epoch", epoch, minimum=0, maximum=2**63 - 1)

    def __len__(self) -> int:
        return self._per_replica

    def __iter__(self) -> Iterator[list[int]]:
        batches = self._global_batches(self.epoch)
        yield from batches[self.rank :: self.num_replicas].tolist()

    def _global_batches(self, epoch: int) -> np.ndarray:
        """Return the batches of all ranks for ``epoch``, shape ``(num_replicas * len(self), B)``.

        The random keys come from a local ``torch.Generator`` seeded with ``(seed, epoch)``;
        the index arithmetic runs in numpy, which stays single-threaded and fast (a few
        milliseconds for 100k indices) even where torch's intra-op threads are contended.
        """
        gen = torch.Generator().manual_seed(mix_seed(self.seed, epoch))
        num_classes, size = len(self.classes), self.batch_size
        total = self._per_replica * self.num_replicas
        label_dtype = np.min_scalar_type(num_classes - 1)  # small ints -> radix sort below

        # Per-batch class counts: B // C each, +1 for B % C distinct classes picked at random.
        per_batch = np.full((total, num_classes), size // num_classes, dtype=np.int64)
        leftover = size % num_classes
        if leftover:
            keys = torch.rand(total, num_classes, generator=gen).numpy()
            picked = np.argpartition(keys, leftover - 1, axis=1)[:, :leftover]
            np.put_along_axis(per_batch, picked, size // num_classes + 1, axis=1)
        # Class of every slot, shuffled inside each batch, flattened batch after batch.
        slots = np.repeat(np.tile(np.arange(num_classes, dtype=label_dtype), total), per_batch.ravel()).reshape(
            total, size
        )
        shuffle = np.argsort(torch.rand(total, size, generator=gen).numpy(), axis=1)
        slots = np.take_along_axis(slots, shuffle, axis=1).ravel()

        # Draws per class: walk fresh random permutations of the class, enough to cover them.
        draws = per_batch.sum(axis=0)
        cycles = -(-draws // self._counts)
        noise = torch.rand(int(cycles @ self._counts), generator=gen, dtype=torch.float64).numpy()
        picks, offset = [], 0
        for count, cycle, draw, start in zip(
            self._counts.tolist(), cycles.tolist(), draws.tolist(), self._starts.tolist()
        ):
            rows = noise[offset : offset + cycle * count].reshape(cycle, count)
            offset += cycle * count
            members = np.argsort(rows, axis=1).ravel()[:draw]  # a fresh permutation per row
            picks.append(self._order[start + members])

        # The k-th slot of class c (in batch order) gets the k-th draw of class c.
        batches = np.empty(total * size, dtype=np.int64)
        batches[np.argsort(slots, kind="stable")] = np.concatenate(picks)
        return batches.reshape(total, size)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(num_classes={len(self.classes)}, "
            f"batch_size={self.batch_size}, num_batches={self.num_batches}, "
            f"drop_last={self.drop_last}, num_replicas={self.num_replicas}, rank={self.rank}, "
            f"epoch={self.epoch})"
        )
