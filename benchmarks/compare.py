"""The paper's comparison: every reference method, one classifier, repeated seeds.

Usage:
    python benchmarks/compare.py --profile smoke            # digits, seconds (CI)
    python benchmarks/compare.py --profile cpu              # Fashion-MNIST, small CNN, 3 seeds
    python benchmarks/compare.py --profile paper --device cuda   # ResNet-18, 5 seeds

Each seed draws the paper's imbalanced training set, builds every method's training
set (timed), trains the same classifier for the same number of steps, and scores it
on the balanced test set and on the paper's imbalanced test profile. Results go to
``benchmarks/results/<profile>-<time>/``: ``table.md`` (mean ± std beside the
paper's figures), ``results.json`` (raw, with machine, versions, seeds, settings),
``metrics.png`` and a real-vs-synthetic ``grid-<method>.png`` per generative method.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import DataLoader, RandomSampler
from torchvision.transforms import v2 as T

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _environment import describe_machine  # noqa: E402
from methods import GENERATIVE, METHODS  # noqa: E402
from profiles import PAPER_FMNIST, PROFILES, make_classifier  # noqa: E402

from torch_deepsmote import DeepSMOTEDataset  # noqa: E402
from torch_deepsmote.classifier import predict, train_classifier  # noqa: E402
from torch_deepsmote.datasets import MNIST_TEST_PROFILE, make_imbalanced  # noqa: E402
from torch_deepsmote.demo import DemoConfig, load_demo_data  # noqa: E402
from torch_deepsmote.metrics import imbalanced_report  # noqa: E402
from torch_deepsmote.plots import save_class_grid, save_metric_bars  # noqa: E402

SCORES = ("acsa", "gm_macro", "f1_macro")


def load_split(profile: dict[str, Any], seed: int) -> tuple[Any, torch.Tensor, torch.Tensor]:
    """(imbalanced train set, balanced test images, test labels) for one seed."""
    train, test = load_demo_data(DemoConfig(dataset=profile["dataset"], root=profile.get("root"), seed=seed))
    return train, test.images, test.targets


def imbalanced_test_index(labels: torch.Tensor, seed: int) -> torch.Tensor | None:
    """The paper's imbalanced test profile, where the test set holds enough images."""
    counts = torch.bincount(labels)
    if len(counts) != len(MNIST_TEST_PROFILE) or (counts < torch.tensor(MNIST_TEST_PROFILE)).any():
        return None
    return make_imbalanced(labels, MNIST_TEST_PROFILE, random_state=seed)


def synthetic_images(dataset: Any, n_real: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(M, C, H, W) uint8 synthetic images and their labels, whatever the method."""
    if isinstance(dataset, DeepSMOTEDataset):
        indices = torch.nonzero(dataset.synthetic_mask).flatten().tolist()
        items = [image for start in range(0, len(indices), 1024) for image, _ in dataset.raw_items(indices[start : start + 1024])]
        return torch.stack(items), dataset.targets[n_real:]
    return dataset.images[n_real:], dataset.targets[n_real:]


def run_seed(
    profile: dict[str, Any], seed: int, methods: list[str], device: torch.device, out: Path, done: dict[int, Any]
) -> dict[str, Any]:
    """Every method for one seed; after each, what is done so far goes to ``partial.json``."""
    train, test_images, test_labels = load_split(profile, seed)
    channels, n_classes = train.images.shape[1], len(torch.unique(train.targets))
    transform = T.Compose([T.ToDtype(torch.float32, scale=True), T.Normalize([0.5] * channels, [0.5] * channels)])
    test_inputs = transform(test_images)
    imbalanced = imbalanced_test_index(test_labels, seed)
    steps = math.ceil(int(torch.bincount(train.targets).max()) * n_classes / profile["batch_size"])
    rows = {}
    for name in methods:
        started = time.perf_counter()
        dataset = METHODS[name](train.images, train.targets, seed, profile["settings"] | {"device": device}, transform)
        resample_seconds = time.perf_counter() - started
        sampler = RandomSampler(dataset, num_samples=steps * profile["batch_size"], generator=torch.Generator().manual_seed(seed))
        loader = DataLoader(dataset, batch_size=profile["batch_size"], sampler=sampler)
        model = make_classifier(profile["classifier"], channels, n_classes, seed)
        started = time.perf_counter()
        train_classifier(model, loader, epochs=profile["epochs"], lr=profile["lr"], device=device, desc=f"{name} seed {seed}")
        train_seconds = time.perf_counter() - started
        predicted = predict(model, test_inputs, device=device)
        row = {
            "balanced": imbalanced_report(test_labels, predicted),
            "resample_seconds": resample_seconds,
            "train_seconds": train_seconds,
            "train_counts": torch.bincount(dataset.targets if hasattr(dataset, "targets") else train.targets).tolist(),
        }
        if imbalanced is not None:
            row["imbalanced"] = imbalanced_report(test_labels[imbalanced], predicted[imbalanced])
        if name in GENERATIVE and seed == profile["seeds"][0]:
            fake, fake_labels = synthetic_images(dataset, len(train.targets))
            grid = [(train.images[train.targets == c][:8], fake[fake_labels == c][:8]) for c in range(n_classes)]
            save_class_grid(out / f"grid-{name.replace(' ', '_').replace('(', '').replace(')', '')}.png", grid)
        rows[name] = row
        (out / "partial.json").write_text(json.dumps({**done, seed: rows}, indent=2, default=str))
        print(f"seed {seed} {name:<30} ACSA {100 * row['balanced']['acsa']:.2f}  "
              f"resample {resample_seconds:.1f} s  train {train_seconds:.1f} s", flush=True)
    return rows


def summarise(runs: dict[int, dict[str, Any]], methods: list[str], test: str) -> dict[str, dict[str, tuple[float, float]]]:
    """method → score → (mean, std) in %, over the seeds."""
    table = {}
    for name in methods:
        values = {s: [100 * runs[seed][name][test][s] for seed in runs if test in runs[seed][name]] for s in SCORES}
        if all(values.values()):
            table[name] = {s: (statistics.mean(v), statistics.stdev(v) if len(v) > 1 else 0.0) for s, v in values.items()}
    return table


def markdown(profile_name: str, profile: dict[str, Any], runs: dict, methods: list[str], machine: dict) -> str:
    lines = [f"# Comparison, profile `{profile_name}`", "",
             f"Data: {profile['dataset']}; classifier: {profile['classifier']}; seeds: {profile['seeds']}; "
             f"epochs: {profile['epochs']}; batch {profile['batch_size']}; machine: {machine['processor']}, "
             f"{machine['cpu_count']} CPUs, device {machine['device']}{', ' + machine['gpu'] if 'gpu' in machine else ''}; "
             f"torch {machine['torch']}.", ""]
    for test in ("balanced", "imbalanced"):
        table = summarise(runs, methods, test)
        if not table:
            continue
        paper_note = " (paper: Fashion-MNIST, imbalanced test, ResNet-18, 5-fold CV)" if test == "imbalanced" else ""
        spread = "one seed" if len(runs) == 1 else "mean ± std over the seeds"
        lines += [f"## {test.capitalize()} test set — ACSA / GM / F1, {spread} (%)", "",
                  f"| method | ACSA | GM | F1 | paper ACSA / GM / F1{paper_note} | resample s | train s |",
                  "|---|---|---|---|---|---|---|"]
        for name, scores in table.items():
            paper = PAPER_FMNIST.get(name, "—") if test == "imbalanced" else "—"
            seconds = [statistics.mean(runs[s][name][k] for s in runs) for k in ("resample_seconds", "train_seconds")]
            single = len(runs) == 1
            cells = " | ".join(f"{m:.2f}" if single else f"{m:.2f} ± {sd:.2f}" for m, sd in scores.values())
            lines.append(f"| {name} | {cells} | {paper} | {seconds[0]:.1f} | {seconds[1]:.1f} |")
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> Path:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", choices=sorted(PROFILES), default="smoke")
    parser.add_argument("--methods", nargs="*", default=list(METHODS), choices=list(METHODS))
    parser.add_argument("--seeds", nargs="*", type=int, default=None)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--root", default=None, help="data folder (default: the profile's)")
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)

    profile = dict(PROFILES[args.profile])
    profile["seeds"] = args.seeds or profile["seeds"]
    profile["root"] = args.root or profile.get("root")
    device = torch.device(args.device)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    out = Path(args.out or Path(__file__).resolve().parent / "results" / f"{args.profile}-{stamp}")
    out.mkdir(parents=True, exist_ok=True)
    machine = describe_machine(device)
    runs: dict[int, Any] = {}
    for seed in profile["seeds"]:
        runs[seed] = run_seed(profile, seed, args.methods, device, out, runs)
    (out / "results.json").write_text(json.dumps({"profile": args.profile, "settings": profile, "machine": machine, "runs": runs}, indent=2, default=str))
    (out / "table.md").write_text(markdown(args.profile, profile, runs, args.methods, machine))
    (out / "partial.json").unlink()
    balanced = summarise(runs, args.methods, "balanced")
    save_metric_bars(out / "metrics.png", {n: {s: v[s][0] / 100 for s in SCORES} for n, v in balanced.items()},
                     title=f"{profile['dataset']}, balanced test set, {len(profile['seeds'])} seed(s)")
    print(f"wrote {out}")
    return out


if __name__ == "__main__":
    main()
