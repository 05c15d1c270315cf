"""Shared fixtures: a tiny imbalanced image set and the ``--device`` option."""

from __future__ import annotations

import pytest
import torch


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--device",
        default="cpu",
        help="device the autoencoder and decoding run on in the tests (default: cpu)",
    )


@pytest.fixture(scope="session")
def device(request: pytest.FixtureRequest) -> torch.device:
    chosen = torch.device(request.config.getoption("--device"))
    if chosen.type == "cuda" and not torch.cuda.is_available():
        pytest.skip("--device cuda given but no CUDA device is available")
    return chosen


def blob_images(counts: list[int], side: int = 8, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """uint8 images whose classes differ by a bright square's position, plus labels.

    Returns:
        ``(images, labels)``: (N, 1, side, side) uint8 and (N,) int64, N = sum(counts).
    """
    generator = torch.Generator().manual_seed(seed)
    images, labels = [], []
    for label, count in enumerate(counts):
        noise = torch.randint(0, 60, (count, 1, side, side), generator=generator)
        row, col = divmod(label, 2)
        noise[:, :, row * 2 : row * 2 + 4, col * 4 : col * 4 + 4] += 180
        images.append(noise.clamp(0, 255).to(torch.uint8))
        labels.append(torch.full((count,), label, dtype=torch.long))
    return torch.cat(images), torch.cat(labels)


@pytest.fixture
def tiny_images() -> tuple[torch.Tensor, torch.Tensor]:
    """Three classes of 8×8 uint8 images with counts 30 / 12 / 6."""
    return blob_images([30, 12, 6])


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch):
    """Every test gets its own default cache folder, never the user's."""
    folder = tmp_path_factory.mktemp("cache")
    monkeypatch.setenv("TORCH_DEEPSMOTE_CACHE", str(folder))
    return folder


FAST_OPTIONS = dict(latent_dim=8, width=4, epochs=1, batch_size=16, progress=False)
