"""The fit estimate's training memory against the peak memory two real CPU training steps take.

Usage: python benchmarks/estimate_accuracy.py [--out benchmarks/results/performance/estimate-accuracy.json]

Each configuration (image shape, width, batch size, penalty) runs in a fresh spawned
process with one torch thread: ``estimate_fit`` gives the training memory (16 bytes a
parameter plus one batch's activations); after a warm-up on a tiny model (which loads the
kernels), ``fit_autoencoder`` trains the model for one epoch of two steps on random images while the growth of
the process's peak resident memory (Linux VmHWM) is measured. Prints a Markdown table
with the machine and versions; ``--out`` writes everything as JSON.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
from pathlib import Path
from typing import Any

from _environment import describe_machine

CONFIGS = (
    # (channels, height, width), autoencoder width, batch size, penalty
    ((3, 64, 64), 64, 100, "none"),
    ((3, 64, 64), 64, 100, "paper"),
    ((3, 128, 128), 32, 16, "paper"),
    ((3, 128, 128), 32, 16, "none"),
    ((3, 224, 224), 16, 32, "official"),
    ((3, 224, 224), 16, 32, "none"),
    ((3, 64, 64), 16, 32, "none"),  # a small fit
)
MiB = 2**20


def measure(config: dict[str, Any]) -> dict[str, Any]:
    """Estimate and measure one configuration (in a process of its own)."""
    import torch

    from knn_backends import PeakMemory
    from torch_deepsmote import ConvAutoencoder
    from torch_deepsmote.nn.estimate import estimate_fit
    from torch_deepsmote.nn.ranges import to_network_range
    from torch_deepsmote.nn.sources import as_source
    from torch_deepsmote.nn.training import fit_autoencoder

    torch.set_num_threads(1)
    generator = torch.Generator().manual_seed(config["seed"])
    n_images = 2 * config["batch_size"] + 2
    images = to_network_range(
        torch.randint(0, 256, (n_images, *config["shape"]), dtype=torch.uint8, generator=generator)
    )
    labels = torch.arange(n_images) % 2
    model = ConvAutoencoder(config["shape"], 128, width=config["width"], generator=generator)
    estimate = estimate_fit(
        model,
        as_source(images),
        labels,
        [],
        batch_size=config["batch_size"],
        epochs=1,
        penalty=config["penalty"],
        device="cpu",
    )
    # Warm-up on a tiny model: the kernels' code and the libraries' first allocations are not
    # the fit's memory (their small buffers barely change what the allocator keeps).
    tiny = ConvAutoencoder((config["shape"][0], 8, 8), 8, width=4, generator=generator)
    tiny_images = to_network_range(torch.randint(0, 256, (8, config["shape"][0], 8, 8), dtype=torch.uint8))
    fit_autoencoder(
        tiny,
        tiny_images,
        torch.arange(8) % 2,
        epochs=1,
        batch_size=4,
        penalty=config["penalty"],
        device="cpu",
        progress=False,
    )
    meter = PeakMemory(torch.device("cpu"))
    meter.start()
    fit_autoencoder(
        model,
        images,
        labels,
        epochs=1,
        batch_size=config["batch_size"],
        penalty=config["penalty"],
        device="cpu",
        random_state=config["seed"],
        progress=False,
    )
    measured = meter.growth()
    return config | {
        "parameters": estimate.parameters,
        "estimated_training_bytes": estimate.training_bytes,
        "measured_peak_growth_bytes": measured,
        "estimate_over_measured": estimate.training_bytes / measured,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=None, help="JSON file for the results")
    parser.add_argument("--configs", type=int, nargs="+", default=None, help="indices into CONFIGS (default: all)")
    args = parser.parse_args()
    chosen = [CONFIGS[i] for i in args.configs] if args.configs is not None else list(CONFIGS)
    context = multiprocessing.get_context("spawn")
    rows = []
    for shape, width, batch_size, penalty in chosen:
        config = {"shape": shape, "width": width, "batch_size": batch_size, "penalty": penalty, "seed": args.seed}
        with context.Pool(1) as pool:
            rows.append(pool.apply(measure, (config,)))
    machine = describe_machine("cpu")
    print(json.dumps({"machine": machine, "seed": args.seed}, indent=2))
    print("\n| image | width | batch | penalty | parameters | estimated MiB | measured MiB | estimate ÷ measured |")
    print("|---|---:|---:|---|---:|---:|---:|---:|")
    for row in rows:
        print(
            f"| {'×'.join(map(str, row['shape']))} | {row['width']} | {row['batch_size']} | {row['penalty']} | "
            f"{row['parameters'] / 1e6:.2f} M | {row['estimated_training_bytes'] / MiB:.1f} | "
            f"{row['measured_peak_growth_bytes'] / MiB:.1f} | {row['estimate_over_measured']:.3f} |"
        )
    if args.out is not None:
        args.out.write_text(json.dumps({"machine": machine, "seed": args.seed, "rows": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main()
