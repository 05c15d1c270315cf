"""Procedural textured shapes as a torchvision ``ImageFolder``, at any image size.

Usage:
    python benchmarks/make_shapes.py --size 64 --out data/shapes-64
    python benchmarks/make_shapes.py --size 224 --counts 200 100 40 20 8 --test-per-class 0 --out data/shapes-224

Writes ``<out>/train/<class>/<index>.png`` at the imbalanced ``--counts`` and
``<out>/test/<class>/<index>.png`` with ``--test-per-class`` images of every class, RGB
images of ``--size`` × ``--size``, and ``<out>/shapes.json`` (what was asked). Class k is
one shape (a triangle, a bar, a star, a cross, a hexagon, an arrow) with its vertices
jittered, drawn at a random position, scale and rotation in a random light tint with
faint stripes of random period and angle, over a darker noisy background of muted random
colours crossed by two random lines: the colour says nothing of the class, only the
geometry does. Sized so that the comparison's SmallCNN learns them in its short budget,
but slowly (``benchmarks/results/large-images/NOTES.md``).

The default counts are five of the paper's Fashion-MNIST counts, 1000, 500, 200, 100
and 40 (its 3rd, 5th, 7th, 8th and 10th classes: a ratio of 25 between the largest and
the rarest), and 200 test images per class: 2840 images. Every image is a function of (``--seed``, split, class, index) alone, so
the same seed gives byte-identical files, and more images of a class keep the others.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

SHAPES = ("triangle", "bar", "star", "cross", "hexagon", "arrow")
COUNTS = (1000, 500, 200, 100, 40)
TEST_PER_CLASS = 200
SPLITS = {"train": 0, "test": 1}
SUPERSAMPLE = 4  # the shape is drawn at 4× and shrunk, for smooth edges


def regular(sides: int, inner: float | None = None) -> np.ndarray:
    """(sides, 2) vertices of a regular polygon of radius 1, or ((2 × sides), 2) of a
    star whose inner vertices lie at radius ``inner``."""
    if inner is None:
        angles = 2 * math.pi * np.arange(sides) / sides
        return np.stack([np.cos(angles), np.sin(angles)], 1)
    angles = math.pi * np.arange(2 * sides) / sides
    radii = np.where(np.arange(2 * sides) % 2 == 0, 1.0, inner)
    return np.stack([radii * np.cos(angles), radii * np.sin(angles)], 1)


def outline(shape: str) -> np.ndarray:
    """(V, 2) vertices of ``shape`` within the unit disc, centred on the origin."""
    if shape == "triangle":
        return regular(3)
    if shape == "bar":
        return np.array([[-1.0, -0.35], [1.0, -0.35], [1.0, 0.35], [-1.0, 0.35]])
    if shape == "star":
        return regular(5, inner=0.42)
    if shape == "cross":
        a, b = 0.3, 0.95
        return np.array(
            [[a, a], [a, b], [-a, b], [-a, a], [-b, a], [-b, -a], [-a, -a], [-a, -b], [a, -b], [a, -a], [b, -a], [b, a]]
        )
    if shape == "hexagon":
        return regular(6)
    if shape == "arrow":
        return np.array([[-1.0, -0.25], [0.2, -0.25], [0.2, -0.6], [1.0, 0.0], [0.2, 0.6], [0.2, 0.25], [-1.0, 0.25]])
    raise ValueError(f"unknown shape {shape!r}; one of {SHAPES}")


def background(rng: np.random.Generator, size: int) -> Image.Image:
    """A ``size`` × ``size`` RGB field of muted smooth random colours around 100, pixel noise and two
    random lines of such colours."""
    field = Image.fromarray(rng.integers(0, 256, (4, 4, 3), dtype=np.uint8)).resize((size, size), Image.BICUBIC)
    pixels = 100 + 0.4 * (np.asarray(field, dtype=np.float32) - 128) + rng.normal(0, 12, (size, size, 3))
    image = Image.fromarray(pixels.clip(0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(image)
    for _ in range(2):
        ends = rng.uniform(0, size, 4).tolist()
        draw.line(ends, fill=tuple(rng.integers(40, 160, 3).tolist()), width=max(1, size // 32))
    return image


def texture(rng: np.random.Generator, size: int) -> Image.Image:
    """A ``size`` × ``size`` RGB texture: a random light tint, faint stripes of random period and angle, noise."""
    y, x = np.mgrid[0:size, 0:size].astype(np.float32)
    angle, period = rng.uniform(0, math.pi), rng.uniform(0.08, 0.25) * size
    stripes = np.sin(2 * math.pi * (x * math.cos(angle) + y * math.sin(angle)) / period)
    colour = rng.uniform(170, 255, 3)
    pixels = colour + 15 * stripes[..., None] + rng.normal(0, 8, (size, size, 3))
    return Image.fromarray(pixels.clip(0, 255).astype(np.uint8))


def mask(rng: np.random.Generator, shape: str, size: int) -> Image.Image:
    """A ``size`` × ``size`` L-mode mask of ``shape``: vertices jittered, random scale, rotation and position."""
    vertices = outline(shape)
    vertices = vertices + rng.normal(0, 0.04, vertices.shape)
    angle = rng.uniform(0, 2 * math.pi)
    rotation = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    radius = rng.uniform(0.2, 0.38) * size
    centre = rng.uniform(radius, size - radius, 2)
    points = (vertices @ rotation.T * radius + centre) * SUPERSAMPLE
    large = Image.new("L", (size * SUPERSAMPLE, size * SUPERSAMPLE))
    ImageDraw.Draw(large).polygon([tuple(point) for point in points.tolist()], fill=255)
    return large.resize((size, size), Image.BOX)


def draw(rng: np.random.Generator, shape: str, size: int) -> Image.Image:
    """One ``size`` × ``size`` RGB image of ``shape``."""
    base = background(rng, size)
    return Image.composite(texture(rng, size), base, mask(rng, shape, size))


def class_folder(label: int) -> str:
    """The folder of class ``label``: its index first, so ``ImageFolder``'s sorted order is the labels' order."""
    return f"{label}-{SHAPES[label]}"


def write_split(out: Path, split: str, counts: list[int], size: int, seed: int) -> None:
    """``counts[k]`` images of class k under ``out/split/<class>/``."""
    for label, count in enumerate(counts):
        folder = out / split / class_folder(label)
        folder.mkdir(parents=True, exist_ok=True)
        for index in range(count):
            rng = np.random.default_rng([seed, SPLITS[split], label, index])
            draw(rng, SHAPES[label], size).save(folder / f"{index:05d}.png", format="PNG")


def make_shapes(out: str | Path, size: int, seed: int = 0, counts=COUNTS, test_per_class: int = TEST_PER_CLASS) -> Path:
    """Write the folder (module docstring); nothing when ``out`` holds it already. Returns ``out``."""
    out, counts = Path(out), list(counts)
    if not 1 <= len(counts) <= len(SHAPES) or min(counts) < 1 or size < 8:
        raise ValueError(f"1 to {len(SHAPES)} classes of at least one image each, and a size ≥ 8: {counts}, {size}")
    manifest = {
        "generator": "benchmarks/make_shapes.py",
        "size": size,
        "seed": seed,
        "counts": counts,
        "test_per_class": test_per_class,
        "classes": [class_folder(label) for label in range(len(counts))],
    }
    path = out / "shapes.json"
    if path.exists() and json.loads(path.read_text(encoding="utf-8")) == manifest:
        return out
    if out.exists() and any(out.iterdir()):
        raise SystemExit(f"{out} holds other files: choose an empty or new --out")
    write_split(out, "train", counts, size, seed)
    if test_per_class:
        write_split(out, "test", [test_per_class] * len(counts), size, seed)
    path.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return out


def main(argv: list[str] | None = None) -> Path:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=64, help="image side in pixels")
    parser.add_argument("--out", default=None, help="folder to write (default: data/shapes-<size>)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--counts", type=int, nargs="+", default=list(COUNTS), help="training images per class")
    parser.add_argument("--test-per-class", type=int, default=TEST_PER_CLASS)
    args = parser.parse_args(argv)
    out = make_shapes(args.out or f"data/shapes-{args.size}", args.size, args.seed, args.counts, args.test_per_class)
    print(f"wrote {out}")
    return out


if __name__ == "__main__":
    main()
