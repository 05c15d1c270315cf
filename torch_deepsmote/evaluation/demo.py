"""The demo: one small CNN trained three ways on an imbalanced set, side by side.

* ``none`` — the imbalanced training set, shuffled;
* ``random oversampling`` — the same set through :class:`BalancedBatchSampler`;
* ``deepsmote`` — :class:`DeepSMOTEDataset` through :class:`BalancedBatchSampler`.

Every method gets the same classifier, seed and number of optimiser steps; the
scores are measured on a balanced test set.
"""

from __future__ import annotations

import json
import logging
import math
import platform
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable

import torch
from sklearn.model_selection import train_test_split
from torch.utils.data import DataLoader, Dataset, RandomSampler
from torchvision.transforms import v2 as T

from torch_deepsmote._utils.validation import resolve_device
from torch_deepsmote.data.dataset import DeepSMOTEDataset
from torch_deepsmote.data.sampler import BalancedBatchSampler
from torch_deepsmote.evaluation.classifier import SmallCNN, predict, train_classifier
from torch_deepsmote.evaluation.datasets import PROFILES, load_dataset, make_imbalanced
from torch_deepsmote.evaluation.metrics import imbalanced_report
from torch_deepsmote.evaluation.plots import save_class_grid, save_metric_bars
from torch_deepsmote.oversampler import DeepSMOTE
from torch_deepsmote.recipes import DEFAULT_RECIPE

__all__ = ["DemoConfig", "run_demo", "load_demo_data", "load_demo_pool", "DIGITS_TRAIN_PROFILE"]

logger = logging.getLogger(__name__)

# The paper's MNIST profile scaled to digits' ~90 training images per class
# (4000 → 85), with at least 5 images per class: imbalance ratio 17.
DIGITS_TRAIN_PROFILE = (85, 43, 21, 16, 11, 7, 5, 5, 5, 5)
METHODS = ("none", "random oversampling", "deepsmote")
SCORES = ("acsa", "gm_macro", "f1_macro")


@dataclass
class DemoConfig:
    """Settings of one demo run (every field is recorded in ``results.json``)."""

    dataset: str = "digits"
    root: str | None = None
    out: str = "deepsmote-demo"
    seed: int = 0
    batch_size: int = 64
    classifier_epochs: int = 15
    autoencoder_epochs: int | None = None
    autoencoder_width: int = 16
    latent_dim: int | None = 32
    k_neighbors: int = 5
    recipe: str = DEFAULT_RECIPE
    device: str | None = None
    cache_dir: str | None = None
    progress: bool = True

    def resolved_autoencoder_epochs(self) -> int:
        """``autoencoder_epochs``, or by default 150 on digits (seconds per epoch) and 20 on
        the 28×28 / 32×32 sets (each epoch costs about half a minute on a 2-core CPU)."""
        if self.autoencoder_epochs is not None:
            return self.autoencoder_epochs
        return 150 if self.dataset == "digits" else 20

    @classmethod
    def fast(cls, **overrides: Any) -> "DemoConfig":
        """A seconds-long run for tests: one epoch everywhere."""
        return cls(**{"classifier_epochs": 1, "autoencoder_epochs": 1, "autoencoder_width": 8, **overrides})


class TensorImages(Dataset):
    """(N, C, H, W) uint8 images and (N,) labels as a map-style dataset with ``targets``."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, transform: Callable | None = None):
        self.images, self.targets, self.transform = images, labels, transform

    def __len__(self) -> int:
        return len(self.targets)

    def __getitem__(self, index: int) -> tuple[Any, int]:
        image = self.images[index]
        return (self.transform(image) if self.transform else image), int(self.targets[index])


def load_demo_pool(config: DemoConfig) -> tuple[TensorImages, TensorImages, tuple[int, ...]]:
    """(full training pool, balanced test set, the imbalance profile) of raw uint8 images.

    For digits the pool and test set are a stratified half each (split by ``config.seed``);
    CelebA's test partition is cut to its rarest class's count in every class.
    """
    if config.dataset == "digits":
        images, labels = load_dataset("digits")
        train_idx, test_idx = train_test_split(
            torch.arange(len(labels)).numpy(), test_size=0.5, stratify=labels.numpy(), random_state=config.seed
        )
        pool = TensorImages(images[train_idx], labels[train_idx])
        return pool, TensorImages(images[test_idx], labels[test_idx]), DIGITS_TRAIN_PROFILE
    pool = TensorImages(*load_dataset(config.dataset, config.root, train=True))
    test = TensorImages(*load_dataset(config.dataset, config.root, train=False))
    if config.dataset == "celeba":  # its test partition is imbalanced: keep the rarest class's count of each
        counts = torch.bincount(test.targets)
        keep = make_imbalanced(test.targets, [int(counts.min())] * len(counts), random_state=config.seed)
        test = TensorImages(test.images[keep], test.targets[keep])
    return pool, test, PROFILES[config.dataset]["train"]


def load_demo_data(config: DemoConfig) -> tuple[TensorImages, TensorImages]:
    """(imbalanced train set, balanced test set) of raw uint8 images."""
    pool, test, profile = load_demo_pool(config)
    chosen = make_imbalanced(pool.targets, profile, random_state=config.seed)
    return TensorImages(pool.images[chosen], pool.targets[chosen]), test


def _loaders(config: DemoConfig, train: TensorImages, transform: Callable) -> dict[str, tuple[DataLoader, Dataset]]:
    """One DataLoader per method, all with the same number of batches per epoch."""
    oversampler = DeepSMOTE(
        k_neighbors=config.k_neighbors,
        recipe=config.recipe,
        epochs=config.resolved_autoencoder_epochs(),
        width=config.autoencoder_width,
        latent_dim=config.latent_dim,
        device=config.device,
        random_state=config.seed,
        progress=config.progress,
    )
    deepsmote = DeepSMOTEDataset(
        train,
        oversampler,
        transform=transform,
        cache_dir=config.cache_dir,
        fresh_per_epoch=not config.recipe.startswith("paper"),  # the paper generates one fixed set
    )
    per_class = max(torch.bincount(train.targets).tolist())
    n_classes = len(torch.unique(train.targets))
    steps = math.ceil(per_class * n_classes / config.batch_size)
    plain = TensorImages(train.images, train.targets, transform)
    shuffle = RandomSampler(
        plain, num_samples=steps * config.batch_size, generator=torch.Generator().manual_seed(config.seed)
    )
    balanced = dict(num_batches=steps, generator=config.seed)
    return {
        "none": (DataLoader(plain, batch_size=config.batch_size, sampler=shuffle), plain),
        "random oversampling": (
            DataLoader(plain, batch_sampler=BalancedBatchSampler(plain.targets, config.batch_size, **balanced)),
            plain,
        ),
        "deepsmote": (
            DataLoader(deepsmote, batch_sampler=BalancedBatchSampler(deepsmote.targets, config.batch_size, **balanced)),
            deepsmote,
        ),
    }


def grid_rows(dataset: DeepSMOTEDataset, per_row: int = 8) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Per class, up to ``per_row`` real and synthetic images as (n, C, H, W) uint8."""
    targets, synthetic = dataset.targets, dataset.synthetic_mask

    def pictures(indices: torch.Tensor) -> torch.Tensor:
        chw = [dataset.raw_format.to_uint8_chw(image) for image, _ in dataset.raw_items(indices.tolist())]
        return torch.stack(chw) if chw else torch.empty((0, *dataset.raw_format.shape), dtype=torch.uint8)

    return [
        (
            pictures(torch.nonzero((targets == label) & ~synthetic).flatten()[:per_row]),
            pictures(torch.nonzero((targets == label) & synthetic).flatten()[:per_row]),
        )
        for label in torch.unique(targets).tolist()
    ]


def run_demo(config: DemoConfig) -> dict[str, Any]:
    """Run the comparison; write ``grid.png``, ``metrics.png`` and ``results.json`` to ``config.out``.

    Returns:
        The recorded results: settings, environment, class counts, per-method scores
        and wall times.
    """
    device = resolve_device(config.device)
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    train, test = load_demo_data(config)
    channels = train.images.shape[1]
    transform = T.Compose([T.ToDtype(torch.float32, scale=True), T.Normalize([0.5] * channels, [0.5] * channels)])
    test_images = transform(test.images)

    started = time.perf_counter()
    loaders = _loaders(config, train, transform)
    resampling_seconds = time.perf_counter() - started
    deepsmote: DeepSMOTEDataset = loaders["deepsmote"][1]
    n_classes = len(torch.unique(train.targets))

    scores, seconds = {}, {}
    for method in METHODS:
        loader, _ = loaders[method]
        model = SmallCNN(channels, n_classes, generator=torch.Generator().manual_seed(config.seed))
        started = time.perf_counter()
        train_classifier(
            model, loader, epochs=config.classifier_epochs, device=device, progress=config.progress, desc=method
        )
        seconds[method] = time.perf_counter() - started
        scores[method] = imbalanced_report(test.targets, predict(model, test_images, device=device))

    save_class_grid(out / "grid.png", grid_rows(deepsmote))
    save_metric_bars(
        out / "metrics.png",
        {m: {s: scores[m][s] for s in SCORES} for m in METHODS},
        title=f"{config.dataset}: balanced test set, seed {config.seed}",
    )
    results = {
        "config": asdict(config),
        "environment": {
            "python": platform.python_version(),
            "torch": torch.__version__,
            "machine": platform.machine(),
            "processor": platform.processor() or "unknown",
            "threads": torch.get_num_threads(),
            "device": str(device),
        },
        "class_counts": {
            "train_before": torch.bincount(train.targets).tolist(),
            "train_after": torch.bincount(deepsmote.targets).tolist(),
            "test": torch.bincount(test.targets).tolist(),
        },
        "autoencoder": {
            "from_cache": deepsmote.from_cache,
            "seconds": resampling_seconds,
            "history": deepsmote.oversampler.history_,
        },
        "scores": scores,
        "classifier_seconds": seconds,
    }
    (out / "results.json").write_text(json.dumps(results, indent=2))
    return results
