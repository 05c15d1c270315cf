"""Other variation pools for the default recipe, measured in the ablation.

The library's pool (:func:`torch_deepsmote.variations.variation_pool`) holds steps
between neighbouring latents of every class, each class in proportion to its size,
and every grown class borrows from all of it. Each function here refits nothing: it
takes a fitted :class:`DeepSMOTE` (the same cached autoencoder and latents) and the
training images, and changes only where the borrowed steps come from.
"""

from __future__ import annotations

from typing import Any, Callable

import torch

from torch_deepsmote import DeepSMOTE
from torch_deepsmote._convert import to_network_range
from torch_deepsmote.smote import SmoteDraw, draw_smote
from torch_deepsmote.variations import VARIATION_POOL_SIZE

Tweak = Callable[[DeepSMOTE, torch.Tensor, torch.Tensor], None]


def _class_steps(oversampler: DeepSMOTE, images: torch.Tensor, labels: torch.Tensor) -> dict[int, torch.Tensor]:
    """class → (n_c · k_c, d) every step from a latent to one of its same-class neighbours."""
    latents = oversampler.encode(to_network_range(images)).cpu()
    steps = {}
    for label in torch.unique(labels).tolist():
        members = latents[labels == label]
        table = oversampler._class_neighbors(members).cpu()
        rows = torch.arange(len(members)).unsqueeze(1).expand_as(table)
        distinct = rows != table
        steps[label] = members[table[distinct]] - members[rows[distinct]]
    return steps


def _evenly(rows: torch.Tensor, size: int, repeat: bool = False) -> torch.Tensor:
    """``size`` evenly spaced rows of ``rows`` (all of them when fewer, unless ``repeat``)."""
    return rows if len(rows) <= size and not repeat else rows[torch.arange(size) * len(rows) // size]


def equal_shares(oversampler: DeepSMOTE, images: torch.Tensor, labels: torch.Tensor) -> None:
    """Every class gives the pool the same number of steps (not in proportion to its size;
    a small class's steps repeat)."""
    steps = _class_steps(oversampler, images, labels)
    share = VARIATION_POOL_SIZE // len(steps)
    oversampler.variations_ = torch.cat([_evenly(rows, share, repeat=True) for rows in steps.values()])


def signed(oversampler: DeepSMOTE, images: torch.Tensor, labels: torch.Tensor) -> None:
    """Every step also taken backwards: the weight ``u·s`` becomes uniform in (−s, s)."""
    oversampler.variations_ = torch.cat([oversampler.variations_, -oversampler.variations_])


def two_steps(oversampler: DeepSMOTE, images: torch.Tensor, labels: torch.Tensor) -> None:
    """Each borrowed variation is the sum of two random steps of the pool."""
    pool = oversampler.variations_
    generator = torch.Generator().manual_seed(0)
    pairs = torch.randint(len(pool), (2, len(pool)), generator=generator)
    oversampler.variations_ = pool[pairs[0]] + pool[pairs[1]]


def class_deviations(oversampler: DeepSMOTE, images: torch.Tensor, labels: torch.Tensor) -> None:
    """Steps from a class's mean latent to one of its latents, of every class."""
    latents = oversampler.encode(to_network_range(images)).cpu()
    means = torch.stack([latents[labels == label].mean(0) for label in range(int(labels.max()) + 1)])
    oversampler.variations_ = _evenly(latents - means[labels], VARIATION_POOL_SIZE)


def head_classes(oversampler: DeepSMOTE, images: torch.Tensor, labels: torch.Tensor) -> None:
    """Steps of the classes holding at least a tenth of the largest class's images only."""
    steps = _class_steps(oversampler, images, labels)
    counts = torch.bincount(labels)
    head = [rows for label, rows in steps.items() if counts[label] * 10 >= counts.max()]
    oversampler.variations_ = _evenly(torch.cat(head), VARIATION_POOL_SIZE)


def nearest_classes(n_classes: int) -> Tweak:
    """Each grown class borrows only from itself and the ``n_classes − 1`` classes whose
    mean latent is nearest its own (shoes from shoes, tops from tops)."""
    def tweak(oversampler: DeepSMOTE, images: torch.Tensor, labels: torch.Tensor) -> None:
        steps = _class_steps(oversampler, images, labels)
        latents = oversampler.encode(to_network_range(images)).cpu()
        classes = sorted(steps)
        means = torch.stack([latents[labels == label].mean(0) for label in classes])
        nearest = torch.cdist(means, means).argsort(dim=1)[:, :n_classes]
        pools = {
            label: _evenly(torch.cat([steps[classes[j]] for j in nearest[i].tolist()]), VARIATION_POOL_SIZE)
            for i, label in enumerate(classes)
        }
        offsets, start = {}, 0
        for label, pool in pools.items():
            offsets[label], start = (start, len(pool)), start + len(pool)
        oversampler.variations_ = torch.cat(list(pools.values()))

        def draw(label: int, n_samples: int, generator: torch.Generator) -> SmoteDraw:
            first, size = offsets[label]
            made = draw_smote(
                oversampler.neighbors_[label], n_samples, generator, oversampler.max_gap,
                oversampler.copy_fraction, n_variations=size, variation_transfer=oversampler.variation_transfer,
            )
            return made._replace(variation=made.variation + first)

        oversampler.draw = draw

    tweak.__doc__ = nearest_classes.__doc__.replace("``n_classes − 1``", str(n_classes - 1))
    return tweak


def with_pool(method: Callable[..., Any], tweak: Tweak) -> Callable[..., Any]:
    """``method`` (a DeepSMOTE method of ``methods.py``) with its pool changed by ``tweak``."""
    def pooled(images, labels, seed, settings, transform):
        dataset = method(images, labels, seed, settings, transform)
        tweak(dataset.oversampler, images, labels)
        return dataset

    pooled.__doc__ = f"{method.__doc__} {tweak.__doc__}"
    return pooled
