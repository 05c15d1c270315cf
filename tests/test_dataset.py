import copy
from collections import Counter

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image
from torch.utils.data import DataLoader, Subset, TensorDataset
from torchvision import transforms as T
from torchvision.datasets import ImageFolder

from tests.conftest import FAST_OPTIONS, blob_images
from torch_deepsmote import DeepSMOTE, Recipe
from torch_deepsmote.data.dataset import DeepSMOTEDataset
from torch_deepsmote.data.sampler import BalancedBatchSampler

DATASET_OPTIONS = ("transform", "target_transform", "targets", "cache_dir", "fresh_per_epoch")


def _oversampler(**options):
    return DeepSMOTE(**(dict(FAST_OPTIONS, random_state=0) | options))


def _wrap(dataset, **kwargs):
    """``DeepSMOTEDataset`` over ``dataset``; the keywords it does not take go to its ``DeepSMOTE``."""
    wrapper = {name: kwargs.pop(name) for name in DATASET_OPTIONS if name in kwargs}
    return DeepSMOTEDataset(dataset, _oversampler(**kwargs), **wrapper)


@pytest.fixture
def tensor_dataset():
    images, labels = blob_images([30, 12, 6])
    return TensorDataset(images, labels)


class LabelsDataset(torch.utils.data.Dataset):
    """SVHN-like: a ``.labels`` attribute and (H, W, C) uint8 numpy items."""

    def __init__(self, counts):
        images, labels = blob_images(counts)
        self.data = images.repeat(1, 3, 1, 1).permute(0, 2, 3, 1).numpy()
        self.labels = labels.numpy()

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, index):
        return self.data[index], int(self.labels[index])


class NoLabelsDataset(torch.utils.data.Dataset):
    """Labels only through the items; float (H, W) tensor images in [0, 1]."""

    def __init__(self, counts):
        images, self._labels = blob_images(counts)
        self.images = images[:, 0].float() / 255

    def __len__(self):
        return len(self._labels)

    def __getitem__(self, index):
        return self.images[index], int(self._labels[index])


def _image_folder(root, counts, mode):
    images, labels = blob_images(counts)
    for index, (image, label) in enumerate(zip(images, labels)):
        folder = root / f"class_{int(label)}"
        folder.mkdir(parents=True, exist_ok=True)
        pixels = image[0].numpy()
        picture = Image.fromarray(pixels, mode="L")
        picture.convert(mode).save(folder / f"{index:03d}.png")
    return ImageFolder(str(root), loader=lambda path: Image.open(path).convert(mode))


def _counts(labels):
    return dict(sorted(Counter(labels).items()))


def test_tensor_dataset_real_items_pass_through_and_synthetic_match(tensor_dataset):
    ds = _wrap(tensor_dataset)
    assert len(ds) == 90 and ds.n_real == 48
    for index in (0, 17, 47):
        image, label = ds[index]
        assert torch.equal(image, tensor_dataset[index][0]) and label == int(tensor_dataset[index][1])
    assert _counts(ds.targets.tolist()) == {0: 30, 1: 30, 2: 30}
    assert ds.synthetic_mask.sum() == 42 and not ds.synthetic_mask[:48].any()
    for index in (48, 70, 89):
        image, label = ds[index]
        assert image.dtype == torch.uint8 and image.shape == (1, 8, 8)
        assert label == int(ds.targets[index])
    assert [ds[i][1] for i in range(48, 90)] == [1] * 18 + [2] * 24


@pytest.mark.parametrize("mode", ["L", "RGB"])
def test_image_folder_gives_pil_images_of_the_same_mode(tmp_path, mode):
    folder = _image_folder(tmp_path / "images", [20, 6], mode)
    ds = _wrap(folder, transform=None)
    image, label = ds[len(ds) - 1]
    assert isinstance(image, Image.Image) and image.mode == mode and image.size == (8, 8)
    assert label == 1
    assert ds.classes == ["class_0", "class_1"]
    assert ds.class_to_idx == {"class_0": 0, "class_1": 1}
    real, _ = ds[0]
    assert np.array_equal(np.asarray(real), np.asarray(folder[0][0]))


def test_transform_applies_to_real_and_synthetic_alike(tmp_path):
    folder = _image_folder(tmp_path / "images", [20, 6], "L")
    ds = _wrap(
        folder, transform=T.Compose([T.ToTensor(), T.Normalize([0.5], [0.5])]), target_transform=lambda y: y + 10
    )
    real, real_label = ds[0]
    fake, fake_label = ds[len(ds) - 1]
    assert real.shape == fake.shape == (1, 8, 8)
    assert real.dtype == fake.dtype == torch.float32
    assert (real_label, fake_label) == (10, 11)


def test_labels_attribute_and_numpy_items():
    base = LabelsDataset([20, 5])
    ds = _wrap(base, k_neighbors=3)
    image, label = ds[len(ds) - 1]
    assert isinstance(image, np.ndarray) and image.shape == (8, 8, 3) and image.dtype == np.uint8
    assert label == 1


def test_targets_from_one_pass_and_float_2d_tensors():
    ds = _wrap(NoLabelsDataset([20, 5]), k_neighbors=3)
    image, label = ds[len(ds) - 1]
    assert image.shape == (8, 8) and image.dtype == torch.float32
    assert 0.0 <= float(image.min()) and float(image.max()) <= 1.0
    assert _counts(ds.targets.tolist()) == {0: 20, 1: 20}


def test_subset_targets_are_mapped_through_indices():
    images, labels = blob_images([30, 12, 6])
    base = TensorDataset(images, labels)
    base.targets = labels
    indices = list(range(0, 48, 2))
    ds = _wrap(Subset(base, indices), k_neighbors=2)
    assert ds.targets[: len(indices)].tolist() == labels[indices].tolist()
    assert _counts(ds.targets.tolist()) == {0: 15, 1: 15, 2: 15}


def test_explicit_targets_win():
    images, labels = blob_images([10, 10])
    ds = _wrap(TensorDataset(images, labels), targets=[0] * 16 + [1] * 4, k_neighbors=3)
    assert _counts(ds.targets.tolist()) == {0: 16, 1: 16}


def test_same_seed_same_bytes_across_constructions(tensor_dataset):
    first = _wrap(tensor_dataset, cache_dir=False)
    second = _wrap(tensor_dataset, cache_dir=False)
    other = _wrap(tensor_dataset, cache_dir=False, random_state=1)
    indices = list(range(48, 90))
    a = torch.stack([first[i][0] for i in indices])
    assert torch.equal(a, torch.stack([second[i][0] for i in indices]))
    assert not torch.equal(a, torch.stack([other[i][0] for i in indices]))


def test_same_bytes_with_zero_and_two_workers(tensor_dataset):
    ds = _wrap(tensor_dataset)
    indices = list(range(40, 90))

    def collect(workers):
        loader = DataLoader(Subset(ds, indices), batch_size=8, num_workers=workers)
        return torch.cat([images for images, _ in loader])

    assert torch.equal(collect(0), collect(2))


def test_items_do_not_depend_on_batch_composition(tensor_dataset):
    ds = _wrap(tensor_dataset)
    alone = ds[60][0]
    batched = dict(zip([60, 3, 85, 61], ds.__getitems__([60, 3, 85, 61])))
    assert torch.equal(alone, batched[60][0])


def test_items_change_with_the_epoch_unless_fixed(tensor_dataset):
    fixed = _wrap(tensor_dataset, fresh_per_epoch=False)
    fresh = _wrap(tensor_dataset)  # fresh items each epoch by default
    indices = list(range(48, 90))

    def items(ds, epoch):
        ds.set_epoch(epoch)
        return torch.stack([ds[i][0] for i in indices])

    assert torch.equal(items(fixed, 0), items(fixed, 1))
    epoch0 = items(fresh, 0)
    assert not torch.equal(epoch0, items(fresh, 1))
    assert torch.equal(epoch0, items(fresh, 0))
    assert torch.equal(items(fresh, 0), items(fixed, 0))


@pytest.mark.parametrize("copied", [False, True])
def test_set_epoch_reaches_persistent_workers(tensor_dataset, copied):
    ds = _wrap(tensor_dataset)
    ds = copy.deepcopy(ds) if copied else ds
    indices = list(range(48, 90))
    loader = DataLoader(Subset(ds, indices), batch_size=8, num_workers=2, persistent_workers=True)

    def epoch_items(epoch):
        ds.set_epoch(epoch)
        return torch.cat([images for images, _ in loader])

    first, second = epoch_items(0), epoch_items(1)
    assert not torch.equal(first, second)
    assert torch.equal(second, torch.stack([ds[i][0] for i in indices]))
    assert torch.equal(epoch_items(0), first)


def test_one_decoder_call_per_batch(tensor_dataset, monkeypatch):
    ds = _wrap(tensor_dataset)
    calls = []
    original = ds.oversampler.autoencoder_.decode

    def counting(latents):
        calls.append(latents.shape[0])
        return original(latents)

    monkeypatch.setattr(ds.oversampler.autoencoder_, "decode", counting)
    loader = DataLoader(ds, batch_sampler=[[0, 50, 60, 89, 70], [1, 2], [55, 56, 57]])
    batches = list(loader)
    assert calls == [4, 3]
    assert batches[0][0].shape == (5, 1, 8, 8)


def test_second_construction_is_served_from_the_cache(tensor_dataset, monkeypatch, isolated_cache):
    fits = []
    original_fit = DeepSMOTE._fit

    def counting_fit(self, *args, **kwargs):
        fits.append(1)
        return original_fit(self, *args, **kwargs)

    monkeypatch.setattr(DeepSMOTE, "_fit", counting_fit)
    first = _wrap(tensor_dataset)
    second = _wrap(tensor_dataset)
    assert len(fits) == 1 and not first.from_cache and second.from_cache
    assert len(list(isolated_cache.glob("deepsmote-*.pt"))) == 1
    indices = list(range(48, 90))
    assert torch.equal(torch.stack([first[i][0] for i in indices]), torch.stack([second[i][0] for i in indices]))
    assert "loaded from the cache" in repr(second)

    _wrap(tensor_dataset, epochs=2)
    _wrap(tensor_dataset, recipe=Recipe(penalty="paper"))
    images, labels = blob_images([30, 12, 6], seed=1)
    _wrap(TensorDataset(images, labels))
    assert len(fits) == 4
    assert len(list(isolated_cache.glob("deepsmote-*.pt"))) == 4


def test_another_k_or_strategy_reuses_the_cached_autoencoder(tensor_dataset, monkeypatch, isolated_cache):
    fits = []
    original_fit = DeepSMOTE._fit
    monkeypatch.setattr(DeepSMOTE, "_fit", lambda self, *a, **kw: fits.append(1) or original_fit(self, *a, **kw))
    _wrap(tensor_dataset, k_neighbors=3)
    other_k = _wrap(tensor_dataset, k_neighbors=2)
    other_strategy = _wrap(tensor_dataset, sampling_strategy={1: 20, 2: 10})
    assert len(fits) == 1 and other_k.from_cache and other_strategy.from_cache
    assert len(list(isolated_cache.glob("deepsmote-*.pt"))) == 1
    assert other_k.oversampler.index_.neighbors[1].shape == (12, 2)
    assert other_strategy.targets[48:].tolist() == [1] * 8 + [2] * 4
    for cached, options in ((other_k, {"k_neighbors": 2}), (other_strategy, {"sampling_strategy": {1: 20, 2: 10}})):
        fresh = _wrap(tensor_dataset, cache_dir=False, **options)  # the same training: the same items
        indices = list(range(len(fresh)))
        assert torch.equal(
            torch.stack([image for image, _ in cached.raw_items(indices)]),
            torch.stack([image for image, _ in fresh.raw_items(indices)]),
        )


def test_cache_can_be_turned_off_or_moved(tensor_dataset, tmp_path, isolated_cache):
    _wrap(tensor_dataset, cache_dir=False)
    assert not list(isolated_cache.iterdir())
    _wrap(tensor_dataset, cache_dir=tmp_path / "mine")
    assert len(list((tmp_path / "mine").glob("deepsmote-*.pt"))) == 1


def test_prefitted_oversampler(tensor_dataset):
    images, labels = tensor_dataset.tensors
    fitted = DeepSMOTE(random_state=0, **FAST_OPTIONS).fit(images, labels)
    ds = DeepSMOTEDataset(tensor_dataset, oversampler=fitted)
    assert len(ds) == 90 and ds.oversampler is fitted
    with pytest.raises(ValueError, match="oversampler"):
        DeepSMOTEDataset(TensorDataset(images.float() / 255, labels), oversampler=fitted)


def test_prefitted_oversampler_reads_only_the_first_image(tensor_dataset):
    images, labels = tensor_dataset.tensors
    fitted = DeepSMOTE(random_state=0, **FAST_OPTIONS).fit(images, labels)

    class Counting(TensorDataset):
        reads: list[int] = []
        targets = labels

        def __getitem__(self, index):
            self.reads.append(int(index))
            return super().__getitem__(index)

    ds = DeepSMOTEDataset(Counting(images, labels), oversampler=fitted)
    assert Counting.reads == [0]
    assert torch.equal(ds[5][0], images[5]) and Counting.reads == [0, 5]


def test_indices_follow_python_semantics(tensor_dataset):
    ds = _wrap(tensor_dataset)
    assert torch.equal(ds[-1][0], ds[89][0])
    assert torch.equal(ds[-90][0], ds[0][0])
    for bad in (90, -91):
        with pytest.raises(IndexError, match=str(bad)):
            ds[bad]


def test_normalising_base_transform_is_refused_with_a_hint(tmp_path):
    folder = _image_folder(tmp_path / "images", [10, 4], "L")
    folder.transform = T.Compose([T.ToTensor(), T.Normalize([0.5], [0.5])])
    with pytest.raises(ValueError, match="transform"):
        _wrap(folder)


def test_non_image_items_are_refused():
    base = [("not an image", 0), ("nope", 1)]
    with pytest.raises(TypeError, match="raw images"):
        _wrap(base, targets=[0, 1])


def test_mixed_sizes_are_refused():
    images = [torch.zeros(1, 8, 8, dtype=torch.uint8)] * 5 + [torch.zeros(1, 9, 8, dtype=torch.uint8)]
    base = list(zip(images, [0, 0, 0, 1, 1, 1]))
    with pytest.raises(ValueError, match="item 5"):
        _wrap(base)


def test_repr_shows_counts_and_options(tensor_dataset):
    text = repr(_wrap(tensor_dataset, transform=T.ToTensor()))
    for piece in ("90 (48 real, 42 synthetic)", "1: 12→30", "2: 6→30", "k_neighbors=5", "trained here", "ToTensor"):
        assert piece in text


def test_balanced_sampler_over_the_dataset(tensor_dataset):
    ds = _wrap(tensor_dataset)
    sampler = BalancedBatchSampler(ds.targets, 12, generator=0)
    seen_synthetic = 0
    for images, labels in DataLoader(ds, batch_sampler=sampler):
        assert max(Counter(labels.tolist()).values()) - min(Counter(labels.tolist()).values()) <= 1
        assert images.shape[1:] == (1, 8, 8)
    for batch in sampler:
        seen_synthetic += int(ds.synthetic_mask[batch].sum())
    assert seen_synthetic > 0


def test_pickles_and_gives_the_same_items(tensor_dataset):
    import pickle

    ds = _wrap(tensor_dataset)
    copy = pickle.loads(pickle.dumps(ds))
    indices = [0, 50, 89]
    assert all(torch.equal(a[0], b[0]) for a, b in zip(ds.__getitems__(indices), copy.__getitems__(indices)))


def test_a_given_autoencoder_is_part_of_the_cache_key(tensor_dataset, isolated_cache):
    from torch_deepsmote import ConvAutoencoder

    start = ConvAutoencoder((1, 8, 8), latent_dim=8, width=4, generator=torch.Generator().manual_seed(0))
    first = _wrap(tensor_dataset, autoencoder=start)
    again = _wrap(tensor_dataset, autoencoder=start)
    other = _wrap(
        tensor_dataset,
        autoencoder=ConvAutoencoder((1, 8, 8), latent_dim=8, width=4, generator=torch.Generator().manual_seed(1)),
    )
    assert (first.from_cache, again.from_cache, other.from_cache) == (False, True, False)


@pytest.fixture(scope="module")
def fitted_for_properties():
    images, labels = blob_images([30, 12, 6])
    fitted = DeepSMOTE(random_state=0, **FAST_OPTIONS).fit(images, labels)
    return TensorDataset(images, labels), fitted


@settings(max_examples=25, deadline=None)
@given(order=st.permutations(list(range(48, 90))), split=st.integers(1, 41))
def test_property_items_do_not_depend_on_access_order(fitted_for_properties, order, split):
    base, fitted = fitted_for_properties
    ds = DeepSMOTEDataset(base, oversampler=fitted)
    one_by_one = {i: ds[i][0] for i in range(48, 90)}
    batched = ds.__getitems__(order[:split]) + ds.__getitems__(order[split:])
    assert all(torch.equal(image, one_by_one[i]) for i, (image, _) in zip(order, batched))


def test_index_mapping_is_a_bijection_onto_class_positions(fitted_for_properties):
    base, fitted = fitted_for_properties
    ds = DeepSMOTEDataset(base, oversampler=fitted)
    synthetic = ds.targets[ds.n_real :].tolist()
    positions = [(label, synthetic[:i].count(label)) for i, label in enumerate(synthetic)]
    expected = {(label, j) for label, n in fitted.sampling_strategy_.items() for j in range(n)}
    assert len(set(positions)) == len(positions) and set(positions) == expected


def test_detail_is_a_generation_option_served_from_the_same_cache_entry(tensor_dataset, isolated_cache):
    plain = _wrap(tensor_dataset, recipe=Recipe(detail="none"))
    detailed = _wrap(tensor_dataset, recipe=Recipe(detail="base"))
    assert (plain.from_cache, detailed.from_cache) == (False, True)
    synthetic = torch.nonzero(plain.synthetic_mask).flatten().tolist()
    a = torch.stack([image for image, _ in plain.raw_items(synthetic)])
    b = torch.stack([image for image, _ in detailed.raw_items(synthetic)])
    assert not torch.equal(a, b)


def test_the_cpu_copy_for_workers_keeps_the_generation_options(tensor_dataset):
    recipe = Recipe(detail="blend", max_gap=0.5, copy_fraction=0.25, variation_transfer=0.5, variation_classes=2)
    ds = _wrap(tensor_dataset, recipe=recipe)
    ds._cpu_state = ds.oversampler.fitted_state()  # as when the model lives on a GPU
    copy = ds._cpu_copy()
    assert copy.recipe_ == ds.oversampler.recipe_ == recipe
    generator = lambda: torch.Generator().manual_seed(3)  # noqa: E731
    draws = {1: ds.oversampler.index_.draw(1, 7, generator(), recipe)}
    assert torch.equal(copy.index_.render(draws, copy.recipe_), ds.oversampler.index_.render(draws, recipe))
    assert all(torch.equal(a, b) for a, b in zip(copy.index_.draw(1, 7, generator(), copy.recipe_), draws[1]))


class MapDataset(torch.utils.data.Dataset):
    """A tiny map-style dataset of uint8 (1, 8, 8) images with the given ``targets``."""

    def __init__(self, images, targets, classes=None):
        self.images, self.targets = images, list(targets)
        if classes is not None:
            self.classes = classes

    def __len__(self):
        return len(self.targets)

    def __getitem__(self, index):
        return self.images[index], self.targets[index]


def test_string_labels_come_back_for_real_and_synthetic_items():
    images, codes = blob_images([20, 6])
    names = ["shirt", "sock"]
    base = MapDataset(images, [names[c] for c in codes.tolist()])
    ds = _wrap(base, k_neighbors=3)
    assert len(ds) == 40 and ds.n_real == 26
    assert isinstance(ds.targets, list) and all(isinstance(label, str) for label in ds.targets)
    assert _counts(ds.targets) == {"shirt": 20, "sock": 20}
    assert ds.targets[ds.n_real :] == ["sock"] * 14
    assert [label for _, label in ds.raw_items(range(ds.n_real, len(ds)))] == ["sock"] * 14
    assert [ds[i][1] for i in (0, 19, 20, 25)] == ["shirt", "shirt", "sock", "sock"]
    image, label = ds[len(ds) - 1]
    assert label == "sock" and image.dtype == torch.uint8 and image.shape == (1, 8, 8)
    again = _wrap(base, k_neighbors=3)  # string classes survive the cache round trip
    assert again.from_cache and again.targets == ds.targets and again[len(ds) - 1][1] == "sock"
    assert torch.equal(again[len(ds) - 1][0], image)


def test_int_labels_with_gaps_come_back_as_themselves():
    images, codes = blob_images([20, 8, 6])
    values = [10, -2, 3]  # class sizes 20 / 8 / 6; sorted order -2, 3, 10
    base = MapDataset(images, [values[c] for c in codes.tolist()])
    ds = _wrap(base, k_neighbors=3)
    assert isinstance(ds.targets, torch.Tensor) and ds.targets.dtype == torch.int64
    assert _counts(ds.targets.tolist()) == {-2: 20, 3: 20, 10: 20}
    assert ds.targets[: ds.n_real].tolist() == base.targets
    assert ds.targets[ds.n_real :].tolist() == [-2] * 12 + [3] * 14
    items = ds.__getitems__(range(len(ds)))
    assert [label for _, label in items] == ds.targets.tolist()
    assert all(type(label) is int for _, label in items)
    assert [items[i][1] for i in (0, 20, 28, ds.n_real, len(ds) - 1)] == [10, -2, 3, -2, 3]


def test_repr_uses_class_names_where_the_base_has_them():
    images, labels = blob_images([6, 6, 3])
    named = MapDataset(images, labels.tolist(), classes=["T-shirt", "Trouser", "Bag"])
    text = repr(_wrap(named, k_neighbors=2))
    for piece in ("T-shirt: 6→6", "Trouser: 6→6", "Bag: 3→6"):
        assert piece in text
    plain = repr(_wrap(MapDataset(images, labels.tolist()), k_neighbors=2))
    assert "Bag" not in plain and "0: 6→6" in plain and "2: 3→6" in plain
    strings = MapDataset(images, [["shirt", "sock", "bag"][c] for c in labels.tolist()])
    assert "bag: 3→6" in repr(_wrap(strings, k_neighbors=2))


def test_bad_oversampler_and_fresh_per_epoch_are_refused(tensor_dataset):
    with pytest.raises(TypeError, match="oversampler"):
        DeepSMOTEDataset(tensor_dataset, oversampler="paper")
    with pytest.raises(TypeError, match="fresh_per_epoch"):
        DeepSMOTEDataset(tensor_dataset, _oversampler(), fresh_per_epoch=1)
    images, labels = blob_images([12, 6])
    other_classes = _oversampler(k_neighbors=3).fit(images, labels + 5)  # fitted on the classes 5 and 6
    with pytest.raises(ValueError, match="oversampler"):
        DeepSMOTEDataset(TensorDataset(images, labels), other_classes)


def test_fitted_oversampler_is_used_as_is_and_an_unfitted_one_is_fitted_in_place(tensor_dataset, monkeypatch):
    images, labels = tensor_dataset.tensors
    fitted = _oversampler().fit(images, labels)
    fits = []
    original_fit = DeepSMOTE._fit
    monkeypatch.setattr(DeepSMOTE, "_fit", lambda self, *a, **kw: fits.append(1) or original_fit(self, *a, **kw))
    ds = DeepSMOTEDataset(tensor_dataset, fitted)
    assert ds.oversampler is fitted and ds.from_cache is False and fits == []

    unfitted = _oversampler()
    assert not hasattr(unfitted, "index_")
    ds = DeepSMOTEDataset(tensor_dataset, unfitted, cache_dir=False)
    assert ds.oversampler is unfitted and hasattr(unfitted, "index_") and fits == [1]
    assert unfitted.classes_ == [0, 1, 2] and len(ds) == 90
