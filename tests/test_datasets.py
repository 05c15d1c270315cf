"""Tests for torch_deepsmote.evaluation.datasets on tiny fixtures written in each on-disk format."""

from __future__ import annotations

import collections
import gzip
import hashlib
import os
import pickle
import struct
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import scipy.io
import torch
import torchvision.datasets
from PIL import Image

from torch_deepsmote.evaluation import celeba as _celeba
from torch_deepsmote.evaluation.datasets import (
    CELEBA_HAIR_ATTRIBUTES,
    CELEBA_HAIR_COLOURS,
    CELEBA_TRAIN_PROFILE,
    CIFAR10_TRAIN_PROFILE,
    DEBIAN_FASHION_MNIST,
    MNIST_TEST_PROFILE,
    MNIST_TRAIN_PROFILE,
    PROFILES,
    load_celeba,
    load_cifar10,
    load_dataset,
    load_digits_images,
    load_idx,
    load_svhn,
    make_imbalanced,
    scale_profile,
)

# --------------------------------------------------------------------------- helpers


def write_idx(path: Path, array: np.ndarray, *, gz: bool = False, type_code: int = 0x08) -> None:
    header = bytes([0, 0, type_code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    data = header + array.tobytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(data) if gz else data)


def write_mnist_like(folder: Path, *, n: int = 5, seed: int = 0, train: bool = True, gz: bool = False):
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(n, 4, 3), dtype=np.uint8)  # H != W catches swaps
    labels = rng.integers(0, 10, size=n, dtype=np.uint8)
    prefix = "train" if train else "t10k"
    suffix = ".gz" if gz else ""
    write_idx(folder / f"{prefix}-images-idx3-ubyte{suffix}", images, gz=gz)
    write_idx(folder / f"{prefix}-labels-idx1-ubyte{suffix}", labels, gz=gz)
    return images, labels


def write_cifar(folder: Path, *, per_batch: int = 2, test: int = 3, bytes_keys: bool = False):
    rng = np.random.default_rng(1)
    folder.mkdir(parents=True, exist_ok=True)
    written = {}
    names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    for name in names:
        n = test if name == "test_batch" else per_batch
        data = rng.integers(0, 256, size=(n, 3072), dtype=np.uint8)
        labels = rng.integers(0, 10, size=n).tolist()
        batch = {"batch_label": name, "data": data, "labels": labels}
        if bytes_keys:
            batch = {key.encode(): value for key, value in batch.items()}
        (folder / name).write_bytes(pickle.dumps(batch, protocol=2))
        written[name] = (data, labels)
    return written


def write_svhn(path: Path, labels: list[int], seed: int = 2) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 256, size=(32, 32, 3, len(labels)), dtype=np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    scipy.io.savemat(str(path), {"X": x, "y": np.array(labels, dtype=np.uint8).reshape(-1, 1)})
    return x


def md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


@pytest.fixture
def torchvision_reads(monkeypatch) -> list[str]:
    """Names of torchvision's data-set classes that read files, in call order."""
    reads = []

    def spy(name: str) -> None:
        original = getattr(torchvision.datasets, name)

        class Spy(original):
            def __init__(self, *args, **kwargs):
                super().__init__(*args, **kwargs)
                reads.append(name)

        Spy.__name__ = name  # MNIST and FashionMNIST find their folder by class name
        monkeypatch.setattr(torchvision.datasets, name, Spy)

    for name in ("MNIST", "FashionMNIST", "CIFAR10", "SVHN", "CelebA"):
        spy(name)
    return reads


# --------------------------------------------------------------------------- profiles


def test_profiles_match_the_paper():
    assert MNIST_TRAIN_PROFILE == (4000, 2000, 1000, 750, 500, 350, 200, 100, 60, 40)
    assert MNIST_TEST_PROFILE == (1000, 500, 250, 187, 125, 87, 50, 25, 15, 10)
    assert CIFAR10_TRAIN_PROFILE == (4500, 2000, 1000, 800, 600, 500, 400, 250, 150, 80)
    assert CELEBA_TRAIN_PROFILE == (9000, 4500, 1000, 500, 160)
    assert PROFILES["fashion-mnist"] == PROFILES["mnist"]
    assert PROFILES["svhn"]["train"] == PROFILES["cifar10"]["train"] == CIFAR10_TRAIN_PROFILE
    assert PROFILES["celeba"]["train"] == CELEBA_TRAIN_PROFILE
    assert "test" not in PROFILES["cifar10"]  # not stated by the paper
    assert MNIST_TRAIN_PROFILE[0] // MNIST_TRAIN_PROFILE[-1] == 100


def test_profiles_are_read_only():
    with pytest.raises(TypeError):
        PROFILES["mnist"] = {}  # type: ignore[index]
    with pytest.raises(TypeError):
        PROFILES["mnist"]["train"] = ()  # type: ignore[index]


def test_scale_profile_reproduces_mnist_test_profile():
    assert scale_profile(MNIST_TRAIN_PROFILE, 0.25) == MNIST_TEST_PROFILE
    assert scale_profile([100, 30], 0.29) == (29, 8)  # exact, no 28.999... flooring
    with pytest.raises(ValueError, match="`factor`"):
        scale_profile([1], 0.0)


# --------------------------------------------------------------------------- make_imbalanced


@pytest.fixture
def targets() -> torch.Tensor:
    gen = torch.Generator().manual_seed(0)
    return torch.randint(0, 4, (400,), generator=gen)


def test_make_imbalanced_exact_counts_sorted_and_in_class(targets):
    counts = [30, 20, 5, 1]
    picked = make_imbalanced(targets, counts, random_state=0)
    assert picked.dtype == torch.int64
    assert picked.shape == (56,)
    assert torch.equal(picked, torch.sort(picked).values)
    assert len(torch.unique(picked)) == len(picked)
    assert torch.bincount(targets[picked], minlength=4).tolist() == counts


def test_make_imbalanced_paper_profile():
    targets = torch.arange(10).repeat(4000)
    picked = make_imbalanced(targets, PROFILES["mnist"]["train"], random_state=3)
    assert torch.bincount(targets[picked]).tolist() == list(MNIST_TRAIN_PROFILE)


def test_make_imbalanced_seeded(targets):
    first = make_imbalanced(targets, [10, 10, 10, 10], random_state=1)
    again = make_imbalanced(targets, [10, 10, 10, 10], random_state=1)
    other = make_imbalanced(targets, [10, 10, 10, 10], random_state=2)
    assert torch.equal(first, again)
    assert not torch.equal(first, other)
    from_generator = make_imbalanced(targets, [10, 10, 10, 10], random_state=torch.Generator().manual_seed(1))
    assert torch.equal(first, from_generator)


def test_make_imbalanced_dict_equals_sequence_and_ignores_dict_order(targets):
    as_list = make_imbalanced(targets, [4, 3, 2, 1], random_state=5)
    as_dict = make_imbalanced(targets, {3: 1, 1: 3, 0: 4, 2: 2}, random_state=5)
    assert torch.equal(as_list, as_dict)


def test_make_imbalanced_more_of_one_class_keeps_earlier_picks(targets):
    small = make_imbalanced(targets, [3, 3, 3, 3], random_state=9)
    large = make_imbalanced(targets, [8, 3, 3, 3], random_state=9)
    assert set(small.tolist()) <= set(large.tolist())
    assert torch.equal(small[targets[small] != 0], large[targets[large] != 0])


def test_make_imbalanced_leaves_out_unlisted_classes(targets):
    picked = make_imbalanced(targets, {1: 4, 3: 2}, random_state=0)
    assert sorted(targets[picked].tolist()) == [1, 1, 1, 1, 3, 3]
    assert make_imbalanced(targets, {}, random_state=0).shape == (0,)


def test_make_imbalanced_accepts_lists_arrays_tensors(targets):
    expected = make_imbalanced(targets, [2, 2, 2, 2], random_state=4)
    assert torch.equal(make_imbalanced(targets.tolist(), [2, 2, 2, 2], random_state=4), expected)
    assert torch.equal(
        make_imbalanced(targets.numpy().astype(np.int32), np.array([2, 2, 2, 2]), random_state=4),
        expected,
    )


def test_make_imbalanced_leaves_global_rng_alone(targets):
    state = torch.random.get_rng_state()
    make_imbalanced(targets, [2, 2, 2, 2])
    make_imbalanced(targets, [2, 2, 2, 2], random_state=0)
    assert torch.equal(state, torch.random.get_rng_state())


def test_make_imbalanced_too_few_items_names_counts_class_and_numbers():
    targets = torch.tensor([0, 0, 0, 1, 1, 2, 2, 2])
    expected = r"`counts` asks for 5 items of class 2, but `targets` has only 3"
    with pytest.raises(ValueError, match=expected):
        make_imbalanced(targets, [1, 1, 5])
    with pytest.raises(ValueError, match=r"class 7.*only 0"):
        make_imbalanced(targets, {7: 1})


@pytest.mark.parametrize(
    "counts, error, pattern",
    [
        ([1, -1], ValueError, r"`counts\[1\]` must be an int >= 0"),
        ([1, 1.5], TypeError, r"`counts\[1\]`"),
        ({0.5: 1}, TypeError, r"`counts` keys"),
        ("12", TypeError, r"`counts`"),
        (5, TypeError, r"`counts` must be a sequence"),
    ],
)
def test_make_imbalanced_bad_counts(counts, error, pattern):
    with pytest.raises(error, match=pattern):
        make_imbalanced([0, 1, 1], counts)


def test_make_imbalanced_bad_targets_and_seed():
    with pytest.raises(TypeError, match="`targets`.*integer"):
        make_imbalanced([0.0, 1.0], [1, 1])
    with pytest.raises(ValueError, match="`targets` must be 1-D"):
        make_imbalanced(torch.zeros(2, 2, dtype=torch.long), [1])
    with pytest.raises(ValueError, match="`random_state`"):
        make_imbalanced([0, 1], [1, 1], random_state=-1)


# --------------------------------------------------------------------------- digits


def test_load_digits_images_scales_exactly():
    from sklearn.datasets import load_digits

    images, labels = load_digits_images()
    assert images.shape == (1797, 1, 8, 8) and images.dtype == torch.uint8
    assert labels.shape == (1797,) and labels.dtype == torch.int64
    raw = load_digits().images
    expected = np.floor(raw * 255 / 16 + 0.5).astype(np.uint8)
    assert np.array_equal(images[:, 0].numpy(), expected)
    assert images.min() == 0 and images.max() == 255
    assert np.array_equal(labels.numpy(), load_digits().target)


def test_load_digits_images_without_scikit_learn_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    with pytest.raises(ImportError, match=r"load_digits_images needs scikit-learn.*torch_deepsmote\[demo\]"):
        load_dataset("digits")


# --------------------------------------------------------------------------- IDX


@pytest.mark.parametrize("gz", [False, True])
@pytest.mark.parametrize("train", [True, False])
def test_load_idx_round_trip(tmp_path, gz, train):
    images, labels = write_mnist_like(tmp_path, train=train, gz=gz)
    got_images, got_labels = load_idx(tmp_path, train=train)
    assert got_images.shape == (5, 1, 4, 3) and got_images.dtype == torch.uint8
    assert got_labels.shape == (5,) and got_labels.dtype == torch.int64
    assert np.array_equal(got_images[:, 0].numpy(), images)
    assert np.array_equal(got_labels.numpy(), labels)


def test_load_idx_prefers_plain_file_over_gz(tmp_path):
    plain, _ = write_mnist_like(tmp_path, seed=0)
    write_mnist_like(tmp_path, seed=1, gz=True)
    assert np.array_equal(load_idx(tmp_path)[0][:, 0].numpy(), plain)


def test_load_idx_torchvision_layouts(tmp_path):
    mnist, _ = write_mnist_like(tmp_path / "MNIST" / "raw", seed=0)
    fashion, _ = write_mnist_like(tmp_path / "FashionMNIST" / "raw", seed=1, gz=True)
    with pytest.raises(ValueError, match="`dataset='mnist'`"):
        load_idx(tmp_path)
    assert np.array_equal(load_idx(tmp_path, dataset="mnist")[0][:, 0].numpy(), mnist)
    assert np.array_equal(load_dataset("fashion-mnist", tmp_path)[0][:, 0].numpy(), fashion)
    assert np.array_equal(load_dataset("mnist", tmp_path / "MNIST")[0][:, 0].numpy(), mnist)
    assert np.array_equal(load_idx(tmp_path / "FashionMNIST")[0][:, 0].numpy(), fashion)


def test_load_idx_missing_files_lists_folders_and_names(tmp_path):
    write_mnist_like(tmp_path, train=True)
    with pytest.raises(FileNotFoundError) as info:
        load_idx(tmp_path, train=False)
    message = str(info.value)
    assert str(tmp_path / "FashionMNIST" / "raw") in message
    assert "t10k-images-idx3-ubyte" in message and "t10k-labels-idx1-ubyte.gz" in message


def test_load_idx_rejects_swapped_files(tmp_path):
    images, labels = write_mnist_like(tmp_path)
    write_idx(tmp_path / "train-images-idx3-ubyte", labels)
    with pytest.raises(ValueError, match="magic number 2051"):
        load_idx(tmp_path)
    write_idx(tmp_path / "train-images-idx3-ubyte", images)
    write_idx(tmp_path / "train-labels-idx1-ubyte", labels.astype(">i4"), type_code=0x0C)
    with pytest.raises(ValueError, match="magic number 2049"):
        load_idx(tmp_path)


def test_load_idx_rejects_corrupt_files(tmp_path):
    images, labels = write_mnist_like(tmp_path)
    path = tmp_path / "train-images-idx3-ubyte"
    path.write_bytes(path.read_bytes()[:-1])
    with pytest.raises(ValueError, match="announces"):
        load_idx(tmp_path)
    path.write_bytes(b"\x50\x4b\x03\x04" + bytes(20))
    with pytest.raises(ValueError, match="not an IDX file"):
        load_idx(tmp_path)
    write_idx(path, images[:4])
    with pytest.raises(ValueError, match="4 images but"):
        load_idx(tmp_path)


@pytest.mark.parametrize("folder, dataset", [("MNIST", "mnist"), ("FashionMNIST", "fashion-mnist")])
def test_load_idx_torchvision_and_own_parser_agree(tmp_path, torchvision_reads, folder, dataset):
    """torchvision's layout (both splits decompressed) goes to torchvision; the same bytes gzipped
    in a flat folder go to this module's parser; both give the same tensors."""
    raw = tmp_path / "torchvision" / folder / "raw"
    for train, seed in ((True, 4), (False, 5)):
        write_mnist_like(raw, n=7, seed=seed, train=train)
        write_mnist_like(tmp_path / "flat", n=7, seed=seed, train=train, gz=True)
    for train in (True, False):
        torchvision_reads.clear()
        by_torchvision = load_dataset(dataset, tmp_path / "torchvision", train=train)
        assert torchvision_reads == [folder]
        by_parser = load_idx(tmp_path / "flat", train=train)
        assert torchvision_reads == [folder]
        direct = getattr(torchvision.datasets, folder)(tmp_path / "torchvision", train=train)
        for images, labels in (by_torchvision, by_parser):
            assert images.dtype == torch.uint8 and images.shape == (7, 1, 4, 3)
            assert labels.dtype == torch.int64
            assert torch.equal(images[:, 0], direct.data) and torch.equal(labels, direct.targets)


def test_load_idx_hands_torchvision_layout_with_one_split_to_own_parser(tmp_path, torchvision_reads):
    images, labels = write_mnist_like(tmp_path / "MNIST" / "raw", train=True)  # no t10k files
    got_images, got_labels = load_dataset("mnist", tmp_path)
    assert torchvision_reads == []
    assert np.array_equal(got_images[:, 0].numpy(), images) and np.array_equal(got_labels.numpy(), labels)


def test_load_idx_malformed_file_in_torchvision_layout_gets_own_message(tmp_path, torchvision_reads):
    raw = tmp_path / "FashionMNIST" / "raw"
    write_mnist_like(raw, train=False)
    images, _ = write_mnist_like(raw, train=True)
    write_idx(raw / "train-images-idx3-ubyte", images[:4])
    with pytest.raises(ValueError, match="4 images but"):  # torchvision reads them without a check
        load_dataset("fashion-mnist", tmp_path)
    assert torchvision_reads == ["FashionMNIST"]
    path = raw / "train-labels-idx1-ubyte"
    path.write_bytes(path.read_bytes()[:-1])
    with pytest.raises(ValueError, match="announces"):  # torchvision refuses them
        load_dataset("fashion-mnist", tmp_path)
    assert torchvision_reads == ["FashionMNIST"]


@pytest.mark.skipif(
    not (DEBIAN_FASHION_MNIST / "train-images-idx3-ubyte.gz").is_file(),
    reason=f"Debian package dataset-fashion-mnist not installed ({DEBIAN_FASHION_MNIST})",
)
def test_debian_fashion_mnist(tmp_path, torchvision_reads):
    """The Debian folder (flat, gzipped) is read by this module's parser, its decompressed copy in
    torchvision's layout by torchvision: the same 70000 images and labels, in the same order."""
    raw = tmp_path / "FashionMNIST" / "raw"
    raw.mkdir(parents=True)
    for packed in DEBIAN_FASHION_MNIST.glob("*-ubyte.gz"):
        (raw / packed.stem).write_bytes(gzip.decompress(packed.read_bytes()))
    for train, (n, per_class) in ((True, (60000, 6000)), (False, (10000, 1000))):
        images, labels = load_dataset("fashion-mnist", train=train)
        assert images.shape == (n, 1, 28, 28) and images.dtype == torch.uint8
        assert torch.bincount(labels).tolist() == [per_class] * 10
        assert torchvision_reads == []
        by_torchvision = load_dataset("fashion-mnist", tmp_path, train=train)
        assert torchvision_reads == ["FashionMNIST"]
        assert torch.equal(by_torchvision[0], images) and torch.equal(by_torchvision[1], labels)
        torchvision_reads.clear()


# --------------------------------------------------------------------------- CIFAR-10


@pytest.mark.parametrize("bytes_keys", [False, True])
def test_load_cifar10_round_trip(tmp_path, bytes_keys):
    written = write_cifar(tmp_path / "cifar-10-batches-py", bytes_keys=bytes_keys)
    images, labels = load_cifar10(tmp_path, train=True)
    assert images.shape == (10, 3, 32, 32) and images.dtype == torch.uint8
    assert labels.dtype == torch.int64
    data = np.concatenate([written[f"data_batch_{i}"][0] for i in range(1, 6)])
    assert np.array_equal(images.reshape(10, -1).numpy(), data)
    # channel planes, each row-major: [red 1024 | green 1024 | blue 1024]
    assert images[0, 0, 0, 1] == data[0, 1] and images[0, 1, 0, 0] == data[0, 1024]
    assert images[0, 2, 1, 0] == data[0, 2048 + 32]
    assert labels.tolist() == sum((written[f"data_batch_{i}"][1] for i in range(1, 6)), [])
    test_images, test_labels = load_cifar10(tmp_path / "cifar-10-batches-py", train=False)
    assert test_images.shape == (3, 3, 32, 32)
    assert test_labels.tolist() == written["test_batch"][1]


def test_load_cifar10_torchvision_and_own_reader_agree(tmp_path, monkeypatch, torchvision_reads):
    """With the fixture's checksums in place of the official ones, torchvision's CIFAR10 reads
    the folder; with the official ones it refuses, and this module's reader gives the same."""
    folder = tmp_path / "cifar-10-batches-py"
    write_cifar(folder, per_batch=3, test=4)
    (folder / "batches.meta").write_bytes(pickle.dumps({"label_names": [str(i) for i in range(10)]}))
    own = {train: load_cifar10(tmp_path, train=train) for train in (True, False)}
    assert torchvision_reads == []
    cifar = torchvision.datasets.cifar.CIFAR10
    for attribute in ("train_list", "test_list"):
        entries = [[name, md5(folder / name)] for name, _ in getattr(cifar, attribute)]
        monkeypatch.setattr(cifar, attribute, entries)
    monkeypatch.setattr(cifar, "meta", {**cifar.meta, "md5": md5(folder / "batches.meta")})
    for train, n in ((True, 15), (False, 4)):
        images, labels = load_cifar10(folder, train=train)  # the folder itself or its parent
        assert images.shape == (n, 3, 32, 32) and images.is_contiguous()
        assert torch.equal(images, own[train][0]) and torch.equal(labels, own[train][1])
        assert labels.dtype == torch.int64
    assert torchvision_reads == ["CIFAR10", "CIFAR10"]


def test_load_cifar10_missing_batch(tmp_path):
    write_cifar(tmp_path)
    (tmp_path / "data_batch_5").unlink()
    with pytest.raises(FileNotFoundError, match="data_batch_5"):
        load_cifar10(tmp_path)


def test_load_cifar10_refuses_arbitrary_pickled_objects(tmp_path):
    write_cifar(tmp_path)
    batch = {"data": np.zeros((1, 3072), np.uint8), "labels": [0], "x": collections.OrderedDict()}
    (tmp_path / "test_batch").write_bytes(pickle.dumps(batch, protocol=2))
    with pytest.raises(pickle.UnpicklingError, match="collections.OrderedDict"):
        load_cifar10(tmp_path, train=False)


def test_load_cifar10_rejects_wrong_shape(tmp_path):
    write_cifar(tmp_path)
    batch = {"data": np.zeros((2, 1024), np.uint8), "labels": [0, 1]}
    (tmp_path / "test_batch").write_bytes(pickle.dumps(batch))
    with pytest.raises(ValueError, match=r"\(n, 3072\)"):
        load_cifar10(tmp_path, train=False)


# --------------------------------------------------------------------------- SVHN


def test_load_svhn_round_trip_and_ten_means_zero(tmp_path):
    labels = [10, 1, 5, 10, 9]
    x = write_svhn(tmp_path / "train_32x32.mat", labels)
    images, got = load_svhn(tmp_path, split="train")
    assert images.shape == (5, 3, 32, 32) and images.dtype == torch.uint8
    assert got.dtype == torch.int64
    assert got.tolist() == [0, 1, 5, 0, 9]
    for n in range(5):
        assert np.array_equal(images[n].numpy(), x[:, :, :, n].transpose(2, 0, 1))


def test_load_svhn_subfolder_and_dispatcher(tmp_path):
    write_svhn(tmp_path / "SVHN" / "test_32x32.mat", [3, 4])
    images, labels = load_dataset("svhn", tmp_path, train=False)
    assert images.shape == (2, 3, 32, 32) and labels.tolist() == [3, 4]


def test_load_svhn_torchvision_and_own_reader_agree(tmp_path, monkeypatch, torchvision_reads):
    path = tmp_path / "svhn" / "test_32x32.mat"
    write_svhn(path, [10, 4, 1, 10, 7, 9])
    own = load_svhn(tmp_path, split="test")
    assert torchvision_reads == []
    svhn = torchvision.datasets.svhn.SVHN
    monkeypatch.setitem(svhn.split_list, "test", [*svhn.split_list["test"][:2], md5(path)])
    images, labels = load_svhn(tmp_path, split="test")
    assert torchvision_reads == ["SVHN"]
    assert images.is_contiguous() and labels.dtype == torch.int64
    assert torch.equal(images, own[0]) and torch.equal(labels, own[1])
    assert labels.tolist() == [0, 4, 1, 0, 7, 9]


def test_load_svhn_without_scipy_names_the_extra(tmp_path, monkeypatch):
    write_svhn(tmp_path / "train_32x32.mat", [1, 2])
    monkeypatch.setitem(sys.modules, "scipy.io", None)
    with pytest.raises(ImportError, match=r'load_svhn needs scipy.*pip install "torch_deepsmote\[demo\]"'):
        load_svhn(tmp_path)


def test_load_svhn_errors(tmp_path):
    with pytest.raises(ValueError, match="`split`"):
        load_svhn(tmp_path, split="valid")
    with pytest.raises(FileNotFoundError, match="extra_32x32.mat"):
        load_svhn(tmp_path, split="extra")
    write_svhn(tmp_path / "train_32x32.mat", [0, 3])
    with pytest.raises(ValueError, match="1..10"):
        load_svhn(tmp_path)


# --------------------------------------------------------------------------- dispatcher


def test_load_dataset_errors(tmp_path):
    with pytest.raises(ValueError, match=r"`name` must be one of .*'fashion-mnist'.*'svhn'"):
        load_dataset("cifar100", tmp_path)
    with pytest.raises(ValueError, match="`root` is required"):
        load_dataset("cifar10")
    with pytest.raises(ValueError, match="`train`"):
        load_dataset("digits", train=False)
    with pytest.raises(TypeError, match="`train`"):
        load_dataset("mnist", tmp_path, train="yes")


def test_load_dataset_digits_and_cifar(tmp_path):
    images, labels = load_dataset("digits")
    assert images.shape == (1797, 1, 8, 8)
    write_cifar(tmp_path)
    assert load_dataset("cifar10", tmp_path, train=False)[0].shape == (3, 3, 32, 32)


def test_load_cifar10_reads_numpy1_pickles(tmp_path):
    """The released files name ``numpy.core.multiarray``, not numpy 2's ``numpy._core``."""
    data = np.arange(2 * 3072).astype(np.uint8).reshape(2, 3072)
    raw = pickle.dumps({"data": data, "labels": [1, 2]}, protocol=2)
    raw = raw.replace(b"numpy._core.multiarray", b"numpy.core.multiarray")
    assert b"numpy.core.multiarray" in raw
    (tmp_path / "test_batch").write_bytes(raw)
    images, labels = load_cifar10(tmp_path, train=False)
    assert np.array_equal(images.reshape(2, -1).numpy(), data) and labels.tolist() == [1, 2]


# --------------------------------------------------------------------------- CelebA

# The real file's attribute order (alphabetical), shortened: the hair columns are not in
# class order, so a loader reading the wrong columns gets wrong labels.
CELEBA_HEADER = ["5_o_Clock_Shadow", "Bald", "Bangs", "Black_Hair", "Blond_Hair", "Brown_Hair", "Gray_Hair", "Male"]
# name, hair attributes set to 1, partition, (width, height), image mode
CELEBA_FIXTURE = [
    ("000001.jpg", ["Black_Hair"], 0, (18, 22), "RGB"),
    ("000002.png", ["Brown_Hair"], 0, (40, 30), "L"),  # landscape, greyscale
    ("000003.jpg", ["Blond_Hair"], 2, (32, 32), "RGB"),
    ("000004.jpg", ["Gray_Hair", "Male"], 0, (17, 24), "RGB"),  # odd margin: 7 rows
    ("000005.png", ["Bald", "Male"], 0, (36, 44), "RGBA"),
    ("000006.jpg", [], 0, (18, 22), "RGB"),  # no hair colour: dropped
    ("000007.jpg", ["Bald", "Gray_Hair"], 0, (18, 22), "RGB"),  # two: dropped
    ("000008.jpg", ["Black_Hair"], 1, (18, 22), "RGB"),  # valid partition
    ("000009.png", ["Blond_Hair", "Bangs"], 0, (20, 30), "RGB"),
    ("000010.jpg", ["Gray_Hair"], 2, (50, 40), "RGB"),
]


def write_celeba(folder: Path, *, nested: bool = False) -> Path:
    """CelebA's three entries in ``folder``; returns the image folder."""
    images = folder / "img_align_celeba"
    if nested:
        images = images / "img_align_celeba"
    images.mkdir(parents=True)
    rng = np.random.default_rng(3)
    attr = [str(len(CELEBA_FIXTURE)), " ".join(CELEBA_HEADER)]
    partition = []
    for name, hair, part, (width, height), mode in CELEBA_FIXTURE:
        pixels = rng.integers(0, 256, size=(height, width, 3), dtype=np.uint8)
        Image.fromarray(pixels).convert(mode).save(images / name)
        values = ["1" if column in hair else "-1" for column in CELEBA_HEADER]
        attr.append(f"{name} " + " ".join(f"{v:>2}" for v in values))  # aligned like the real file
        partition.append(f"{name} {part}")
    (folder / "list_attr_celeba.txt").write_text("\n".join(attr) + "\n")
    (folder / "list_eval_partition.txt").write_text("\n".join(partition) + "\n")
    return images


def torchvision_pipeline(path: Path) -> np.ndarray:
    """The usual CelebA preprocessing, written with torchvision: crop the central square, resize."""
    from torchvision import transforms

    image = Image.open(path).convert("RGB")
    crop, resize = transforms.CenterCrop(min(image.size)), transforms.Resize((32, 32))
    pipeline = transforms.Compose([crop, resize])
    return np.asarray(pipeline(image)).transpose(2, 0, 1)


def test_celeba_classes_are_the_papers_hair_colours():
    assert CELEBA_HAIR_ATTRIBUTES == ("Black_Hair", "Brown_Hair", "Blond_Hair", "Gray_Hair", "Bald")
    assert CELEBA_HAIR_COLOURS == ("black", "brown", "blond", "gray", "bald")
    assert len(CELEBA_TRAIN_PROFILE) == len(CELEBA_HAIR_ATTRIBUTES)


def test_load_celeba_labels_partitions_and_drop_rule(tmp_path):
    image_folder = write_celeba(tmp_path / "celeba")  # torchvision's layout
    images, labels = load_celeba(tmp_path, "train", progress=False)
    assert images.shape == (5, 3, 32, 32) and images.dtype == torch.uint8
    assert labels.dtype == torch.int64
    # 000001 black, 000002 brown, 000004 gray, 000005 bald, 000009 blond; 6 and 7 dropped
    assert labels.tolist() == [0, 1, 3, 4, 2]
    expected = [
        torchvision_pipeline(image_folder / f"00000{i}.{ext}")
        for i, ext in [(1, "jpg"), (2, "png"), (4, "jpg"), (5, "png"), (9, "png")]
    ]
    assert np.array_equal(images.numpy(), np.stack(expected))
    test_images, test_labels = load_celeba(tmp_path, "test", progress=False)
    assert test_labels.tolist() == [2, 3] and test_images.shape == (2, 3, 32, 32)
    assert np.array_equal(test_images[1].numpy(), torchvision_pipeline(image_folder / "000010.jpg"))
    assert load_celeba(tmp_path, "valid", progress=False)[1].tolist() == [0]
    assert load_celeba(tmp_path, "all", progress=False)[1].tolist() == [0, 1, 2, 3, 4, 0, 2, 3]


def test_load_celeba_torchvision_and_own_lists_agree(tmp_path, monkeypatch, torchvision_reads):
    """With the fixture's checksums in place of the official ones, torchvision's CelebA reads the
    lists of a ``celeba`` folder; without them this module's reader does: same images, labels."""
    folder = tmp_path / "celeba"
    write_celeba(folder)
    names = [name for name, *_ in CELEBA_FIXTURE]
    (folder / "identity_CelebA.txt").write_text("".join(f"{name} {i}\n" for i, name in enumerate(names)))
    (folder / "list_bbox_celeba.txt").write_text(
        f"{len(names)}\nimage_id x_1 y_1 width height\n" + "".join(f"{name} 1 2 3 4\n" for name in names)
    )
    landmarks = " ".join(
        [
            "lefteye_x",
            "lefteye_y",
            "righteye_x",
            "righteye_y",
            "nose_x",
            "nose_y",
            "leftmouth_x",
            "leftmouth_y",
            "rightmouth_x",
            "rightmouth_y",
        ]
    )
    (folder / "list_landmarks_align_celeba.txt").write_text(
        f"{len(names)}\n{landmarks}\n" + "".join(f"{name} {' '.join(['5'] * 10)}\n" for name in names)
    )
    splits = ("train", "valid", "test", "all")
    own = {split: load_celeba(tmp_path, split, progress=False) for split in splits}
    assert torchvision_reads == []
    celeba = torchvision.datasets.celeba.CelebA
    file_list = [
        (file_id, md5(folder / name) if (folder / name).is_file() else checksum, name)
        for file_id, checksum, name in celeba.file_list
    ]
    monkeypatch.setattr(celeba, "file_list", file_list)
    for split in splits:
        images, labels = load_celeba(tmp_path, split, progress=False)
        assert torch.equal(images, own[split][0]) and torch.equal(labels, own[split][1])
    # torchvision cannot select a split of one image (it iterates over a 0-d tensor): the
    # fixture's "valid" split is read by this module's reader
    assert torchvision_reads == ["CelebA", "CelebA", "CelebA"]
    assert own["train"][1].tolist() == [0, 1, 3, 4, 2]


def test_load_celeba_crops_the_central_square(tmp_path):
    write_celeba(tmp_path)
    # 20 x 30 portrait: rows 0-4 red and 25-29 blue lie outside the central 20 x 20 square
    pixels = np.zeros((30, 20, 3), dtype=np.uint8)
    pixels[:5] = (255, 0, 0)
    pixels[5:25] = (0, 200, 0)
    pixels[25:] = (0, 0, 255)
    Image.fromarray(pixels).save(tmp_path / "img_align_celeba" / "000009.png")
    images, labels = load_celeba(tmp_path, progress=False)
    assert labels[4] == 2
    assert (images[4, 0] == 0).all() and (images[4, 1] == 200).all() and (images[4, 2] == 0).all()


def test_load_celeba_plain_and_nested_folders_and_dispatcher(tmp_path):
    write_celeba(tmp_path / "plain")
    write_celeba(tmp_path / "nested", nested=True)  # the zip unpacked into its own name
    plain = load_celeba(tmp_path / "plain", "test", progress=False)
    nested = load_celeba(tmp_path / "nested", "test", progress=False)
    through_dispatcher = load_dataset("celeba", tmp_path / "plain", train=False)
    for images, labels in (nested, through_dispatcher):
        assert torch.equal(images, plain[0]) and torch.equal(labels, plain[1])
    assert load_dataset("celeba", tmp_path / "nested", train=True)[1].tolist() == [0, 1, 3, 4, 2]


def test_load_celeba_missing_files_name_root_and_expected_files(tmp_path):
    with pytest.raises(FileNotFoundError) as info:
        load_celeba(tmp_path)
    message = str(info.value)
    assert "`root`" in message and str(tmp_path / "celeba") in message
    for name in ("img_align_celeba/", "list_attr_celeba.txt", "list_eval_partition.txt"):
        assert name in message
    image_folder = write_celeba(tmp_path)
    (tmp_path / "list_eval_partition.txt").unlink()
    with pytest.raises(FileNotFoundError, match=r"lacks \['list_eval_partition.txt'\]"):
        load_celeba(tmp_path)
    write_celeba(tmp_path / "celeba")
    (image_folder / "000007.jpg").unlink()  # a dropped image is not needed
    (tmp_path / "celeba" / "img_align_celeba" / "000007.jpg").unlink()
    assert load_celeba(tmp_path, progress=False)[1].tolist() == [0, 1, 3, 4, 2]
    (tmp_path / "celeba" / "img_align_celeba" / "000004.jpg").unlink()
    with pytest.raises(FileNotFoundError, match=r"1 CelebA image.*'train'.*000004.jpg"):
        load_celeba(tmp_path, progress=False)
    with pytest.raises(ValueError, match="`root` is required for 'celeba'"):
        load_dataset("celeba")


def test_load_celeba_rejects_malformed_lists(tmp_path):
    write_celeba(tmp_path)
    attr = tmp_path / "list_attr_celeba.txt"
    partition = tmp_path / "list_eval_partition.txt"
    good_attr, good_partition = attr.read_text(), partition.read_text()
    assert "000003.jpg -1 -1 -1 -1  1 -1" in good_attr  # Blond_Hair is the 5th column
    attr.write_text(good_attr.replace("000003.jpg -1 -1 -1 -1  1", "000003.jpg -1 -1 -1 -1  0"))
    with pytest.raises(ValueError, match="line 5: expected a file name and 8 values of 1 or -1"):
        load_celeba(tmp_path)
    attr.write_text(good_attr.replace("Gray_Hair", "Grey_Hair"))
    with pytest.raises(ValueError, match=r"lacks the attribute\(s\) \['Gray_Hair'\]"):
        load_celeba(tmp_path)
    attr.write_text("11" + good_attr[2:])
    with pytest.raises(ValueError, match="announces 11 images but lists 10"):
        load_celeba(tmp_path)
    attr.write_text(good_attr)
    partition.write_text(good_partition.replace("000004.jpg 0", "000004.jpg 3"))
    with pytest.raises(ValueError, match="line 4: expected 'file name' and 0, 1 or 2"):
        load_celeba(tmp_path)
    partition.write_text(good_partition + "000011.jpg 0\n")
    with pytest.raises(ValueError, match=r"1 image\(s\) .* not in .*\['000011.jpg'\]"):
        load_celeba(tmp_path)
    partition.write_text(good_partition)
    (tmp_path / "img_align_celeba" / "000001.jpg").write_bytes(b"not a jpeg")
    with pytest.raises(ValueError, match="000001.jpg cannot be read as an image"):
        load_celeba(tmp_path, progress=False)
    with pytest.raises(ValueError, match="`split`"):
        load_celeba(tmp_path, "validation")


def test_load_celeba_cache_is_reused_and_invalidated(tmp_path, monkeypatch):
    image_folder = write_celeba(tmp_path / "data")
    cache = tmp_path / "cache"
    images, labels = load_celeba(tmp_path / "data", cache_dir=cache, progress=False)
    files = list(cache.iterdir())
    assert len(files) == 1 and files[0].name.startswith("celeba-train-32x32-")

    def no_decoding(path):
        raise AssertionError(f"decoded {path} although the cache holds it")

    monkeypatch.setattr(_celeba, "_celeba_image", no_decoding)
    again, again_labels = load_dataset("celeba", tmp_path / "data", cache_dir=cache)
    assert torch.equal(again, images) and torch.equal(again_labels, labels)
    # an entry whose labels differ from the lists' is not trusted
    entry = torch.load(files[0], weights_only=True)
    torch.save({**entry, "labels": entry["labels"].flip(0)}, files[0])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(AssertionError, match="decoded"):
            load_celeba(tmp_path / "data", cache_dir=cache, progress=False)
    assert any("unusable CelebA cache file" in str(w.message) for w in caught)
    torch.save(entry, files[0])
    # touching an image (same bytes, new time) is a new key
    os.utime(image_folder / "000002.png", ns=(5, 5))
    with pytest.raises(AssertionError, match="decoded .*000001.jpg"):
        load_celeba(tmp_path / "data", cache_dir=cache, progress=False)
    monkeypatch.undo()

    # a changed image (new size and time) is a new key: decoded anew, into a second file
    Image.new("RGB", (18, 22), (9, 99, 199)).save(image_folder / "000001.jpg")
    os.utime(image_folder / "000001.jpg", ns=(1, 1))
    changed, _ = load_celeba(tmp_path / "data", cache_dir=cache, progress=False)
    assert not torch.equal(changed[0], images[0]) and torch.equal(changed[1:], images[1:])
    assert len(list(cache.iterdir())) == 2

    # a corrupt cache file is reported and replaced
    newest = max(cache.iterdir(), key=lambda path: path.stat().st_mtime_ns)
    newest.write_bytes(newest.read_bytes()[:100])
    with pytest.warns(UserWarning, match="unusable CelebA cache file"):
        rebuilt, _ = load_celeba(tmp_path / "data", cache_dir=cache, progress=False)
    assert torch.equal(rebuilt, changed)
    assert torch.equal(load_celeba(tmp_path / "data", cache_dir=cache, progress=False)[0], changed)
    with pytest.raises(ValueError, match="`cache_dir` is for 'celeba' only"):
        load_dataset("cifar10", tmp_path, cache_dir=cache)
