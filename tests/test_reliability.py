"""Untrusted or stale cache files, incompatible oversamplers, and the bad-input catalogue."""

from __future__ import annotations

import errno
import os
import pickle
import re
import stat
import sys
import tempfile
import warnings
from pathlib import Path

import pytest
import torch
from torch.utils.data import TensorDataset

from tests.conftest import FAST_OPTIONS, blob_images
from torch_deepsmote import (
    BalancedBatchSampler,
    ConvAutoencoder,
    DeepSMOTE,
    DeepSMOTEDataset,
    Recipe,
    fit_autoencoder,
    kneighbors,
)
from torch_deepsmote._utils import memory
from torch_deepsmote._utils.files import read_envelope, write_envelope
from torch_deepsmote.data.cache import entry_path
from torch_deepsmote.latent import keops as _keops

OPTIONS = dict(FAST_OPTIONS, random_state=0, device="cpu")


def _oversampler(**options):
    return DeepSMOTE(**(OPTIONS | options))


def _load_entry(folder, key):
    return read_envelope(entry_path(folder, key), key)


class ListDataset(torch.utils.data.Dataset):
    """A map-style dataset over a list of (image, label) pairs."""

    def __init__(self, items):
        self.items = items

    def __len__(self):
        return len(self.items)

    def __getitem__(self, index):
        return self.items[index]


def _tensor_dataset(counts=(30, 12, 6), side=8):
    return TensorDataset(*blob_images(list(counts), side=side))


@pytest.fixture
def fits(monkeypatch):
    """The number of DeepSMOTE fits run during a test (`fit` and `DeepSMOTEDataset` both go through `_fit`)."""
    calls = []
    original = DeepSMOTE._fit

    def counting(self, *args, **kwargs):
        calls.append(1)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(DeepSMOTE, "_fit", counting)
    return calls


# -- untrusted and stale cache files -----------------------------------------------------------


class _Malicious:
    """Unpickling this creates the marker file: weights_only must refuse to."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def _truncate(path, tmp_path):
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _flip(path, tmp_path):
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    for i in range(middle, middle + 16):
        data[i] ^= 0xFF
    path.write_bytes(bytes(data))


def _foreign_entry(path, tmp_path):
    payload = read_envelope(path, _key_of(path))
    write_envelope(path, "0" * 64, payload)  # a valid entry of another fingerprint


def _plain_torch_file(path, tmp_path):
    torch.save({"weights": torch.ones(3)}, path)


def _malicious_pickle(path, tmp_path):
    path.write_bytes(pickle.dumps(_Malicious(tmp_path / "pwned")))


def _malicious_torch_file(path, tmp_path):
    torch.save({"payload": _Malicious(tmp_path / "pwned")}, path)


def _key_of(path):
    return torch.load(path, weights_only=True)["fingerprint"]


@pytest.mark.parametrize(
    "damage, reason",
    [
        (_truncate, "unreadable"),
        (_flip, "unreadable|checksum"),
        (_foreign_entry, "other data or options"),
        (_plain_torch_file, "not a torch_deepsmote"),
        (_malicious_pickle, "unreadable"),
        (_malicious_torch_file, "unreadable"),
    ],
    ids=[
        "truncated",
        "flipped-bytes",
        "foreign-entry",
        "foreign-torch-file",
        "malicious-pickle",
        "malicious-torch-file",
    ],
)
@pytest.mark.filterwarnings("ignore:Detected pickle protocol")  # torch's note on the hostile pickle
def test_bad_cache_file_is_reported_retrained_and_replaced(damage, reason, fits, tmp_path, isolated_cache):
    dataset = _tensor_dataset()
    first = DeepSMOTEDataset(dataset, _oversampler())
    [path] = isolated_cache.glob("deepsmote-*.pt")
    key = _key_of(path)
    good = _load_entry(isolated_cache, key)
    damage(path, tmp_path)

    with pytest.warns(UserWarning, match=f"Ignoring the ({reason})|Ignoring the cache file .*({reason})"):
        second = DeepSMOTEDataset(dataset, _oversampler())
    assert len(fits) == 2 and not second.from_cache
    assert not (tmp_path / "pwned").exists()  # the hostile payload never ran
    restored = _load_entry(isolated_cache, key)  # the bad file was replaced by a good one
    assert torch.equal(restored["autoencoder"]["decoder.0.weight"], good["autoencoder"]["decoder.0.weight"])
    third = DeepSMOTEDataset(dataset, _oversampler())
    assert len(fits) == 2 and third.from_cache
    assert torch.equal(first[60][0], third[60][0])


def test_cache_entry_carries_fingerprint_and_checksum(isolated_cache):
    DeepSMOTEDataset(_tensor_dataset(), _oversampler())
    [path] = isolated_cache.glob("deepsmote-*.pt")
    envelope = torch.load(path, weights_only=True)
    assert set(envelope) == {"format", "fingerprint", "sha256", "payload_bytes"}
    assert path.name == f"deepsmote-{envelope['fingerprint'][:32]}.pt"
    assert re.fullmatch("[0-9a-f]{64}", envelope["sha256"])


@pytest.fixture(scope="module")
def fitted():
    images, labels = blob_images([30, 12, 6])
    return _oversampler().fit(images, labels)


@pytest.mark.parametrize(
    "dataset, match",
    [
        (_tensor_dataset(side=12), r"shape \(1, 8, 8\).*shape \(1, 12, 12\)"),
        (TensorDataset(blob_images([30, 12, 6])[0].expand(-1, 3, -1, -1), blob_images([30, 12, 6])[1]), r"\(3, 8, 8\)"),
        (_tensor_dataset(counts=(30, 12)), r"classes \[0, 1, 2\].*classes \[0, 1\]"),
        (TensorDataset(*blob_images([30, 12, 6, 5])), r"classes \[0, 1, 2\].*classes \[0, 1, 2, 3\]"),
    ],
    ids=["image-size", "channels", "fewer-classes", "more-classes"],
)
def test_incompatible_fitted_oversampler_is_refused(fitted, dataset, match):
    with pytest.raises(ValueError, match="`oversampler`") as error:
        DeepSMOTEDataset(dataset, oversampler=fitted)
    assert re.search(match, str(error.value))


# -- the bad-input catalogue -------------------------------------------------------------------

IMAGES, LABELS = blob_images([30, 12, 6])


def _fit(X=IMAGES, y=LABELS, **options):
    return _oversampler(**options).fit(X, y)


def _wrap(dataset, targets=None, cache_dir=False, transform=None, **options):
    return DeepSMOTEDataset(dataset, _oversampler(**options), targets=targets, cache_dir=cache_dir, transform=transform)


_FITTED = []


def _fitted():
    if not _FITTED:
        _FITTED.append(_fit())
    return _FITTED[0]


def _float_images(value, where=(5, 0, 0, 0)):
    images = IMAGES.float() / 255
    images[where] = value
    return images


def _mixed(shape_of_item_5):
    items = [(IMAGES[i], int(LABELS[i])) for i in range(len(LABELS))]
    items[5] = (torch.zeros(shape_of_item_5, dtype=torch.uint8), items[5][1])
    return ListDataset(items)


def _fit_ae(**options):
    model = ConvAutoencoder((1, 8, 8), 8, width=4)
    arguments = dict(images=IMAGES.float() / 127.5 - 1, labels=LABELS, epochs=1, progress=False) | options
    return fit_autoencoder(model, arguments.pop("images"), arguments.pop("labels"), **arguments)


CATALOGUE = [
    # (id, call, exception type, [fragments the message must contain: the parameter and the value])
    ("empty-dataset", lambda: _wrap(ListDataset([])), ValueError, ["`dataset`", "0 items"]),
    ("empty-X", lambda: _fit(IMAGES[:0], LABELS[:0]), ValueError, ["`X`", "(0, 1, 8, 8)"]),
    ("one-class", lambda: _fit(IMAGES[:30], LABELS[:30]), ValueError, ["`y`", "at least 2 classes", "got 1: [0]"]),
    (
        "absent-class-in-dict",
        lambda: _fit(sampling_strategy={0: 30, 7: 30}),
        ValueError,
        ["`sampling_strategy`", "class 7", "[0, 1, 2]"],
    ),
    ("unsortable-labels", lambda: _fit(y=[0] * 30 + ["a"] * 18), TypeError, ["`y`", "sorted", "['int', 'str']"]),
    ("nan-label", lambda: _fit(y=[0.0] * 47 + [float("nan")]), TypeError, ["`y`", "nan"]),
    ("label-count", lambda: _fit(y=LABELS[:-1]), ValueError, ["`y`", "got 47 labels", "(48)"]),
    (
        "dataset-targets-count",
        lambda: _wrap(_tensor_dataset(), targets=LABELS[:-2]),
        ValueError,
        ["`targets`", "got 46 labels", "(48)"],
    ),
    ("mixed-image-sizes", lambda: _wrap(_mixed((1, 9, 9))), ValueError, ["`dataset`", "item 5", "(1, 9, 9)"]),
    ("mixed-channel-counts", lambda: _wrap(_mixed((3, 8, 8))), ValueError, ["`dataset`", "item 5", "(3, 8, 8)"]),
    ("nan-pixels", lambda: _fit(_float_images(float("nan"))), ValueError, ["`X`", "1 NaN or infinite"]),
    ("inf-pixels", lambda: _fit(_float_images(float("inf"))), ValueError, ["`X`", "1 NaN or infinite"]),
    (
        "nan-pixels-dataset",
        lambda: _wrap(TensorDataset(_float_images(float("nan")), LABELS)),
        ValueError,
        ["`dataset`", "NaN", "item 5"],
    ),
    ("floats-above-1", lambda: _fit(_float_images(1.5)), ValueError, ["`X`", "[0, 1.5]"]),
    (
        "normalised-base-transform",
        lambda: _wrap(TensorDataset(IMAGES.float() / 127.5 - 1, LABELS)),
        ValueError,
        ["`dataset`", "values in [-1, ", "normalised", "transform"],
    ),
    ("images-too-small", lambda: _fit(IMAGES[:, :, :3, :3]), ValueError, ["`image_shape`", "(1, 3, 3)", "at least 4"]),
    ("k-zero", lambda: _fit(k_neighbors=0), ValueError, ["`k_neighbors`", "got 0"]),
    ("k-negative", lambda: _fit(k_neighbors=-2), ValueError, ["`k_neighbors`", "got -2"]),
    ("k-float", lambda: _fit(k_neighbors=2.5), TypeError, ["`k_neighbors`", "2.5"]),
    ("k-bool", lambda: _fit(k_neighbors=True), TypeError, ["`k_neighbors`", "True"]),
    ("kneighbors-k-zero", lambda: kneighbors(torch.rand(5, 2), 0), ValueError, ["`k`", "got 0"]),
    ("kneighbors-k-too-big", lambda: kneighbors(torch.rand(5, 2), 5), ValueError, ["`k`", "k = 5", "n = 5"]),
    ("kneighbors-k-bool", lambda: kneighbors(torch.rand(5, 2), True), TypeError, ["`k`", "True"]),
    ("kneighbors-not-tensor", lambda: kneighbors([[0.0, 1.0]], 1), TypeError, ["`x`", "list"]),
    (
        "kneighbors-unknown-backend",
        lambda: kneighbors(torch.rand(5, 2), 2, backend="faiss"),
        ValueError,
        ["`backend`", "'faiss'"],
    ),
    (
        "strategy-unknown-string",
        lambda: _fit(sampling_strategy="majority"),
        ValueError,
        ["`sampling_strategy`", "'majority'"],
    ),
    ("strategy-wrong-type", lambda: _fit(sampling_strategy=[1, 2]), TypeError, ["`sampling_strategy`", "[1, 2]"]),
    (
        "strategy-below-current",
        lambda: _fit(sampling_strategy={1: 5}),
        ValueError,
        ["`sampling_strategy`", "5 images of class 1", "12"],
    ),
    (
        "strategy-negative-count",
        lambda: _fit(sampling_strategy={1: -4}),
        ValueError,
        ["`sampling_strategy[1]`", "got -4"],
    ),
    (
        "strategy-float-multiclass",
        lambda: _fit(sampling_strategy=0.5),
        ValueError,
        ["`sampling_strategy`=0.5", "needs two classes", "3 classes"],
    ),
    (
        "strategy-callable-junk",
        lambda: _fit(sampling_strategy=lambda y: [3]),
        TypeError,
        ["`sampling_strategy`", "[3]", "list"],
    ),
    ("sampler-batch-zero", lambda: BalancedBatchSampler(LABELS, 0), ValueError, ["`batch_size`", "got 0"]),
    (
        "sampler-batch-below-classes",
        lambda: BalancedBatchSampler(LABELS, 2),
        ValueError,
        ["`batch_size`", "(3)", "got 2"],
    ),
    (
        "sampler-float-targets",
        lambda: BalancedBatchSampler(LABELS.float(), 8),
        TypeError,
        ["`targets`", "torch.float32"],
    ),
    ("sampler-empty-targets", lambda: BalancedBatchSampler([], 8), ValueError, ["`targets`", "empty"]),
    ("deepsmote-batch-zero", lambda: _fit(batch_size=0), ValueError, ["`batch_size`", "got 0"]),
    ("epochs-negative", lambda: _fit(epochs=-1), ValueError, ["`epochs`", "got -1"]),
    ("fit_autoencoder-epochs-negative", lambda: _fit_ae(epochs=-3), ValueError, ["`epochs`", "got -3"]),
    ("fit_autoencoder-label-count", lambda: _fit_ae(labels=LABELS[:5]), ValueError, ["`images`", "48 images", "(5,)"]),
    ("fit_autoencoder-unknown-penalty", lambda: _fit_ae(penalty="l1"), ValueError, ["`penalty`", "'l1'"]),
    ("unknown-penalty", lambda: Recipe(penalty="l1"), ValueError, ["`recipe.penalty`", "'l1'", "'paper'"]),
    ("unknown-recipe", lambda: _fit(recipe="papr"), ValueError, ["`recipe`", "'papr'", "'paper'"]),
    ("recipe-wrong-type", lambda: _fit(recipe={"penalty": "paper"}), ValueError, ["`recipe`", "type dict"]),
    ("unknown-knn-backend", lambda: _fit(knn_backend="faiss"), ValueError, ["`knn_backend`", "'faiss'", "'keops'"]),
    ("negative-random-state", lambda: _fit(random_state=-1), ValueError, ["`random_state`", "got -1"]),
    ("non-positive-lr", lambda: Recipe(lr=0.0), ValueError, ["`recipe.lr`", "got 0.0"]),
    ("max-gap-zero", lambda: Recipe(max_gap=0), ValueError, ["`recipe.max_gap`", "got 0"]),
    ("unknown-device", lambda: _fit(device="gpu7"), ValueError, ["`device`", "'gpu7'"]),
    ("non-image-items", lambda: _wrap(ListDataset([("a", 0), ("b", 1)])), TypeError, ["`dataset`", "str"]),
    (
        "oversampler-wrong-type",
        lambda: DeepSMOTEDataset(_tensor_dataset(), "paper"),
        TypeError,
        ["`oversampler`", "str"],
    ),
    (
        "fresh-per-epoch-not-bool",
        lambda: DeepSMOTEDataset(_tensor_dataset(), fresh_per_epoch=1),
        TypeError,
        ["`fresh_per_epoch`", "1"],
    ),
    # -- seeds, batch size, epochs and devices out of what torch can take
    ("random-state-too-big", lambda: _fit(random_state=2**70), ValueError, ["`random_state`", str(2**70)]),
    ("random-state-string", lambda: _fit(random_state="3"), TypeError, ["`random_state`", "'3'", "torch.Generator"]),
    ("random-state-float", lambda: _fit(random_state=1.5), TypeError, ["`random_state`", "1.5"]),
    ("sample-random-state-too-big", lambda: _fitted().sample(2**64), ValueError, ["`random_state`", str(2**64)]),
    (
        "sampler-generator-too-big",
        lambda: BalancedBatchSampler(LABELS, 8, generator=2**70),
        ValueError,
        ["`generator`", str(2**70)],
    ),
    ("batch-size-one", lambda: _fit(batch_size=1), ValueError, ["`batch_size`", "batch norm", "got 1"]),
    (
        "fit-autoencoder-batch-size-one",
        lambda: fit_autoencoder(
            ConvAutoencoder((1, 8, 8), 4, width=4),
            torch.zeros(4, 1, 8, 8),
            torch.tensor([0, 0, 1, 1]),
            epochs=1,
            batch_size=1,
        ),
        ValueError,
        ["`batch_size`", "batch norm", "got 1"],
    ),
    ("set-epoch-too-big", lambda: _wrap(_tensor_dataset()).set_epoch(2**63), ValueError, ["`epoch`", str(2**63)]),
    ("set-epoch-float", lambda: _wrap(_tensor_dataset()).set_epoch(1.0), TypeError, ["`epoch`", "1.0"]),
    ("sampler-set-epoch-too-big", lambda: BalancedBatchSampler(LABELS, 8).set_epoch(2**63), ValueError, ["`epoch`"]),
    ("absent-cuda-device", lambda: _fit(device="cuda:99"), ValueError, ["`device`", "'cuda:99'"]),
    ("meta-device", lambda: _fit(device="meta"), ValueError, ["`device`", "meta"]),
    ("meta-images", lambda: _fit(IMAGES.to("meta")), ValueError, ["`X`", "meta"]),
    ("kneighbors-meta", lambda: kneighbors(torch.rand(5, 2, device="meta"), 2), ValueError, ["`x`", "meta"]),
    ("sparse-images", lambda: _fit(IMAGES.float().div(255).to_sparse()), TypeError, ["`X`", "sparse"]),
    ("progress-not-bool", lambda: _fit(progress="no"), TypeError, ["`progress`", "'no'"]),
    # -- dataset items that are not (image, label) pairs, and channels-last images
    (
        "dict-items",
        lambda: _wrap(ListDataset([{"image": IMAGES[0], "label": 0}] * 4)),
        TypeError,
        ["`dataset`", "item 0", "dict with the keys ['image', 'label']"],
    ),
    (
        "items-without-labels",
        lambda: _wrap(ListDataset([IMAGES[i] for i in range(48)]), targets=LABELS),
        TypeError,
        ["`dataset`", "item 0", "bare image", "without a label"],
    ),
    ("one-value-items", lambda: _wrap(TensorDataset(IMAGES)), TypeError, ["`dataset`", "item 0", "1 value"]),
    ("not-a-dataset", lambda: _wrap(42), TypeError, ["`dataset`", "int"]),
    (
        "channels-last-one-channel",
        lambda: _fit(IMAGES.permute(0, 2, 3, 1)),
        ValueError,
        ["`X`", "(48, 8, 8, 1)", "channels-last", "permute"],
    ),
    (
        "channels-last-four-channels",
        lambda: _fit(torch.zeros(48, 16, 16, 4, dtype=torch.uint8)),
        ValueError,
        ["`X`", "(48, 16, 16, 4)", "channels-last"],
    ),
    (
        "channels-last-dataset-items",
        lambda: _wrap(TensorDataset(IMAGES.permute(0, 2, 3, 1), LABELS)),
        ValueError,
        ["`dataset`", "item 0", "(8, 8, 1)", "channels-last"],
    ),
    (
        "transform-not-callable",
        lambda: DeepSMOTEDataset(_tensor_dataset(), transform="normalise"),
        TypeError,
        ["`transform`", "'normalise'"],
    ),
    # -- indices that are not ints
    ("index-float", lambda: _wrap(_tensor_dataset())[2.7], TypeError, ["`index`", "2.7"]),
    ("index-string", lambda: _wrap(_tensor_dataset())["3"], TypeError, ["`index`", "'3'"]),
    ("index-bool", lambda: _wrap(_tensor_dataset())[True], TypeError, ["`index`", "True"]),
    ("raw-items-not-a-sequence", lambda: _wrap(_tensor_dataset()).raw_items(3), TypeError, ["`indices`", "int"]),
    # -- sampling_strategy counts that are not whole, or too many to hold
    ("strategy-fractional-count", lambda: _fit(sampling_strategy={1: 30.5}), TypeError, ["`sampling_strategy[1]`"]),
    (
        "strategy-callable-fractional-count",
        lambda: _fit(sampling_strategy=lambda y: {1: 30.5}),
        TypeError,
        ["`sampling_strategy[1]`", "30.5"],
    ),
    (
        "strategy-too-many-items-dataset",
        lambda: _wrap(_tensor_dataset(), sampling_strategy={1: 10**13}),
        ValueError,
        ["`sampling_strategy`", "9,999,999,999,988", "96 bytes per synthetic item"],
    ),
    (
        "strategy-too-many-items-fit-resample",
        lambda: _oversampler(sampling_strategy={1: 10**13}).fit_resample(IMAGES, LABELS),
        ValueError,
        ["`sampling_strategy`", "bytes per synthetic item", "DeepSMOTE.sample"],
    ),
    (
        "latent-dim-too-big",
        lambda: _fit(latent_dim=10**12),
        ValueError,
        ["`latent_dim`=1000000000000", "weights", "lower `latent_dim` or `width`"],
    ),
    # -- cache folders that cannot be folders
    ("cache-dir-empty", lambda: _wrap(_tensor_dataset(), cache_dir=""), ValueError, ["`cache_dir`", "empty", "False"]),
    ("cache-dir-wrong-type", lambda: _wrap(_tensor_dataset(), cache_dir=3), TypeError, ["`cache_dir`", "int"]),
    ("cache-dir-bytes", lambda: _wrap(_tensor_dataset(), cache_dir=b"x"), TypeError, ["`cache_dir`", "bytes"]),
]


@pytest.mark.parametrize(
    "call, error, fragments", [case[1:] for case in CATALOGUE], ids=[case[0] for case in CATALOGUE]
)
def test_bad_input_catalogue(call, error, fragments):
    with pytest.raises(error) as raised:
        call()
    message = str(raised.value)
    missing = [fragment for fragment in fragments if fragment not in message]
    assert not missing, f"{missing} not in {message!r}"


def test_catalogue_is_wide_enough():
    assert len({case[0] for case in CATALOGUE}) == len(CATALOGUE) >= 20


@pytest.mark.parametrize(
    "counts, match", [([30, 1], "single image"), ([30, 3], "3 images, not more than k_neighbors=5")]
)
def test_tiny_classes_are_handled_with_a_warning(counts, match):
    images, labels = blob_images(counts)
    with pytest.warns(UserWarning, match=match):
        model = _fit(images, labels, k_neighbors=5)
    new_images, new_labels = model.sample()
    assert (new_labels == 1).sum() == counts[0] - counts[1]
    assert new_images.shape == (counts[0] - counts[1], 1, 8, 8)


def test_keops_backend_without_pykeops_gives_the_install_hint(monkeypatch):
    monkeypatch.setattr(_keops, "_pykeops", None)
    monkeypatch.setitem(sys.modules, "pykeops", None)  # makes `import pykeops` fail
    monkeypatch.setitem(sys.modules, "pykeops.torch", None)
    with pytest.raises(ImportError, match=r"pip install pykeops.*backend='torch'"):
        kneighbors(torch.rand(6, 3), 2, backend="keops")
    with pytest.raises(ImportError, match="pip install pykeops"):
        _fit(knn_backend="keops")


def test_dataset_indices_follow_python_semantics():
    dataset = _wrap(_tensor_dataset())
    length = len(dataset)
    assert torch.equal(dataset[-1][0], dataset[length - 1][0]) and dataset[-1][1] == dataset[length - 1][1]
    assert torch.equal(dataset[-length][0], dataset[0][0])
    for bad in (length, length + 7, -length - 1):
        with pytest.raises(IndexError, match=rf"index {bad} is out of range for a dataset of {length} items"):
            dataset[bad]


def test_raw_items_ignore_float_indices_no_more():
    dataset = _wrap(_tensor_dataset())
    assert torch.equal(dataset[torch.tensor(2)][0], dataset[2][0])  # integer scalars are ints
    import numpy as np

    assert torch.equal(dataset[np.int64(-1)][0], dataset[len(dataset) - 1][0])


# -- memory: a request is checked against what the machine has, before allocating -----------------


def test_a_billion_items_is_refused_before_anything_is_allocated_or_trained(monkeypatch, fits):
    monkeypatch.setattr(memory, "available_memory", lambda: 8 * 2**30)  # a machine with 8 GiB free
    with pytest.raises(ValueError) as raised:
        _wrap(_tensor_dataset(), sampling_strategy={1: 10**9})
    message = str(raised.value)
    assert "`sampling_strategy` asks for 999,999,988 synthetic items" in message
    assert f"{memory.DATASET_ITEM_BYTES} bytes per synthetic item" in message and "8 GiB" in message
    with pytest.raises(ValueError, match=r"`sampling_strategy`.*bytes per synthetic item"):
        _oversampler(sampling_strategy={1: 10**9}).fit_resample(IMAGES, LABELS)
    assert fits == []  # refused before training
    ok = _wrap(_tensor_dataset(), sampling_strategy={1: 1000})  # what fits is made
    assert len(ok) == 48 + 1000 - 12


def test_sample_checks_the_images_it_would_make(monkeypatch):
    model = _fit()
    monkeypatch.setattr(memory, "available_memory", lambda: 1024)
    with pytest.raises(ValueError, match=r"`sampling_strategy` asks for 42 synthetic items; DeepSMOTE.sample"):
        model.sample()


# -- the global RNG is never touched -------------------------------------------------------------


def test_the_global_rng_is_untouched_by_the_autoencoder_the_dataset_and_the_cache(isolated_cache):
    before = torch.random.get_rng_state()
    ConvAutoencoder((1, 8, 8), 8, width=4, generator=torch.Generator().manual_seed(0))
    assert torch.equal(torch.random.get_rng_state(), before)
    first = DeepSMOTEDataset(_tensor_dataset(), _oversampler())  # a cache miss: trains
    first[len(first) - 1]
    assert torch.equal(torch.random.get_rng_state(), before)
    again = DeepSMOTEDataset(_tensor_dataset(), _oversampler())  # a cache hit: loads
    again[len(again) - 1]
    assert again.from_cache and torch.equal(torch.random.get_rng_state(), before)
    _oversampler(random_state=None).fit_resample(IMAGES, LABELS)
    pickle.loads(pickle.dumps(again))[len(again) - 1]
    assert torch.equal(torch.random.get_rng_state(), before)


def test_a_classifier_built_after_the_dataset_starts_alike_on_a_miss_and_a_hit(isolated_cache):
    def run():
        torch.manual_seed(0)
        DeepSMOTEDataset(_tensor_dataset(), _oversampler())
        return torch.nn.Linear(4, 2).weight.detach().clone()

    assert torch.equal(run(), run())  # the second run loads from the cache


def test_seeded_initial_weights_are_those_of_the_generator():
    made = ConvAutoencoder((1, 8, 8), 8, width=4, generator=torch.Generator().manual_seed(3))
    again = ConvAutoencoder((1, 8, 8), 8, width=4, generator=torch.Generator().manual_seed(3))
    for name, tensor in made.state_dict().items():
        assert torch.equal(tensor, again.state_dict()[name])
    empty = ConvAutoencoder.empty((1, 8, 8), 8, width=4)
    empty.load_state_dict(made.state_dict())
    with pytest.raises(TypeError, match="`generator`"):
        ConvAutoencoder((1, 8, 8), 8, width=4, generator=3)


# -- the cache: unusable paths, unwritable folders, random_state=None -----------------------------


def test_a_cache_dir_that_is_a_file_is_refused_before_reading_or_training(tmp_path, fits):
    plain = tmp_path / "a-file"
    plain.write_text("mine")
    for cache_dir in (plain, plain / "below"):
        with pytest.raises(ValueError, match=r"`cache_dir` must be a folder.*not a folder"):
            DeepSMOTEDataset(_tensor_dataset(), _oversampler(), cache_dir=cache_dir)
    assert fits == [] and plain.read_text() == "mine"


def test_the_cache_env_naming_a_file_is_refused_naming_it(tmp_path, monkeypatch):
    plain = tmp_path / "a-file"
    plain.write_text("")
    monkeypatch.setenv("TORCH_DEEPSMOTE_CACHE", str(plain))
    with pytest.raises(ValueError, match=r"`cache_dir` \(from \$TORCH_DEEPSMOTE_CACHE\)"):
        DeepSMOTEDataset(_tensor_dataset(), _oversampler())


def test_cache_dir_expands_the_home_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    DeepSMOTEDataset(_tensor_dataset(), _oversampler(), cache_dir="~/deepsmote-cache")
    assert list((tmp_path / "home" / "deepsmote-cache").glob("deepsmote-*.pt"))
    assert not (tmp_path / "~").exists()


def _refuse_writes_under(monkeypatch, folder):
    """Make every new file or folder under ``folder`` fail as on a read-only file system."""
    folder = Path(folder)
    original_mkstemp, original_mkdir = tempfile.mkstemp, Path.mkdir

    def under(path):
        path = Path(path).absolute()
        return path == folder or folder in path.parents

    def mkstemp(*args, dir=None, **kwargs):
        if dir is not None and under(dir):
            raise PermissionError(errno.EACCES, "Permission denied", str(Path(dir) / "probe"))
        return original_mkstemp(*args, dir=dir, **kwargs)

    def mkdir(self, *args, **kwargs):
        if under(self) and not self.exists():
            raise PermissionError(errno.EACCES, "Permission denied", str(self))
        return original_mkdir(self, *args, **kwargs)

    monkeypatch.setattr(tempfile, "mkstemp", mkstemp)
    monkeypatch.setattr(Path, "mkdir", mkdir)


def _unwritable_warnings(record):
    return [w for w in record if "cannot be written" in str(w.message)]


@pytest.mark.parametrize("layout", ["read-only-folder", "missing-under-read-only-parent"])
def test_an_unwritable_cache_warns_once_and_training_goes_on(layout, tmp_path, monkeypatch, fits):
    parent = tmp_path / "shared"
    parent.mkdir()
    folder = parent if layout == "read-only-folder" else parent / "cache"
    _refuse_writes_under(monkeypatch, parent)
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        made = DeepSMOTEDataset(_tensor_dataset(), _oversampler(epochs=2), cache_dir=folder)
    assert len(_unwritable_warnings(record)) == 1 and "training without the cache" in str(record[-1].message)
    assert len(fits) == 1 and not made.from_cache and list(parent.iterdir()) == []
    reference = DeepSMOTEDataset(_tensor_dataset(), _oversampler(epochs=2), cache_dir=False)
    assert torch.equal(made[len(made) - 1][0], reference[len(reference) - 1][0])  # the same model


def test_a_read_only_cache_still_serves_its_entries(tmp_path, monkeypatch, fits):
    folder = tmp_path / "cache"
    DeepSMOTEDataset(_tensor_dataset(), _oversampler(), cache_dir=folder)
    _refuse_writes_under(monkeypatch, folder)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no warning: nothing needs writing
        again = DeepSMOTEDataset(_tensor_dataset(), _oversampler(), cache_dir=folder)
    assert again.from_cache and len(fits) == 1


def _modes_bind() -> bool:
    """Whether a read-only folder refuses this process's writes (not so for root)."""
    if os.name != "posix":
        return False
    folder = Path(tempfile.mkdtemp())
    folder.chmod(stat.S_IRUSR | stat.S_IXUSR)
    try:
        (folder / "probe").touch()
    except PermissionError:
        return True
    finally:
        folder.chmod(stat.S_IRWXU)
        (folder / "probe").unlink(missing_ok=True)
        folder.rmdir()
    return False


@pytest.mark.skipif(not _modes_bind(), reason="file modes do not bind this process (root)")
def test_a_truly_read_only_cache_folder_warns_and_trains(tmp_path, fits):
    folder = tmp_path / "cache"
    folder.mkdir()
    folder.chmod(stat.S_IRUSR | stat.S_IXUSR)
    try:
        with pytest.warns(UserWarning, match="cannot be written"):
            made = DeepSMOTEDataset(_tensor_dataset(), _oversampler(), cache_dir=folder)
        with pytest.warns(UserWarning, match="cannot be written"):
            DeepSMOTEDataset(_tensor_dataset(), _oversampler(), cache_dir=folder / "below")
    finally:
        folder.chmod(stat.S_IRWXU)
    assert len(fits) == 2 and not made.from_cache and list(folder.iterdir()) == []


def test_a_write_that_fails_mid_training_falls_back_to_training_without_the_cache(tmp_path, monkeypatch, fits):
    from torch_deepsmote.nn import checkpoint

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(checkpoint, "save_checkpoint", full)
    from torch_deepsmote.nn import training

    monkeypatch.setattr(training, "save_checkpoint", full)
    with pytest.warns(UserWarning, match="cannot be written.*No space left"):
        made = DeepSMOTEDataset(_tensor_dataset(), _oversampler(), cache_dir=tmp_path / "cache")
    assert len(fits) == 2 and not made.from_cache


def test_random_state_none_trains_anew_each_time_and_writes_no_entry(isolated_cache, fits):
    first = DeepSMOTEDataset(_tensor_dataset(), _oversampler(random_state=None))
    second = DeepSMOTEDataset(_tensor_dataset(), _oversampler(random_state=None))
    assert len(fits) == 2 and not first.from_cache and not second.from_cache
    assert list(isolated_cache.iterdir()) == []
    weights = [ds.oversampler.autoencoder_.decoder[0].weight for ds in (first, second)]
    assert not torch.equal(*weights) and first.oversampler.sample_seed_ != second.oversampler.sample_seed_


def test_a_generator_random_state_is_cached_by_its_state(isolated_cache, fits):
    DeepSMOTEDataset(_tensor_dataset(), _oversampler(random_state=torch.Generator().manual_seed(5)))
    again = DeepSMOTEDataset(_tensor_dataset(), _oversampler(random_state=torch.Generator().manual_seed(5)))
    assert again.from_cache and len(fits) == 1


def test_bad_parameters_fail_before_the_dataset_is_read():
    class Counting(torch.utils.data.Dataset):
        reads = 0

        def __len__(self):
            return 48

        def __getitem__(self, index):
            Counting.reads += 1
            return IMAGES[index], int(LABELS[index])

    for options in (dict(k_neighbors=0), dict(batch_size=1), dict(device="gpu7"), dict(random_state=2**70)):
        with pytest.raises((TypeError, ValueError)):
            DeepSMOTEDataset(Counting(), _oversampler(**options), cache_dir=False)
    with pytest.raises(ValueError, match="`cache_dir`"):
        DeepSMOTEDataset(Counting(), _oversampler(), cache_dir="")
    assert Counting.reads == 0


# -- items of a base dataset ---------------------------------------------------------------------


def test_extra_values_in_items_are_dropped_with_one_warning():
    items = ListDataset([(IMAGES[i], int(LABELS[i]), f"id-{i}") for i in range(48)])
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        dataset = _wrap(items)
        real, synthetic = dataset[0], dataset[len(dataset) - 1]
    dropped = [w for w in record if "dropped" in str(w.message)]
    assert len(dropped) == 1 and "hold 3 values" in str(dropped[0].message)
    assert len(real) == len(synthetic) == 2 and torch.equal(real[0], IMAGES[0])


def _folder_of_pngs(root, sizes=None):
    from PIL import Image

    for i in range(48):
        folder = root / str(int(LABELS[i]))
        folder.mkdir(parents=True, exist_ok=True)
        image = Image.fromarray(IMAGES[i, 0].numpy(), mode="L")
        if sizes and i in sizes:
            image = image.resize(sizes[i])
        image.save(folder / f"{i:02d}.png")


def test_image_folder_errors_name_the_file(tmp_path):
    from torchvision.datasets import ImageFolder

    _folder_of_pngs(tmp_path / "sizes", sizes={16: (9, 9)})
    with pytest.raises(ValueError, match=r"`dataset`.*item 16 \(.*/16\.png\) is .*\(3, 9, 9\)"):
        _wrap(ImageFolder(str(tmp_path / "sizes")))
    _folder_of_pngs(tmp_path / "broken")
    (tmp_path / "broken" / "0" / "16.png").write_bytes(b"")
    with pytest.raises(ValueError, match=r"`dataset` item 16 \(.*/16\.png\) cannot be read \(Unidentified"):
        _wrap(ImageFolder(str(tmp_path / "broken")))
