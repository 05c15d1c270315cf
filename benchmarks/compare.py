"""The paper's comparison: every reference method, one classifier, repeated seeds.

Usage:
    python benchmarks/compare.py --profile smoke            # digits, seconds (CI)
    python benchmarks/compare.py --profile cpu              # Fashion-MNIST, small CNN, 3 seeds
    python benchmarks/compare.py --profile paper --device cuda   # ResNet-18, 5 seeds

Each seed draws the paper's imbalanced training set, builds every method's training
set (timed), trains the same classifier for the same number of steps, and scores it
on the balanced test set and on the paper's imbalanced test profile. Each generative
method's synthetic images are scored per class by a reference classifier trained on the
full balanced pool (``quality.py``). Results go to ``--out`` (default
``benchmarks/results/<profile>-<time>/``): ``runs.jsonl``, one line appended per
(method, seed) as soon as it is measured (its scores, per-class recalls, seconds,
settings, commit and machine, under the name it was run with); ``table.md``, generated
from it by ``tables.py`` (mean ± std beside the paper's figures); ``metrics.png``; and
a real-vs-synthetic ``grid-<method>.png`` per generative method.

An existing ``--out`` folder is resumed: (method, seed) pairs already in its
``runs.jsonl`` are kept and not rerun, so an interrupted run goes on where it stopped
and methods can be added to a finished run. ``--reuse DIR`` shows the chosen methods'
rows of ``DIR/runs.jsonl`` in the table too (read from there, not copied: the folder's
``tables.json`` names them), and ``--table-only`` measures nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import RandomSampler
from torchvision.transforms import v2 as T

sys.path.insert(0, str(Path(__file__).resolve().parent))

import tables  # noqa: E402
from _environment import describe_machine  # noqa: E402
from methods import METHODS, PLAIN, Method, OwnDraws  # noqa: E402
from profiles import PROFILES, make_classifier  # noqa: E402
from quality import class_quality, train_reference  # noqa: E402
from tables import RUNS, protocol, read_runs  # noqa: E402
from torch_deepsmote._utils.files import atomic_save  # noqa: E402
from torch_deepsmote.evaluation.classifier import predict  # noqa: E402
from torch_deepsmote.evaluation.datasets import MNIST_TEST_PROFILE, make_imbalanced  # noqa: E402
from torch_deepsmote.evaluation.demo import DemoConfig, TensorImages, load_demo_pool  # noqa: E402
from torch_deepsmote.evaluation.metrics import imbalanced_report  # noqa: E402
from torch_deepsmote.evaluation.plots import save_class_grid, save_metric_bars  # noqa: E402
from torch_deepsmote.evaluation.protocol import train_classifier_on  # noqa: E402


def load_split(profile: dict[str, Any], seed: int) -> tuple[TensorImages, TensorImages, TensorImages]:
    """(imbalanced train set, full balanced training pool, balanced test set) for one seed."""
    pool, test, counts = load_demo_pool(DemoConfig(dataset=profile["dataset"], root=profile.get("root"), seed=seed))
    chosen = make_imbalanced(pool.targets, counts, random_state=seed)
    return TensorImages(pool.images[chosen], pool.targets[chosen]), pool, test


def slug(name: str) -> str:
    """A method's name as a file-name piece: letters, digits, '_' and '-' only."""
    return re.sub(r"[^A-Za-z0-9-]+", "_", name).strip("_")


def transform_for(channels: int) -> T.Compose:
    """uint8 (…, C, H, W) → float in [-1, 1], the classifier's input for every method."""
    return T.Compose([T.ToDtype(torch.float32, scale=True), T.Normalize([0.5] * channels, [0.5] * channels)])


def current_commit() -> str:
    """The repository's HEAD commit, with ``-dirty`` when tracked files differ from it."""

    def git(*args: str) -> str:
        return subprocess.run(["git", *args], capture_output=True, text=True, cwd=Path(__file__).parent).stdout.strip()

    return (git("rev-parse", "HEAD") or "unknown") + (
        "-dirty" if git("status", "--porcelain", "--untracked-files=no") else ""
    )


def check_protocol(folder: Path, profile: dict[str, Any]) -> None:
    """Refuse to resume or reuse ``folder`` when its rows were measured under another protocol."""
    ours = protocol(profile)
    for row in read_runs(folder / RUNS):
        theirs = protocol(row.get("settings", {}))
        if theirs != ours:
            differ = sorted(key for key in theirs.keys() | ours.keys() if theirs.get(key) != ours.get(key))
            raise SystemExit(
                f"{folder / RUNS} was measured with other settings ({', '.join(differ)} differ from the profile's):"
                " its rows cannot be compared with this run's. Choose another --out, or drop it from --reuse."
            )


def imbalanced_test_index(labels: torch.Tensor, seed: int) -> torch.Tensor | None:
    """The paper's imbalanced test profile, where the test set holds enough images."""
    counts = torch.bincount(labels)
    if len(counts) != len(MNIST_TEST_PROFILE) or (counts < torch.tensor(MNIST_TEST_PROFILE)).any():
        return None
    return make_imbalanced(labels, MNIST_TEST_PROFILE, random_state=seed)


def synthetic_images(dataset: Any, n_real: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(M, C, H, W) uint8 synthetic images and their labels, whatever the method."""
    if hasattr(dataset, "synthetic_mask"):  # a DeepSMOTEDataset, maybe wrapped
        indices = torch.nonzero(dataset.synthetic_mask).flatten().tolist()
        items = [
            image
            for start in range(0, len(indices), 1024)
            for image, _ in dataset.raw_items(indices[start : start + 1024])
        ]
        return torch.stack(items), dataset.targets[n_real:]
    return dataset.images[n_real:], dataset.targets[n_real:]


def training_draws(dataset: Any, n_samples: int, generator: torch.Generator) -> Any:
    """The classifier's ``n_samples`` item indices: uniform over ``dataset`` (a fresh
    permutation each pass), or its own order for a deferred rebalancing."""
    if isinstance(dataset, OwnDraws):
        return dataset.draws(n_samples, generator)
    return RandomSampler(dataset, num_samples=n_samples, generator=generator)


def run_seed(
    profile: dict[str, Any],
    seed: int,
    methods: dict[str, Method],
    device: torch.device,
    out: Path,
    done: set[tuple[str, int]],
    reference: Any,
    run: dict[str, Any],
) -> None:
    """Every method whose (name, seed) is not in ``done``; each row is appended to ``out/runs.jsonl``
    as soon as it is measured. ``run`` holds the profile's name and what names the run."""
    train, pool, test = load_split(profile, seed)
    channels, n_classes = train.images.shape[1], len(torch.unique(train.targets))
    transform = transform_for(channels)
    test_inputs = transform(test.images)
    imbalanced = imbalanced_test_index(test.targets, seed)
    for name in [m for m in methods if (m, seed) not in done]:
        started = time.perf_counter()
        settings = profile["settings"] | {"device": device, "pool": pool}
        dataset = methods[name](train.images, train.targets, seed, settings, transform)
        resample_seconds = time.perf_counter() - started
        model, train_seconds = train_classifier_on(
            dataset,
            train.targets,
            profile,
            seed,
            channels=channels,
            draws=training_draws,
            loss_for=getattr(dataset, "loss_for", None),
            device=device,
            progress=True,
            desc=f"{name} seed {seed}",
        )
        predicted = predict(model, test_inputs, device=device)
        row = {
            "profile": run["profile"],
            "method": name,
            "seed": seed,
            "commit": current_commit(),
            "machine": describe_machine(device),
            "settings": protocol(profile),
            "balanced": imbalanced_report(test.targets, predicted),
        }
        if imbalanced is not None:
            row["imbalanced"] = imbalanced_report(test.targets[imbalanced], predicted[imbalanced])
        if name not in PLAIN:
            fake, fake_labels = synthetic_images(dataset, len(train.targets))
            row["quality"] = class_quality(
                reference(pool, test), transform, (fake, fake_labels), (test.images, test.targets), device
            )
            row["reference"] = dict(run["reference"])
            if seed == profile["seeds"][0]:
                grid = [(train.images[train.targets == c][:8], fake[fake_labels == c][:8]) for c in range(n_classes)]
                save_class_grid(out / f"grid-{slug(name)}.png", grid)
        row |= {
            "resample_seconds": resample_seconds,
            "train_seconds": train_seconds,
            "train_counts": torch.bincount(dataset.targets if hasattr(dataset, "targets") else train.targets).tolist(),
            "started": run["started"],
            "command": run["command"],
        }
        tables.append_run(out / RUNS, row)
        done.add((name, seed))
        print(
            f"seed {seed} {name:<30} ACSA {100 * row['balanced']['acsa']:.2f}  "
            f"resample {resample_seconds:.1f} s  train {train_seconds:.1f} s",
            flush=True,
        )


def reference_classifier(profile: dict[str, Any], device: torch.device, info: dict[str, Any], path: Path) -> Any:
    """``(pool, test) → classifier`` trained once, on the first pool it is given, and kept
    in ``path`` for later runs into the same folder; its training time, pool counts and
    balanced-test ACSA go to ``info``."""
    trained: list[Any] = []

    def get(pool: TensorImages, test: TensorImages) -> Any:
        if not trained:
            channels, n_classes = pool.images.shape[1], len(torch.unique(pool.targets))
            model = make_classifier(profile["classifier"], channels, n_classes, 0)
            if path.exists():
                saved = torch.load(path, weights_only=True)
                model.load_state_dict(saved["state"])
                info.update(saved["info"])
            else:
                transform, started = transform_for(channels), time.perf_counter()
                model = train_reference(pool, transform, model, profile["batch_size"], device, profile["lr_schedule"])
                info["seconds"], info["pool_counts"] = (
                    time.perf_counter() - started,
                    torch.bincount(pool.targets).tolist(),
                )
                info["acsa"] = imbalanced_report(test.targets, predict(model, transform(test.images), device=device))[
                    "acsa"
                ]
                atomic_save({"state": model.state_dict(), "info": dict(info)}, path)
            trained.append(model.eval())
        return trained[0]

    return get


def main(
    argv: list[str] | None = None,
    registry: dict[str, Method] = METHODS,
    description: str | None = None,
    default_profile: str = "smoke",
) -> Path:
    """Parse ``argv`` and run the methods of ``registry`` that it names (default: all)."""
    parser = argparse.ArgumentParser(description=description or __doc__.splitlines()[0])
    parser.add_argument("--profile", choices=sorted(PROFILES), default=default_profile)
    parser.add_argument("--methods", nargs="*", default=list(registry), choices=list(registry))
    parser.add_argument("--seeds", nargs="*", type=int, default=None)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--root", default=None, help="data folder (default: the profile's)")
    parser.add_argument("--out", default=None)
    parser.add_argument(
        "--reuse",
        nargs="*",
        default=[],
        metavar="DIR",
        help="show the chosen methods' rows of DIR/runs.jsonl in the table too (read, not copied)",
    )
    parser.add_argument(
        "--table-only",
        action="store_true",
        help="measure nothing: write the table of the rows already there (and reused)",
    )
    args = parser.parse_args(argv)

    profile = dict(PROFILES[args.profile])
    profile["seeds"] = args.seeds or profile["seeds"]
    profile["root"] = args.root or profile.get("root")
    device = torch.device(args.device)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    out = Path(args.out or Path(__file__).resolve().parent / "results" / f"{args.profile}-{stamp}")
    out.mkdir(parents=True, exist_ok=True)
    for folder in [out, *map(Path, args.reuse)]:
        check_protocol(folder, profile)
    display = tables.load_display()
    done = {(tables.shown_name(row, display), row["seed"]) for row in read_runs(out / RUNS)}
    script = Path(sys.argv[0]).name
    command = ([f"benchmarks/{script}"] if script in ("compare.py", "ablation.py") else []) + list(
        sys.argv[1:] if argv is None else argv
    )
    run = {
        "profile": args.profile,
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "command": shlex.join(command),
        "reference": {"classifier": profile["classifier"]},
    }
    reference = reference_classifier(profile, device, run["reference"], out / "reference-classifier.pt")
    for seed in [] if args.table_only else profile["seeds"]:
        run_seed(profile, seed, {name: registry[name] for name in args.methods}, device, out, done, reference, run)
    specs = tables.table_specs(out)
    if args.reuse:  # the table reads the reused rows where they are: later files win, so this folder's last
        runs = [os.path.relpath(Path(folder) / RUNS, out) for folder in reversed(args.reuse)] + [RUNS]
        shown = {tables.shown_name(row, display) for name in runs for row in read_runs(out / name)}
        specs["table.md"] = {"runs": runs, "methods": [m for m in registry if m in args.methods and m in shown]}
        (out / "tables.json").write_text(json.dumps(specs, indent=2, ensure_ascii=False) + "\n")
    chosen = tables.select(out, specs.get("table.md", {}), display)
    if not chosen:
        print(f"nothing measured in {out} yet: no table")
        return out
    tables.write(out)
    balanced = tables.summarise(chosen, "balanced")
    save_metric_bars(
        out / "metrics.png",
        {n: {s: v[s][0] / 100 for s in tables.SCORES} for n, v in balanced.items()},
        title=f"{profile['dataset']}, balanced test set, {len(profile['seeds'])} seed(s)",
    )
    print(f"wrote {out}")
    return out


if __name__ == "__main__":
    main()
