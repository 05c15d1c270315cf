"""Autoencoder fit time per epoch on scikit-learn's digits, for each penalty.

Usage: python benchmarks/fit_speed.py [--epochs 3] [--width 64] [--device cpu] [--seed 0]
Prints a Markdown table with the machine and versions; times are wall seconds per
epoch (mean over the epochs after the first, which also warms up the kernels).
"""

from __future__ import annotations

import argparse
import json
import time

import torch

from _environment import describe_machine
from torch_deepsmote import ConvAutoencoder, fit_autoencoder
from torch_deepsmote.evaluation.datasets import load_digits_images
from torch_deepsmote.nn.ranges import to_network_range


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--width", type=int, default=64)
    parser.add_argument("--latent-dim", type=int, default=None)
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    images, labels = load_digits_images()
    network_images = to_network_range(images)
    rows = []
    for penalty in ("paper", "official", "none"):
        model = ConvAutoencoder(
            images.shape[1:], args.latent_dim, width=args.width, generator=torch.Generator().manual_seed(args.seed)
        )
        stamps = []
        fit_autoencoder(
            model,
            network_images,
            labels,
            epochs=args.epochs,
            batch_size=args.batch_size,
            penalty=penalty,
            device=args.device,
            random_state=args.seed,
            progress=False,
            callback=lambda record: stamps.append(time.perf_counter()),
        )
        per_epoch = [b - a for a, b in zip(stamps, stamps[1:])]
        rows.append({"penalty": penalty, "seconds_per_epoch": sum(per_epoch) / max(len(per_epoch), 1)})
    machine = describe_machine(args.device)
    print(json.dumps({"machine": machine, "settings": vars(args), "images": list(images.shape)}, indent=2))
    print("\n| penalty | s / epoch (1797 digits, batch %d, width %d) |" % (args.batch_size, args.width))
    print("|---|---|")
    for row in rows:
        print(f"| {row['penalty']} | {row['seconds_per_epoch']:.2f} |")


if __name__ == "__main__":
    main()
