"""Untrusted or stale cache files, incompatible oversamplers, and the bad-input catalogue."""

from __future__ import annotations

import pickle
import re
import sys

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
    """The number of DeepSMOTE fits run during a test."""
    calls = []
    original = DeepSMOTE.fit

    def counting(self, *args, **kwargs):
        calls.append(1)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(DeepSMOTE, "fit", counting)
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


def _wrap(dataset, targets=None, **options):
    return DeepSMOTEDataset(dataset, _oversampler(**options), targets=targets, cache_dir=False)


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
