"""Do DeepSMOTE's synthetic images drift away from their class? A latent-space check.

Usage:
    python benchmarks/drift.py --profile cpu --seeds 0 1 2 --out benchmarks/results/ablation/drift

For each seed, the benchmark's training set is grown by DeepSMOTE's default recipe with
the profile's autoencoder budget (``compare.py``'s protocol). Every synthetic image is
re-encoded and labelled by the majority of its ``--neighbors`` nearest real training
latents; so is every real image of the grown classes (without itself). A filter that
drops synthetic images whose nearest class is another can only remove drift where the
synthetic images of a class land in another class more often than its real images do.
A synthetic image's own base image is among the real latents that vote on it, while a
real image does not vote on itself, so equal shares mean no drift beyond that.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import torch  # noqa: E402

from _environment import describe_machine  # noqa: E402
from compare import load_split, synthetic_images  # noqa: E402
from methods import METHODS  # noqa: E402
from profiles import PROFILES  # noqa: E402
from torch_deepsmote.latent.index import encode  # noqa: E402
from torch_deepsmote.nn.ranges import to_network_range  # noqa: E402

METHOD = "DeepSMOTE (default)"


def neighbour_vote(
    queries: torch.Tensor,
    latents: torch.Tensor,
    labels: torch.Tensor,
    k: int,
    skip_self: bool = False,
    chunk: int = 2048,
) -> torch.Tensor:
    """(M,) majority label of each of the (M, d) ``queries``' ``k`` nearest (N, d)
    ``latents``; with ``skip_self``, query ``i`` is latent ``i`` and is not its own neighbour."""
    votes = []
    for start in range(0, len(queries), chunk):
        distances = torch.cdist(queries[start : start + chunk], latents)
        if skip_self:
            rows = torch.arange(len(distances))
            distances[rows, rows + start] = float("inf")
        nearest = distances.topk(k, largest=False).indices
        votes.append(torch.mode(labels[nearest], dim=1).values)
    return torch.cat(votes)


def measure_seed(profile: dict, seed: int, k: int) -> dict[int, dict[str, float]]:
    """class → share of its real and of its synthetic images voted into it, for one seed."""
    train, _, _ = load_split(profile, seed)
    dataset = METHODS[METHOD](train.images, train.targets, seed, profile["settings"] | {"device": "cpu"}, None)
    oversampler = dataset.oversampler
    latents = encode(oversampler.autoencoder_, to_network_range(train.images)).cpu()
    fake, fake_labels = synthetic_images(dataset, len(train.targets))
    real_votes = neighbour_vote(latents, latents, train.targets, k, skip_self=True)
    fake_votes = neighbour_vote(
        encode(oversampler.autoencoder_, to_network_range(fake)).cpu(), latents, train.targets, k
    )
    shares = {}
    for label in torch.unique(fake_labels).tolist():
        real, synthetic = train.targets == label, fake_labels == label
        shares[label] = {
            "real": float((real_votes[real] == label).float().mean()),
            "synthetic": float((fake_votes[synthetic] == label).float().mean()),
            "n_real": int(real.sum()),
            "n_synthetic": int(synthetic.sum()),
        }
    return shares


def table(runs: dict[int, dict[int, dict[str, float]]]) -> list[str]:
    """Markdown rows: per class, the real and synthetic shares (mean over the seeds, %)."""
    classes = sorted({label for shares in runs.values() for label in shares})
    lines = [
        "| class | real images | synthetic images | real voted into their class (%) | "
        "synthetic voted into their class (%) | difference |",
        "|---|---|---|---|---|---|",
    ]
    for label in classes:
        real = statistics.mean(100 * runs[s][label]["real"] for s in runs)
        synthetic = statistics.mean(100 * runs[s][label]["synthetic"] for s in runs)
        first = runs[min(runs)][label]
        lines.append(
            f"| {label} | {first['n_real']} | {first['n_synthetic']} | {real:.1f} | {synthetic:.1f} | "
            f"{synthetic - real:+.1f} |"
        )
    return lines


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="cpu", choices=sorted(PROFILES))
    parser.add_argument("--seeds", type=int, nargs="+", default=None, help="default: the profile's seeds")
    parser.add_argument("--neighbors", type=int, default=10, help="real latents voting on each image")
    parser.add_argument("--out", type=Path, default=None, help="folder for drift.md and drift.json")
    args = parser.parse_args(argv)
    profile = PROFILES[args.profile]
    seeds = args.seeds if args.seeds is not None else profile["seeds"]
    runs = {seed: measure_seed(profile, seed, args.neighbors) for seed in seeds}
    report = {
        "machine": describe_machine("cpu"),
        "profile": args.profile,
        "method": METHOD,
        "seeds": seeds,
        "neighbors": args.neighbors,
        "runs": runs,
    }
    lines = [
        f"# Drift of synthetic images, profile `{args.profile}`",
        "",
        f"{METHOD}; seeds {seeds}; each image labelled by the majority of its {args.neighbors} nearest real "
        "training latents (re-encoded synthetic images, whose base image votes too; real images without "
        "themselves); mean over the seeds. "
        f"Machine: {report['machine']['processor']}, {report['machine']['cpu_count']} CPUs; "
        f"Python {report['machine']['python']}, torch {report['machine']['torch']}.",
        "",
        f"Command: `python benchmarks/drift.py {' '.join(argv if argv is not None else sys.argv[1:])}`",
        "",
        *table(runs),
    ]
    print("\n".join(lines))
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "drift.md").write_text("\n".join(lines) + "\n")
        (args.out / "drift.json").write_text(json.dumps(report, indent=2))
    return report


if __name__ == "__main__":
    main()
