"""Speed and memory of torch_deepsmote, each figure a ratio of two things timed in one run.

1. generation: synthetic items/s through a ``DataLoader`` over ``DeepSMOTEDataset``
   (batches of ``--batch`` synthetic indices, no transform; epochs rendered ahead are
   charged their rendering) against the bare decoder forward at the same batch size on
   the same device (target ≥ 0.9×); and what a PIL round trip costs per item;
2. epoch: one epoch of ``--classifier`` (SmallCNN, or ResNet-18 with the small-image
   stem) over ``DeepSMOTEDataset`` + ``BalancedBatchSampler`` against the same epoch
   (same batches, transform, seed) over the materialised balanced copy, with
   ``--epoch-workers`` ``DataLoader`` workers (0 and 1); time waiting for batches and
   time in training steps are kept apart (target ≤ 1.15×);
3. pretraining: ``fit_autoencoder`` (paper penalty) against a re-creation of the
   authors' training step (``shared/paper/FACTS.md``) and against its own previous
   step (two decoder passes, same batches), same network, batch, data and initial
   weights, epochs interleaved; the eval-mode reconstruction MSE of all three; and
   single-step variants (one or two decoder passes, fused Adam, channels-last, bf16
   autocast, ``torch.compile``) with a profile of the library's step (target ≥ 2×);
4. k-NN: ``benchmarks/knn_backends.py`` at every size; a torch size it skips is
   estimated from a sample of its row blocks (time ∝ rows), the estimate checked at
   the largest size measured in full (target: auto within 10% of the faster backend);
5. memory: peak resident-set growth and tensor bytes held by ``DeepSMOTEDataset`` against its
   materialised copy at the paper's Fashion-MNIST counts balanced to 4000 per class,
   and with 10× the synthetic items; one fresh process each (target: flat but for the
   index tables).

Data: Fashion-MNIST, the paper's training counts (× ``--ae-scale`` for section 3, ×
``--scale`` for sections 1-2); the autoencoder at ``--width`` (the paper's is 64; 16
keeps the CPU run near 10 minutes). ``--quick`` shrinks every size for a run of
seconds to a minute (the tests use it).

Usage::

    python benchmarks/throughput.py --out benchmarks/results/performance/throughput-cpu
    python benchmarks/throughput.py --device cuda --out benchmarks/results/performance/throughput-cuda
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import datetime
import gc
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np
import torch
import torch.nn.functional as F
from torch.profiler import profile
from torch.utils.data import DataLoader, TensorDataset

import knn_backends
from _environment import describe_machine
from torch_deepsmote import BalancedBatchSampler, ConvAutoencoder, DeepSMOTE, DeepSMOTEDataset, fit_autoencoder
from torch_deepsmote.evaluation.datasets import (
    DEBIAN_FASHION_MNIST,
    MNIST_TRAIN_PROFILE,
    load_dataset,
    make_imbalanced,
    scale_profile,
)
from torch_deepsmote.evaluation.demo import TensorImages
from torch_deepsmote.evaluation.protocol import make_classifier
from torch_deepsmote.latent.neighbors import default_chunk_size, resolve_backend
from torch_deepsmote.nn.ranges import to_network_range
from torch_deepsmote.nn.training import OFFICIAL_CLASS_BATCH, _batches, same_class_derangement

REPO_ROOT = Path(__file__).resolve().parents[1]
TARGETS = {
    "generation": 0.9,
    "epoch": 1.15,
    "pretraining": 2.0,
    "mse_ratio": 1.02,
    "knn_auto": 1.10,
    "memory_bytes_per_item": 64,
}
QUICK = dict(
    scale=0.05,
    ae_scale=0.05,
    ae_epochs=1,
    generation_batches=2,
    rounds=1,
    variant_steps=1,
    slow_variants=False,
    knn_sizes=[40, 400],
    knn_budget_s=1e-3,
    knn_min_total_s=0.2,
    knn_blocks=2,
    memory_scale=0.05,
    memory_batches=2,
    test_images=100,
)


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(function: Callable[[], Any], device: torch.device) -> float:
    """Wall seconds of one call, the device synchronised."""
    start = time.perf_counter()
    function()
    sync(device)
    return time.perf_counter() - start


def new_model(args: argparse.Namespace, image_shape: tuple[int, ...]) -> ConvAutoencoder:
    return ConvAutoencoder(
        image_shape, args.latent_dim, width=args.width, generator=torch.Generator().manual_seed(args.seed)
    )


def paper_subset(images: torch.Tensor, labels: torch.Tensor, scale: float, seed: int) -> TensorImages:
    """The paper's Fashion-MNIST training counts × ``scale`` as a dataset of raw uint8 images."""
    keep = make_imbalanced(labels, scale_profile(MNIST_TRAIN_PROFILE, scale), random_state=seed)
    return TensorImages(images[keep], labels[keep])


def materialise(ds: DeepSMOTEDataset, batch: int, decode_limit: int | None = None) -> TensorImages:
    """The balanced copy of ``ds``: its (len(ds), C, H, W) raw images decoded ``batch`` at a time.

    With ``decode_limit``, only that many synthetic items are decoded and repeated for
    the rest (memory does not depend on pixel values; decoding them all takes minutes).
    """
    images = torch.empty((len(ds), *ds.raw_format.shape), dtype=ds.raw_format.dtype)
    stop = len(ds) if decode_limit is None else min(len(ds), ds.n_real + decode_limit)
    for chunk in torch.arange(stop).split(batch):
        images[chunk] = torch.stack([ds.raw_format.to_chw(image) for image, _ in ds.raw_items(chunk.tolist())])
    for start in range(stop, len(ds), stop - ds.n_real):
        end = min(len(ds), start + stop - ds.n_real)
        images[start:end] = images[ds.n_real : ds.n_real + end - start]
    return TensorImages(images, ds.targets, ds.transform)


# --------------------------------------------------------------------------- 1. generation


def measure_generation(args: argparse.Namespace, ds: DeepSMOTEDataset, device: torch.device) -> dict[str, Any]:
    """Synthetic items/s through a DataLoader against the bare decoder forward.

    Each loader batch is timed next to one bare decoder call on ``batch`` of the
    dataset's own latents, alternately, so that outside load hits both alike. Where
    the dataset renders its epochs ahead (``prerender``, a CUDA model's default), each
    round first selects a new epoch, timed, and every item read is charged its share
    of that rendering (render seconds ÷ synthetic items).
    """
    generator = torch.Generator().manual_seed(args.seed)
    synthetic = ds.n_real + torch.randperm(len(ds) - ds.n_real, generator=generator)
    batches = [b.tolist() for b in synthetic[: args.batch * args.generation_batches].split(args.batch)]
    loader = DataLoader(ds, batch_sampler=batches)
    model = ds.oversampler.autoencoder_
    stored = torch.cat(list(ds.oversampler.index_.latents.values()))
    latents = stored[torch.arange(args.batch) % len(stored)].to(device)

    def bare() -> None:
        with torch.inference_mode():
            model.decode(latents)

    bare(), list(loader)  # warm-up; the loader's first pass also builds the draws table
    times: dict[str, list[float]] = {"bare decoder": [], "DataLoader": []}
    rendering = []
    for round_ in range(args.rounds):
        if ds.prerendered:
            rendering.append(timed(lambda: ds.set_epoch(round_ + 1), device))
        items = iter(loader)
        for _ in batches:
            times["DataLoader"].append(timed(lambda: next(items), device))
            times["bare decoder"].append(timed(bare, device))
    items = args.rounds * sum(map(len, batches))
    rendering_s = sum(rendering) / (len(ds) - ds.n_real) * sum(map(len, batches))
    rates = {
        "bare decoder": items / sum(times["bare decoder"]),
        "DataLoader": items / (sum(times["DataLoader"]) + rendering_s),
    }
    return {
        "items": items,
        "batch": args.batch,
        "prerendered": ds.prerendered,
        "times_s": times,
        "epoch_rendering_s": rendering,
        "rendering_s_charged": rendering_s,
        "items_per_s": rates,
        "decode_s_per_item": 1 / rates["bare decoder"],
        "ratio": rates["DataLoader"] / rates["bare decoder"],
        "pil_round_trip": measure_pil_round_trip(ds, args.batch),
    }


def measure_pil_round_trip(ds: DeepSMOTEDataset, count: int) -> dict[str, float]:
    """Seconds per item of handing a decoded (C, H, W) uint8 image back as a PIL image and
    reading it into a tensor again (``PILToTensor``), against handing back the tensor itself:
    what a PIL-based dataset's synthetic items cost on top of a tensor-based one's."""
    from torchvision.transforms import v2 as T

    from torch_deepsmote.data.items import RawFormat

    images = torch.stack([ds.raw_format.to_uint8_chw(image) for image, _ in ds.raw_items(range(count))])
    channels, height, width = images.shape[1:]
    pil = RawFormat("pil", (channels, height, width), torch.uint8, mode="L" if channels == 1 else "RGB")
    tensor = RawFormat("tensor", (channels, height, width), torch.uint8)
    to_tensor = T.PILToTensor()

    def per_item(fmt: RawFormat, finish: Callable[[Any], Any]) -> float:
        start = time.perf_counter()
        for image in images:
            finish(fmt.from_chw(image))
        return (time.perf_counter() - start) / count

    per_item(pil, to_tensor)  # warm-up
    return {"pil_s_per_item": per_item(pil, to_tensor), "tensor_s_per_item": per_item(tensor, lambda item: item)}


# --------------------------------------------------------------------------- 2. epoch overhead


def train_epoch(model: torch.nn.Module, loader: DataLoader, device: torch.device) -> tuple[float, float]:
    """One epoch of Adam + cross-entropy; (seconds waiting for batches, seconds in steps)."""
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    waiting = stepping = 0.0
    clock = time.perf_counter()
    for images, labels in loader:
        loaded = time.perf_counter()
        waiting += loaded - clock
        loss = F.cross_entropy(model(images.to(device)), labels.to(device))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        sync(device)
        clock = time.perf_counter()
        stepping += clock - loaded
    return waiting, stepping


@contextlib.contextmanager
def training_threads(workers: int, device: torch.device) -> Iterator[int]:
    """On the CPU, leave a core to each DataLoader worker (a worker decodes with one
    thread) while the training process runs; yields the training's thread count."""
    before = torch.get_num_threads()
    if device.type == "cpu" and workers:
        torch.set_num_threads(max(1, min(before, (os.cpu_count() or 1) - workers)))
    try:
        yield torch.get_num_threads()
    finally:
        torch.set_num_threads(before)


def measure_epoch(
    args: argparse.Namespace, ds: DeepSMOTEDataset, copy_: TensorImages, device: torch.device, decode_s: float
) -> dict[str, Any]:
    """One classifier epoch over ``ds`` and over its materialised ``copy_``, same batches, per worker count."""
    n_classes = len(ds.oversampler.classes_)
    sampler = BalancedBatchSampler(ds.targets, args.batch, generator=args.seed)
    synthetic = sum(i >= ds.n_real for batch in sampler for i in batch)
    runs = []
    for workers in args.epoch_workers:
        sides = [("materialised copy", copy_), ("DeepSMOTEDataset", ds)]
        for name, dataset in sides if workers == 0 else sides[::-1]:
            loader = DataLoader(
                dataset,
                batch_sampler=BalancedBatchSampler(dataset.targets, args.batch, generator=args.seed),
                num_workers=workers,
            )
            model = make_classifier(args.classifier, ds.raw_format.shape[0], n_classes, args.seed)
            with training_threads(workers, device) as threads:
                waiting, stepping = train_epoch(model.to(device).train(), loader, device)
            runs.append(
                {
                    "workers": workers,
                    "side": name,
                    "training_threads": threads,
                    "waiting_s": waiting,
                    "step_s": stepping,
                    "epoch_s": waiting + stepping,
                }
            )
    ratios = {}
    for workers in args.epoch_workers:
        epoch = {r["side"]: r["epoch_s"] for r in runs if r["workers"] == workers}
        ratios[workers] = epoch["DeepSMOTEDataset"] / epoch["materialised copy"]
    baseline = next(r["epoch_s"] for r in runs if r["side"] == "materialised copy")  # the first worker count
    return {
        "items": len(sampler) * args.batch,
        "classifier": args.classifier,
        "synthetic_items_visited": synthetic,
        "batches": len(sampler),
        "runs": runs,
        "ratio_by_workers": ratios,
        "decode_bound_ratio": 1 + synthetic * decode_s / baseline,
    }


# --------------------------------------------------------------------------- 3. pretraining


def authors_epoch(
    model: ConvAutoencoder,
    optimizers: list[torch.optim.Optimizer],
    loader: DataLoader,
    images: np.ndarray,
    labels: np.ndarray,
    rng: np.random.RandomState,
    device: torch.device,
) -> None:
    """One epoch of the authors' training step (FACTS.md) on ``model``.

    Per batch: reconstruction MSE; then one class drawn uniformly, up to 100 of its
    images picked in numpy, encoded (in training mode, then detached through numpy),
    cyclically shifted with their images, decoded and compared; encoder and decoder
    each with their own Adam. ``images``: (N, C, H, W) float32 in [-1, 1]; ``labels``: (N,).
    """
    classes = np.unique(labels)
    for batch, _ in loader:
        for optimizer in optimizers:
            optimizer.zero_grad()
        batch = batch.to(device)
        reconstruction = F.mse_loss(model.decode(model.encode(batch)), batch)
        members = images[labels == rng.choice(classes, 1)]
        count = min(len(members), OFFICIAL_CLASS_BATCH)
        chosen = members[rng.choice(list(range(len(members))), count, replace=False)]
        shift = np.append(np.arange(1, count), 0)
        shifted_images = torch.Tensor(chosen[shift]).to(device)
        latents = model.encode(torch.Tensor(chosen).to(device)).detach().cpu().numpy()
        penalty = F.mse_loss(model.decode(torch.Tensor(latents[shift]).to(device)), shifted_images)
        (reconstruction + penalty).backward()
        for optimizer in optimizers:
            optimizer.step()


@torch.inference_mode()
def reconstruction_mse(model: ConvAutoencoder, images: torch.Tensor, device: torch.device) -> float:
    """Eval-mode MSE of (N, C, H, W) images in [-1, 1] against their reconstructions."""
    model.eval()
    total = sum(
        F.mse_loss(model(chunk.to(device)), chunk.to(device), reduction="sum").item() for chunk in images.split(1000)
    )
    return total / images.numel()


def paper_loss(
    model: ConvAutoencoder, x: torch.Tensor, items: torch.Tensor, partners: torch.Tensor, passes: int
) -> torch.Tensor:
    """Reconstruction + paper penalty of a (B, C, H, W) batch; the penalty from a second decoder pass or the first."""
    latents = model.encode(x)
    decoded = model.decode(latents)
    permuted = model.decode(latents[partners]) if passes == 2 else decoded[partners]
    return F.mse_loss(decoded, x) + F.mse_loss(permuted, x[items])


def previous_epoch(
    model: ConvAutoencoder,
    optimizer: torch.optim.Optimizer,
    images: torch.Tensor,
    labels: torch.Tensor,
    batch_size: int,
    generator: torch.Generator,
    device: torch.device,
) -> None:
    """One epoch of ``fit_autoencoder``'s step before this benchmark: two decoder passes, default Adam and layout.

    Draws its batches and pairs as ``fit_autoencoder`` does, so a generator seeded
    alike gives both the same batches.
    """
    for batch in _batches(len(labels), batch_size, generator):
        items, partners = same_class_derangement(labels[batch], generator)
        loss = paper_loss(model, images[batch].to(device), items.to(device), partners.to(device), passes=2)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()


def variant_step(
    args: argparse.Namespace,
    images: torch.Tensor,
    labels: torch.Tensor,
    device: torch.device,
    *,
    passes: int,
    fused: bool,
    channels_last: bool,
    bf16: bool = False,
    compiled: bool = False,
) -> Callable[[], None]:
    """One paper-penalty training step on a fixed batch of the first ``ae_batch`` images, in one variant."""
    layout = torch.channels_last if channels_last else torch.contiguous_format
    model = new_model(args, tuple(images.shape[1:])).to(device, memory_format=layout).train()
    batch = images[: args.ae_batch].to(device, memory_format=layout)
    items, partners = same_class_derangement(labels[: args.ae_batch], torch.Generator().manual_seed(args.seed))
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-4, fused=fused)
    loss_fn = torch.compile(paper_loss) if compiled else paper_loss

    def step() -> None:
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            loss = loss_fn(model, batch, items, partners, passes)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    return step


def time_steps(step: Callable[[], None], count: int, device: torch.device) -> dict[str, float]:
    """Seconds of the first call (warm-up, compilation) and the median of ``count`` more."""
    first = timed(step, device)
    return {"first_step_s": first, "step_s": statistics.median(timed(step, device) for _ in range(count))}


VARIANTS = (
    ("two decoder passes, default Adam (the previous step)", dict(passes=2, fused=False, channels_last=False)),
    ("one decoder pass, default Adam", dict(passes=1, fused=False, channels_last=False)),
    ("one decoder pass, fused Adam", dict(passes=1, fused=True, channels_last=False)),
    ("one decoder pass, fused Adam, channels-last", dict(passes=1, fused=True, channels_last=True)),
    ("the same + bf16 autocast", dict(passes=1, fused=True, channels_last=True, bf16=True)),
    ("the same + torch.compile", dict(passes=1, fused=True, channels_last=True, compiled=True)),
)


def top_operators(function: Callable[[], Any], rows: int = 5) -> list[tuple[str, float]]:
    """The ``rows`` operators with the largest self time over one call, with their share of it."""
    with profile() as prof:
        function()
    events = sorted(prof.key_averages(), key=lambda e: e.self_device_time_total + e.self_cpu_time_total, reverse=True)
    total = sum(e.self_device_time_total + e.self_cpu_time_total for e in events)
    return [(e.key, (e.self_device_time_total + e.self_cpu_time_total) / total) for e in events[:rows]]


TRAININGS = ("torch_deepsmote", "previous step", "authors' step")
SAME_OBJECTIVE = "torch_deepsmote, official penalty"  # the authors' objective, trained by fit_autoencoder


def measure_pretraining(
    args: argparse.Namespace, data: TensorImages, held_out: torch.Tensor, device: torch.device
) -> tuple[dict[str, Any], ConvAutoencoder]:
    """Per-epoch seconds and MSE of fit_autoencoder, its previous step and the authors' step; the step variants.

    All three start from the same weights; after each epoch of ``fit_autoencoder``
    (its callback) one epoch of each of the others runs, so all share the same load.
    Returns the record and the autoencoder the library trained.
    """
    images, labels = to_network_range(data.images), data.targets
    ours = new_model(args, tuple(images.shape[1:]))
    previous, theirs = (copy.deepcopy(ours).to(device).train() for _ in range(2))
    previous_optimizer = torch.optim.Adam(previous.parameters(), lr=2e-4)
    previous_generator = torch.Generator().manual_seed(args.seed)  # as fit_autoencoder seeds its own
    their_optimizers = [
        torch.optim.Adam(theirs.encoder.parameters(), lr=2e-4),
        torch.optim.Adam([*theirs.decoder_input.parameters(), *theirs.decoder.parameters()], lr=2e-4),
    ]
    loader = DataLoader(
        TensorDataset(images, labels),
        batch_size=args.ae_batch,
        shuffle=True,
        generator=torch.Generator().manual_seed(args.seed),
    )
    numpy_images, numpy_labels, rng = images.numpy(), labels.numpy(), np.random.RandomState(args.seed)
    others = {
        "previous step": lambda: previous_epoch(
            previous, previous_optimizer, images, labels, args.ae_batch, previous_generator, device
        ),
        "authors' step": lambda: authors_epoch(
            theirs, their_optimizers, loader, numpy_images, numpy_labels, rng, device
        ),
    }
    seconds: dict[str, list[float]] = {name: [] for name in TRAININGS}
    mark = [time.perf_counter()]

    def run_other_epochs(record: dict[str, float]) -> None:
        sync(device)
        seconds["torch_deepsmote"].append(time.perf_counter() - mark[0])
        for name, epoch in others.items():
            seconds[name].append(timed(epoch, device))
        mark[0] = time.perf_counter()

    official = copy.deepcopy(ours)
    fit_autoencoder(
        ours,
        images,
        labels,
        epochs=args.ae_epochs,
        batch_size=args.ae_batch,
        lr=2e-4,
        penalty="paper",
        device=device,
        random_state=args.seed,
        progress=False,
        callback=run_other_epochs,
    )
    seconds[SAME_OBJECTIVE] = []
    mark[0] = time.perf_counter()

    def time_official_epoch(record: dict[str, float]) -> None:
        sync(device)
        seconds[SAME_OBJECTIVE].append(time.perf_counter() - mark[0])
        mark[0] = time.perf_counter()

    fit_autoencoder(
        official,
        images,
        labels,
        epochs=args.ae_epochs,
        batch_size=args.ae_batch,
        lr=2e-4,
        penalty="official",
        device=device,
        random_state=args.seed,
        progress=False,
        callback=time_official_epoch,
    )
    per_epoch = {name: statistics.median(values) for name, values in seconds.items()}
    models = dict(zip((*TRAININGS, SAME_OBJECTIVE), (ours, previous, theirs, official)))
    mse = {
        name: {
            "train": reconstruction_mse(model, images, device),
            "held_out": reconstruction_mse(model, held_out, device),
        }
        for name, model in models.items()
    }
    variants = []
    for name, options in VARIANTS:
        if (options.get("compiled") or options.get("bf16")) and not args.slow_variants:
            continue
        step = variant_step(args, images, labels, device, **options)
        variants.append({"variant": name, **options, **time_steps(step, args.variant_steps, device)})
    step = variant_step(args, images, labels, device, **VARIANTS[3][1])
    step()
    record = {
        "images": len(labels),
        "epochs": args.ae_epochs,
        "batch": args.ae_batch,
        "steps_per_epoch": len(loader),
        "epoch_s": seconds,
        "median_epoch_s": per_epoch,
        "speed_up": per_epoch["authors' step"] / per_epoch["torch_deepsmote"],
        "speed_up_over_previous": per_epoch["previous step"] / per_epoch["torch_deepsmote"],
        "speed_up_same_objective": per_epoch["authors' step"] / per_epoch[SAME_OBJECTIVE],
        "mse": mse,
        "variants": variants,
        "profile_of_library_step": top_operators(step),
    }
    return record, ours


# --------------------------------------------------------------------------- 4. k-NN


def sampled_torch_knn(n: int, dim: int, k: int, blocks: int, seed: int, device: torch.device) -> dict[str, Any]:
    """Seconds of ``kneighbors(backend="torch")`` on n points, from ``blocks`` of its row blocks.

    Runs the operations of ``neighbors._kneighbors_torch`` (centring, squared norms,
    then per block of rows an ``addmm`` score block and a ``topk``) for the first
    ``blocks`` blocks only; a call costs the setup plus the median block time × the
    number of blocks. Peak memory growth is measured over the sampled run.
    """
    x = torch.randn(n, dim, generator=torch.Generator().manual_seed(seed)).to(device)
    meter = knn_backends.PeakMemory(device)
    meter.start()
    start = time.perf_counter()
    points = (x - x.mean(dim=0, keepdim=True)).contiguous()
    sq_norms = points.square().sum(dim=1).unsqueeze(0)
    rows = default_chunk_size(n, points.element_size())
    block = points.new_empty((min(rows, n), n))
    sync(device)
    setup = time.perf_counter() - start
    times = []
    for first in range(0, min(n, blocks * rows), rows):
        last = min(first + rows, n)

        def one_block() -> None:
            scores = torch.addmm(sq_norms, points[first:last], points.T, alpha=-2.0, out=block[: last - first])
            scores.diagonal(offset=first).fill_(float("inf"))
            scores.topk(k, dim=1, largest=False, sorted=True)

        times.append(timed(one_block, device))
    n_blocks = math.ceil(n / rows)
    return {
        "n": n,
        "blocks_timed": len(times),
        "blocks": n_blocks,
        "rows_per_block": rows,
        "setup_s": setup,
        "block_s": statistics.median(times),
        "estimated_s": setup + statistics.median(times) * n_blocks,
        "peak_memory_growth_bytes": meter.growth(),
        "points_bytes": points.numel() * points.element_size(),
        "block_bytes": block.numel() * block.element_size(),
        "auto_resolves_to": resolve_backend("auto", x),
    }


def measure_knn(args: argparse.Namespace) -> dict[str, Any]:
    """``knn_backends`` at every size, plus block-sampled torch estimates where it skipped torch."""
    knn_args = knn_backends.parse_args(
        [
            "--device",
            args.device,
            "--seed",
            str(args.seed),
            "--budget-s",
            str(args.knn_budget_s),
            "--min-total-s",
            str(args.knn_min_total_s),
            "--sizes",
            *map(str, args.knn_sizes),
        ]
    )
    knn_args.command = " ".join(
        f"--{key.replace('_', '-')} {value}"
        for key, value in (
            ("device", args.device),
            ("seed", args.seed),
            ("budget_s", args.knn_budget_s),
            ("min_total_s", args.knn_min_total_s),
            ("sizes", " ".join(map(str, args.knn_sizes))),
        )
    )
    machine = knn_backends.machine_info(args.device)
    with tempfile.TemporaryDirectory(prefix="keops_build_") as build_dir:
        rows = knn_backends.measure_all(knn_args, build_dir)
    machine["load_average_at_end"] = os.getloadavg()
    device = torch.device(args.device)
    skipped = [r["n"] for r in rows if r["backend"] == "torch" and "skipped_predicted_s" in r]
    measured = [r for r in rows if r["backend"] == "torch" and "min_s" in r]
    check = [measured[-1]["n"]] if measured and skipped else []  # where the estimate meets a measurement
    estimates = []
    for n in skipped + check:
        estimate = sampled_torch_knn(n, knn_args.dim, knn_args.k, args.knn_blocks, args.seed, device)
        keops = next(r for r in rows if r["n"] == n and r["backend"] == "keops")
        keops_s = keops.get("min_s", keops.get("skipped_predicted_s", math.inf))
        picked = estimate["estimated_s"] if estimate["auto_resolves_to"] == "torch" else keops_s
        estimate.update(
            measured_s=next((r["min_s"] for r in measured if r["n"] == n), None),
            keops_s=keops_s,
            keops_extrapolated="skipped_predicted_s" in keops,
            auto_over_fastest=picked / min(estimate["estimated_s"], keops_s),
        )
        estimates.append(estimate)
    checks = {n: knn_backends.auto_check(rows, n) for n in knn_args.sizes}
    return {
        "arguments": vars(knn_args),
        "machine": machine,
        "measurements": rows,
        "auto_checks": checks,
        "sampled_estimates": estimates,
        "report": knn_backends.markdown(knn_args, machine, rows),
    }


# --------------------------------------------------------------------------- 5. memory


def tensor_bytes(root: Any) -> int:
    """Bytes of the distinct tensor storages reachable from ``root`` through attributes and containers."""
    seen, storages, stack = set(), {}, [root]
    while stack:
        item = stack.pop()
        if id(item) in seen or isinstance(item, type):
            continue
        seen.add(id(item))
        if isinstance(item, torch.Tensor):
            storages[item.untyped_storage().data_ptr()] = item.untyped_storage().nbytes()
        elif isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, (list, tuple)):
            stack.extend(item)
        elif hasattr(item, "__dict__"):
            stack.extend(vars(item).values())
    return sum(storages.values())


def memory_worker(config: dict[str, Any]) -> dict[str, Any]:
    """Memory of one dataset (lazy or materialised), in this fresh process.

    Peak: growth of the peak resident set from after the base images are loaded and
    the code paths warmed up (a two-item decode and DataLoader pass) over restoring
    the fitted model, building the dataset (for the copy: filling it, then dropping
    the model) and loading ``batches`` balanced batches. Held: bytes of the tensors
    the dataset keeps. Synthetic items per class: the fitted strategy's × ``factor``.
    """
    images, labels = torch.load(config["base"], weights_only=True)
    state = torch.load(config["state"], weights_only=True)
    with torch.inference_mode():
        ConvAutoencoder(**state["architecture"]).eval().decode(torch.zeros(2, state["architecture"]["latent_dim"]))
    for _ in DataLoader(TensorImages(images[:2], labels[:2]), batch_size=2):
        pass
    del state
    gc.collect()
    meter = knn_backends.PeakMemory(torch.device("cpu"))
    meter.start()
    state = torch.load(config["state"], weights_only=True)
    state["sampling_strategy"] = [[c, n * config["factor"]] for c, n in state["sampling_strategy"]]
    ds = DeepSMOTEDataset(TensorImages(images, labels), oversampler=DeepSMOTE(device="cpu").load_fitted_state(state))
    del state
    data = (
        materialise(ds, config["batch"], decode_limit=config["batch"]) if config["side"] == "materialised copy" else ds
    )
    del ds
    gc.collect()
    sampler = BalancedBatchSampler(data.targets, config["batch"], num_batches=config["batches"], generator=0)
    for _ in DataLoader(data, batch_sampler=sampler):
        pass
    return {
        **config,
        "items": len(data.targets),
        "synthetic": len(data.targets) - len(labels),
        "peak_growth_bytes": meter.growth(),
        "held_bytes": tensor_bytes(data),
    }


def measure_memory(
    args: argparse.Namespace, images: torch.Tensor, labels: torch.Tensor, model: ConvAutoencoder
) -> dict[str, Any]:
    """Both sides at the paper's counts × ``memory_scale`` balanced to the majority, and with 10× the synthetic items."""
    base = paper_subset(images, labels, args.memory_scale, args.seed)
    fitted = DeepSMOTE(autoencoder=model, epochs=0, random_state=args.seed, device="cpu", progress=False)
    fitted.fit(base.images, base.targets)
    env = dict(
        os.environ,
        PYTHONPATH=os.pathsep.join([str(REPO_ROOT), str(Path(__file__).parent), os.environ.get("PYTHONPATH", "")]),
    )
    runs = []
    with tempfile.TemporaryDirectory(prefix="throughput_") as folder:
        paths = {"base": f"{folder}/base.pt", "state": f"{folder}/state.pt"}
        torch.save((base.images, base.targets), paths["base"])
        torch.save(fitted.fitted_state(), paths["state"])
        for factor in (1, args.memory_growth):
            for side in ("DeepSMOTEDataset", "materialised copy"):
                config = {**paths, "side": side, "factor": factor, "batch": args.batch, "batches": args.memory_batches}
                command = [sys.executable, __file__, "--memory-worker", json.dumps(config)]
                result = subprocess.run(command, capture_output=True, text=True, env=env)
                if result.returncode != 0:
                    raise RuntimeError(f"memory worker {config} failed:\n{result.stderr[-3000:]}")
                runs.append(json.loads(result.stdout.strip().splitlines()[-1]))
    growth = {}
    for side in ("DeepSMOTEDataset", "materialised copy"):
        small, large = (r for r in runs if r["side"] == side)
        growth[side] = (large["held_bytes"] - small["held_bytes"]) / (large["synthetic"] - small["synthetic"])
    weights = {
        w: sum(
            p.numel() * p.element_size()
            for p in ConvAutoencoder(tuple(base.images.shape[1:]), args.latent_dim, width=w).parameters()
        )
        for w in (args.width, 64)
    }
    return {
        "base_items": len(base.targets),
        "per_class": max(torch.bincount(base.targets).tolist()),
        "runs": runs,
        "bytes_per_added_synthetic_item": growth,
        "raw_item_bytes": base.images[0].numel(),
        "autoencoder_bytes_by_width": weights,
    }


# --------------------------------------------------------------------------- report

MiB = 2**20


def seconds(value: float | None) -> str:
    return "–" if value is None else f"{value:.1f}"


def verdict(ok: bool) -> str:
    return "yes" if ok else "**no**"


def target_rows(r: dict[str, Any]) -> list[str]:
    """The summary table: one row per target, measured against it."""
    generation, epoch, pre, knn, memory = (r[k] for k in ("generation", "epoch", "pretraining", "knn", "memory"))
    ours_mse, previous_mse, their_mse, official_mse = (
        pre["mse"][name]["held_out"] for name in (*TRAININGS, SAME_OBJECTIVE)
    )
    auto = [c["ratio"] for c in knn["auto_checks"].values() if c] + [
        e["auto_over_fastest"] for e in knn["sampled_estimates"]
    ]
    slack = [
        (row["peak_memory_growth_bytes"] - row["torch_block_bytes"] - 2 * row["n"] * knn["arguments"]["dim"] * 4) / MiB
        for row in knn["measurements"]
        if row["backend"] == "torch" and "peak_memory_growth_bytes" in row
    ] + [
        (e["peak_memory_growth_bytes"] - e["block_bytes"] - 2 * e["points_bytes"]) / MiB
        for e in knn["sampled_estimates"]
    ]
    lazy_growth = memory["bytes_per_added_synthetic_item"]["DeepSMOTEDataset"]
    copy_growth = memory["bytes_per_added_synthetic_item"]["materialised copy"]
    rows = [
        (
            "1",
            "generation: DataLoader items/s ÷ bare decoder items/s",
            f"{generation['ratio']:.2f}",
            "≥ 0.9",
            generation["ratio"] >= TARGETS["generation"],
        ),
    ]
    for workers, ratio in epoch["ratio_by_workers"].items():
        rows.append(
            (
                "2",
                f"epoch: DeepSMOTEDataset ÷ materialised copy, {workers} worker(s)",
                f"{ratio:.2f}",
                "≤ 1.15",
                ratio <= TARGETS["epoch"],
            )
        )
    rows += [
        (
            "3",
            "pretraining: authors' epoch ÷ fit_autoencoder epoch",
            f"{pre['speed_up']:.2f}",
            "≥ 2",
            pre["speed_up"] >= TARGETS["pretraining"],
        ),
        (
            "3",
            "held-out reconstruction MSE, the authors' objective: fit_autoencoder vs authors' step",
            f"{official_mse:.4f} vs {their_mse:.4f}",
            "≤ 1.02 ×",
            official_mse <= TARGETS["mse_ratio"] * their_mse,
        ),
        (
            "3",
            "held-out reconstruction MSE: fit_autoencoder vs its previous step",
            f"{ours_mse:.4f} vs {previous_mse:.4f}",
            "≤ 1.02 ×",
            ours_mse <= TARGETS["mse_ratio"] * previous_mse,
        ),
        (
            "4",
            "k-NN: auto ÷ faster backend, worst size",
            f"{max(auto):.2f}",
            "≤ 1.10",
            max(auto) <= TARGETS["knn_auto"],
        ),
        (
            "4",
            "k-NN torch peak − (2 × points + one score block), worst size",
            f"{max(slack):.1f} MiB",
            "≤ 16 MiB (no n × n)",
            max(slack) <= 16,
        ),
        (
            "5",
            "memory: bytes per added synthetic item, DeepSMOTEDataset (copy)",
            f"{lazy_growth:.0f} ({copy_growth:.0f})",
            f"≤ {TARGETS['memory_bytes_per_item']} (index tables)",
            lazy_growth <= TARGETS["memory_bytes_per_item"],
        ),
    ]
    return [f"| {n} | {what} | {value} | {target} | {verdict(ok)} |" for n, what, value, target, ok in rows]


def markdown(r: dict[str, Any]) -> str:
    m, a = r["machine"], r["settings"]
    generation, epoch, pre, knn, memory = (r[k] for k in ("generation", "epoch", "pretraining", "knn", "memory"))
    load = lambda key: ", ".join(f"{v:.2f}" for v in m[key])  # noqa: E731
    lines = [
        f"# Throughput and memory on {a['device']}",
        "",
        f"`python benchmarks/throughput.py {r['command']}` ({r['total_s']:.0f} s in all)",
        "",
        f"- machine: {m['platform']}, {m['processor']}, {m['cpu_count']} CPUs, torch threads {m['torch_threads']}"
        + (f", {m['gpu']}" if "gpu" in m else "")
        + f"; load average (1, 5, 15 min) at start {load('load_average_at_start')}, at end {load('load_average_at_end')}",
        f"- python {m['python']}, torch {m['torch']}, pykeops {knn['machine']['pykeops']}; {m['date']}",
        f"- settings: seed {a['seed']}; Fashion-MNIST, the paper's training counts × {a['ae_scale']} ({pre['images']} images) for"
        f" section 3, × {a['scale']} for sections 1-2; autoencoder width {a['width']} (paper: 64), latent {a['latent_dim']}; DataLoader batch {a['batch']};"
        f" autoencoder batch {a['ae_batch']}{'; --quick' if a['quick'] else ''}",
        "- every figure is a ratio of two measurements made side by side in this run; absolute seconds are for this machine only",
        "",
        "## Targets",
        "",
        "| # | what | measured | target | met |",
        "|---|---|---:|---|---|",
        *target_rows(r),
        "",
        "## 1. Generation",
        "",
        f"{generation['items']} synthetic items ({a['rounds']} passes over {a['generation_batches']} batches of {generation['batch']}, no transform) after a"
        " warm-up pass; each DataLoader batch is timed next to one bare decoder call on as many of the dataset's latents.",
        "",
        "| path | items/s |",
        "|---|---:|",
        *(f"| {name} | {rate:.0f} |" for name, rate in generation["items_per_s"].items()),
        "",
        (
            f"The dataset renders its epochs ahead (`prerender`): each pass first selects a new epoch, rendering all its"
            f" synthetic items, {sum(generation['epoch_rendering_s']):.2f} s in all; the DataLoader's rate is"
            f" charged each item's share of it ({generation['rendering_s_charged']:.2f} s)."
            if generation["prerendered"]
            else "The dataset decodes its synthetic items on demand, batch by batch (`prerender=False`)."
        ),
        "",
        f"A decoded item handed back as a PIL image and read by `PILToTensor`:"
        f" {generation['pil_round_trip']['pil_s_per_item'] * 1e6:.1f} µs per item; handed back as a tensor:"
        f" {generation['pil_round_trip']['tensor_s_per_item'] * 1e6:.1f} µs (a dataset of tensors never makes a PIL image).",
        "",
        "## 2. Epoch overhead",
        "",
        f"{epoch['classifier']}, one epoch of {epoch['batches']} balanced batches ({epoch['items']} items, {epoch['synthetic_items_visited']} of them synthetic),"
        " the same batches, transform (`ToDtype(float32, scale)` + `Normalize`, per item on both sides) and seed on both sides."
        " With a worker on the CPU the training runs on the cores the worker leaves free (a worker decodes with one thread).",
        "",
        "| workers | data | training threads | waiting for batches s | training steps s | epoch s |",
        "|---:|---|---:|---:|---:|---:|",
        *(
            f"| {x['workers']} | {x['side']} | {x.get('training_threads', '–')} | {x['waiting_s']:.2f} | {x['step_s']:.2f} | {x['epoch_s']:.2f} |"
            for x in epoch["runs"]
        ),
        "",
        f"Decoder-bound estimate with {a['epoch_workers'][0]} workers: 1 + synthetic items × bare decode s/item (section 1) ÷ materialised epoch = {epoch['decode_bound_ratio']:.2f}.",
        "",
        "## 3. Pretraining",
        "",
        f"{pre['images']} images, batch {pre['batch']} ({pre['steps_per_epoch']} steps per epoch), {pre['epochs']} epochs each from the same initial"
        " weights, paper penalty for the library and its previous step (two decoder passes, default Adam and layout; the same batches and pairs),"
        " the authors' step as FACTS.md describes it; after each epoch of `fit_autoencoder` (its callback) one epoch of each of the others runs,"
        f" so all share the same load. Speed-up over the previous step: {pre['speed_up_over_previous']:.2f}×. The paper penalty is a different"
        ' objective from the authors\' code (FACTS.md), so reconstruction quality is compared with `fit_autoencoder(penalty="official")`,'
        f" the authors' objective, trained from the same weights in a run of its own after the others: {pre['speed_up_same_objective']:.2f}×"
        " faster than the authors' step.",
        "",
        "| training | s per epoch (median) | epochs s | reconstruction MSE train | held out |",
        "|---|---:|---|---:|---:|",
        *(
            f"| {name} | {pre['median_epoch_s'][name]:.2f} | {', '.join(f'{t:.2f}' for t in pre['epoch_s'][name])} |"
            f" {pre['mse'][name]['train']:.4f} | {pre['mse'][name]['held_out']:.4f} |"
            for name in pre["epoch_s"]
        ),
        "",
        f"One step on a fixed batch of {pre['batch']}, paper penalty, median of {a['variant_steps']} after a first step:",
        "",
        "| variant | first step s | s / step |",
        "|---|---:|---:|",
        *(f"| {v['variant']} | {v['first_step_s']:.3f} | {v['step_s']:.3f} |" for v in pre["variants"]),
        "",
        "Self time of the library's step (the channels-last, fused-Adam variant), top operators: "
        + ", ".join(f"`{name}` {share:.0%}" for name, share in pre["profile_of_library_step"])
        + ".",
        "",
        "## 4. k-NN backends",
        "",
        knn["report"].split("\n", 2)[2].strip(),
        "",
        "Torch sizes that `knn_backends.py` skipped, estimated from the first row blocks (setup + median block s × blocks);"
        " the last row (if any) checks the estimate against a size measured in full. The torch path holds the centred copy of the points"
        " and one score block; `points.square()` (for the squared norms) briefly adds a second points-sized buffer, so its peak is"
        " max(2 × points, points + block): O(n·d + chunk·n), never n × n:",
        "",
        "| n | blocks timed / all | rows per block | estimated s | measured s | KeOps s | auto → | auto/fastest | peak MiB | points + block MiB |",
        "|---:|---:|---:|---:|---:|---:|:---:|---:|---:|---:|",
        *(
            f"| {e['n']} | {e['blocks_timed']} / {e['blocks']} | {e['rows_per_block']} | {e['estimated_s']:.1f} |"
            f" {seconds(e['measured_s'])} | {e['keops_s']:.0f}{' (extrapolated)' if e['keops_extrapolated'] else ''} | {e['auto_resolves_to']} | {e['auto_over_fastest']:.2f} |"
            f" {e['peak_memory_growth_bytes'] / MiB:.0f} | {(e['points_bytes'] + e['block_bytes']) / MiB:.0f} |"
            for e in knn["sampled_estimates"]
        ),
        "",
        "## 5. Memory",
        "",
        f"Fashion-MNIST at the paper's counts × {a['memory_scale']} ({memory['base_items']} images) balanced to {memory['per_class']} per class, then"
        f" with each class's synthetic items × {a['memory_growth']}. One fresh process per row. Peak: growth of the peak resident set from"
        f" after the base images are loaded (and the code paths warmed up) over restoring the fitted model, building the dataset (the copy:"
        f" decoded {a['batch']} at a time, the first batch repeated for the rest, then the model dropped) and loading {a['memory_batches']}"
        f" balanced batches of {a['batch']}. Held: bytes of the tensors the dataset keeps (base images included on both sides).",
        "",
        "| data | synthetic items | peak MiB | held MiB |",
        "|---|---:|---:|---:|",
        *(
            f"| {x['side']} | {x['synthetic']} | {x['peak_growth_bytes'] / MiB:.1f} | {x['held_bytes'] / MiB:.1f} |"
            for x in memory["runs"]
        ),
        "",
        f"A raw item is {memory['raw_item_bytes']} bytes; the autoencoder's weights take "
        + ", ".join(f"{b / MiB:.1f} MiB at width {w}" for w, b in memory["autoencoder_bytes_by_width"].items())
        + ".",
    ]
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- driver


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--root", default=str(DEBIAN_FASHION_MNIST), help="Fashion-MNIST IDX files")
    parser.add_argument("--width", type=int, default=16, help="autoencoder width (the paper's: 64)")
    parser.add_argument("--latent-dim", type=int, default=300)
    parser.add_argument("--batch", type=int, default=256, help="DataLoader batch (sections 1, 2, 5)")
    parser.add_argument("--ae-batch", type=int, default=100, help="autoencoder training batch")
    parser.add_argument("--ae-epochs", type=int, default=2)
    parser.add_argument("--ae-scale", type=float, default=1.0, help="the paper's counts × this for section 3")
    parser.add_argument("--scale", type=float, default=0.25, help="the paper's counts × this for sections 1-2")
    parser.add_argument("--generation-batches", type=int, default=20)
    parser.add_argument(
        "--prerender", action=argparse.BooleanOptionalAction, default=None, help="DeepSMOTEDataset's (default: its own)"
    )
    parser.add_argument("--epoch-workers", type=int, nargs="+", default=[0, 1], help="DataLoader workers (section 2)")
    parser.add_argument("--classifier", default="small-cnn", choices=["small-cnn", "resnet18"], help="section 2")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--variant-steps", type=int, default=5)
    parser.add_argument(
        "--no-slow-variants", dest="slow_variants", action="store_false", help="skip the bf16 and torch.compile steps"
    )
    parser.add_argument("--knn-sizes", type=int, nargs="+", default=[40, 400, 4000, 40000, 200000])
    parser.add_argument("--knn-budget-s", type=float, default=60.0, help="knn_backends.py's --budget-s")
    parser.add_argument("--knn-min-total-s", type=float, default=2.0, help="knn_backends.py's --min-total-s")
    parser.add_argument("--knn-blocks", type=int, default=10, help="row blocks timed for a skipped torch size")
    parser.add_argument("--memory-scale", type=float, default=1.0, help="the paper's counts × this for section 5")
    parser.add_argument("--memory-growth", type=int, default=10)
    parser.add_argument("--memory-batches", type=int, default=20)
    parser.add_argument("--test-images", type=int, default=1000, help="held-out images for the reconstruction MSE")
    parser.add_argument("--quick", action="store_true", help="tiny sizes: a run of seconds")
    parser.add_argument("--out", type=Path, default=None, help="path stem: writes STEM.md and STEM.json")
    parser.add_argument("--memory-worker", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.quick:
        vars(args).update(QUICK)
    return args


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run every section; print the report and write it to ``--out``. Returns the results."""
    args = parse_args(argv)
    if args.memory_worker is not None:
        print(json.dumps(memory_worker(json.loads(args.memory_worker))))
        return {}
    started = time.perf_counter()
    device = torch.device(args.device)
    machine = {
        **describe_machine(device),
        "load_average_at_start": os.getloadavg(),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }
    images, labels = load_dataset("fashion-mnist", args.root, train=True)
    held_out = to_network_range(load_dataset("fashion-mnist", args.root, train=False)[0][: args.test_images])
    data = paper_subset(images, labels, args.scale, args.seed)
    print(f"{time.perf_counter() - started:6.0f} s  3. pretraining", flush=True)
    pretraining, model = measure_pretraining(
        args, paper_subset(images, labels, args.ae_scale, args.seed), held_out, device
    )
    oversampler = DeepSMOTE(autoencoder=model, epochs=0, random_state=args.seed, device=device, progress=False)
    oversampler.fit(data.images, data.targets)
    print(f"{time.perf_counter() - started:6.0f} s  1. generation", flush=True)
    generation = measure_generation(
        args, DeepSMOTEDataset(data, oversampler=oversampler, prerender=args.prerender), device
    )
    print(f"{time.perf_counter() - started:6.0f} s  2. epoch overhead", flush=True)
    from torchvision.transforms import v2 as T  # here, so that memory workers start without it

    transform = T.Compose([T.ToDtype(torch.float32, scale=True), T.Normalize([0.5], [0.5])])
    lazy = DeepSMOTEDataset(data, oversampler=oversampler, transform=transform, prerender=args.prerender)
    epoch = measure_epoch(args, lazy, materialise(lazy, args.batch), device, generation["decode_s_per_item"])
    print(f"{time.perf_counter() - started:6.0f} s  4. k-NN", flush=True)
    knn = measure_knn(args)
    print(f"{time.perf_counter() - started:6.0f} s  5. memory", flush=True)
    memory = measure_memory(args, images, labels, model)
    machine["load_average_at_end"] = os.getloadavg()
    results = {
        "command": " ".join(sys.argv[1:] if argv is None else argv),
        "settings": {k: v for k, v in vars(args).items() if k != "memory_worker"},
        "machine": machine,
        "targets": TARGETS,
        "generation": generation,
        "epoch": epoch,
        "pretraining": pretraining,
        "knn": knn,
        "memory": memory,
        "total_s": time.perf_counter() - started,
    }
    report = markdown(results)
    print(report)
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.with_suffix(".md").write_text(report)
        args.out.with_suffix(".json").write_text(json.dumps(results, indent=2, default=str) + "\n")
    return results


if __name__ == "__main__":
    main()
