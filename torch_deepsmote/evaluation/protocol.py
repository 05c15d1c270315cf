"""The comparison's protocols, shared by ``deepsmote demo`` and ``benchmarks/compare.py``.

A profile fixes the data set, the classifier, its budget and schedule, and every
method's settings. ``benchmarks/profiles.py`` re-exports :data:`PROFILES` and
:func:`make_classifier` from here, so the demo trains and scores with exactly the
settings behind the committed tables and the two cannot drift apart. The classifier's
learning rate decays to 0 over its steps (``"lr_schedule": "cosine"``), so each method
is scored once its training has settled, not at whatever its last full-size step left
behind.

The demo's three rows are the benchmark's methods of the same names (``METHOD_NAMES``),
built, trained and scored as ``benchmarks/compare.py`` builds, trains and scores them
(:func:`training_set`, :func:`train_and_score`); ``tests/test_demo.py`` checks that both
give the same figures.
"""

from __future__ import annotations

import math
import re
import statistics
import time
from pathlib import Path
from typing import Any, Callable

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset, RandomSampler
from torchvision.models import resnet18

from torch_deepsmote.evaluation.classifier import SmallCNN, predict, train_classifier
from torch_deepsmote.nn.init import reset_parameters_
from torch_deepsmote.recipes import DEFAULT_RECIPE

__all__ = [
    "PROFILES",
    "DEMO_PROFILES",
    "METHOD_NAMES",
    "RECIPE_METHODS",
    "COMMITTED",
    "make_classifier",
    "demo_profile",
    "steps_per_epoch",
    "random_oversampling",
    "training_set",
    "train_and_score",
    "committed_table",
    "read_committed",
    "mean_std",
]

PROFILES: dict[str, dict[str, Any]] = {
    # digits made imbalanced (the demo's profile), everything tiny: seconds, run in CI.
    "smoke": {
        "dataset": "digits",
        "classifier": "small-cnn",
        "epochs": 2,
        "batch_size": 64,
        "lr": 1e-3,
        "lr_schedule": "cosine",
        "seeds": [0],
        "settings": {
            "deepsmote": {"epochs": 2, "width": 8, "latent_dim": 16, "batch_size": 32},
            "bagan": {"autoencoder_epochs": 1, "gan_epochs": 1},
            "gamo": {"steps": 10},
            "mc_ccr": {"energy": 5.0},
            "mc_rbo": {"n_steps": 20, "gamma": 10.0},
            "amdo": {},
        },
    },
    # Fashion-MNIST at the paper's counts, a small CNN, budgets sized for a 2-core CPU.
    "cpu": {
        "dataset": "fashion-mnist",
        "classifier": "small-cnn",
        "epochs": 3,
        "batch_size": 128,
        "lr": 1e-3,
        "lr_schedule": "cosine",
        "seeds": [0, 1, 2],
        "settings": {
            "deepsmote": {"epochs": 10, "width": 16, "latent_dim": 128, "batch_size": 100},
            "bagan": {"autoencoder_epochs": 2, "gan_epochs": 2, "width": 8},
            "gamo": {"steps": 1000},
            "mc_ccr": {},
            "mc_rbo": {},
            "amdo": {},
        },
    },
    # A reduced "paper" profile for one ~8-minute GPU run (benchmarks/gpu_check.sh):
    # ResNet-18, one seed, 10 epochs, the paper's autoencoder at 50 epochs.
    "gpu": {
        "dataset": "fashion-mnist",
        "classifier": "resnet18",
        "epochs": 10,
        "batch_size": 128,
        "lr": 1e-3,
        "lr_schedule": "cosine",
        "seeds": [0],
        "settings": {
            "deepsmote": {"epochs": 50},
            "bagan": {"autoencoder_epochs": 5, "gan_epochs": 5},
            "gamo": {"steps": 2000},
            "mc_ccr": {},
            "mc_rbo": {},
            "amdo": {},
        },
    },
    # The paper's protocol for a GPU: ResNet-18, 5 seeds, the authors' budgets.
    "paper": {
        "dataset": "fashion-mnist",
        "classifier": "resnet18",
        "epochs": 30,
        "batch_size": 128,
        "lr": 1e-3,
        "lr_schedule": "cosine",
        "seeds": [0, 1, 2, 3, 4],
        "settings": {
            "deepsmote": {"epochs": 200},
            "bagan": {"autoencoder_epochs": 150, "gan_epochs": 150},
            "gamo": {"steps": 25_000},
            "mc_ccr": {},
            "mc_rbo": {},
            "amdo": {},
        },
    },
}

# The `cpu` profile with a 3× longer classifier budget (2817 steps, where random
# oversampling shows each of the 40 images of the rarest class about 900 times): does
# the variety of synthetic images pay once copies are overfitted?
PROFILES["cpu-long"] = PROFILES["cpu"] | {"epochs": 9}
# 9× the `cpu` profile's budget (8451 steps, the rarest class's 40 images shown about
# 2700 times each by random oversampling): does the lead keep growing with the budget?
PROFILES["cpu-longer"] = PROFILES["cpu"] | {"epochs": 27}

# The profile `deepsmote demo` runs for a data set: digits the `smoke` one, every other
# data set the `cpu` one (whose committed rows are Fashion-MNIST's).
DEMO_PROFILES: dict[str, str] = {"digits": "smoke"}
DEFAULT_DEMO_PROFILE = "cpu"

# The demo's rows → the benchmark's methods (benchmarks/methods.py) of those names.
METHOD_NAMES: dict[str, str] = {
    "none": "none",
    "random oversampling": "random oversampling",
    "deepsmote": "DeepSMOTE (default)",
}
# The demo's `--recipe` → (the benchmark's method of that recipe, whether it draws fresh
# synthetic items each epoch): only the default does; the others were measured with one
# fixed set, the paper's way.
RECIPE_METHODS: dict[str, tuple[str, bool]] = {
    "borrowed-variations": ("DeepSMOTE (default)", True),
    "interpolation": ("DeepSMOTE (interpolation)", False),
    "paper": ("DeepSMOTE (paper penalty)", False),
    "paper-code": ("DeepSMOTE (official penalty)", False),
}
assert RECIPE_METHODS[DEFAULT_RECIPE][0] == METHOD_NAMES["deepsmote"]

# Where a profile's committed rows are, relative to the repository's root.
COMMITTED = "benchmarks/results/{profile}/table.md"


def demo_profile(dataset: str) -> str:
    """The name of the profile ``deepsmote demo`` runs on ``dataset``."""
    return DEMO_PROFILES.get(dataset, DEFAULT_DEMO_PROFILE)


def make_classifier(name: str, channels: int, n_classes: int, seed: int) -> nn.Module:
    """The profile's classifier with weights drawn from ``seed``.

    ``"resnet18"`` is torchvision's ResNet-18 with the small-image stem (3×3 stride-1
    first convolution, no max-pooling) and ``channels`` input channels.
    """
    generator = torch.Generator().manual_seed(seed)
    if name == "small-cnn":
        return SmallCNN(channels, n_classes, generator=generator)
    model = resnet18(num_classes=n_classes)
    model.conv1 = nn.Conv2d(channels, 64, kernel_size=3, stride=1, padding=1, bias=False)
    model.maxpool = nn.Identity()
    return reset_parameters_(model, generator)


def steps_per_epoch(labels: torch.Tensor, batch_size: int) -> int:
    """One epoch of the classifier: the balanced set's size, ⌈largest class × classes / batch⌉
    batches, the same for every method."""
    return math.ceil(int(torch.bincount(labels).max()) * len(torch.unique(labels)) / batch_size)


def random_oversampling(
    images: torch.Tensor, labels: torch.Tensor, seed: int, targets: dict[int, int] | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Classes repeated at random (with replacement) up to ``targets`` (class → final count;
    default: the largest class's count for every class): the real items first, then per
    class the copies, drawn from one generator seeded with ``seed`` (the benchmark's
    ``"random oversampling"``)."""
    generator = torch.Generator().manual_seed(seed)
    counts = torch.bincount(labels).tolist()
    targets = {label: max(counts) for label in range(len(counts))} if targets is None else targets
    chosen = [torch.arange(len(labels))]
    for label, target in targets.items():
        members = torch.nonzero(labels == label).flatten()
        if target > counts[label] and len(members):
            chosen.append(members[torch.randint(len(members), (target - counts[label],), generator=generator)])
    index = torch.cat(chosen)
    return images[index], labels[index]


def training_set(
    method: str,
    train: Any,
    seed: int,
    profile: dict[str, Any],
    transform: Callable,
    *,
    recipe: str = DEFAULT_RECIPE,
    cache_dir: str | None = None,
    progress: bool = False,
    device: Any = None,
) -> Dataset:
    """The training set the classifier sees for one of the demo's rows (``METHOD_NAMES``),
    built as the benchmark builds it: ``train`` as it is, randomly oversampled, or a
    :class:`DeepSMOTEDataset` with the profile's ``"deepsmote"`` settings and ``recipe``.
    ``train`` is a dataset of raw uint8 images with ``images`` and ``targets``."""
    from torch_deepsmote.data.dataset import DeepSMOTEDataset
    from torch_deepsmote.evaluation.demo import TensorImages
    from torch_deepsmote.oversampler import DeepSMOTE

    if method == "none":
        return TensorImages(train.images, train.targets, transform)
    if method == "random oversampling":
        return TensorImages(*random_oversampling(train.images, train.targets, seed), transform)
    if method != "deepsmote":
        raise ValueError(f"`method` must be one of {tuple(METHOD_NAMES)}, got {method!r}.")
    fresh = RECIPE_METHODS[recipe][1]
    options = {"device": device} if device is not None else {}
    oversampler = DeepSMOTE(
        recipe=recipe, random_state=seed, progress=progress, **options, **profile["settings"]["deepsmote"]
    )
    base = TensorImages(train.images, train.targets)
    return DeepSMOTEDataset(base, oversampler, transform=transform, fresh_per_epoch=fresh, cache_dir=cache_dir)


def train_classifier_on(
    dataset: Dataset,
    labels: torch.Tensor,
    profile: dict[str, Any],
    seed: int,
    *,
    channels: int,
    draws: Callable[[Dataset, int, torch.Generator], Any] | None = None,
    loss_for: Callable[[nn.Module, int], Callable] | None = None,
    device: Any = "cpu",
    progress: bool = False,
    desc: str = "classifier",
) -> tuple[nn.Module, float]:
    """Train the profile's classifier on ``dataset`` as the benchmark does.

    ``labels`` are the imbalanced training set's (they fix the step budget,
    :func:`steps_per_epoch`); the classifier's weights come from ``seed``; Adam with the
    profile's learning rate and schedule.

    Args:
        draws: ``(dataset, n_samples, generator) -> sampler`` of the item indices; by
            default uniform over ``dataset``, a fresh permutation each pass, from a
            generator seeded with ``seed``.
        loss_for: ``(classifier, seed) -> criterion`` for a loss-level method, which may
            adapt the classifier in place (LDAM's cosine head); default cross-entropy.

    Returns:
        (the trained classifier, its training time in seconds).
    """
    batch_size = profile["batch_size"]
    n_samples = steps_per_epoch(labels, batch_size) * batch_size
    generator = torch.Generator().manual_seed(seed)
    sampler = (
        draws(dataset, n_samples, generator)
        if draws is not None
        else RandomSampler(dataset, num_samples=n_samples, generator=generator)
    )
    loader = DataLoader(dataset, batch_size=batch_size, sampler=sampler)
    model = make_classifier(profile["classifier"], channels, len(torch.unique(labels)), seed)
    criterion = loss_for(model, seed) if loss_for is not None else None
    started = time.perf_counter()
    train_classifier(
        model,
        loader,
        epochs=profile["epochs"],
        lr=profile["lr"],
        schedule=profile["lr_schedule"],
        device=device,
        criterion=criterion,
        progress=progress,
        desc=desc,
    )
    return model, time.perf_counter() - started


def train_and_score(
    dataset: Dataset,
    labels: torch.Tensor,
    test_inputs: torch.Tensor,
    test_labels: torch.Tensor,
    profile: dict[str, Any],
    seed: int,
    *,
    device: Any = "cpu",
    progress: bool = False,
    desc: str = "classifier",
) -> tuple[dict[str, Any], float]:
    """:func:`train_classifier_on` ``dataset``, then score it on ``test_inputs``.

    Returns:
        (the :func:`~torch_deepsmote.evaluation.metrics.imbalanced_report` of its
        predictions, its training time in seconds).
    """
    from torch_deepsmote.evaluation.metrics import imbalanced_report

    model, seconds = train_classifier_on(
        dataset, labels, profile, seed, channels=test_inputs.shape[1], device=device, progress=progress, desc=desc
    )
    return imbalanced_report(test_labels, predict(model, test_inputs, device=device)), seconds


def committed_table(profile: str, root: str | Path | None = None) -> Path:
    """The path of ``profile``'s committed table in the repository at ``root`` (default:
    the one this package was installed from, when it was installed from a clone)."""
    root = Path(__file__).resolve().parents[2] if root is None else Path(root)
    return root / COMMITTED.format(profile=profile)


_ROW = re.compile(r"^\|\s*(?P<name>[^|]+?)\s*\|\s*(?P<seeds>\d+)\s*\|(?P<cells>.*)\|\s*$")
_CELL = re.compile(r"^\s*(?P<mean>-?\d+(?:\.\d+)?)(?:\s*±\s*(?P<std>\d+(?:\.\d+)?))?\s*$")


def read_committed(path: str | Path) -> dict[str, Any] | None:
    """The balanced-test rows of a committed table (``benchmarks/tables.py``'s ``table.md``):
    ``{"seeds": [...], "machine": "...", "rows": {name: {"seeds": n, "acsa"|"gm_macro"|"f1_macro": (mean,
    std)}}}`` in %, or ``None`` when the file is not there."""
    path = Path(path)
    if not path.is_file():
        return None
    lines = path.read_text(encoding="utf-8").splitlines()
    seeds = next((re.search(r"seeds: \[([^\]]*)\]", line) for line in lines if "seeds: [" in line), None)
    rows: dict[str, dict[str, Any]] = {}
    inside = False
    for line in lines:
        if line.startswith("## "):
            inside = line.startswith("## Balanced test set")
            continue
        match = _ROW.match(line) if inside else None
        if not match:
            continue
        cells = [_CELL.match(cell) for cell in match["cells"].split("|")[:3]]
        if all(cells):
            rows[match["name"]] = {"seeds": int(match["seeds"])} | {
                score: (float(cell["mean"]), float(cell["std"] or 0.0))
                for score, cell in zip(("acsa", "gm_macro", "f1_macro"), cells)
            }
    listed = [int(seed) for seed in seeds[1].split(",") if seed.strip()] if seeds else []
    machine = next((re.search(r"machines?: (.*?)\.?$", line) for line in lines if "machine" in line), None)
    return {"seeds": listed, "rows": rows, "machine": machine[1] if machine else None}


def mean_std(values: list[float]) -> tuple[float, float]:
    """(mean, sample standard deviation) as the committed tables compute them (0 for one value)."""
    return statistics.mean(values), statistics.stdev(values) if len(values) > 1 else 0.0
