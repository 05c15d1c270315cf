"""Tests for torch_deepsmote.evaluation.plots: the grid's layout and pixels, the bar chart."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image

from torch_deepsmote.evaluation.plots import save_class_grid, save_metric_bars

CELL, PAD, GAP = 6, 2, 5


def solid(n: int, colour: tuple[int, ...], side: int = 3) -> torch.Tensor:
    """``n`` images of one colour, shape (n, len(colour), side, side) uint8."""
    return torch.tensor(colour, dtype=torch.uint8).view(1, -1, 1, 1).expand(n, -1, side, side).clone()


def empty(channels: int = 3) -> torch.Tensor:
    return torch.empty((0, channels, 3, 3), dtype=torch.uint8)


def read(path) -> np.ndarray:
    image = Image.open(path)
    assert image.mode == "RGB"
    return np.asarray(image)


def cell_at(picture: np.ndarray, row: int, column: int, *, gap: int = 0) -> np.ndarray:
    """The ``CELL × CELL`` pixels of grid cell (row, column); ``gap`` shifts synthetic cells."""
    top = PAD + row * (CELL + PAD)
    left = PAD + column * (CELL + PAD) + gap
    return picture[top : top + CELL, left : left + CELL]


def test_grid_layout_rows_halves_and_gap(tmp_path):
    red, green, blue, grey = (200, 10, 10), (10, 200, 10), (10, 10, 200), (77,)
    rows = [
        (solid(2, red), solid(1, green)),  # class 0: 2 real, 1 synthetic
        (solid(1, grey), solid(3, blue)),  # class 1: greyscale real, 3 synthetic
        (empty(), empty(1)),  # class 2: nothing
    ]
    path = save_class_grid(tmp_path / "out" / "grid.png", rows, cell=CELL, gap=GAP)
    assert path == tmp_path / "out" / "grid.png"
    picture = read(path)
    columns = 2 + 3  # widest real half + widest synthetic half
    assert picture.shape == (3 * (CELL + PAD) + PAD, columns * (CELL + PAD) + PAD + GAP, 3)
    assert (cell_at(picture, 0, 0) == red).all() and (cell_at(picture, 0, 1) == red).all()
    assert (cell_at(picture, 0, 2, gap=GAP) == green).all()
    assert (cell_at(picture, 0, 3, gap=GAP) == 255).all()  # unused synthetic slot stays white
    assert (cell_at(picture, 1, 0) == 77).all()  # grey shown in all three channels
    assert (cell_at(picture, 1, 1) == 255).all()
    for column in (2, 3, 4):
        assert (cell_at(picture, 1, column, gap=GAP) == blue).all()
    assert (picture[2 * (CELL + PAD) :] == 255).all()  # the empty class is a white row
    split = 2 * (CELL + PAD) + PAD
    assert (picture[:, split : split + GAP] == 255).all()
    assert (picture[:, :PAD] == 255).all() and (picture[:PAD] == 255).all()


def test_grid_resizes_with_nearest_neighbour_and_drops_alpha(tmp_path):
    checker = torch.tensor([[0, 255], [255, 0]], dtype=torch.uint8).view(1, 1, 2, 2)
    rgba = torch.cat([solid(1, (9, 99, 199), side=2), torch.zeros(1, 1, 2, 2, dtype=torch.uint8)], dim=1)
    grey_alpha = torch.cat([solid(1, (50,), side=2), torch.full((1, 1, 2, 2), 255, dtype=torch.uint8)], dim=1)
    path = save_class_grid(tmp_path / "grid.png", [(checker, rgba), (grey_alpha, empty(4))], cell=CELL, gap=0)
    picture = read(path)
    square = cell_at(picture, 0, 0)
    half = CELL // 2
    assert (square[:half, :half] == 0).all() and (square[:half, half:] == 255).all()
    assert (square[half:, :half] == 255).all() and (square[half:, half:] == 0).all()
    assert (cell_at(picture, 0, 1) == (9, 99, 199)).all()
    assert (cell_at(picture, 1, 0) == 50).all()


def test_grid_with_one_half_only_has_no_gap(tmp_path):
    path = save_class_grid(tmp_path / "grid.png", [(solid(2, (1, 2, 3)), empty())], cell=CELL, gap=GAP)
    assert read(path).shape == (CELL + 2 * PAD, 2 * (CELL + PAD) + PAD, 3)


@pytest.mark.parametrize(
    "rows, error, pattern",
    [
        ([], ValueError, r"`rows` must be a non-empty sequence"),
        (iter([]), TypeError, r"`rows` must be a sequence of \(real, synthetic\) pairs, got list_iterator"),
        ([(empty(), empty())], ValueError, r"`rows` must hold at least one image"),
        ([solid(1, (1, 2, 3))], TypeError, r"`rows\[0\]` must be a \(real, synthetic\) pair of tensors, got Tensor"),
        ([(empty(),) * 3], TypeError, r"`rows\[0\]` must be .* pair of tensors, got tuple of length 3"),
        (
            [(solid(1, (1, 2, 3)), solid(1, (1, 2, 3)).float())],
            TypeError,
            r"`rows\[0\]\[1\]` must be a uint8 tensor .* got a tensor of dtype torch.float32",
        ),
        ([(empty(), [1, 2])], TypeError, r"`rows\[0\]\[1\]` must be a uint8 tensor .* got list"),
        (
            [(empty(), empty()), (solid(1, (1, 2, 3))[0], empty())],
            ValueError,
            r"`rows\[1\]\[0\]` must have shape \(n, C, H, W\) with C >= 1, got \(3, 3, 3\)",
        ),
    ],
)
def test_grid_refuses_bad_rows(tmp_path, rows, error, pattern):
    with pytest.raises(error, match=pattern):
        save_class_grid(tmp_path / "grid.png", rows)
    assert not (tmp_path / "grid.png").exists()


def test_grid_refuses_bad_sizes(tmp_path):
    rows = [(solid(1, (1, 2, 3)), empty())]
    with pytest.raises(ValueError, match=r"`cell` must be an int >= 1, got 0"):
        save_class_grid(tmp_path / "grid.png", rows, cell=0)
    with pytest.raises(TypeError, match=r"`gap` must be an int"):
        save_class_grid(tmp_path / "grid.png", rows, gap=2.5)


def test_metric_bars_write_a_png(tmp_path):
    results = {"none": {"acsa": 0.5, "f1_macro": 0.4}, "deepsmote": {"acsa": 0.7, "f1_macro": 0.65}}
    path = save_metric_bars(tmp_path / "charts" / "metrics.png", results, title="test")
    assert path == tmp_path / "charts" / "metrics.png"
    with Image.open(path) as image:
        assert image.format == "PNG" and image.width > image.height > 100
    with pytest.raises(ValueError, match="`results` must map at least one method"):
        save_metric_bars(tmp_path / "empty.png", {})


def test_metric_bars_leave_pyplot_and_the_backend_alone(tmp_path):
    script = (
        "import sys, matplotlib\n"
        "matplotlib.use('svg')\n"
        "from torch_deepsmote.evaluation.plots import save_metric_bars\n"
        f"save_metric_bars({str(tmp_path / 'm.png')!r}, {{'a': {{'acsa': 0.5}}}})\n"
        "assert 'matplotlib.pyplot' not in sys.modules, 'pyplot imported'\n"
        "assert matplotlib.get_backend() == 'svg', matplotlib.get_backend()\n"
    )
    subprocess.run([sys.executable, "-c", script], check=True, capture_output=True, text=True)
    assert (tmp_path / "m.png").is_file()


def test_metric_bars_without_matplotlib_name_the_extra(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    with pytest.raises(ImportError, match=r'save_metric_bars needs matplotlib.*pip install "torch_deepsmote\[demo\]"'):
        save_metric_bars(tmp_path / "m.png", {"a": {"acsa": 0.5}})
