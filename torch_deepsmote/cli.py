"""Command line: ``deepsmote demo | fit | generate | grid``."""

from __future__ import annotations

import argparse
import json
import logging
import re
import secrets
import sys
from collections import Counter
from pathlib import Path
from typing import Any, Callable, Sequence

from PIL import Image
from torchvision.datasets import ImageFolder

from torch_deepsmote._utils.validation import check_float, check_int
from torch_deepsmote._utils.written_files import MANIFEST, foreign_files, listed_files, remove_written
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
        "--skip-unreadable",
        action="store_true",
        help="skip the images of --image-folder that cannot be read, with a warning listing them "
        "(default: refuse, listing them)",
    )
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

    demo = commands.add_parser(
        "demo",
        help="compare none / random oversampling / DeepSMOTE with the benchmark's protocol",
        description="Train one classifier three ways (no resampling, random oversampling, DeepSMOTE) with the "
        "benchmark's protocol for the data set (the `smoke` profile on digits, the `cpu` profile elsewhere) "
        "and print the scores beside the committed rows of the same methods.",
    )
    demo.add_argument("--dataset", default="digits", choices=DATASET_NAMES)
    demo.add_argument("--root", default=None, help="where the data set's files are (not needed for digits)")
    demo.add_argument("--out", default="deepsmote-demo", help="output folder (default ./deepsmote-demo)")
    demo.add_argument(
        "--seeds",
        type=_checked(int, "seeds", minimum=1),
        default=1,
        help="run N seeds (--seed, --seed + 1, ...) and print mean ± std (default 1)",
    )
    demo.add_argument(
        "--classifier-epochs",
        type=_checked(int, "classifier_epochs", minimum=1),
        default=None,
        help="default: the profile's (changing it leaves the committed rows out)",
    )
    demo.add_argument(
        "--autoencoder-epochs",
        type=_checked(int, "autoencoder_epochs", minimum=0),
        default=None,
        help="default: the profile's (changing it leaves the committed rows out)",
    )
    demo.add_argument("--fast", action="store_true", help="one epoch everywhere (a smoke test)")
    _add_model_options(demo)

    fit = commands.add_parser("fit", help="train (or load from the cache) the autoencoder for a data set")
    _add_source_options(fit)

    generate = commands.add_parser("generate", help="write a balanced copy of a data set as an ImageFolder tree")
    _add_source_options(generate)
    generate.add_argument(
        "--out", required=True, help="output folder (new or empty; not a link, and not inside or above --image-folder)"
    )
    generate.add_argument(
        "--overwrite",
        action="store_true",
        help=f"replace an --out that an earlier generate wrote (it holds {MANIFEST}); any other non-empty "
        "folder is refused",
    )

    grid = commands.add_parser("grid", help="a PNG of real and synthetic images per class")
    _add_source_options(grid)
    grid.add_argument("--out", default="deepsmote-grid.png")
    grid.add_argument("--per-class", type=_checked(int, "per_class", minimum=1), default=8)
    return parser


def _source(args: argparse.Namespace) -> tuple[object, list[str]]:
    """The base dataset (raw items) and its class names."""
    if args.image_folder:
        folder = _image_folder(Path(args.image_folder).expanduser(), args.skip_unreadable)
        return folder, list(folder.classes)
    demo = _demo_module()
    train, _ = demo.load_demo_data(demo.DemoConfig(dataset=args.dataset, root=args.root, seed=args.seed))
    return train, [str(c) for c in sorted(set(train.targets.tolist()))]


def _image_folder(root: Path, skip_unreadable: bool) -> ImageFolder:
    """``ImageFolder(root)`` whose every image was opened and decoded once: unreadable ones
    (corrupt, empty, truncated) are refused with their paths, or skipped with a warning
    under ``--skip-unreadable``; images of another size than the rest are refused with
    their paths."""
    if not root.is_dir():
        raise SystemExit(f"error: --image-folder {root} is not a folder.")
    try:
        folder = ImageFolder(str(root))
    except (OSError, RuntimeError) as error:  # no class folder, or a class without images
        raise SystemExit(
            f"error: --image-folder {root} is not an ImageFolder tree DIR/<class>/<image> ({error})."
        ) from None
    unreadable, sizes = [], {}
    for path, _ in folder.samples:
        try:
            with Image.open(path) as image:
                size = image.convert("RGB").size  # what ImageFolder's loader does: a full decode
        except Exception as error:  # PIL raises OSError, SyntaxError, ValueError, ... on a bad file
            unreadable.append(f"{path} ({type(error).__name__}: {error})")
        else:
            sizes.setdefault(size, []).append(path)
    if unreadable and not skip_unreadable:
        raise SystemExit(
            f"error: {len(unreadable)} image(s) of --image-folder cannot be read (pass --skip-unreadable to skip "
            "them):\n  " + "\n  ".join(unreadable)
        )
    if unreadable:
        listing = "\n  ".join(unreadable)
        print(f"warning: skipping {len(unreadable)} unreadable image(s):\n  {listing}", file=sys.stderr)
        readable = {path for paths in sizes.values() for path in paths}
        kept = [sample for sample in folder.samples if sample[0] in readable]
        folder.samples = folder.imgs = kept
        folder.targets = [label for _, label in kept]
    if not folder.samples:
        raise SystemExit(f"error: --image-folder {root} holds no readable image.")
    if len(sizes) > 1:
        common = max(sizes, key=lambda size: len(sizes[size]))
        others = [f"{path} ({size[0]}×{size[1]})" for size, paths in sizes.items() if size != common for path in paths]
        raise SystemExit(
            f"error: the images of --image-folder must share one size; {len(sizes[common])} are "
            f"{common[0]}×{common[1]}, these are not:\n  " + "\n  ".join(others)
        )
    return folder


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
    out = _check_out(args)  # every refusal comes before any reading or training
    base, names = _source(args)
    folders = [_safe_class_folder(name) for name in names]
    staging = _make_staging(out)
    written: list[str] = []
    try:
        dataset = _wrap(args, base)
        for start in range(0, len(dataset), 256):
            indices = list(range(start, min(start + 256, len(dataset))))
            for index, (image, label) in zip(indices, dataset.raw_items(indices)):
                kind = "synthetic" if index >= dataset.n_real else "real"
                relative = f"{folders[label]}/{kind}-{index:07d}.png"
                (staging / folders[label]).mkdir(exist_ok=True)
                _to_pil(image, dataset.raw_format).save(staging / relative)
                written.append(relative)
        manifest = {"written_by": "deepsmote generate", "files": written}
        (staging / MANIFEST).write_text(json.dumps(manifest, indent=0) + "\n")
        written.append(MANIFEST)
        _check_out(args)  # the folder may have changed while it trained
    except BaseException:
        remove_written(staging, written)
        raise
    if out.exists():
        aside = out.parent / f".{out.name}-old-{secrets.token_hex(6)}"
        out.rename(aside)
        staging.rename(out)
        remove_written(aside, listed_files(aside))
        if aside.exists():
            print(f"warning: kept {aside}: it holds files that generate did not write", file=sys.stderr)
    else:
        staging.rename(out)
    counts = Counter(dataset.targets.tolist())
    print(f"wrote {len(dataset)} images ({len(dataset) - dataset.n_real} synthetic) to {out}")
    for label, name in enumerate(names):
        print(f"  {name}: {counts[label]}")


def _check_out(args: argparse.Namespace) -> Path:
    """``--out``, refused (``SystemExit``) where writing it could lose a file generate did not write:
    a link, a non-folder, a folder equal to, inside or above ``--image-folder``, a non-empty
    folder without ``--overwrite``, and with it any folder that generate did not write."""
    out = Path(args.out).expanduser()
    if out.is_symlink():
        raise SystemExit(f"error: --out {out} is a symbolic link; pass the folder itself.")
    if out.exists() and not out.is_dir():
        raise SystemExit(f"error: --out {out} exists and is not a folder; generate never replaces a file.")
    if args.image_folder:
        source, target = Path(args.image_folder).expanduser().resolve(), out.resolve()
        if target == source or source in target.parents:
            where = "is" if target == source else "is inside"
            raise SystemExit(
                f"error: --out {out} {where} --image-folder {args.image_folder}: the output would be read back "
                "as input; pass a folder outside it."
            )
        if target in source.parents:
            raise SystemExit(
                f"error: --out {out} contains --image-folder {args.image_folder}: replacing it would delete the "
                "input; pass a folder outside it."
            )
    if out.is_dir() and any(out.iterdir()):
        if not args.overwrite:
            raise SystemExit(f"error: --out {out} exists and is not empty; pass --overwrite to replace it.")
        foreign = foreign_files(out)
        if foreign is None:
            raise SystemExit(
                f"error: --out {out} is not empty and was not written by `deepsmote generate` (it has no readable "
                f"{MANIFEST}): --overwrite replaces only such a folder; pass a new or empty folder."
            )
        if foreign:
            shown = ", ".join(foreign[:5]) + (f" and {len(foreign) - 5} more" if len(foreign) > 5 else "")
            raise SystemExit(
                f"error: --out {out} holds files that `deepsmote generate` did not write ({shown}): --overwrite "
                "never deletes them; move them away or pass another folder."
            )
    return out


def _make_staging(out: Path) -> Path:
    """A new hidden folder beside ``out`` to write into, made with the user's umask."""
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        while True:
            staging = out.parent / f".{out.name}-{secrets.token_hex(6)}"
            try:
                staging.mkdir()
                return staging
            except FileExistsError:
                continue
    except OSError as error:
        raise SystemExit(f"error: cannot write beside --out {out} ({type(error).__name__}: {error}).") from None


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
        seeds=args.seeds,
        device=args.device,
        cache_dir=args.cache_dir,
        progress=not args.quiet,
        recipe=args.recipe,
    )
    for name in ("classifier_epochs", "autoencoder_epochs"):
        if getattr(args, name) is not None:
            options[name] = getattr(args, name)
    print(demo.format_report(demo.run_demo(factory(**options))))


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
