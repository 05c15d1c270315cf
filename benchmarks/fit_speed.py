"""Autoencoder fit time per epoch on scikit-learn's digits (or random images of any shape), per penalty.

Usage: python benchmarks/fit_speed.py [--epochs 3] [--width 64] [--device cpu] [--seed 0]
       python benchmarks/fit_speed.py --image-shape 3 128 128 --n-images 2000 --penalties none --device cuda
Prints a Markdown table with the machine and versions; times are wall seconds per
epoch (mean over the epochs after the first, which also warms up the kernels). Random
uint8 images (drawn from ``--seed``, five classes) time larger sizes: the arithmetic of
a training step does not depend on what the images show.
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
    parser.add_argument("--image-shape", type=int, nargs=3, default=None, metavar=("C", "H", "W"))
    parser.add_argument("--n-images", type=int, default=2000, help="with --image-shape")
    parser.add_argument("--penalties", nargs="+", default=["paper", "official", "none"])
    args = parser.parse_args()

    if args.image_shape is None:
        images, labels = load_digits_images()
    else:
        generator = torch.Generator().manual_seed(args.seed)
        images = torch.randint(0, 256, (args.n_images, *args.image_shape), dtype=torch.uint8, generator=generator)
        labels = torch.arange(args.n_images) % 5
    network_images = to_network_range(images)
    rows = []
    for penalty in args.penalties:
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
    what = "digits" if args.image_shape is None else "random images of " + "×".join(map(str, args.image_shape))
    print(f"\n| penalty | s / epoch ({len(images)} {what}, batch {args.batch_size}, width {args.width}) |")
    print("|---|---|")
    for row in rows:
        print(f"| {row['penalty']} | {row['seconds_per_epoch']:.2f} |")


if __name__ == "__main__":
    main()
