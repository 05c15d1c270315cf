"""Autoencoder fit speed per epoch, per penalty and per step setting, with the held-out reconstruction.

Usage: python benchmarks/fit_speed.py [--epochs 3] [--width 64] [--device cpu] [--seed 0]
       python benchmarks/fit_speed.py --image-shape 3 128 128 --n-images 2000 --penalties none --device cuda
       python benchmarks/fit_speed.py --fashion-mnist /usr/share/datasets/fashion-mnist --penalties paper \
           --settings default channels-last bf16 channels-last+bf16 channels-last+bf16+compiled \
           --held-out 0.1 --budget-epochs 200 --device cuda --out fit-speed.json

Data: scikit-learn's digits; random uint8 images of any shape (``--image-shape``, drawn
from ``--seed``, five classes: the arithmetic of a step does not depend on what the
images show); or Fashion-MNIST at the paper's training counts (``--fashion-mnist``,
9 000 images). Settings (``torch_deepsmote.nn.step_settings``): ``default`` (the
device's) or flags joined by ``+`` among ``contiguous``, ``channels-last``, ``bf16``,
``compiled``. Times are wall seconds per epoch: the first epoch (warm-up, compilation)
apart, and the mean of the later ones. With ``--held-out``, that share of each class is
kept out and its reconstruction MSE is reported after the last epoch (training never
stops early). ``--budget-epochs`` adds the time the whole budget takes: the first epoch
plus the later ones at the measured mean. Prints a Markdown table with the machine and
versions; ``--out`` also writes everything as JSON.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import torch

from _environment import describe_machine
from torch_deepsmote import ConvAutoencoder, fit_autoencoder
from torch_deepsmote.evaluation.datasets import MNIST_TRAIN_PROFILE, load_dataset, load_digits_images, make_imbalanced
from torch_deepsmote.nn.ranges import to_network_range
from torch_deepsmote.nn.step_settings import StepSettings, default_step_settings

FLAGS = {
    "contiguous": {},
    "channels-last": {"channels_last": True},
    "bf16": {"bf16": True},
    "compiled": {"compiled": True},
}


def parse_settings(name: str, device: torch.device) -> StepSettings:
    """``"default"`` or ``+``-joined flags (:data:`FLAGS`) → a ``StepSettings``."""
    if name == "default":
        return default_step_settings(device)
    chosen = {}
    for flag in name.split("+"):
        if flag not in FLAGS:
            raise SystemExit(f"--settings: unknown flag {flag!r} in {name!r}; accepted: default, or {sorted(FLAGS)}")
        chosen |= FLAGS[flag]
    return StepSettings(**chosen)


def load_images(args: argparse.Namespace) -> tuple[torch.Tensor, torch.Tensor, str]:
    """(N, C, H, W) uint8 images, (N,) labels and a name for the table."""
    if args.fashion_mnist is not None:
        images, labels = load_dataset("fashion-mnist", args.fashion_mnist)
        keep = make_imbalanced(labels, MNIST_TRAIN_PROFILE, random_state=args.seed)
        return images[keep], labels[keep], "Fashion-MNIST images at the paper's counts"
    if args.image_shape is not None:
        generator = torch.Generator().manual_seed(args.seed)
        images = torch.randint(0, 256, (args.n_images, *args.image_shape), dtype=torch.uint8, generator=generator)
        return images, torch.arange(args.n_images) % 5, "random images of " + "×".join(map(str, args.image_shape))
    images, labels = load_digits_images()
    return images, labels, "digits"


def time_fit(
    args: argparse.Namespace, images: torch.Tensor, labels: torch.Tensor, penalty: str, settings: StepSettings
) -> dict[str, float | None]:
    """Seconds of the first epoch and mean seconds of the later ones, and the held-out MSE."""
    model = ConvAutoencoder(
        images.shape[1:], args.latent_dim, width=args.width, generator=torch.Generator().manual_seed(args.seed)
    )
    stamps = [time.perf_counter()]
    history = fit_autoencoder(
        model,
        images,
        labels,
        epochs=args.epochs,
        batch_size=args.batch_size,
        penalty=penalty,
        device=args.device,
        random_state=args.seed,
        progress=False,
        callback=lambda record: stamps.append(time.perf_counter()),
        validation_fraction=args.held_out,
        n_iter_no_change=args.epochs + 1,
        step_settings=settings,
    )
    epochs = [b - a for a, b in zip(stamps, stamps[1:])]
    later = sum(epochs[1:]) / max(len(epochs) - 1, 1) if len(epochs) > 1 else epochs[0]
    counts = torch.bincount(labels).tolist()
    trained = sum(count - math.floor(args.held_out * count) for count in counts)  # split_held_out's rule
    return {
        "first_epoch_s": epochs[0],
        "seconds_per_epoch": later,
        "images_per_s": trained / later,
        "held_out_mse": history[-1].get("validation"),
        "budget_s": None if args.budget_epochs is None else epochs[0] + (args.budget_epochs - 1) * later,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--width", type=int, default=64)
    parser.add_argument("--latent-dim", type=int, default=None)
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--image-shape", type=int, nargs=3, default=None, metavar=("C", "H", "W"))
    parser.add_argument("--n-images", type=int, default=2000, help="with --image-shape")
    parser.add_argument("--fashion-mnist", default=None, metavar="ROOT", help="Fashion-MNIST's folder")
    parser.add_argument("--penalties", nargs="+", default=["paper", "official", "none"])
    parser.add_argument("--settings", nargs="+", default=["default"], help="default, or flags joined by +")
    parser.add_argument("--held-out", type=float, default=0.0, help="share of each class kept out")
    parser.add_argument("--budget-epochs", type=int, default=None, help="report the time of this many epochs")
    parser.add_argument("--out", default=None, help="JSON file for the results")
    args = parser.parse_args()

    device = torch.device(args.device)
    settings = {name: parse_settings(name, device) for name in args.settings}
    raw, labels, what = load_images(args)
    images = to_network_range(raw)
    rows = [
        {"penalty": penalty, "settings": name, "described": chosen.describe()}
        | time_fit(args, images, labels, penalty, chosen)
        for penalty in args.penalties
        for name, chosen in settings.items()
    ]
    machine = describe_machine(args.device)
    print(json.dumps({"machine": machine, "settings": vars(args), "images": list(images.shape)}, indent=2))
    print(
        f"\n| penalty | settings | s / epoch ({len(images)} {what}, batch {args.batch_size}, width {args.width}) |",
        end="",
    )
    print(" first epoch s | images / s | held-out MSE | budget s |")
    print("|---|---|---|---|---|---|---|")
    for row in rows:
        mse = "–" if row["held_out_mse"] is None else f"{row['held_out_mse']:.5f}"
        budget = "–" if row["budget_s"] is None else f"{row['budget_s']:.1f}"
        print(
            f"| {row['penalty']} | {row['settings']} ({row['described']}) | {row['seconds_per_epoch']:.2f} | "
            f"{row['first_epoch_s']:.2f} | {row['images_per_s']:.0f} | {mse} | {budget} |"
        )
    if args.out is not None:
        Path(args.out).write_text(json.dumps({"machine": machine, "options": vars(args), "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
