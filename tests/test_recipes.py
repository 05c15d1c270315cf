"""The named recipes reproduce, draw for draw, what the same knobs made before 1.0.

``tests/data/recipes_before_v1.pt`` was recorded with torch_deepsmote 0.1.0 (commit
ec8273c) on the tiny seeded set below, with the 0.x keywords: ``DeepSMOTE(**SMALL)``
(the default), ``DeepSMOTE(**SMALL, **PAPER_SETTINGS)`` and
``DeepSMOTE(**SMALL, **INTERPOLATION_SETTINGS)``, each through ``fit_resample``, ten
draws per grown class from ``torch.Generator().manual_seed(1)``, and a
``DeepSMOTEDataset`` (``cache_dir=False``) at epochs 0 and 1. The draws are exact on any
machine (they are CPU random numbers); images are compared within one grey level,
which allows for another CPU's float rounding.
"""

import dataclasses
from pathlib import Path

import pytest
import torch

from torch_deepsmote import RECIPES, DeepSMOTE, DeepSMOTEDataset, Recipe

RECORDED = Path(__file__).parent / "data" / "recipes_before_v1.pt"
SMALL = dict(
    epochs=3, width=4, latent_dim=8, batch_size=16, k_neighbors=3, random_state=7, progress=False, device="cpu"
)
RECORDED_AS = {"default": "borrowed-variations", "paper": "paper", "interpolation": "interpolation"}


def tiny_set() -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(123)
    counts = [30, 12, 6, 3]
    images = torch.cat(
        [
            (torch.rand(n, 1, 8, 8, generator=generator) * 128 + 40 * c).clamp(0, 255).to(torch.uint8)
            for c, n in enumerate(counts)
        ]
    )
    labels = torch.cat([torch.full((n,), c, dtype=torch.long) for c, n in enumerate(counts)])
    return images, labels


class Items(torch.utils.data.Dataset):
    def __init__(self, images: torch.Tensor, labels: torch.Tensor) -> None:
        self.images, self.labels, self.targets = images, labels, labels.tolist()

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        return self.images[index], int(self.labels[index])


def assert_close_images(made: torch.Tensor, recorded: torch.Tensor) -> None:
    assert made.shape == recorded.shape and made.dtype == recorded.dtype
    assert int((made.int() - recorded.int()).abs().max()) <= 1


@pytest.fixture(scope="module")
def recorded() -> dict:
    return torch.load(RECORDED, weights_only=True)


@pytest.mark.filterwarnings("ignore:Class 3 has 3 images")
@pytest.mark.parametrize("recorded_name", sorted(RECORDED_AS))
def test_each_preset_makes_what_its_knobs_made_before(recorded, recorded_name):
    before = recorded[recorded_name]
    images, labels = tiny_set()
    oversampler = DeepSMOTE(recipe=RECORDED_AS[recorded_name], **SMALL)
    new_images, new_labels = oversampler.fit_resample(images, labels)
    assert torch.equal(new_labels, before["y_resampled"])
    assert_close_images(new_images, before["X_resampled"])
    for code, draws in before["draws"].items():
        made = oversampler.index_.draw(code, 10, torch.Generator().manual_seed(1), oversampler.recipe_)
        assert all(torch.equal(mine, theirs) for mine, theirs in zip(made, draws))

    dataset = DeepSMOTEDataset(
        Items(images, labels), DeepSMOTE(recipe=RECORDED_AS[recorded_name], **SMALL), cache_dir=False
    )
    synthetic = list(range(dataset.n_real, len(dataset)))
    assert torch.equal(dataset.targets, before["dataset_targets"])
    assert_close_images(torch.stack([image for image, _ in dataset.raw_items(synthetic)]), before["dataset_epoch0"])
    dataset.set_epoch(1)
    assert_close_images(torch.stack([image for image, _ in dataset.raw_items(synthetic)]), before["dataset_epoch1"])


def test_presets_hold_the_knobs_they_are_named_for():
    assert RECIPES["borrowed-variations"] == Recipe()
    assert DeepSMOTE().recipe == "borrowed-variations"
    interpolation, paper = RECIPES["interpolation"], RECIPES["paper"]
    assert (interpolation.copy_fraction, interpolation.variation_transfer) == (0.0, 0.0)
    assert (paper.penalty, paper.lr, paper.detail) == ("paper", 2e-4, "none")
    assert dataclasses.replace(paper, penalty="official") == RECIPES["paper-code"]
    assert interpolation.objective() == Recipe().objective() != paper.objective()
