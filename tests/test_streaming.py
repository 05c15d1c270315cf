"""The fit streamed from the base dataset: the same model, items and cache entry as held, in bounded memory."""

import math

import pytest
import torch
from torch.utils.data import Dataset

from tests.conftest import FAST_OPTIONS, blob_images
from torch_deepsmote import DeepSMOTE, DeepSMOTEDataset
from torch_deepsmote.data import dataset as dataset_module
from torch_deepsmote.data.items import RawFormat
from torch_deepsmote.data.streaming import DatasetSource, held_size
from torch_deepsmote.nn.autoencoder import ConvAutoencoder
from torch_deepsmote.nn.estimate import estimate_fit, fit_ram_bytes
from torch_deepsmote.nn.sources import TensorSource

COUNTS = [40, 12, 6]


class Pairs(Dataset):
    """(image, label) items of a tensor, with ``targets``; ``reads`` counts the images read."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor) -> None:
        self.images, self.targets, self.reads = images, labels.tolist(), 0

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int):
        self.reads += 1
        return self.images[index], self.targets[index]


def wrap(base, *, stream, recipe="borrowed-variations", num_workers=0, cache_dir=False, **options):
    oversampler = DeepSMOTE(random_state=0, recipe=recipe, **(FAST_OPTIONS | {"epochs": 2} | options))
    return DeepSMOTEDataset(base, oversampler, cache_dir=cache_dir, stream=stream, num_workers=num_workers)


def synthetic(dataset: DeepSMOTEDataset) -> torch.Tensor:
    return torch.stack([image for image, _ in dataset.raw_items(range(dataset.n_real, len(dataset)))])


@pytest.mark.parametrize("recipe", ["borrowed-variations", "paper", "paper-code"])
def test_streamed_and_held_fits_make_the_same_items(recipe):
    base = Pairs(*blob_images(COUNTS))
    held = wrap(base, stream=False, recipe=recipe, validation_fraction=0.2)
    streamed = wrap(base, stream=True, recipe=recipe, validation_fraction=0.2)
    assert not held.streamed and streamed.streamed
    assert held.oversampler.history_ == streamed.oversampler.history_
    assert torch.equal(synthetic(held), synthetic(streamed))


def test_workers_read_ahead_in_the_same_order():
    base = Pairs(*blob_images(COUNTS))
    alone, with_workers = wrap(base, stream=True), wrap(base, stream=True, num_workers=2)
    assert torch.equal(synthetic(alone), synthetic(with_workers))


def test_a_streamed_fit_never_reads_the_whole_set_into_one_tensor(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("the base images were read into one tensor")

    monkeypatch.setattr(dataset_module, "read_images", refuse)
    base = Pairs(*blob_images(COUNTS))
    streamed = wrap(base, stream=True, epochs=3)
    # item 0's format, every image once an epoch, once to encode it, and once more for the residual of a grown one
    assert base.reads == 1 + 3 * len(base) + len(base) + COUNTS[1] + COUNTS[2]
    assert len(synthetic(streamed)) == 2 * COUNTS[0] - COUNTS[1] - COUNTS[2]


def test_streamed_and_held_fits_share_one_cache_entry(tmp_path):
    base = Pairs(*blob_images(COUNTS))
    streamed = wrap(base, stream=True, cache_dir=tmp_path)
    held = wrap(base, stream=False, cache_dir=tmp_path)
    assert not streamed.from_cache and held.from_cache
    assert len(list(tmp_path.glob("deepsmote-*.pt"))) == 1
    assert torch.equal(synthetic(held), synthetic(streamed))


@pytest.mark.parametrize("available, streamed", [(10**12, False), (100, True), (None, False)])
def test_by_default_the_fit_streams_when_holding_would_take_a_quarter_of_the_memory(monkeypatch, available, streamed):
    monkeypatch.setattr(dataset_module, "available_memory", lambda: available)
    monkeypatch.setattr("torch_deepsmote.nn.estimate.available_memory", lambda: None)
    assert wrap(Pairs(*blob_images(COUNTS)), stream=None).streamed is streamed


def test_a_bad_item_met_while_streaming_is_named():
    images, labels = blob_images(COUNTS)
    floats = images.float() / 255
    floats[17] *= 2  # values above 1: normalised, not raw
    with pytest.raises(ValueError, match=r"raw images .*first in item 17\b"):
        wrap(Pairs(floats, labels), stream=True)


@pytest.mark.parametrize("bad", [{"stream": "yes"}, {"num_workers": -1}])
def test_bad_streaming_options_name_the_parameter(bad):
    name = next(iter(bad))
    with pytest.raises((TypeError, ValueError), match=f"`{name}`"):
        DeepSMOTEDataset(Pairs(*blob_images(COUNTS)), DeepSMOTE(random_state=0, **FAST_OPTIONS), cache_dir=False, **bad)


def test_the_memory_bound_counts_no_image_nor_residual_for_a_streamed_fit():
    images, labels = blob_images(COUNTS, side=16)
    model = ConvAutoencoder((1, 16, 16), 8, width=4, generator=torch.Generator().manual_seed(0))
    raw_format = RawFormat.of(images[0])
    streamed = DatasetSource(Pairs(images, labels), raw_format)
    held = TensorSource(images)
    assert held_size(len(images), raw_format) == held.held_bytes == images.numel()
    assert streamed.held_bytes == 0
    grown, values = [1, 2], math.prod(images.shape[1:])
    # latents + one batch of the largest grown class while its residuals are made (on disk when streamed)
    streamed_bytes = len(images) * 8 * 4 + COUNTS[1] * values * 12
    residuals = (COUNTS[1] + COUNTS[2]) * values * 2
    assert fit_ram_bytes(streamed, labels, grown, 8) == streamed_bytes
    assert fit_ram_bytes(held, labels, grown, 8) == streamed_bytes + residuals + images.numel()
    estimate = estimate_fit(model, streamed, labels, grown, batch_size=16, epochs=1, device="cpu")
    assert estimate.input_bytes == 0 and estimate.ram_bytes == streamed_bytes
