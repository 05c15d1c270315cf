"""Epochs rendered ahead into shared memory (``DeepSMOTEDataset(prerender=...)``)."""

import copy
import logging
import pickle

import pytest
import torch
from torch.utils.data import DataLoader, Subset, TensorDataset

from tests.conftest import FAST_OPTIONS, blob_images
from torch_deepsmote import DeepSMOTE
from torch_deepsmote.data import rendered
from torch_deepsmote.data.dataset import DeepSMOTEDataset
from torch_deepsmote.data.rendered import RenderedEpoch, rendered_epoch


@pytest.fixture(scope="module")
def base_and_fitted():
    images, labels = blob_images([30, 12, 6])
    fitted = DeepSMOTE(random_state=0, **FAST_OPTIONS).fit(images, labels)
    return TensorDataset(images, labels), fitted


def _synthetic(ds):
    return list(range(ds.n_real, len(ds)))


def _images(ds, indices):
    return torch.stack([image for image, _ in ds.raw_items(indices)])


@pytest.mark.parametrize("fresh_per_epoch", [True, False])
def test_rendered_items_are_the_items_decoded_on_demand(base_and_fitted, fresh_per_epoch, monkeypatch):
    monkeypatch.setattr(rendered, "RENDER_BATCH", 7)  # several render batches, classes split across them
    base, fitted = base_and_fitted
    ahead = DeepSMOTEDataset(base, fitted, prerender=True, fresh_per_epoch=fresh_per_epoch)
    on_demand = DeepSMOTEDataset(base, fitted, prerender=False, fresh_per_epoch=fresh_per_epoch)
    assert (ahead.prerendered, on_demand.prerendered) == (True, False)
    for epoch in (0, 3, 1):
        ahead.set_epoch(epoch)
        on_demand.set_epoch(epoch)
        indices = _synthetic(ahead)[::-1] + [0, ahead.n_real]  # any order, real items and repeats
        assert torch.equal(_images(ahead, indices), _images(on_demand, indices))


def test_an_epoch_is_rendered_once_in_large_batches(base_and_fitted, monkeypatch):
    monkeypatch.setattr(rendered, "RENDER_BATCH", 16)
    base, fitted = base_and_fitted
    ds = DeepSMOTEDataset(base, fitted, prerender=True)
    n_synthetic = len(ds) - ds.n_real
    calls = []
    original = fitted.autoencoder_.decode
    monkeypatch.setattr(fitted.autoencoder_, "decode", lambda latents: calls.append(len(latents)) or original(latents))
    ds.set_epoch(1)
    assert calls == [16] * (n_synthetic // 16) + [n_synthetic % 16] * bool(n_synthetic % 16)
    calls.clear()
    list(DataLoader(ds, batch_size=8))  # reading items decodes nothing
    ds.set_epoch(1)  # the same epoch again: nothing to render
    assert calls == []


def test_workers_read_the_rendered_items_and_never_decode(base_and_fitted, monkeypatch):
    base, fitted = base_and_fitted
    ds = DeepSMOTEDataset(base, fitted, prerender=True)
    indices = _synthetic(ds)
    loader = DataLoader(Subset(ds, indices), batch_size=8, num_workers=2, persistent_workers=True)

    def refuse(*args, **kwargs):
        raise AssertionError("a worker decoded an item")

    monkeypatch.setattr(DeepSMOTEDataset, "_render_rows", refuse)  # forked workers inherit the patch
    monkeypatch.setattr(DeepSMOTEDataset, "_cpu_copy", refuse)
    first = torch.cat([images for images, _ in loader])
    assert torch.equal(first, _images(ds, indices))
    monkeypatch.undo()
    ds.set_epoch(2)  # rendered here; the persistent workers see the new items
    second = torch.cat([images for images, _ in loader])
    assert not torch.equal(first, second)
    assert torch.equal(second, _images(ds, indices))


def test_a_copy_renders_into_its_own_shared_store(base_and_fitted):
    base, fitted = base_and_fitted
    original = DeepSMOTEDataset(base, fitted, prerender=True)
    copied = copy.deepcopy(original)
    indices = _synthetic(original)
    loader = DataLoader(Subset(copied, indices), batch_size=8, num_workers=1, persistent_workers=True)
    before = torch.cat([images for images, _ in loader])
    copied.set_epoch(5)
    after = torch.cat([images for images, _ in loader])
    assert not torch.equal(before, after)
    assert torch.equal(after, _images(copied, indices))
    assert torch.equal(before, _images(original, indices))  # the original keeps epoch 0


def test_spawned_workers_share_the_store(base_and_fitted):
    base, fitted = base_and_fitted
    ds = DeepSMOTEDataset(base, fitted, prerender=True)
    indices = _synthetic(ds)[:16]
    loader = DataLoader(
        Subset(ds, indices), batch_size=8, num_workers=1, persistent_workers=True, multiprocessing_context="spawn"
    )
    list(loader)  # the worker now holds its unpickled copy
    ds.set_epoch(4)
    assert torch.equal(torch.cat([images for images, _ in loader]), _images(ds, indices))


def test_a_pickled_dataset_keeps_its_rendered_items(base_and_fitted):
    base, fitted = base_and_fitted
    ds = DeepSMOTEDataset(base, fitted, prerender=True)
    ds.set_epoch(3)
    restored = pickle.loads(pickle.dumps(ds))
    assert restored.prerendered and restored.epoch == 3
    assert torch.equal(_images(restored, _synthetic(ds)), _images(ds, _synthetic(ds)))


def test_a_stale_store_is_refused_with_the_way_out():
    store = RenderedEpoch(3, (1, 2, 2), torch.uint8)
    assert store.epoch is None
    store.render(4, lambda rows: torch.full((len(rows), 1, 2, 2), 9, dtype=torch.uint8))
    assert store.epoch == 4 and torch.equal(store.read(torch.tensor([2, 0]), 4), torch.full((2, 1, 2, 2), 9))
    with pytest.raises(RuntimeError, match=r"epoch 4, not of the selected epoch 5.*set_epoch"):
        store.read(torch.tensor([0]), 5)


def test_store_size_counts_the_images_bytes():
    assert RenderedEpoch.size(10, (3, 4, 5), torch.uint8) == 600
    assert RenderedEpoch.size(10, (3, 4, 5), torch.float32) == 2400


def test_by_default_only_a_cuda_model_renders_ahead(base_and_fitted):
    base, fitted = base_and_fitted
    assert not DeepSMOTEDataset(base, fitted).prerendered  # a CPU model
    shape = ((1, 8, 8), torch.uint8)
    assert isinstance(rendered_epoch(None, True, 10, *shape), RenderedEpoch)
    assert rendered_epoch(None, False, 10, *shape) is None
    assert rendered_epoch(False, True, 10, *shape) is None
    assert rendered_epoch(True, False, 0, *shape) is None  # nothing to render


def test_a_store_too_big_for_memory_falls_back_or_fails_with_the_numbers(monkeypatch, caplog):
    size = RenderedEpoch.size(100, (1, 8, 8), torch.uint8)
    monkeypatch.setattr(rendered, "available_memory", lambda: 2 * size)  # the store: half of it
    with caplog.at_level(logging.WARNING, logger=rendered.__name__):
        assert rendered_epoch(None, True, 100, (1, 8, 8), torch.uint8) is None
    assert "decoded on demand" in caplog.text and "prerender=True" in caplog.text
    monkeypatch.setattr("torch_deepsmote._utils.memory.available_memory", lambda: size // 2)
    with pytest.raises(ValueError, match="prerender"):
        rendered_epoch(True, False, 100, (1, 8, 8), torch.uint8)


def test_prerender_must_be_a_bool_or_none(base_and_fitted):
    base, fitted = base_and_fitted
    with pytest.raises(TypeError, match="prerender"):
        DeepSMOTEDataset(base, fitted, prerender="yes")


def test_on_the_test_device_workers_get_the_device_items(device, base_and_fitted, monkeypatch):
    """With ``--device cuda``: rendered on the GPU, read by workers, no CPU copy of the model."""
    base, _ = base_and_fitted
    ds = DeepSMOTEDataset(base, DeepSMOTE(random_state=0, device=device, **FAST_OPTIONS), cache_dir=False)
    assert ds.prerendered == (device.type == "cuda")
    indices = _synthetic(ds)
    if ds.prerendered:
        monkeypatch.setattr(DeepSMOTEDataset, "_cpu_copy", lambda self: pytest.fail("a CPU copy of the model"))
    loader = DataLoader(Subset(ds, indices), batch_size=8, num_workers=2)
    assert torch.equal(torch.cat([images for images, _ in loader]), _images(ds, indices))


def test_rendering_shows_a_progress_bar_when_asked(monkeypatch, capsys):
    monkeypatch.setattr(rendered, "RENDER_BATCH", 2)
    store = RenderedEpoch(5, (1, 2, 2), torch.uint8)
    store.render(1, lambda rows: torch.zeros((len(rows), 1, 2, 2), dtype=torch.uint8), progress=True)
    assert "rendering epoch 1" in capsys.readouterr().err
    store.render(2, lambda rows: torch.zeros((len(rows), 1, 2, 2), dtype=torch.uint8))
    assert capsys.readouterr().err == ""
