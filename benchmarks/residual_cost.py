"""What keeping the residuals on disk costs, against holding them and against making them again.

Usage: python benchmarks/residual_cost.py [--side 64] [--images 600] [--out FILE]

One fitted model (random RGB images, five classes, width 16) serves every synthetic item
three ways, side by side in one process, each timed over the same batches: its residuals
held in memory, the same residuals memory-mapped from a file, and the decode alone that
making a residual again at draw time would add for each item (``D(E(x))`` of its base
image, whose latent is kept; reading the base image again would add more). Prints the machine, the settings and the items per second;
``--out`` writes them as JSON.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import torch

from _environment import describe_machine
from torch_deepsmote import DeepSMOTE
from torch_deepsmote.latent.residuals import residual_rows, write_rows

BATCH = 256


def serve(oversampler: DeepSMOTE, repeats: int) -> float:
    """Synthetic items per second of ``oversampler.sample`` (every item, ``repeats`` times after
    one untimed pass, which also brings a mapped file's pages in)."""
    oversampler.sample(0)
    started = time.perf_counter()
    for _ in range(repeats):
        images, _ = oversampler.sample(0)
    return repeats * len(images) / (time.perf_counter() - started)


def decode_only(oversampler: DeepSMOTE, repeats: int) -> float:
    """Items per second of decoding one kept latent per synthetic item: the work a residual made
    again at draw time adds (its base image's ``D(E(x))``)."""
    index = oversampler.index_
    latents = torch.cat([index.latents[code][:n] for code, n in oversampler._strategy.items() if n > 0])
    started = time.perf_counter()
    for _ in range(repeats):
        for chunk in latents.split(BATCH):
            index.decode(chunk)
    return repeats * len(latents) / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--side", type=int, default=64)
    parser.add_argument("--images", type=int, default=600)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=None)
    args = parser.parse_args()

    generator = torch.Generator().manual_seed(args.seed)
    images = torch.randint(0, 256, (args.images, 3, args.side, args.side), dtype=torch.uint8, generator=generator)
    counts = [args.images * share // 31 for share in (16, 8, 4, 2, 1)]
    labels = torch.repeat_interleave(torch.arange(5), torch.tensor(counts))
    images = images[: len(labels)]
    options = {"width": 16, "latent_dim": 128, "epochs": 1, "batch_size": 100, "progress": False}
    oversampler = DeepSMOTE(random_state=args.seed, device="cpu", **options).fit(images, labels)
    held = serve(oversampler, args.repeats)
    rows = oversampler.index_.residuals
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "rows.f16"
        write_rows(path, rows)
        oversampler.index_.residuals = residual_rows({c: len(r) for c, r in rows.items()}, images.shape[1:], path, "c")
        mapped = serve(oversampler, args.repeats)
        oversampler.index_.residuals = rows
    decoded = decode_only(oversampler, args.repeats)
    result = {
        "machine": describe_machine("cpu"),
        "settings": vars(args) | options,
        "synthetic_items": sum(n for n in oversampler._strategy.values()),
        "items_per_s": {"residuals held": held, "residuals memory-mapped": mapped, "decode alone": decoded},
        "ratios": {
            "memory-mapped / held": mapped / held,
            "made again (estimated: 1 / (1/held + 1/decode)) / held": 1 / (1 / held + 1 / decoded) / held,
        },
    }
    print(json.dumps(result, indent=2))
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
