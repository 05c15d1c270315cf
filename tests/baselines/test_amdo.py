"""Tests of the AMDO baseline: contract, budget, seeds and the ellipsoid property."""

from __future__ import annotations

import pytest
import torch

from tests.conftest import blob_images
from torch_deepsmote.baselines.amdo import (
    AMDO,
    ellipsoid_points,
    partial_balance_counts,
    same_class_neighbour_counts,
    seed_weights,
    squared_mahalanobis,
)
from torch_deepsmote.evaluation.datasets import CIFAR10_TRAIN_PROFILE, MNIST_TRAIN_PROFILE

COUNTS = [30, 10, 4]


def test_partial_budget_on_the_paper_counts() -> None:
    mnist = [4000, 2000, 2000, 1500, 1500, 1400, 1200, 1200, 1200, 1200]
    cifar = [4500, 2000, 2000, 1600, 1800, 1500, 1600, 1500, 1350, 1360]
    assert partial_balance_counts(MNIST_TRAIN_PROFILE) == mnist
    assert partial_balance_counts(CIFAR10_TRAIN_PROFILE) == cifar
    assert partial_balance_counts([7]) == [7]
    assert partial_balance_counts([3, 2]) == [3, 4]  # share 2/5 equals u = 2/5: still grows


@pytest.mark.parametrize("sampling", ["full", "partial"])
def test_contract_uint8(sampling: str) -> None:
    images, labels = blob_images(COUNTS)
    X_res, y_res = AMDO(sampling=sampling, random_state=0).fit_resample(images, labels)
    expected = [30] * 3 if sampling == "full" else partial_balance_counts(COUNTS)
    assert expected != COUNTS
    assert X_res.dtype == torch.uint8 and y_res.dtype == torch.int64
    assert X_res.shape == (sum(expected), 1, 8, 8)
    assert torch.equal(X_res[: len(images)], images) and torch.equal(y_res[: len(labels)], labels)
    assert torch.bincount(y_res).tolist() == expected
    new_labels = y_res[len(labels) :]
    assert torch.equal(new_labels, new_labels.sort().values)  # grouped by class, ascending
    assert not any(bool((X_res[len(images) :] == img).all(dim=(1, 2, 3)).any()) for img in images)


def test_float_input_keeps_dtype_and_range() -> None:
    images, labels = blob_images(COUNTS)
    floats = images.float().numpy() / 255.0
    X_res, y_res = AMDO(random_state=1).fit_resample(floats, labels.numpy())
    assert X_res.dtype == torch.float32
    assert torch.equal(X_res[: len(images)], torch.as_tensor(floats))
    assert float(X_res.min()) >= 0.0 and float(X_res.max()) <= 1.0
    assert torch.bincount(y_res).tolist() == [30, 30, 30]


def test_reproducible_with_the_same_seed_only() -> None:
    images, labels = blob_images(COUNTS)
    first = AMDO(random_state=3).fit_resample(images, labels)[0]
    again = AMDO(random_state=torch.Generator().manual_seed(3)).fit_resample(images, labels)[0]
    other = AMDO(random_state=4).fit_resample(images, labels)[0]
    assert torch.equal(first, again)
    assert not torch.equal(first, other)


def test_ellipsoid_points_lie_on_the_seed_ellipsoid() -> None:
    generator = torch.Generator().manual_seed(0)
    seeds = torch.randn(200, 7, dtype=torch.float64, generator=generator)
    variances = torch.rand(7, dtype=torch.float64, generator=generator) + 0.01
    points = ellipsoid_points(seeds, variances, generator)
    alpha = squared_mahalanobis(seeds, variances)
    ratio = (points.square() / (alpha[:, None] * variances)).sum(dim=1)
    torch.testing.assert_close(ratio, torch.ones(200, dtype=torch.float64))
    assert bool((points < 0).any()) and bool((points > 0).any())  # random signs
    assert not torch.allclose(points.abs(), seeds.abs())  # a new point, not the seed
    zero = ellipsoid_points(torch.zeros(3, 7, dtype=torch.float64), variances, generator)
    assert torch.equal(zero, torch.zeros(3, 7, dtype=torch.float64))


def test_synthetic_items_are_on_their_seeds_ellipsoid_end_to_end() -> None:
    generator = torch.Generator().manual_seed(5)
    centres = torch.tensor([0.3, 0.5, 0.7], dtype=torch.float64)
    labels = torch.tensor([0] * 40 + [1] * 15 + [2] * 12)
    noise = torch.randn(67, 1, 4, 4, generator=generator, dtype=torch.float64)
    images = centres[labels].reshape(-1, 1, 1, 1) + 0.01 * noise
    model = AMDO(random_state=0)
    X_res, y_res = model.fit_resample(images, labels)
    synthetic, new_labels = X_res[67:].reshape(-1, 16), y_res[67:]
    assert 0.0 < float(synthetic.min()) and float(synthetic.max()) < 1.0  # no clipping happened
    for cls in (1, 2):
        space, mask = model.spaces_[cls], new_labels == cls
        assert 0 < space.variances.numel() < 16
        points = synthetic[mask]
        coords = space.project(points)
        torch.testing.assert_close(space.reconstruct(coords), points)  # inside the kept PC span
        seeds = images.reshape(-1, 16)[model.seed_indices_[mask]]
        assert bool((labels[model.seed_indices_[mask]] == cls).all())
        alpha = squared_mahalanobis(space.project(seeds), space.variances)
        ratio = (coords.square() / (alpha[:, None] * space.variances)).sum(dim=1)
        torch.testing.assert_close(ratio, torch.ones_like(ratio))


def test_neighbour_counts_match_brute_force() -> None:
    generator = torch.Generator().manual_seed(2)
    points = torch.randn(50, 6, generator=generator)
    labels = torch.randint(0, 3, (50,), generator=generator)
    queries = torch.tensor([0, 7, 13, 49])
    dist = torch.cdist(points, points)
    dist.fill_diagonal_(float("inf"))
    nearest = dist.topk(10, largest=False).indices[queries]
    expected = (labels[nearest] == labels[queries, None]).sum(dim=1)
    assert torch.equal(same_class_neighbour_counts(points, labels, queries, 10), expected)


def test_seed_weights_and_fallbacks() -> None:
    weights = seed_weights(torch.tensor([10, 5, 4, 0]), k1=5, k2=10)
    torch.testing.assert_close(weights, torch.tensor([10, 5, 0, 0], dtype=torch.float64) / 15)
    fallback = seed_weights(torch.tensor([2, 0, 1]), k1=5, k2=10)
    torch.testing.assert_close(fallback, torch.tensor([2, 0, 1], dtype=torch.float64) / 3)
    uniform = seed_weights(torch.tensor([0, 0]), k1=5, k2=10)
    torch.testing.assert_close(uniform, torch.tensor([0.5, 0.5], dtype=torch.float64))


def test_seeds_skip_members_surrounded_by_another_class() -> None:
    images, labels = blob_images([30, 12])
    images[30:32] = images[:2]  # two class-1 members placed inside class 0
    model = AMDO(random_state=0)
    model.fit_resample(images, labels)
    assert set(model.seed_indices_.tolist()) <= set(range(32, 42))
    assert len(set(model.seed_indices_.tolist())) > 3


def test_single_member_class_repeats_itself_with_a_warning() -> None:
    images, labels = blob_images([20, 1])
    with pytest.warns(RuntimeWarning, match="class 1"):
        X_res, y_res = AMDO(random_state=0).fit_resample(images, labels)
    assert torch.bincount(y_res).tolist() == [20, 20]
    assert bool((X_res[21:] == images[20]).all())


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"k1": 11}, ValueError, "k1"),
        ({"k2": 0}, ValueError, "k2"),
        ({"k1": 2.5}, TypeError, "k1"),
        ({"sampling": "balanced"}, ValueError, "sampling"),
        ({"variance_floor": -1.0}, ValueError, "variance_floor"),
        ({"progress": 1}, TypeError, "progress"),
    ],
)
def test_bad_parameters_are_named(kwargs: dict, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        AMDO(**kwargs)
