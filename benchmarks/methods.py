"""Every oversampling method of the comparison behind one interface.

A method takes the imbalanced training set (uint8 ``(N, C, H, W)`` images, ``(N,)``
labels), a seed and the profile's settings, and returns the training dataset the
classifier will see: raw uint8 items plus the classifier's transform. The classifier,
its step budget and its evaluation are the same for every method (``compare.py``).
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any, Callable, Iterator

import torch
from imblearn.over_sampling import SMOTE
from torch import nn
from torch.utils.data import Dataset, RandomSampler, Sampler

from torch_deepsmote import RECIPES, DeepSMOTE, DeepSMOTEDataset
from torch_deepsmote.baselines.amdo import AMDO
from torch_deepsmote.baselines.bagan import BAGAN
from torch_deepsmote.baselines.gamo import GAMO
from torch_deepsmote.baselines.mc_ccr import MCCCR
from torch_deepsmote.baselines.mc_rbo import MCRBO
from torch_deepsmote.evaluation.demo import TensorImages
from torch_deepsmote.evaluation.protocol import random_oversampling as oversample_randomly
from torch_deepsmote.losses import (
    ClassBalancedLoss,
    LDAMLoss,
    LogitAdjustedLoss,
    cosine_classifier_,
    ldam_margins_,
)

Method = Callable[[torch.Tensor, torch.Tensor, int, dict[str, Any], Callable], Dataset]
# One set of synthetic items for every epoch: how every DeepSMOTE row but the default's
# (and those named "fresh") was measured, and the paper's way.
FIXED_DRAWS = {"fresh_per_epoch": False}


def _balanced_copy(images: torch.Tensor, labels: torch.Tensor, transform: Callable) -> TensorImages:
    return TensorImages(images, labels, transform)


def none(images, labels, seed, settings, transform) -> Dataset:
    """The imbalanced training set as it is."""
    return TensorImages(images, labels, transform)


def grown_counts(labels: torch.Tensor, share: float = 1.0, rarity: float = 0.0) -> dict[int, int]:
    """class → its count after growing every class to ``share`` × the largest class's
    count, times ``(largest / count) ** rarity``: with ``rarity > 0`` a rarer class grows
    past the largest, more the rarer it is (a class already above its target keeps its
    own count)."""
    counts = torch.bincount(labels).tolist()
    largest = max(counts)
    return {
        label: max(count, round(share * largest * (largest / count) ** rarity)) if count else 0
        for label, count in enumerate(counts)
    }


def _growth(share: float, rarity: float) -> str:
    """How :func:`grown_counts` grows each class, in words for a method's docstring."""
    return f"{share:g} × the majority count × (majority / count) ** {rarity:g}"


def random_oversampling_to(share: float, rarity: float = 0.0) -> Method:
    """Random oversampling that grows every class to its :func:`grown_counts` target."""

    def method(images, labels, seed, settings, transform) -> Dataset:
        return _balanced_copy(
            *oversample_randomly(images, labels, seed, grown_counts(labels, share, rarity)), transform
        )

    method.__doc__ = f"Every class repeated at random (with replacement) up to {_growth(share, rarity)}."
    return method


random_oversampling = random_oversampling_to(1.0)


def unseen_real_images(scale: float | None = None) -> Method:
    """Every class grown to the majority count with real images of the class that the
    imbalanced training set left out (from the full training pool, ``settings["pool"]``):
    what a perfect generator would add, the ceiling of any oversampler. With ``scale``,
    a class of n images gains unseen real ones up to ``scale`` × n only, and random
    copies of its real images, old and new, fill the rest."""

    def method(images, labels, seed, settings, transform) -> Dataset:
        pool = settings["pool"]
        seen = {bytes(image.numpy()) for image in images}
        unseen = torch.tensor([bytes(image.numpy()) not in seen for image in pool.images])
        generator = torch.Generator().manual_seed(seed)
        chosen_images, chosen_labels = [images], [labels]
        for label, target in grown_counts(labels).items():
            real = images[labels == label]
            kept = target if scale is None else min(target, round(scale * len(real)))  # real images, old and new
            candidates = torch.nonzero(unseen & (pool.targets == label)).flatten()
            if kept - len(real) > len(candidates):
                raise ValueError(
                    f"class {label} needs {kept - len(real)} unseen images, the pool has {len(candidates)}."
                )
            added = pool.images[candidates[torch.randperm(len(candidates), generator=generator)[: kept - len(real)]]]
            members = torch.cat([real, added])
            chosen_images += [added, members[torch.randint(len(members), (target - kept,), generator=generator)]]
            chosen_labels.append(torch.full((target - len(real),), label, dtype=torch.long))
        return _balanced_copy(torch.cat(chosen_images), torch.cat(chosen_labels), transform)

    method.__doc__ = (
        unseen_real_images.__doc__ if scale is None else unseen_real_images.__doc__.replace("``scale``", f"{scale:g}")
    )
    return method


def smote(images, labels, seed, settings, transform) -> Dataset:
    """imbalanced-learn's SMOTE on flattened pixels in [0, 1]."""
    k = min(5, int(torch.bincount(labels).min()) - 1)
    flat = images.reshape(len(images), -1).float().div(255).numpy()
    resampled, new_labels = SMOTE(k_neighbors=k, random_state=seed).fit_resample(flat, labels.numpy())
    pixels = torch.from_numpy(resampled).mul(255).round().clamp(0, 255).to(torch.uint8)
    return _balanced_copy(pixels.reshape(-1, *images.shape[1:]), torch.from_numpy(new_labels).long(), transform)


def _resampler(factory: Callable[[int, dict[str, Any]], Any]) -> Method:
    def method(images, labels, seed, settings, transform) -> Dataset:
        new_images, new_labels = factory(seed, settings).fit_resample(images, labels)
        return _balanced_copy(new_images, new_labels, transform)

    method.__doc__ = f"Resampled by {factory.__name__}."
    return method


RECIPE_KNOBS = tuple(field.name for field in dataclasses.fields(RECIPES["paper"]))


def build_deepsmote(options: dict[str, Any], seed: int) -> tuple[DeepSMOTE, dict[str, Any]]:
    """An unfitted :class:`DeepSMOTE` and the :class:`DeepSMOTEDataset` keywords for a row's
    flat ``options``: ``recipe`` (a preset name, default the library's), recipe knobs that
    change it (``variation_classes``, ``max_gap``, ...), the dataset's ``fresh_per_epoch``
    and ``cache_dir``, and :class:`DeepSMOTE` parameters (``epochs``, ``k_neighbors``,
    ``sampling_strategy``, ...)."""
    options = dict(options)
    dataset_options = {"fresh_per_epoch": options.pop("fresh_per_epoch", True)}
    if "cache_dir" in options:
        dataset_options["cache_dir"] = options.pop("cache_dir")
    knobs = {name: options.pop(name) for name in RECIPE_KNOBS if name in options}
    recipe = options.pop("recipe", DeepSMOTE().recipe)
    recipe = dataclasses.replace(RECIPES[recipe] if isinstance(recipe, str) else recipe, **knobs)
    return DeepSMOTE(recipe=recipe, random_state=seed, progress=False, **options), dataset_options


def deepsmote(**options: Any) -> Method:
    """A method building :class:`DeepSMOTEDataset` with the row's ``options`` (see
    :func:`build_deepsmote`) and the profile's ``"deepsmote"`` budget."""

    def method(images, labels, seed, settings, transform) -> Dataset:
        oversampler, dataset_options = build_deepsmote(options | settings.get("deepsmote", {}), seed)
        return DeepSMOTEDataset(TensorImages(images, labels), oversampler, transform=transform, **dataset_options)

    method.__doc__ = f"DeepSMOTEDataset with {options}."
    return method


def deepsmote_balanced_autoencoder(**options: Any) -> Method:
    """DeepSMOTE with ``options`` whose autoencoder trains on a class-balanced draw of
    the training set (as many images, an equal share per class, drawn with
    replacement): a rare class weighs as much in its loss as a common one. The latents,
    neighbours and residuals are then indexed on the training set itself."""

    def method(images, labels, seed, settings, transform) -> Dataset:
        generator = torch.Generator().manual_seed(seed)
        classes = torch.unique(labels)
        share = len(labels) // len(classes)
        chosen = torch.cat(
            [
                members[torch.randint(len(members), (share,), generator=generator)]
                for members in (torch.nonzero(labels == label).flatten() for label in classes)
            ]
        )
        oversampler, dataset_options = build_deepsmote(options | settings.get("deepsmote", {}), seed)
        oversampler.fit(images[chosen], labels[chosen]).reindex(images, labels)
        return DeepSMOTEDataset(TensorImages(images, labels), oversampler, transform=transform, **dataset_options)

    method.__doc__ = deepsmote_balanced_autoencoder.__doc__.replace("``options``", repr(options))
    return method


class Passthrough(Dataset):
    """A method's training set that adds something to ``dataset``: reading and attributes
    pass through to it."""

    def __init__(self, dataset: Dataset) -> None:
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int) -> Any:
        return self.dataset[index]

    def __getattr__(self, name: str) -> Any:
        if name == "dataset":  # not set yet (while unpickling): no recursion
            raise AttributeError(name)
        return getattr(self.dataset, name)


class OwnDraws(Passthrough):
    """A method's training set that chooses the classifier's item indices itself
    (``draws``). ``dataset``'s first ``n_real`` items must be the real ones (true of every
    method here)."""

    def __init__(self, dataset: Dataset, n_real: int) -> None:
        super().__init__(dataset)
        self.n_real = n_real

    def draws(self, n_samples: int, generator: torch.Generator) -> list[int]:
        raise NotImplementedError


class WithLoss(Passthrough):
    """A method's training set whose classifier trains with its own loss: ``loss_for(classifier,
    seed)`` returns the criterion (and may adapt the classifier in place)."""

    def __init__(self, dataset: Dataset, loss_for: Callable[[nn.Module, int], Callable]) -> None:
        super().__init__(dataset)
        self.loss_for = loss_for


class DeferredRebalancing(OwnDraws):
    """The first ``warmup`` share of draws from the real items only (the imbalanced
    data), the rest from every item: deferred re-sampling (Cao et al., 2019)."""

    def __init__(self, dataset: Dataset, n_real: int, warmup: float) -> None:
        super().__init__(dataset, n_real)
        self.warmup = warmup

    def draws(self, n_samples: int, generator: torch.Generator) -> list[int]:
        """``n_samples`` item indices: the warm-up share from the real items, then all."""
        n_warmup = round(self.warmup * n_samples)
        real = RandomSampler(range(self.n_real), num_samples=n_warmup, generator=generator)
        every = RandomSampler(self.dataset, num_samples=n_samples - n_warmup, generator=generator)
        return [*real, *every]


class SyntheticOnly(OwnDraws):
    """Every draw from the synthetic items: the real ones are never shown as they are."""

    def draws(self, n_samples: int, generator: torch.Generator) -> list[int]:
        """``n_samples`` uniform indices of synthetic items (a fresh permutation each pass)."""
        synthetic = range(self.n_real, len(self.dataset))
        return [synthetic[i] for i in RandomSampler(synthetic, num_samples=n_samples, generator=generator)]


class AtRealPrior(OwnDraws):
    """Classes drawn at the imbalanced training set's prior (class c with probability n_c / N,
    n_c its real items), and within a class uniformly over every item of the class, real or
    added: the added items change which images a class shows, not how often it is shown."""

    def draws(self, n_samples: int, generator: torch.Generator) -> Sampler[int]:
        """``n_samples`` item indices a pass, drawn afresh each pass."""
        return PriorDraws(torch.as_tensor(self.dataset.targets), self.n_real, n_samples, generator)


class PriorDraws(Sampler[int]):
    """The draws of :class:`AtRealPrior`: ``n_samples`` a pass from ``generator``."""

    def __init__(self, targets: torch.Tensor, n_real: int, n_samples: int, generator: torch.Generator) -> None:
        self.prior = torch.bincount(targets[:n_real], minlength=int(targets.max()) + 1).double()
        self.members = [torch.nonzero(targets == label).flatten() for label in range(len(self.prior))]
        self.n_samples, self.generator = n_samples, generator

    def __len__(self) -> int:
        return self.n_samples

    def __iter__(self) -> Iterator[int]:
        classes = torch.multinomial(self.prior, self.n_samples, replacement=True, generator=self.generator)
        draws = torch.empty(self.n_samples, dtype=torch.long)
        for label, members in enumerate(self.members):
            at = torch.nonzero(classes == label).flatten()
            draws[at] = members[torch.randint(len(members), (len(at),), generator=self.generator)]
        return iter(draws.tolist())


def at_real_prior(method: Method) -> Method:
    """``method`` whose classifier draws classes at the real prior (see :class:`AtRealPrior`)."""

    def prior_method(images, labels, seed, settings, transform) -> Dataset:
        return AtRealPrior(method(images, labels, seed, settings, transform), len(labels))

    prior_method.__doc__ = f"{method.__doc__} Classes drawn at the real prior."
    return prior_method


def deferred(method: Method, warmup: float) -> Method:
    """``method`` whose classifier sees only the real items for the first ``warmup``
    share of its steps (see :class:`DeferredRebalancing`)."""

    def deferred_method(images, labels, seed, settings, transform) -> Dataset:
        return DeferredRebalancing(method(images, labels, seed, settings, transform), len(labels), warmup)

    deferred_method.__doc__ = f"{method.__doc__} Rebalanced after {warmup:.0%} of the steps."
    return deferred_method


def deepsmote_to(share: float, rarity: float = 0.0, **options: Any) -> Method:
    """DeepSMOTE with ``options`` growing every class to its :func:`grown_counts` target."""

    def method(images, labels, seed, settings, transform) -> Dataset:
        strategy = grown_counts(labels, share, rarity)
        return deepsmote(sampling_strategy=strategy, **options)(images, labels, seed, settings, transform)

    method.__doc__ = f"DeepSMOTEDataset with {options}, every class grown to {_growth(share, rarity)}."
    return method


def every_class_varied(**options: Any) -> Method:
    """DeepSMOTE with ``options`` where every class, the largest too, gets as many
    synthetic items as the largest class has images, and the classifier sees only
    those: each class is shown its real images moved along borrowed variations, so
    what marks an image as synthetic says nothing of its class."""

    def method(images, labels, seed, settings, transform) -> Dataset:
        counts = torch.bincount(labels)
        strategy = {label: count + int(counts.max()) for label, count in enumerate(counts.tolist())}
        dataset = deepsmote(sampling_strategy=strategy, **options)(images, labels, seed, settings, transform)
        return SyntheticOnly(dataset, len(labels))

    method.__doc__ = every_class_varied.__doc__.replace("``options``", repr(options))
    return method


def class_balanced_loss(counts: torch.Tensor, classifier: nn.Module, seed: int) -> nn.Module:
    """Cross-entropy weighted by the inverse effective number of samples, β = 0.999."""
    return ClassBalancedLoss(counts, beta=0.999)


def ldam_drw_loss(counts: torch.Tensor, classifier: nn.Module, seed: int) -> nn.Module:
    """LDAM with deferred re-weighting on a cosine classifier (its last layer replaced, drawn from ``seed``)."""
    cosine_classifier_(classifier, generator=torch.Generator().manual_seed(seed))
    return LDAMLoss(counts)


def logit_adjusted_loss(counts: torch.Tensor, classifier: nn.Module, seed: int) -> nn.Module:
    """Logit-adjusted cross-entropy, τ = 1 (the same function as Balanced Softmax)."""
    return LogitAdjustedLoss(counts, tau=1.0)


def ldam_loss(counts: torch.Tensor, classifier: nn.Module, seed: int) -> nn.Module:
    """LDAM's margins without re-weighting, on a cosine classifier (:func:`ldam_margins_`): for draws
    that are already balanced, the margins still widen with how few real images a class has."""
    return ldam_margins_(classifier, counts, generator=torch.Generator().manual_seed(seed))


def _loss_for(make_loss: Callable, counts: torch.Tensor, classifier: nn.Module, seed: int) -> Callable:
    return make_loss(counts, classifier, seed)


def with_loss(method: Method, make_loss: Callable[[torch.Tensor, nn.Module, int], Callable]) -> Method:
    """``method``'s training set, its classifier trained with ``make_loss(counts, classifier,
    seed)``, ``counts`` the imbalanced training set's class counts (the real images)."""

    def loss_method(images, labels, seed, settings, transform) -> Dataset:
        dataset = method(images, labels, seed, settings, transform)
        return WithLoss(dataset, functools.partial(_loss_for, make_loss, torch.bincount(labels)))

    loss_method.__doc__ = f"{method.__doc__} Trained with: {make_loss.__doc__}"
    return loss_method


def _amdo(seed, settings):
    return AMDO(random_state=seed, **settings.get("amdo", {}))


def _mc_ccr(seed, settings):
    return MCCCR(random_state=seed, **settings.get("mc_ccr", {}))


def _mc_rbo(seed, settings):
    return MCRBO(random_state=seed, **settings.get("mc_rbo", {}))


def _bagan(seed, settings):
    return BAGAN(random_state=seed, device=settings.get("device"), **settings.get("bagan", {}))


def _gamo(seed, settings):
    return GAMO(random_state=seed, device=settings.get("device"), **settings.get("gamo", {}))


METHODS: dict[str, Method] = {
    "none": none,
    "random oversampling": random_oversampling,
    "SMOTE": smote,
    "AMDO": _resampler(_amdo),
    "MC-CCR": _resampler(_mc_ccr),
    "MC-RBO": _resampler(_mc_rbo),
    "BAGAN": _resampler(_bagan),
    "GAMO": _resampler(_gamo),
    "DeepSMOTE (paper penalty)": deepsmote(recipe="paper", **FIXED_DRAWS),
    "DeepSMOTE (official penalty)": deepsmote(recipe="paper-code", **FIXED_DRAWS),
    "DeepSMOTE (interpolation)": deepsmote(recipe="interpolation", **FIXED_DRAWS),
    "DeepSMOTE (borrowing from every class)": deepsmote(variation_classes=None, **FIXED_DRAWS),
    "DeepSMOTE (fixed draws)": deepsmote(**FIXED_DRAWS),
    "DeepSMOTE (default)": deepsmote(),
    "class-balanced loss": with_loss(none, class_balanced_loss),
    "LDAM-DRW": with_loss(none, ldam_drw_loss),
    "logit-adjusted loss = Balanced Softmax": with_loss(none, logit_adjusted_loss),
    # The best loss of the `cpu` profile (LDAM-DRW) with balanced draws: its margins, from the
    # real counts, without its re-weighting, which balanced draws would apply a second time.
    "random oversampling + LDAM": with_loss(random_oversampling, ldam_loss),
    "DeepSMOTE (default) + LDAM": with_loss(deepsmote(), ldam_loss),
    # The best loss of the `cpu-long` profile (logit adjustment) corrects the prior itself, and with
    # the balanced set's prior it is plain cross-entropy: its classes are drawn at the real prior.
    "random oversampling + logit adjustment": at_real_prior(with_loss(random_oversampling, logit_adjusted_loss)),
    "DeepSMOTE (default) + logit adjustment": at_real_prior(with_loss(deepsmote(), logit_adjusted_loss)),
}
# Methods that add no image: their rows have no synthetic-image quality.
PLAIN = (
    "none",
    "random oversampling",
    "class-balanced loss",
    "LDAM-DRW",
    "logit-adjusted loss = Balanced Softmax",
    "random oversampling + LDAM",
    "random oversampling + logit adjustment",
)
GENERATIVE = tuple(name for name in METHODS if name not in PLAIN)
