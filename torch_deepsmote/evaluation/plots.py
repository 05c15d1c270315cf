"""Pictures: real vs synthetic grids and metric bar charts (PNG files)."""

from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import torch
from PIL import Image

__all__ = ["save_class_grid", "save_metric_bars"]


def _tile(images: torch.Tensor, cell: int) -> np.ndarray:
    """(n, C, H, W) uint8 → one (cell, n·cell, 3) uint8 strip, nearest-neighbour upscaled."""
    strip = []
    for image in images:
        rgb = image.expand(3, -1, -1) if image.shape[0] == 1 else image[:3]
        picture = Image.fromarray(rgb.permute(1, 2, 0).numpy()).resize((cell, cell), Image.NEAREST)
        strip.append(np.asarray(picture))
    return np.concatenate(strip, axis=1)


def save_class_grid(
    path: str | Path,
    rows: Sequence[tuple[torch.Tensor, torch.Tensor]],
    *,
    cell: int = 48,
    gap: int = 8,
) -> Path:
    """Write one row per class: real images on the left, synthetic ones on the right.

    Args:
        path: PNG file to write (its folder is created).
        rows: per class, ``(real (n, C, H, W) uint8, synthetic (m, C, H, W) uint8)``;
            either may be empty.
        cell: pixel size of each image in the grid.
        gap: white pixels between the real and the synthetic half.
    """
    width = max(len(real) for real, _ in rows), max(len(fake) for _, fake in rows)
    canvas = np.full(
        (len(rows) * (cell + 2), (width[0] + width[1]) * cell + gap, 3), 255, dtype=np.uint8
    )
    for index, (real, fake) in enumerate(rows):
        top = index * (cell + 2)
        if len(real):
            canvas[top : top + cell, : len(real) * cell] = _tile(real, cell)
        if len(fake):
            left = width[0] * cell + gap
            canvas[top : top + cell, left : left + len(fake) * cell] = _tile(fake, cell)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(canvas).save(path)
    return path


def save_metric_bars(path: str | Path, results: Mapping[str, Mapping[str, float]], *, title: str = "") -> Path:
    """Grouped bar chart: one group per metric, one bar per method (values in %).

    Args:
        path: PNG file to write.
        results: method → {metric name → value in [0, 1]}.
        title: chart title.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    methods = list(results)
    metrics = list(next(iter(results.values())))
    positions = np.arange(len(metrics))
    bar = 0.8 / len(methods)
    figure, axes = plt.subplots(figsize=(1.8 * len(metrics) + 2, 4))
    for offset, method in enumerate(methods):
        values = [100 * results[method][metric] for metric in metrics]
        bars = axes.bar(positions + offset * bar, values, bar, label=method)
        axes.bar_label(bars, fmt="%.1f", fontsize=7)
    axes.set_xticks(positions + bar * (len(methods) - 1) / 2, metrics)
    axes.set_ylabel("%")
    axes.set_ylim(0, 105)
    axes.set_title(title)
    axes.legend(loc="lower right", fontsize=8)
    figure.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return path
