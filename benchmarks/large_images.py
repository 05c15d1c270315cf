"""Larger images: the comparison's protocol on a ``make_shapes.py`` ImageFolder, with DeepSMOTE's fit cost.

Usage:
    python benchmarks/make_shapes.py --size 64 --out data/shapes-64
    python benchmarks/large_images.py --data data/shapes-64 --out benchmarks/results/large-images/64 --threads 1
    python benchmarks/large_images.py --check --data data/shapes-224 --out benchmarks/results/large-images --threads 1

Comparison: for every (method, seed) not yet in ``--out``'s ``runs.jsonl``, one fresh
process builds the method's training set from ``<data>/train`` as torchvision's
``ImageFolder`` reads it (``none``: the folder; ``random oversampling``: its items
repeated by the protocol's ``random_oversampling``; ``DeepSMOTE (default)``:
``DeepSMOTEDataset(ImageFolder(...), DeepSMOTE(...))``, the `cpu` profile's autoencoder,
no cache), trains the protocol's SmallCNN on it (``train_classifier_on``: the step
budget of ``--epochs`` balanced epochs, Adam, cosine schedule) and scores it on the
balanced ``<data>/test``. A DeepSMOTE row also records its ``fit_cost``: the process's
resident memory before and after the fit and its peak during it, the autoencoder's
seconds per epoch, the estimate line the fit logs, and the synthetic items per second
that the dataset serves through a ``DataLoader`` (every synthetic item once, in
batches of the classifier's size, through the classifier's transform). The rows
resume as ``compare.py``'s do; ``tables.py`` writes the folder's ``table.md``.

``--check``: one fresh process wraps ``<data>/train`` with
``DeepSMOTEDataset(ImageFolder(...), DeepSMOTE(width=16, ...))`` (``CHECK``), trains,
serves every synthetic item once through a ``DataLoader`` (as uint8 tensors) and writes
the same fit cost, and whether its peak stayed within 2 GiB, to ``<out>/check-<size>.json``
(``check-<size>-streamed.json`` with ``--stream``: the fit streams the folder).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import resource
import shlex
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path
from typing import Any, Callable, Iterator

sys.path.insert(0, str(Path(__file__).resolve().parent))

import torch  # noqa: E402
from torch.utils.data import DataLoader, Dataset, Subset  # noqa: E402
from torchvision.datasets import ImageFolder  # noqa: E402
from torchvision.transforms import v2 as T  # noqa: E402

import tables  # noqa: E402
from _environment import describe_machine  # noqa: E402
from torch_deepsmote import DeepSMOTE, DeepSMOTEDataset  # noqa: E402
from torch_deepsmote.evaluation.classifier import predict  # noqa: E402
from torch_deepsmote.evaluation.metrics import imbalanced_report  # noqa: E402
from torch_deepsmote.evaluation.protocol import PROFILES, random_oversampling, train_classifier_on  # noqa: E402

# compare.py and methods.py (with them scikit-learn and imbalanced-learn, about 100 MiB of
# resident memory) are imported where the comparison uses them, so that the --check
# process holds only what a user's program would: torch, torchvision, torch_deepsmote.

METHODS = ("none", "random oversampling", "DeepSMOTE (default)")
DEEPSMOTE = "DeepSMOTE (default)"
# The classifier's balanced epochs (40 steps each at the default counts): one (method, seed)
# takes about 1–1.5 min at 64×64 and 3–6 min at 128×128 on one core (NOTES.md: how).
EPOCHS = 3
# The --check's autoencoder: width 16, the `cpu` profile's latent size and epochs, and batch 32 as in
# docs/performance.md's estimate of a 3×224×224 fit.
CHECK = {"width": 16, "latent_dim": 128, "epochs": 10, "batch_size": 32}
CHECK_LIMIT_MIB = 2048
MiB = 2**20


def read_manifest(data: Path) -> dict[str, Any]:
    """The ``shapes.json`` that ``make_shapes.py`` wrote in ``data``."""
    return json.loads((data / "shapes.json").read_text(encoding="utf-8"))


def shapes_profile(data: Path, epochs: int, seeds: list[int]) -> dict[str, Any]:
    """The `cpu` profile's classifier and DeepSMOTE budget on the ``make_shapes.py`` folder
    ``data`` (its manifest recorded as ``"data"``), for ``epochs`` balanced epochs."""
    manifest, cpu = read_manifest(data), PROFILES["cpu"]
    return cpu | {
        "dataset": f"shapes-{manifest['size']}",
        "data": manifest,
        "epochs": epochs,
        "seeds": seeds,
        "root": str(data),
        "settings": {"deepsmote": cpu["settings"]["deepsmote"]},
    }


def item_transform(channels: int) -> T.Compose:
    """PIL image → float (C, H, W) in [-1, 1], the classifier's input for every method."""
    from compare import transform_for

    return T.Compose([T.PILToTensor(), transform_for(channels)])


def memory_mib() -> dict[str, float]:
    """This process's resident memory now and at its peak so far, in MiB: ``/proc/self/status``'s
    ``VmRSS`` and ``VmHWM`` (a spawned process's ``ru_maxrss`` starts at its parent's size;
    ``VmHWM`` is its own), ``ru_maxrss`` where there is no ``/proc``."""
    try:
        fields = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines() if ":" in line)
        return {"now": int(fields["VmRSS"].split()[0]) / 1024, "peak": int(fields["VmHWM"].split()[0]) / 1024}
    except (OSError, KeyError):
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return {"now": float("nan"), "peak": peak / (MiB if sys.platform == "darwin" else 1024)}


@contextlib.contextmanager
def timed_calls(module: Any, name: str) -> Iterator[list[float]]:
    """The seconds of each call of ``module.name`` made inside the block."""
    function, seconds = getattr(module, name), []

    def timed(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            seconds.append(time.perf_counter() - started)

    setattr(module, name, timed)
    try:
        yield seconds
    finally:
        setattr(module, name, function)


@contextlib.contextmanager
def logged_lines(name: str = "torch_deepsmote.oversampler") -> Iterator[list[str]]:
    """The INFO messages of logger ``name`` inside the block (``DeepSMOTE.fit``'s estimate line)."""
    lines: list[str] = []
    handler = logging.Handler(logging.INFO)
    handler.emit = lambda record: lines.append(record.getMessage())
    logger = logging.getLogger(name)
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield lines
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def serve_synthetic(dataset: DeepSMOTEDataset, batch_size: int) -> dict[str, float]:
    """Every synthetic item of ``dataset`` once, in order, through a ``DataLoader`` in batches of
    ``batch_size``: how many, how fast, and the process's peak memory after (MiB)."""
    batches = [batch.tolist() for batch in torch.arange(dataset.n_real, len(dataset)).split(batch_size)]
    started = time.perf_counter()
    for _ in DataLoader(dataset, batch_sampler=batches):
        pass
    items = len(dataset) - dataset.n_real
    return {
        "generation_items": items,
        "generation_items_per_s": items / (time.perf_counter() - started),
        "peak_rss_mib": memory_mib()["peak"],
    }


def wrap(
    root: Path, oversampler: DeepSMOTE, options: dict[str, Any], transform: Callable
) -> tuple[DeepSMOTEDataset, dict[str, Any]]:
    """``DeepSMOTEDataset(ImageFolder(root), oversampler, transform=transform, **options)``, fitted:
    (the dataset, what the fit cost: memory in MiB, seconds, the estimate line it logged, whether
    it streamed the images)."""
    import torch_deepsmote.oversampler as oversampler_module

    before = memory_mib()
    started = time.perf_counter()
    with timed_calls(oversampler_module, "fit_autoencoder") as fits, logged_lines() as lines:
        dataset = DeepSMOTEDataset(ImageFolder(str(root)), oversampler, transform=transform, **options)
    seconds = time.perf_counter() - started
    after = memory_mib()
    return dataset, {
        "rss_before_fit_mib": before["now"],
        "peak_rss_fit_mib": after["peak"],
        "rss_after_fit_mib": after["now"],
        "fit_seconds": seconds,
        "autoencoder_seconds_per_epoch": sum(fits) / max(1, oversampler.epochs),
        "estimate": " ".join(lines),
        "streamed": dataset.streamed,
    }


def training_set(method: str, data: Path, seed: int, profile: dict[str, Any]) -> tuple[Dataset, dict | None]:
    """The training set ``method`` makes of ``data/train`` (items: float (C, H, W), label) and,
    for DeepSMOTE, its fit cost; the DeepSMOTE of ``methods.py``'s ``"DeepSMOTE (default)"``, no cache."""
    from methods import build_deepsmote

    transform = item_transform(3)
    if method == DEEPSMOTE:
        oversampler, options = build_deepsmote(profile["settings"]["deepsmote"] | {"cache_dir": False}, seed)
        return wrap(data / "train", oversampler, options, transform)
    folder = ImageFolder(str(data / "train"), transform=transform)
    if method == "none":
        return folder, None
    if method == "random oversampling":
        index, _ = random_oversampling(torch.arange(len(folder)), torch.tensor(folder.targets), seed)
        return Subset(folder, index.tolist()), None
    raise ValueError(f"`method` must be one of {METHODS}, got {method!r}.")


def served_labels(dataset: Dataset) -> torch.Tensor:
    """(len(dataset),) labels of a training set that :func:`training_set` made."""
    if isinstance(dataset, Subset):
        return torch.tensor(dataset.dataset.targets)[dataset.indices]
    return torch.as_tensor(dataset.targets)


def test_set(data: Path) -> tuple[torch.Tensor, torch.Tensor]:
    """The balanced ``data/test`` folder: (N, C, H, W) classifier inputs and (N,) labels."""
    folder = ImageFolder(str(data / "test"), transform=item_transform(3))
    inputs = torch.cat([images for images, _ in DataLoader(folder, batch_size=256)])
    return inputs, torch.tensor(folder.targets)


def measure(job: dict[str, Any]) -> dict[str, Any]:
    """One (method, seed) of the comparison, in this process: its ``runs.jsonl`` row."""
    torch.set_num_threads(job["threads"] or torch.get_num_threads())
    profile, method, seed = job["profile"], job["method"], job["seed"]
    data = Path(profile["root"])
    labels = torch.tensor(ImageFolder(str(data / "train")).targets)
    started = time.perf_counter()
    dataset, cost = training_set(method, data, seed, profile)
    resample_seconds = time.perf_counter() - started
    if cost is not None:
        cost |= serve_synthetic(dataset, profile["batch_size"])
    model, train_seconds = train_classifier_on(
        dataset, labels, profile, seed, channels=3, progress=job["progress"], desc=f"{method} seed {seed}"
    )
    inputs, targets = test_set(data)
    row = {
        "profile": job["name"],
        "method": method,
        "seed": seed,
        "commit": job["commit"],
        "machine": describe_machine("cpu"),
        "settings": tables.protocol(profile),
        "balanced": imbalanced_report(targets, predict(model, inputs)),
        "resample_seconds": resample_seconds,
        "train_seconds": train_seconds,
        "train_counts": torch.bincount(served_labels(dataset)).tolist(),
    }
    return row | ({"fit_cost": cost} if cost else {})


def check(job: dict[str, Any]) -> dict[str, Any]:
    """The ``--check`` run, in this process: ``data/train`` wrapped with ``DeepSMOTE(**CHECK)``, its
    items served as uint8 (C, H, W) tensors; the result for ``check-<size>.json``."""
    torch.set_num_threads(job["threads"] or torch.get_num_threads())
    data = Path(job["data"])
    oversampler = DeepSMOTE(**CHECK, random_state=job["seed"], progress=False)
    options = {"cache_dir": False, "stream": job["stream"]}
    dataset, cost = wrap(data / "train", oversampler, options, T.PILToTensor())
    cost |= serve_synthetic(dataset, CHECK["batch_size"])
    return {
        "data": read_manifest(data),
        "deepsmote": CHECK,
        "seed": job["seed"],
        "limit_mib": CHECK_LIMIT_MIB,
        "within_limit": cost["peak_rss_mib"] <= CHECK_LIMIT_MIB,
        "fit_cost": cost,
        "commit": job["commit"],
        "machine": describe_machine("cpu"),
        "command": job["command"],
    }


def in_fresh_process(function: Callable[[dict], dict], job: dict[str, Any]) -> dict[str, Any]:
    """``function(job)`` in a new spawned process, so that its peak memory is its own."""
    with ProcessPoolExecutor(1, mp_context=get_context("spawn")) as pool:
        return pool.submit(function, job).result()


def run_comparison(args: argparse.Namespace, command: str) -> Path:
    """Every (method, seed) not yet in ``args.out``'s runs file, each appended as measured; the table."""
    from compare import check_protocol, current_commit

    data, out = Path(args.data), Path(args.out)
    profile = shapes_profile(data, args.epochs, args.seeds)
    out.mkdir(parents=True, exist_ok=True)
    check_protocol(out, profile)
    done = {(row["method"], row["seed"]) for row in tables.read_runs(out / tables.RUNS)}
    started = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    for seed in args.seeds:
        for method in [m for m in args.methods if (m, seed) not in done]:
            job = {"profile": profile, "name": f"large-images-{profile['data']['size']}", "method": method}
            job |= {"seed": seed, "commit": current_commit(), "threads": args.threads, "progress": args.progress}
            row = in_fresh_process(measure, job)
            tables.append_run(out / tables.RUNS, row | {"started": started, "command": command})
            print(
                f"seed {seed} {method:<22} ACSA {100 * row['balanced']['acsa']:.2f}  "
                f"resample {row['resample_seconds']:.1f} s  train {row['train_seconds']:.1f} s",
                flush=True,
            )
    tables.write(out)
    return out


def run_check(args: argparse.Namespace, command: str) -> Path:
    """The ``--check`` in a fresh process; its result written to ``args.out/check-<size>.json``."""
    from compare import current_commit

    job = {"data": args.data, "seed": args.seeds[0], "threads": args.threads, "commit": current_commit()}
    result = in_fresh_process(check, job | {"command": command, "stream": args.stream})
    path = Path(args.out) / f"check-{result['data']['size']}{'-streamed' if args.stream else ''}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"peak {result['fit_cost']['peak_rss_mib']:.0f} MiB (limit {CHECK_LIMIT_MIB} MiB); wrote {path}")
    return path


def main(argv: list[str] | None = None) -> Path:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="a make_shapes.py folder (train/, test/, shapes.json)")
    parser.add_argument("--out", required=True, help="results folder")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS)
    parser.add_argument("--epochs", type=int, default=EPOCHS, help="the classifier's balanced epochs")
    parser.add_argument("--threads", type=int, default=None, help="torch threads of each run (default: torch's)")
    parser.add_argument("--check", action="store_true", help="the wrap, train and serve check (seed: the first)")
    parser.add_argument("--stream", action="store_true", help="with --check: the fit streams the folder")
    parser.add_argument("--progress", action="store_true", help="show the classifier's progress bar")
    args = parser.parse_args(argv)
    command = shlex.join(["benchmarks/large_images.py", *(sys.argv[1:] if argv is None else argv)])
    return run_check(args, command) if args.check else run_comparison(args, command)


if __name__ == "__main__":
    main()
