"""Command line: ``deepsmote demo | fit | generate | grid``."""

from __future__ import annotations

import argparse
import logging
import re
import shutil
import sys
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any, Callable, Sequence

from PIL import Image
from torchvision.datasets import ImageFolder

from torch_deepsmote._utils.validation import check_float, check_int
from torch_deepsmote.data.dataset import DeepSMOTEDataset
from torch_deepsmote.data.items import RawFormat
from torch_deepsmote.evaluation.datasets import DATASET_NAMES
from torch_deepsmote.oversampler import DeepSMOTE
from torch_deepsmote.recipes import DEFAULT_RECIPE, RECIPES

__all__ = ["main"]

SAFE_NAME = re.compile(r"^[\w][\w .+-]*$")


def _add_model_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--seed", type=_checked(int, "seed", minimum=0), default=0, help="random seed (default 0)")
    parser.add_argument("--device", default=None, help="cpu, cuda, cuda:1 ... (default: cuda if available)")
    parser.add_argument("--cache-dir", default=None, help="cache folder for the fitted autoencoder")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    parser.add_argument(
        "--recipe",
        default=DEFAULT_RECIPE,
        choices=tuple(RECIPES),
        help=f"DeepSMOTE's recipe (default {DEFAULT_RECIPE}; 'paper' is the paper's)",
    )


def _checked(kind: type, name: str, **bounds: Any) -> Callable[[str], Any]:
    """An argparse type: the ``kind`` (int or float) given, checked as the library checks
    ``name``, so a bad value is a usage error that names the flag."""
    check = check_int if kind is int else check_float

    def parse(text: str) -> Any:
        try:
            value: Any = kind(text)
        except ValueError:
            value = text  # the check names what it received
        try:
            return check(name, value, **bounds)
        except (TypeError, ValueError) as error:
            raise argparse.ArgumentTypeError(str(error)) from None

    return parse


def _add_source_options(parser: argparse.ArgumentParser) -> None:
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--image-folder", help="an ImageFolder tree: DIR/<class>/<image>")
    source.add_argument("--dataset", choices=DATASET_NAMES, help="a data set made imbalanced by the paper's profile")
    parser.add_argument("--root", default=None, help="where --dataset's files are")
    parser.add_argument(
        "--epochs",
        type=_checked(int, "epochs", minimum=0),
        default=50,
        help="autoencoder epochs (default 50; the most, with --validation-fraction)",
    )
    held = _checked(float, "validation_fraction", minimum=0.0, maximum=1.0, inclusive_maximum=False)
    parser.add_argument(
        "--validation-fraction",
        type=held,
        default=0.0,
        help="share of each class held out to stop the autoencoder's training once its "
        "reconstruction stops improving (default 0: train --epochs epochs)",
    )
    parser.add_argument(
        "--n-iter-no-change",
        type=_checked(int, "n_iter_no_change", minimum=1),
        default=5,
        help="with --validation-fraction, epochs without improvement before it stops (default 5)",
    )
    parser.add_argument("--k-neighbors", type=_checked(int, "k_neighbors", minimum=1), default=5)
    _add_model_options(parser)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="deepsmote", description="DeepSMOTE oversampling for image data sets.")
    commands = parser.add_subparsers(dest="command", required=True)

    demo = commands.add_parser("demo", help="compare none / random oversampling / DeepSMOTE with one small CNN")
    demo.add_argument("--dataset", default="digits", choices=DATASET_NAMES)
    demo.add_argument("--root", default=None, help="where the data set's files are (not needed for digits)")
    demo.add_argument("--out", default="deepsmote-demo", help="output folder (default ./deepsmote-demo)")
    demo.add_argument("--classifier-epochs", type=_checked(int, "classifier_epochs", minimum=1), default=15)
    demo.add_argument(
        "--autoencoder-epochs",
        type=_checked(int, "autoencoder_epochs", minimum=0),
        default=None,
        help="default: 150 on digits, 20 otherwise",
    )
    demo.add_argument("--fast", action="store_true", help="one epoch everywhere (a smoke test)")
    _add_model_options(demo)

    fit = commands.add_parser("fit", help="train (or load from the cache) the autoencoder for a data set")
    _add_source_options(fit)

    generate = commands.add_parser("generate", help="write a balanced copy of a data set as an ImageFolder tree")
    _add_source_options(generate)
    generate.add_argument("--out", required=True, help="output folder (must not exist or be empty)")
    generate.add_argument("--overwrite", action="store_true", help="replace a non-empty --out")

    grid = commands.add_parser("grid", help="a PNG of real and synthetic images per class")
    _add_source_options(grid)
    grid.add_argument("--out", default="deepsmote-grid.png")
    grid.add_argument("--per-class", type=_checked(int, "per_class", minimum=1), default=8)
    return parser


def _source(args: argparse.Namespace) -> tuple[object, list[str]]:
    """The base dataset (raw items) and its class names."""
    if args.image_folder:
        folder = ImageFolder(args.image_folder)
        return folder, list(folder.classes)
    demo = _demo_module()
    train, _ = demo.load_demo_data(demo.DemoConfig(dataset=args.dataset, root=args.root, seed=args.seed))
    return train, [str(c) for c in sorted(set(train.targets.tolist()))]


def _demo_module() -> Any:
    """:mod:`torch_deepsmote.evaluation.demo`, which needs the ``demo`` extra."""
    try:
        from torch_deepsmote.evaluation import demo
    except ImportError as error:
        raise SystemExit(
            f'error: this command needs the demo extra ({error}): pip install "torch_deepsmote[demo]"'
        ) from None
    return demo


def _wrap(args: argparse.Namespace, base: object) -> DeepSMOTEDataset:
    oversampler = DeepSMOTE(
        k_neighbors=args.k_neighbors,
        recipe=args.recipe,
        epochs=args.epochs,
        validation_fraction=args.validation_fraction,
        n_iter_no_change=args.n_iter_no_change,
        device=args.device,
        random_state=args.seed,
        progress=not args.quiet,
    )
    return DeepSMOTEDataset(base, oversampler, cache_dir=args.cache_dir)


def _safe_class_folder(name: str) -> str:
    if not SAFE_NAME.match(name) or name in (".", ".."):
        raise SystemExit(f"error: class name {name!r} cannot be used as a folder name safely.")
    return name


def _to_pil(image: object, raw_format: RawFormat) -> Image.Image:
    """A raw dataset item as a PIL image (PIL items as they are)."""
    if isinstance(image, Image.Image):
        return image
    array = raw_format.to_uint8_chw(image).permute(1, 2, 0).numpy()
    return Image.fromarray(array[..., 0] if array.shape[-1] == 1 else array)


def _generate(args: argparse.Namespace) -> None:
    out = Path(args.out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())) and not args.overwrite:
        raise SystemExit(f"error: --out {out} exists and is not empty; pass --overwrite to replace it.")
    base, names = _source(args)
    folders = [_safe_class_folder(name) for name in names]
    dataset = _wrap(args, base)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))
    try:
        for start in range(0, len(dataset), 256):
            indices = list(range(start, min(start + 256, len(dataset))))
            for index, (image, label) in zip(indices, dataset.raw_items(indices)):
                kind = "synthetic" if index >= dataset.n_real else "real"
                target = staging / folders[label] / f"{kind}-{index:07d}.png"
                target.parent.mkdir(exist_ok=True)
                _to_pil(image, dataset.raw_format).save(target)
        if out.exists():
            shutil.rmtree(out)
        staging.rename(out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    counts = Counter(dataset.targets.tolist())
    print(f"wrote {len(dataset)} images ({len(dataset) - dataset.n_real} synthetic) to {out}")
    for label, name in enumerate(names):
        print(f"  {name}: {counts[label]}")


def _grid(args: argparse.Namespace) -> None:
    from torch_deepsmote.evaluation.plots import save_class_grid

    dataset = _wrap(args, _source(args)[0])
    path = save_class_grid(args.out, _demo_module().grid_rows(dataset, args.per_class))
    print(f"wrote {path}")


def _demo(args: argparse.Namespace) -> None:
    demo = _demo_module()
    factory = demo.DemoConfig.fast if args.fast else demo.DemoConfig
    options = dict(
        dataset=args.dataset,
        root=args.root,
        out=args.out,
        seed=args.seed,
        device=args.device,
        cache_dir=args.cache_dir,
        progress=not args.quiet,
        recipe=args.recipe,
    )
    if not args.fast:
        options |= dict(classifier_epochs=args.classifier_epochs, autoencoder_epochs=args.autoencoder_epochs)
    results = demo.run_demo(factory(**options))
    counts = results["class_counts"]
    print(f"data set: {args.dataset} (seed {args.seed}), device {results['environment']['device']}")
    print(f"train class counts before: {counts['train_before']}")
    print(f"train class counts after DeepSMOTE: {counts['train_after']}")
    print(f"test class counts (balanced): {counts['test']}")
    print(
        f"autoencoder: {'loaded from the cache' if results['autoencoder']['from_cache'] else 'trained'} "
        f"in {results['autoencoder']['seconds']:.1f} s"
    )
    print()
    print(f"{'method':<22}" + "".join(f"{s:>10}" for s in demo.SCORES) + f"{'train s':>10}")
    for method in demo.METHODS:
        row = "".join(f"{100 * results['scores'][method][s]:>10.2f}" for s in demo.SCORES)
        print(f"{method:<22}{row}{results['classifier_seconds'][method]:>10.1f}")
    print(f"\nwrote {Path(args.out) / 'grid.png'}, {Path(args.out) / 'metrics.png'}, {Path(args.out) / 'results.json'}")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``deepsmote`` command."""
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    if args.command == "demo":
        _demo(args)
    elif args.command == "fit":
        print(_wrap(args, _source(args)[0]))
    elif args.command == "generate":
        _generate(args)
    else:
        _grid(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
