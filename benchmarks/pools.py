"""Other variation pools and draws for the borrowing recipes, measured in the ablation.

The library's pool (:func:`torch_deepsmote.latent.variations.variation_pool`) holds steps
between neighbouring latents of every class, each class in proportion to its size.
Most variants here change the pool of the recipe that borrows from every class
(``variation_classes=None``); ``varied_below``, ``varied_share`` and ``local_steps``
change which synthetic items of the default borrow, and which steps. Each function
refits nothing: it takes a fitted :class:`DeepSMOTE` (the same cached autoencoder and
latents) and the training images, and changes only where the borrowed steps come from
and which items take one.
"""

from __future__ import annotations

from typing import Any, Callable

import torch

from torch_deepsmote import DeepSMOTE, variations
from torch_deepsmote.nn.ranges import to_network_range
from torch_deepsmote.latent.smote import SmoteDraw, draw_smote
from torch_deepsmote.latent.variations import VARIATION_POOL_SIZE

Tweak = Callable[[DeepSMOTE, torch.Tensor, torch.Tensor], None]


def _class_pairs(
    oversampler: DeepSMOTE, images: torch.Tensor, labels: torch.Tensor
) -> dict[int, tuple[torch.Tensor, torch.Tensor]]:
    """class → ``(origins, steps)``: (n_c · k_c, d) each latent, once per same-class
    neighbour, and the step from it to that neighbour."""
    latents = oversampler.encode(to_network_range(images)).cpu()
    pairs = {}
    for label in torch.unique(labels).tolist():
        members = latents[labels == label]
        table = oversampler._class_neighbors(members).cpu()
        rows = torch.arange(len(members)).unsqueeze(1).expand_as(table)
        distinct = rows != table
        pairs[label] = members[rows[distinct]], members[table[distinct]] - members[rows[distinct]]
    return pairs


def _class_steps(oversampler: DeepSMOTE, images: torch.Tensor, labels: torch.Tensor) -> dict[int, torch.Tensor]:
    """class → (n_c · k_c, d) every step from a latent to one of its same-class neighbours."""
    return {label: steps for label, (_, steps) in _class_pairs(oversampler, images, labels).items()}


def _evenly(n: int, size: int, repeat: bool = False) -> torch.Tensor:
    """Indices of ``size`` evenly spaced rows of ``n`` (all ``n`` when fewer, unless ``repeat``)."""
    return torch.arange(n) if n <= size and not repeat else torch.arange(size) * n // size


def _labelled(steps: dict[int, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """The steps of several classes stacked, and the (V,) class of each."""
    sources = [torch.full((len(rows),), label, dtype=torch.long) for label, rows in steps.items()]
    return torch.cat(list(steps.values())), torch.cat(sources)


def _set_pool(oversampler: DeepSMOTE, pool: torch.Tensor, sources: torch.Tensor) -> None:
    oversampler.variations_, oversampler.variation_sources_ = pool, sources


def _set_evenly(oversampler: DeepSMOTE, pool: torch.Tensor, sources: torch.Tensor) -> None:
    """The pool cut to ``VARIATION_POOL_SIZE`` evenly spaced rows, as the library's is."""
    kept = _evenly(len(pool), VARIATION_POOL_SIZE)
    _set_pool(oversampler, pool[kept], sources[kept])


def equal_shares(oversampler: DeepSMOTE, images: torch.Tensor, labels: torch.Tensor) -> None:
    """Every class gives the pool the same number of steps (not in proportion to its size;
    a small class's steps repeat)."""
    steps = _class_steps(oversampler, images, labels)
    share = VARIATION_POOL_SIZE // len(steps)
    _set_pool(oversampler, *_labelled({label: rows[_evenly(len(rows), share, repeat=True)] for label, rows in steps.items()}))


def signed(oversampler: DeepSMOTE, images: torch.Tensor, labels: torch.Tensor) -> None:
    """Every step also taken backwards: the weight ``u·s`` becomes uniform in (−s, s)."""
    pool, sources = oversampler.variations_, oversampler.variation_sources_
    _set_pool(oversampler, torch.cat([pool, -pool]), torch.cat([sources, sources]))


def two_steps(oversampler: DeepSMOTE, images: torch.Tensor, labels: torch.Tensor) -> None:
    """Each borrowed variation is the sum of two random steps of the pool."""
    pool, sources = oversampler.variations_, oversampler.variation_sources_
    generator = torch.Generator().manual_seed(0)
    pairs = torch.randint(len(pool), (2, len(pool)), generator=generator)
    _set_pool(oversampler, pool[pairs[0]] + pool[pairs[1]], sources[pairs[0]])


def class_deviations(oversampler: DeepSMOTE, images: torch.Tensor, labels: torch.Tensor) -> None:
    """Steps from a class's mean latent to one of its latents, of every class."""
    latents = oversampler.encode(to_network_range(images)).cpu()
    means = torch.stack([latents[labels == label].mean(0) for label in range(int(labels.max()) + 1)])
    _set_evenly(oversampler, latents - means[labels], labels)


def head_classes(oversampler: DeepSMOTE, images: torch.Tensor, labels: torch.Tensor) -> None:
    """Steps of the classes holding at least a tenth of the largest class's images only."""
    steps = _class_steps(oversampler, images, labels)
    counts = torch.bincount(labels)
    head = {label: rows for label, rows in steps.items() if counts[label] * 10 >= counts.max()}
    _set_evenly(oversampler, *_labelled(head))


def nearest_classes(n_classes: int) -> Tweak:
    """Each grown class borrows only from itself and the ``n_classes − 1`` classes whose
    mean latent is nearest its own (shoes from shoes, tops from tops), from its own pool
    of up to ``VARIATION_POOL_SIZE`` of their steps."""
    def tweak(oversampler: DeepSMOTE, images: torch.Tensor, labels: torch.Tensor) -> None:
        steps = _class_steps(oversampler, images, labels)
        pools = {}
        for label in steps:
            lenders = variations.nearest_classes(oversampler.classes_, oversampler.class_means_, label, n_classes)
            pool, _ = _labelled({lender: steps[lender] for lender in lenders.tolist()})
            pools[label] = pool[_evenly(len(pool), VARIATION_POOL_SIZE)]
        offsets, start = {}, 0
        for label, pool in pools.items():
            offsets[label], start = (start, len(pool)), start + len(pool)
        _set_pool(oversampler, *_labelled(pools))  # each row labelled by the class borrowing it

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


def varied_below(share: float) -> Tweak:
    """Only the classes holding fewer than ``share`` × the largest class's images borrow
    variations; the larger grown classes are grown by plain copies."""
    def tweak(oversampler: DeepSMOTE, images: torch.Tensor, labels: torch.Tensor) -> None:
        counts = torch.bincount(labels)
        copied = counts >= share * counts.max()
        borrowing = oversampler.draw

        def draw(label: int, n_samples: int, generator: torch.Generator) -> SmoteDraw:
            if not copied[label]:
                return borrowing(label, n_samples, generator)
            return draw_smote(oversampler.neighbors_[label], n_samples, generator, oversampler.max_gap, copy_fraction=1.0)

        oversampler.draw = draw

    tweak.__doc__ = varied_below.__doc__.replace("``share``", f"{share:g}")
    return tweak


def varied_share(share: float) -> Tweak:
    """Only the first ``share`` of each class's synthetic items borrow a variation; the
    rest are plain copies of their base images (the bases are drawn independently of
    their position, so these are a uniform share)."""
    def tweak(oversampler: DeepSMOTE, images: torch.Tensor, labels: torch.Tensor) -> None:
        borrowing = oversampler.draw

        def draw(label: int, n_samples: int, generator: torch.Generator) -> SmoteDraw:
            made = borrowing(label, n_samples, generator)
            strength = made.strength.clone()
            strength[round(share * n_samples):] = 0.0
            return made._replace(strength=strength)

        oversampler.draw = draw

    tweak.__doc__ = varied_share.__doc__.replace("``share``", f"{share:g}")
    return tweak


def local_steps(n_origins: int) -> Tweak:
    """Each synthetic latent borrows a step that starts near its base: one of the steps
    (to a same-class neighbour) from the ``n_origins`` latents of the class and its two
    nearest classes that lie nearest the base latent, not a step from anywhere in them."""
    def tweak(oversampler: DeepSMOTE, images: torch.Tensor, labels: torch.Tensor) -> None:
        pairs = _class_pairs(oversampler, images, labels)
        origin = torch.cat([origins for origins, _ in pairs.values()])
        pool, source = _labelled({label: steps for label, (_, steps) in pairs.items()})
        _set_pool(oversampler, pool, source)
        near = {}
        for label, base_latents in oversampler.latents_.items():
            lenders = variations.nearest_classes(oversampler.classes_, oversampler.class_means_, label, 3)
            candidates = torch.nonzero(torch.isin(source, lenders)).flatten()
            distances = torch.cdist(base_latents.cpu().float(), origin[candidates])
            near[label] = candidates[distances.topk(min(n_origins, len(candidates)), largest=False).indices]

        def draw(label: int, n_samples: int, generator: torch.Generator) -> SmoteDraw:
            made = draw_smote(
                oversampler.neighbors_[label], n_samples, generator, oversampler.max_gap,
                oversampler.copy_fraction, n_variations=1, variation_transfer=oversampler.variation_transfer,
            )
            table = near[label]
            pick = torch.randint(table.shape[1], (n_samples,), generator=generator)
            return made._replace(variation=table[made.base, pick])

        oversampler.draw = draw

    tweak.__doc__ = local_steps.__doc__.replace("``n_origins``", str(n_origins))
    return tweak


def boundary_bases(weight: float, k: int = 10) -> Tweak:
    """Bases drawn with weight ``1 + weight × m/k``, where ``m`` of an image's ``k``
    nearest training latents (of every class) belong to another class: images near
    another class are varied more often (as Borderline-SMOTE and ADASYN favour them),
    and a class far from every other is drawn uniformly."""
    def tweak(oversampler: DeepSMOTE, images: torch.Tensor, labels: torch.Tensor) -> None:
        latents = oversampler.encode(to_network_range(images)).cpu().float()
        distances = torch.cdist(latents, latents)
        distances.fill_diagonal_(float("inf"))
        nearest = distances.topk(k, largest=False).indices
        share = (labels[nearest] != labels.unsqueeze(1)).float().mean(1)
        weights = {label: 1 + weight * share[labels == label] for label in oversampler.latents_}
        borrowing = oversampler.draw

        def draw(label: int, n_samples: int, generator: torch.Generator) -> SmoteDraw:
            made = borrowing(label, n_samples, generator)
            base = torch.multinomial(weights[label], n_samples, replacement=True, generator=generator)
            table = oversampler.neighbors_[label].cpu()
            column = torch.randint(table.shape[1], (n_samples,), generator=generator)
            return made._replace(base=base, neighbor=table[base, column])

        oversampler.draw = draw

    tweak.__doc__ = boundary_bases.__doc__.replace("``weight``", f"{weight:g}").replace("``k``", str(k))
    return tweak


def neighbour_detail(share: float) -> Tweak:
    """Each synthetic image's fine detail (reconstruction residual) mixed from its base
    and a same-class neighbour of it: ``r_base + share · (r_neighbour − r_base)``, so an
    image keeps its base's coarse shape and takes part of another image's texture."""
    def tweak(oversampler: DeepSMOTE, images: torch.Tensor, labels: torch.Tensor) -> None:
        def details_for(label: int, draw: SmoteDraw) -> torch.Tensor:
            residuals = oversampler.residuals_[label]
            return torch.lerp(residuals[draw.base].float(), residuals[draw.neighbor].float(), share)

        oversampler.details_for = details_for

    tweak.__doc__ = neighbour_detail.__doc__.replace("``share``", f"{share:g}")
    return tweak
