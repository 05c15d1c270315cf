"""The demo: the benchmark's comparison of none / random oversampling / DeepSMOTE, on one data set.

* ``none`` — the imbalanced training set as it is;
* ``random oversampling`` — every class repeated at random up to the largest's count;
* ``deepsmote`` — :class:`DeepSMOTEDataset` with the default recipe (or ``--recipe``).

These are the benchmark's methods of those names (``benchmarks/methods.py``: ``"none"``,
``"random oversampling"``, ``"DeepSMOTE (default)"``), trained and scored with exactly the
benchmark's protocol for the data set (:mod:`torch_deepsmote.evaluation.protocol`): the
``smoke`` profile on digits, the ``cpu`` profile elsewhere. Every method gets the same
classifier, initial weights, step budget and cosine schedule; the scores are measured on
a balanced test set and printed beside the committed rows of the same methods.
"""

from __future__ import annotations

import copy
import json
import logging
import os
import platform
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Callable

import torch
from sklearn.model_selection import train_test_split
from torch.utils.data import Dataset
from torchvision.transforms import v2 as T

from torch_deepsmote._utils.validation import check_int, check_option, resolve_device
from torch_deepsmote.data.dataset import DeepSMOTEDataset
from torch_deepsmote.evaluation import protocol
from torch_deepsmote.evaluation.datasets import PROFILES, load_dataset, make_imbalanced
from torch_deepsmote.evaluation.plots import save_class_grid, save_metric_bars
from torch_deepsmote.recipes import DEFAULT_RECIPE, RECIPES

__all__ = ["DemoConfig", "run_demo", "format_report", "load_demo_data", "load_demo_pool", "DIGITS_TRAIN_PROFILE"]

logger = logging.getLogger(__name__)

# The paper's MNIST profile scaled to digits' ~90 training images per class
# (4000 → 85), with at least 5 images per class: imbalance ratio 17.
DIGITS_TRAIN_PROFILE = (85, 43, 21, 16, 11, 7, 5, 5, 5, 5)
METHODS = ("none", "random oversampling", "deepsmote")
SCORES = ("acsa", "gm_macro", "f1_macro")


@dataclass
class DemoConfig:
    """Settings of one demo run (every field is recorded in ``results.json``).

    The classifier and the autoencoder are the benchmark profile's (:meth:`profile`:
    ``smoke`` on digits, ``cpu`` elsewhere); the three ``None`` budgets change it, and a
    run that changes it is not compared with the committed rows.
    """

    dataset: str = "digits"
    root: str | None = None
    out: str = "deepsmote-demo"
    seed: int = 0
    seeds: int = 1
    recipe: str = DEFAULT_RECIPE
    device: str | None = None
    cache_dir: str | None = None
    progress: bool = True
    classifier_epochs: int | None = None
    autoencoder_epochs: int | None = None
    autoencoder_width: int | None = None

    @property
    def profile_name(self) -> str:
        """The benchmark profile run on ``dataset``: ``smoke`` on digits, else ``cpu``."""
        return protocol.demo_profile(self.dataset)

    @property
    def seed_list(self) -> list[int]:
        """The seeds run: ``seed``, ``seed + 1``, ... (``seeds`` of them)."""
        return list(range(self.seed, self.seed + self.seeds))

    def profile(self) -> dict[str, Any]:
        """The profile's settings (a copy), with this run's budget changes applied."""
        profile = copy.deepcopy(protocol.PROFILES[self.profile_name])
        if self.classifier_epochs is not None:
            profile["epochs"] = self.classifier_epochs
        autoencoder = profile["settings"]["deepsmote"]
        for key, value in (("epochs", self.autoencoder_epochs), ("width", self.autoencoder_width)):
            if value is not None:
                autoencoder[key] = value
        return profile

    def departures(self) -> list[str]:
        """How this run departs from its profile, in words (empty: it follows it)."""
        ours, theirs = self.profile(), protocol.PROFILES[self.profile_name]
        changed = []
        if ours["epochs"] != theirs["epochs"]:
            changed.append(f"classifier epochs {ours['epochs']} (profile: {theirs['epochs']})")
        for key in ("epochs", "width"):
            mine, profile = ours["settings"]["deepsmote"].get(key), theirs["settings"]["deepsmote"].get(key)
            if mine != profile:
                changed.append(f"autoencoder {key} {mine} (profile: {profile})")
        return changed

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


def transform_for(channels: int) -> T.Compose:
    """uint8 (…, C, H, W) → float in [-1, 1], the classifier's input for every method."""
    return T.Compose([T.ToDtype(torch.float32, scale=True), T.Normalize([0.5] * channels, [0.5] * channels)])


def _check(config: DemoConfig) -> None:
    from torch_deepsmote.evaluation.datasets import DATASET_NAMES

    check_option("dataset", config.dataset, DATASET_NAMES)
    check_option("recipe", config.recipe, tuple(RECIPES))
    check_int("seed", config.seed, minimum=0)
    check_int("seeds", config.seeds, minimum=1)


def _committed(config: DemoConfig, departures: list[str]) -> dict[str, Any]:
    """The committed rows of the demo's methods under its profile, where comparable and found."""
    name = config.profile_name
    path = protocol.committed_table(name)
    names = {m: protocol.METHOD_NAMES[m] for m in METHODS} | {"deepsmote": protocol.RECIPE_METHODS[config.recipe][0]}
    found = {
        "profile": name,
        "path": str(path),
        "relative_path": protocol.COMMITTED.format(profile=name),
        "names": names,
        "comparable": not departures and config.dataset == protocol.PROFILES[name]["dataset"],
        "found": False,
    }
    table = protocol.read_committed(path) if found["comparable"] else None
    if table is not None:
        rows = {m: table["rows"][n] for m, n in names.items() if n in table["rows"]}
        found |= {"found": bool(rows), "seeds": table["seeds"], "machine": table["machine"], "rows": rows}
    return found


def run_demo(config: DemoConfig) -> dict[str, Any]:
    """Run the comparison over ``config.seed_list``; write ``grid.png`` (the first seed's
    DeepSMOTE images), ``metrics.png`` (the mean over the seeds) and ``results.json`` to
    ``config.out``.

    Returns:
        The recorded results: settings, protocol, environment, class counts, per-seed
        scores and wall times, their mean ± std (``summary``, in %) and the committed
        rows they compare with (``committed``).
    """
    _check(config)
    started_all = time.perf_counter()
    device = resolve_device(config.device)
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    profile, departures = config.profile(), config.departures()

    runs, first = [], None
    for seed in config.seed_list:
        train, test = load_demo_data(replace(config, seed=seed))
        transform = transform_for(train.images.shape[1])
        test_inputs = transform(test.images)
        run: dict[str, Any] = {"seed": seed, "scores": {}, "classifier_seconds": {}, "resample_seconds": {}}
        for method in METHODS:
            started = time.perf_counter()
            dataset = protocol.training_set(
                method,
                train,
                seed,
                profile,
                transform,
                recipe=config.recipe,
                cache_dir=config.cache_dir,
                progress=config.progress,
                device=config.device,
            )
            run["resample_seconds"][method] = time.perf_counter() - started
            report, seconds = protocol.train_and_score(
                dataset,
                train.targets,
                test_inputs,
                test.targets,
                profile,
                seed,
                device=device,
                progress=config.progress,
                desc=f"{method} (seed {seed})",
            )
            run["scores"][method], run["classifier_seconds"][method] = report, seconds
            if method == "deepsmote":
                run["autoencoder"] = {"from_cache": dataset.from_cache, "seconds": run["resample_seconds"][method]}
                if first is None:
                    first = (train, test, dataset)
                    save_class_grid(out / "grid.png", grid_rows(dataset))
        runs.append(run)
        logger.info("seed %d: %s", seed, {m: round(100 * r["acsa"], 2) for m, r in run["scores"].items()})

    summary = {
        method: {s: protocol.mean_std([100 * run["scores"][method][s] for run in runs]) for s in SCORES}
        for method in METHODS
    }
    seeds_text = ", ".join(map(str, config.seed_list))
    save_metric_bars(
        out / "metrics.png",
        {m: {s: summary[m][s][0] / 100 for s in SCORES} for m in METHODS},
        title=f"{config.dataset}: balanced test set, seed{'s' * (len(runs) > 1)} {seeds_text}",
    )
    train, test, deepsmote = first
    results = {
        "config": asdict(config),
        "protocol": {
            "profile": config.profile_name,
            "settings": profile,
            "departures": departures,
            "steps": profile["epochs"] * protocol.steps_per_epoch(train.targets, profile["batch_size"]),
            "fresh_per_epoch": protocol.RECIPE_METHODS[config.recipe][1],
        },
        "environment": {
            "python": platform.python_version(),
            "torch": torch.__version__,
            "machine": platform.machine(),
            "processor": platform.processor() or "unknown",
            "cpu_count": os.cpu_count(),
            "threads": torch.get_num_threads(),
            "device": str(device),
        },
        "seeds": config.seed_list,
        "class_counts": {
            "train_before": torch.bincount(train.targets).tolist(),
            "train_after": torch.bincount(deepsmote.targets).tolist(),
            "test": torch.bincount(test.targets).tolist(),
        },
        "runs": runs,
        "summary": summary,
        "committed": _committed(config, departures),
        "seconds": time.perf_counter() - started_all,
    }
    (out / "results.json").write_text(json.dumps(results, indent=2))
    return results


def _minutes(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 120 else f"{int(seconds // 60)} min {seconds % 60:02.0f} s"


def _figure(mean_std: tuple[float, float], several: bool) -> str:
    return f"{mean_std[0]:.2f} ± {mean_std[1]:.2f}" if several else f"{mean_std[0]:.2f}"


def format_report(results: dict[str, Any]) -> str:
    """What ``deepsmote demo`` prints: the protocol and seeds run, the class counts, this
    run's scores beside the committed rows of the same methods, and where those are."""
    config, proto, env = results["config"], results["protocol"], results["environment"]
    profile, runs, seeds = proto["settings"], results["runs"], results["seeds"]
    several = len(seeds) > 1
    seeds_text = ", ".join(map(str, seeds))
    autoencoder = profile["settings"]["deepsmote"]
    epochs = f"{profile['epochs']} epoch{'s' * (profile['epochs'] > 1)}"
    lines = [
        f"protocol: the benchmark's `{proto['profile']}` profile (torch_deepsmote.evaluation.protocol) on "
        f"{config['dataset']}, seed{'s' * several} {seeds_text}",
        f"  classifier {profile['classifier']}: {proto['steps']} steps ({epochs}), batch "
        f"{profile['batch_size']}, Adam {profile['lr']:g}, {profile['lr_schedule']} schedule",
        f"  DeepSMOTE: recipe {config['recipe']}, "
        f"{'fresh synthetic items every epoch' if proto['fresh_per_epoch'] else 'one fixed set of synthetic items'}; "
        "autoencoder " + ", ".join(f"{k} {v}" for k, v in autoencoder.items()),
        f"  device {env['device']}, {env['threads']} torch thread{'s' * (env['threads'] > 1)}",
    ]
    if proto["departures"]:
        lines.append("  changed from the profile: " + "; ".join(proto["departures"]))
    counts = results["class_counts"]
    lines += [
        f"train class counts before: {counts['train_before']}",
        f"train class counts after DeepSMOTE: {counts['train_after']}",
        f"test class counts (balanced): {counts['test']}",
        "autoencoder: "
        + "; ".join(
            f"{'seed ' + str(run['seed']) + ' ' if several else ''}"
            f"{'loaded from the cache' if run['autoencoder']['from_cache'] else 'trained'} "
            f"in {run['autoencoder']['seconds']:.1f} s"
            for run in runs
        ),
        "",
    ]
    committed = results["committed"]
    rows = committed.get("rows", {}) if committed["found"] else {}
    heading = "mean ± std" if several else f"seed {seeds[0]}"
    width = 15 if several else 8
    header = f"{'balanced test, %':<22}" + "".join(f"{s:>{width}}" for s in ("ACSA", "GM", "F1")) + f"{'train s':>9}"
    if rows:
        header += f"   committed ACSA (seeds {', '.join(map(str, committed['seeds']))})"
    lines += [f"this run ({heading}):", header]
    for method in METHODS:
        figures = "".join(f"{_figure(results['summary'][method][s], several):>{width}}" for s in SCORES)
        seconds = sum(run["classifier_seconds"][method] for run in runs) / len(runs)
        line = f"{method:<22}{figures}{seconds:>9.1f}"
        if method in rows:
            line += f"   {_figure(rows[method]['acsa'], rows[method]['seeds'] > 1)}"
            if committed["names"][method] != method:
                line += f"  ({committed['names'][method]})"
        lines.append(line)
    lines.append("")
    if rows:
        machine = f"; measured on {committed['machine']}" if committed.get("machine") else ""
        lines.append(f"committed rows: {committed['path']} (mean ± std over the seeds{machine})")
        if not several:
            lines.append(
                f"one seed can fall either way; --seeds 3 gives mean ± std over seeds {seeds[0]}-{seeds[0] + 2}"
            )
    elif not committed["comparable"]:
        lines.append(
            f"not compared with the committed rows ({committed['relative_path']} in the repository): "
            + (
                "this run changes the profile"
                if proto["departures"]
                else f"they are {protocol.PROFILES[committed['profile']]['dataset']}'s"
            )
        )
    else:
        lines.append(
            f"committed rows: {committed['relative_path']} in the torch_deepsmote repository "
            f"(not found at {committed['path']})"
        )
    out = Path(config["out"])
    lines += [
        f"wrote {out / 'grid.png'}, {out / 'metrics.png'}, {out / 'results.json'}",
        f"total {_minutes(results['seconds'])}",
    ]
    return "\n".join(lines)
