"""The paper's comparison: every reference method, one classifier, repeated seeds.

Usage:
    python benchmarks/compare.py --profile smoke            # digits, seconds (CI)
    python benchmarks/compare.py --profile cpu              # Fashion-MNIST, small CNN, 3 seeds
    python benchmarks/compare.py --profile paper --device cuda   # ResNet-18, 5 seeds

Each seed draws the paper's imbalanced training set, builds every method's training
set (timed), trains the same classifier for the same number of steps, and scores it
on the balanced test set and on the paper's imbalanced test profile. Each generative
method's synthetic images are scored per class by a reference classifier trained on the
full balanced pool (``quality.py``). Results go to
``benchmarks/results/<profile>-<time>/``: ``table.md`` (mean ± std beside the
paper's figures), ``results.json`` (raw, with machine, versions, seeds, settings and
the commit each row was measured with), ``metrics.png`` and a real-vs-synthetic
``grid-<method>.png`` per generative method.

An existing ``--out`` folder is resumed: (seed, method) pairs already in its
``results.json`` or ``partial.json`` are kept and not rerun, so an interrupted run
goes on where it stopped and methods can be added to a finished run.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import DataLoader, RandomSampler
from torchvision.transforms import v2 as T

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _environment import describe_machine  # noqa: E402
from methods import METHODS, PLAIN, Method, OwnDraws  # noqa: E402
from profiles import PAPER_FMNIST, PROFILES, make_classifier  # noqa: E402
from quality import class_quality, train_reference  # noqa: E402

from torch_deepsmote.data.cache import atomic_save  # noqa: E402
from torch_deepsmote.evaluation.classifier import predict, train_classifier  # noqa: E402
from torch_deepsmote.evaluation.datasets import MNIST_TEST_PROFILE, make_imbalanced  # noqa: E402
from torch_deepsmote.evaluation.demo import DemoConfig, TensorImages, load_demo_pool  # noqa: E402
from torch_deepsmote.evaluation.metrics import imbalanced_report  # noqa: E402
from torch_deepsmote.evaluation.plots import save_class_grid, save_metric_bars  # noqa: E402

SCORES = ("acsa", "gm_macro", "f1_macro")


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
    return (git("rev-parse", "HEAD") or "unknown") + ("-dirty" if git("status", "--porcelain", "--untracked-files=no") else "")


def load_previous(out: Path) -> dict[int, dict[str, Any]]:
    """Rows already measured in ``out`` (``results.json``, then ``partial.json`` on top);
    a row that does not name its machine gets the one its file names."""
    runs: dict[int, dict[str, Any]] = {}
    for name in ("results.json", "partial.json"):
        if (out / name).exists():
            saved = json.loads((out / name).read_text())
            for seed, rows in saved.get("runs", saved).items():
                machine = {"machine": saved["machine"]} if "machine" in saved else {}
                runs.setdefault(int(seed), {}).update({method: machine | row for method, row in rows.items()})
    return runs


def saved_results(folder: Path) -> dict[str, Any]:
    """``folder``'s ``results.json`` (``{}`` when it has none)."""
    return json.loads((folder / "results.json").read_text()) if (folder / "results.json").exists() else {}


def protocol(settings: dict[str, Any]) -> dict[str, Any]:
    """The settings that make two folders' rows comparable (all but seeds and data root)."""
    return {key: value for key, value in settings.items() if key not in ("seeds", "root")}


def check_protocol(folder: Path, profile: dict[str, Any]) -> None:
    """Refuse to resume or reuse ``folder`` when it was measured under another protocol."""
    for name in ("results.json", "partial.json"):
        saved = json.loads((folder / name).read_text()) if (folder / name).exists() else {}
        theirs, ours = protocol(saved.get("settings", {})), protocol(profile)
        if "runs" in saved and theirs != ours:
            differ = sorted(key for key in theirs.keys() | ours.keys() if theirs.get(key) != ours.get(key))
            raise SystemExit(
                f"{folder / name} was measured with other settings ({', '.join(differ)} differ from the profile's):"
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
        items = [image for start in range(0, len(indices), 1024) for image, _ in dataset.raw_items(indices[start : start + 1024])]
        return torch.stack(items), dataset.targets[n_real:]
    return dataset.images[n_real:], dataset.targets[n_real:]


def training_draws(dataset: Any, n_samples: int, generator: torch.Generator) -> Any:
    """The classifier's ``n_samples`` item indices: uniform over ``dataset`` (a fresh
    permutation each pass), or its own order for a deferred rebalancing."""
    if isinstance(dataset, OwnDraws):
        return dataset.draws(n_samples, generator)
    return RandomSampler(dataset, num_samples=n_samples, generator=generator)


def run_seed(
    profile: dict[str, Any], seed: int, methods: dict[str, Method], device: torch.device, out: Path,
    runs: dict[int, dict[str, Any]], reference: Any,
) -> None:
    """Every method not yet in ``runs[seed]``; after each, ``runs`` goes to ``partial.json``."""
    train, pool, test = load_split(profile, seed)
    channels, n_classes = train.images.shape[1], len(torch.unique(train.targets))
    transform = transform_for(channels)
    test_inputs = transform(test.images)
    imbalanced = imbalanced_test_index(test.targets, seed)
    steps = math.ceil(int(torch.bincount(train.targets).max()) * n_classes / profile["batch_size"])
    rows = runs.setdefault(seed, {})
    for name in [m for m in methods if m not in rows]:
        started = time.perf_counter()
        settings = profile["settings"] | {"device": device, "pool": pool}
        dataset = methods[name](train.images, train.targets, seed, settings, transform)
        resample_seconds = time.perf_counter() - started
        sampler = training_draws(dataset, steps * profile["batch_size"], torch.Generator().manual_seed(seed))
        loader = DataLoader(dataset, batch_size=profile["batch_size"], sampler=sampler)
        model = make_classifier(profile["classifier"], channels, n_classes, seed)
        started = time.perf_counter()
        train_classifier(model, loader, epochs=profile["epochs"], lr=profile["lr"], schedule=profile["lr_schedule"],
                         device=device, desc=f"{name} seed {seed}")
        train_seconds = time.perf_counter() - started
        predicted = predict(model, test_inputs, device=device)
        row = {
            "balanced": imbalanced_report(test.targets, predicted),
            "resample_seconds": resample_seconds,
            "train_seconds": train_seconds,
            "train_counts": torch.bincount(dataset.targets if hasattr(dataset, "targets") else train.targets).tolist(),
            "commit": current_commit(),
            "machine": describe_machine(device),
        }
        if imbalanced is not None:
            row["imbalanced"] = imbalanced_report(test.targets[imbalanced], predicted[imbalanced])
        if name not in PLAIN:
            fake, fake_labels = synthetic_images(dataset, len(train.targets))
            row["quality"] = class_quality(reference(pool, test), transform, (fake, fake_labels),
                                           (test.images, test.targets), device)
            if seed == profile["seeds"][0]:
                grid = [(train.images[train.targets == c][:8], fake[fake_labels == c][:8]) for c in range(n_classes)]
                save_class_grid(out / f"grid-{slug(name)}.png", grid)
        rows[name] = row
        (out / "partial.json").write_text(json.dumps({"settings": profile, "runs": runs}, indent=2, default=str))
        print(f"seed {seed} {name:<30} ACSA {100 * row['balanced']['acsa']:.2f}  "
              f"resample {resample_seconds:.1f} s  train {train_seconds:.1f} s", flush=True)


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
                info["seconds"], info["pool_counts"] = time.perf_counter() - started, torch.bincount(pool.targets).tolist()
                info["acsa"] = imbalanced_report(test.targets, predict(model, transform(test.images), device=device))["acsa"]
                atomic_save({"state": model.state_dict(), "info": dict(info)}, path)
            trained.append(model.eval())
        return trained[0]

    return get


def summarise(runs: dict[int, dict[str, Any]], methods: list[str], test: str) -> dict[str, dict[str, tuple[float, float]]]:
    """method → score → (mean, std) in %, over the seeds that measured it."""
    table = {}
    for name in methods:
        values = {s: [100 * runs[seed][name][test][s] for seed in runs if test in runs[seed].get(name, {})] for s in SCORES}
        if all(values.values()):
            table[name] = {s: (statistics.mean(v), statistics.stdev(v) if len(v) > 1 else 0.0) for s, v in values.items()}
    return table


def quality_lines(runs: dict[int, dict[str, Any]], methods: list[str], reference: dict[str, Any]) -> list[str]:
    """The synthetic-image quality table: per method, per class, averaged over the seeds."""
    rows = {name: [runs[s][name]["quality"] for s in runs if "quality" in runs[s].get(name, {})] for name in methods}
    rows = {name: found for name, found in rows.items() if found}
    if not rows:
        return []
    classes = sorted({int(c) for found in rows.values() for q in found for c in q})
    lines = ["## Synthetic-image quality per class", "",
             f"A {reference.get('classifier', 'reference')} trained on the full balanced training pool "
             f"({sum(reference.get('pool_counts', []))} images, balanced-test ACSA {100 * reference.get('acsa', float('nan')):.2f}) "
             "labels each synthetic image. `agree` = the share given its intended class (%), mean over the "
             "classes; `FD` = Fréchet distance between the reference's penultimate features of the synthetic "
             "and the real test images of the class, mean over the classes. Then the agreement per class.", "",
             "| method | agree | FD | " + " | ".join(f"class {c}" for c in classes) + " |",
             "|---|---|---|" + "---|" * len(classes)]
    for name, found in rows.items():
        def mean(key: str, label: int | None = None) -> float:
            picked = [q[c][key] for q in found for c in q if label is None or int(c) == label]
            return statistics.mean(picked) if picked else float("nan")
        per_class = " | ".join("—" if math.isnan(a := mean("agreement", c)) else f"{100 * a:.1f}" for c in classes)
        lines.append(f"| {name} | {100 * mean('agreement'):.1f} | {mean('frechet'):.2f} | {per_class} |")
    return lines + [""]


def machine_summary(machine: dict[str, Any]) -> str:
    """One line for a :func:`describe_machine` record: processor, CPUs, device, torch."""
    gpu = f", {machine['gpu']}" if "gpu" in machine else ""
    return (f"{machine['processor']}, {machine['cpu_count']} CPUs, device {machine['device']}{gpu}; "
            f"torch {machine['torch']}")


def machines_line(runs: dict, methods: list[str], machine: dict[str, Any]) -> str:
    """The machine(s) the shown rows ran on (``machine`` where no row names one)."""
    summaries = sorted({machine_summary(rows[name].get("machine", machine))
                        for rows in runs.values() for name in methods if name in rows} or {machine_summary(machine)})
    if len(summaries) == 1:
        return f"machine: {summaries[0]}."
    return (f"machines: {' | '.join(summaries)} (each row's `machine` in results.json; "
            "the seconds are its own machine's).")


def markdown(profile_name: str, profile: dict[str, Any], runs: dict, methods: list[str], machine: dict,
             reference: dict[str, Any]) -> str:
    lines = [f"# Comparison, profile `{profile_name}`", "",
             f"Data: {profile['dataset']}; classifier: {profile['classifier']}; seeds: {sorted(runs)}; "
             f"epochs: {profile['epochs']}; batch {profile['batch_size']}; {machines_line(runs, methods, machine)}", ""]
    for test in ("balanced", "imbalanced"):
        table = summarise(runs, methods, test)
        if not table:
            continue
        paper_note = " (paper: Fashion-MNIST, imbalanced test, ResNet-18, 5-fold CV)" if test == "imbalanced" else ""
        lines += [f"## {test.capitalize()} test set — ACSA / GM / F1, mean ± std over the seeds (%)", "",
                  f"| method | seeds | ACSA | GM | F1 | paper ACSA / GM / F1{paper_note} | resample s | train s |",
                  "|---|---|---|---|---|---|---|---|"]
        for name, scores in table.items():
            paper = PAPER_FMNIST.get(name, "—") if test == "imbalanced" else "—"
            seeds = [seed for seed in runs if name in runs[seed]]
            seconds = [statistics.mean(runs[s][name][k] for s in seeds) for k in ("resample_seconds", "train_seconds")]
            cells = " | ".join(f"{m:.2f}" if len(seeds) == 1 else f"{m:.2f} ± {sd:.2f}" for m, sd in scores.values())
            lines.append(f"| {name} | {len(seeds)} | {cells} | {paper} | {seconds[0]:.1f} | {seconds[1]:.1f} |")
        lines.append("")
    return "\n".join(lines + quality_lines(runs, methods, reference))


def main(argv: list[str] | None = None, registry: dict[str, Method] = METHODS, description: str | None = None,
         default_profile: str = "smoke") -> Path:
    """Parse ``argv`` and run the methods of ``registry`` that it names (default: all)."""
    parser = argparse.ArgumentParser(description=description or __doc__.splitlines()[0])
    parser.add_argument("--profile", choices=sorted(PROFILES), default=default_profile)
    parser.add_argument("--methods", nargs="*", default=list(registry), choices=list(registry))
    parser.add_argument("--seeds", nargs="*", type=int, default=None)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--root", default=None, help="data folder (default: the profile's)")
    parser.add_argument("--out", default=None)
    parser.add_argument("--reuse", nargs="*", default=[], metavar="DIR",
                        help="take the rows of the chosen methods already measured in each DIR")
    parser.add_argument("--table-only", action="store_true",
                        help="measure nothing: write the table of the rows already there (and reused)")
    args = parser.parse_args(argv)

    profile = dict(PROFILES[args.profile])
    profile["seeds"] = args.seeds or profile["seeds"]
    profile["root"] = args.root or profile.get("root")
    device = torch.device(args.device)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    out = Path(args.out or Path(__file__).resolve().parent / "results" / f"{args.profile}-{stamp}")
    out.mkdir(parents=True, exist_ok=True)
    # re-tabling measures nothing: the folder keeps the machine its file names
    machine = saved_results(out).get("machine") if args.table_only else None
    machine = machine or describe_machine(device)
    for folder in [out, *map(Path, args.reuse)]:
        check_protocol(folder, profile)
    runs = load_previous(out)
    for folder in args.reuse:
        for seed, rows in load_previous(Path(folder)).items():
            for name in set(rows) & set(args.methods) - set(runs.get(seed, {})):
                runs.setdefault(seed, {})[name] = rows[name] | {"reused_from": folder}
    reference_info = {"classifier": profile["classifier"]}
    reference = reference_classifier(profile, device, reference_info, out / "reference-classifier.pt")
    for seed in [] if args.table_only else profile["seeds"]:
        run_seed(profile, seed, {name: registry[name] for name in args.methods}, device, out, runs, reference)
    if "acsa" not in reference_info:  # nothing generated here: the reference another run recorded
        for folder in [out, *map(Path, args.reuse)]:
            saved = saved_results(folder)
            if "acsa" in saved.get("reference", {}):
                reference_info = saved["reference"]
                break
    methods = [name for name in registry if any(name in rows for rows in runs.values())]
    (out / "results.json").write_text(json.dumps({"profile": args.profile, "settings": profile, "machine": machine,
                                                  "reference": reference_info, "runs": runs}, indent=2, default=str))
    (out / "table.md").write_text(markdown(args.profile, profile, runs, methods, machine, reference_info))
    (out / "partial.json").unlink(missing_ok=True)
    balanced = summarise(runs, methods, "balanced")
    save_metric_bars(out / "metrics.png", {n: {s: v[s][0] / 100 for s in SCORES} for n, v in balanced.items()},
                     title=f"{profile['dataset']}, balanced test set, {len(profile['seeds'])} seed(s)")
    print(f"wrote {out}")
    return out


if __name__ == "__main__":
    main()
