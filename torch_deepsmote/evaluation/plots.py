"""Pictures: real vs synthetic grids and metric bar charts (PNG files).

The grid is laid out by torchvision's :func:`~torchvision.utils.make_grid` and written
by :func:`~torchvision.utils.save_image`; the bar chart needs matplotlib (the ``demo``
extra), imported only when a chart is drawn.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import torch
from torchvision.transforms.v2 import InterpolationMode
from torchvision.transforms.v2.functional import resize
from torchvision.utils import make_grid, save_image

from torch_deepsmote._utils.validation import check_int
from torch_deepsmote.evaluation._extras import import_extra

__all__ = ["save_class_grid", "save_metric_bars"]

GRID_PADDING = 2
WHITE = 255


def _check_half(name: str, images: Any) -> torch.Tensor:
    """``images`` (a uint8 ``(n, C, H, W)`` tensor) on the CPU; ``name`` is used in errors."""
    if not isinstance(images, torch.Tensor) or images.dtype != torch.uint8:
        received = f"a tensor of dtype {images.dtype}" if isinstance(images, torch.Tensor) else type(images).__name__
        raise TypeError(f"`{name}` must be a uint8 tensor of shape (n, C, H, W), got {received}.")
    if images.dim() != 4 or images.shape[1] == 0:
        raise ValueError(f"`{name}` must have shape (n, C, H, W) with C >= 1, got {tuple(images.shape)}.")
    return images.cpu()


def _check_pair(index: int, pair: Any) -> tuple[torch.Tensor, torch.Tensor]:
    """``rows[index]`` as ``(real, synthetic)`` checked by :func:`_check_half`."""
    if isinstance(pair, torch.Tensor) or not isinstance(pair, Sequence) or len(pair) != 2:
        received = f"{type(pair).__name__} of length {len(pair)}" if isinstance(pair, Sequence) else type(pair).__name__
        raise TypeError(f"`rows[{index}]` must be a (real, synthetic) pair of tensors, got {received}.")
    return _check_half(f"rows[{index}][0]", pair[0]), _check_half(f"rows[{index}][1]", pair[1])


def _cells(images: torch.Tensor, slots: int, cell: int) -> torch.Tensor:
    """Fill ``slots`` grid cells with ``images``, white after the last one.

    Args:
        images: ``(n, C, H, W)`` uint8, ``n <= slots``. One or two channels (grey, grey
            and alpha) are shown as grey; otherwise the first three as RGB.
        slots: Cells in this half of the row.
        cell: Side of each cell in pixels; images are resized to it (nearest neighbour).

    Returns:
        ``(slots, 3, cell, cell)`` uint8.
    """
    rgb = images[:, :1].expand(-1, 3, -1, -1) if images.shape[1] < 3 else images[:, :3]
    blank = torch.full((slots - len(images), 3, cell, cell), WHITE, dtype=torch.uint8)
    if not len(images):
        return blank
    shown = resize(rgb, [cell, cell], interpolation=InterpolationMode.NEAREST_EXACT)
    return torch.cat([shown, blank])


def save_class_grid(
    path: str | Path,
    rows: Sequence[tuple[torch.Tensor, torch.Tensor]],
    *,
    cell: int = 48,
    gap: int = 8,
) -> Path:
    """Write one row per class: real images on the left, synthetic ones on the right.

    Every image is resized to ``cell × cell`` pixels (nearest neighbour) and the cells
    are laid out by :func:`torchvision.utils.make_grid` with a 2-pixel white border
    around each one. The synthetic half starts in the same column on every row,
    ``gap`` more white pixels to the right of the widest real half.

    Args:
        path: PNG file to write (its folder is created).
        rows: Per class, ``(real (n, C, H, W) uint8, synthetic (m, C, H, W) uint8)``;
            either may be empty (``n = 0`` or ``m = 0``). ``C`` is 1 or 2 (shown as
            grey) or at least 3 (the first three shown as RGB).
        cell: Pixel size of each image in the grid, at least 1.
        gap: White pixels added between the real and the synthetic half, at least 0.

    Returns:
        ``path`` as a :class:`~pathlib.Path`.

    Raises:
        TypeError: If ``rows`` is not a sequence of pairs of uint8 tensors.
        ValueError: If a tensor is not ``(n, C, H, W)``, or ``rows`` holds no image at all.
    """
    cell = check_int("cell", cell, minimum=1)
    gap = check_int("gap", gap, minimum=0)
    if not isinstance(rows, Sequence):
        raise TypeError(f"`rows` must be a sequence of (real, synthetic) pairs, got {type(rows).__name__}.")
    if not rows:
        raise ValueError("`rows` must be a non-empty sequence of (real, synthetic) pairs, got an empty one.")
    halves = [_check_pair(index, pair) for index, pair in enumerate(rows)]
    real_width = max(len(real) for real, _ in halves)
    fake_width = max(len(fake) for _, fake in halves)
    if real_width + fake_width == 0:
        raise ValueError(f"`rows` must hold at least one image, got {len(rows)} pairs of empty tensors.")
    cells = torch.cat(
        [torch.cat([_cells(real, real_width, cell), _cells(fake, fake_width, cell)]) for real, fake in halves]
    )
    grid = make_grid(cells, nrow=real_width + fake_width, padding=GRID_PADDING, pad_value=WHITE)
    if real_width and fake_width:
        split = real_width * (cell + GRID_PADDING) + GRID_PADDING
        spacer = torch.full((3, grid.shape[1], gap), WHITE, dtype=torch.uint8)
        grid = torch.cat([grid[:, :, :split], spacer, grid[:, :, split:]], dim=2)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    save_image(grid.float().div_(WHITE), path)
    return path


def save_metric_bars(path: str | Path, results: Mapping[str, Mapping[str, float]], *, title: str = "") -> Path:
    """Grouped bar chart: one group per metric, one bar per method (values in %); needs matplotlib.

    The figure is drawn on its own canvas, so matplotlib's global backend and any open
    pyplot figures are left alone.

    Args:
        path: PNG file to write (its folder is created).
        results: Method → {metric name → value in [0, 1]}; every method has the
            metrics of the first one.
        title: Chart title.

    Returns:
        ``path`` as a :class:`~pathlib.Path`.

    Raises:
        ValueError: If ``results`` is empty.
        ImportError: If matplotlib is not installed.
    """
    if not results:
        raise ValueError("`results` must map at least one method to its scores, got an empty mapping.")
    figure_module = import_extra("matplotlib.figure", needed_by="save_metric_bars")

    methods = list(results)
    metrics = list(next(iter(results.values())))
    positions = np.arange(len(metrics))
    bar = 0.8 / len(methods)
    figure = figure_module.Figure(figsize=(1.8 * len(metrics) + 2, 4))
    axes = figure.subplots()
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
    return path
