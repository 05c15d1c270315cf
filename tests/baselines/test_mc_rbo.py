"""MC-RBO: the baseline contract, the potential-guided walk and its incremental distances."""

from __future__ import annotations

import pytest
import torch

from tests.conftest import blob_images
from torch_deepsmote.baselines import mc_rbo
from torch_deepsmote.baselines.mc_rbo import (
    MCRBO,
    neighbour_tables,
    rbo_potential,
    rbo_step,
    rbo_walk,
)

COUNTS = [30, 10, 4]
FAST = dict(gamma=8.0, step_size=0.1, n_steps=40)  # the 8×8 blobs are ~8-25 apart in L1


@pytest.fixture
def data() -> tuple[torch.Tensor, torch.Tensor]:
    return blob_images(COUNTS)


def _potential(points, pool, neighbours, own, gamma) -> torch.Tensor:
    """Φ recomputed from scratch (no incremental distances)."""
    distances = (points.double()[:, None] - pool.double()[neighbours]).abs().sum(dim=-1)
    return rbo_potential(distances, own, gamma)


def _problem(seed: int = 0, n: int = 64, k: int = 6, d: int = 5):
    """Random points in [0, 1]^d with neighbours in a pool, half of them 'own'."""
    g = torch.Generator().manual_seed(seed)
    pool = torch.rand(40, d, generator=g, dtype=torch.float64)
    points = torch.rand(n, d, generator=g, dtype=torch.float64)
    neighbours = torch.stack([torch.randperm(40, generator=g)[:k] for _ in range(n)])
    own = neighbours < 20
    distances = (points[:, None] - pool[neighbours]).abs().sum(dim=-1)
    return g, pool, points, neighbours, own, distances


# ----------------------------------------------------------------------------- contract


@pytest.mark.parametrize("dtype", [torch.uint8, torch.float32, torch.float64])
def test_layout_counts_dtype_and_unchanged_originals(data, dtype):
    X, y = data
    if dtype != torch.uint8:
        X = X.to(dtype) / 255
    model = MCRBO(random_state=0, **FAST)
    X_res, y_res = model.fit_resample(X, y)
    assert X_res.dtype == dtype and y_res.dtype == torch.int64
    assert torch.equal(X_res[: len(X)], X) and torch.equal(y_res[: len(X)], y)
    assert torch.bincount(y_res).tolist() == [30, 30, 30]
    assert y_res[len(X) :].tolist() == [1] * 20 + [2] * 26
    assert model.n_synthetic_ == {0: 0, 1: 20, 2: 26}
    assert torch.equal(model.sample_indices_, torch.arange(len(X)))
    if dtype != torch.uint8:
        assert float(X_res.min()) >= 0.0 and float(X_res.max()) <= 1.0


def test_new_points_move_away_from_their_seeds(data):
    X, y = data
    X = X.double() / 255
    X_res, y_res = MCRBO(random_state=0, **FAST).fit_resample(X, y)
    new = X_res[len(X) :].flatten(1)
    members = X[y == 1].flatten(1)
    gap = torch.cdist(new[y_res[len(X) :] == 1], members, p=1).min(dim=1).values
    assert float(gap.max()) > 0.1  # the walk did something
    assert float(gap.max()) <= FAST["n_steps"] * FAST["step_size"] + 1e-9  # at most the budget


def test_thread_count_is_restored_after_the_walk(data):
    before = torch.get_num_threads()
    MCRBO(random_state=0, **FAST).fit_resample(*data)
    assert torch.get_num_threads() == before


def test_reproducible_with_seed_and_different_with_another(data):
    X, y = data
    first, _ = MCRBO(random_state=5, **FAST).fit_resample(X, y)
    again, _ = MCRBO(random_state=5, **FAST).fit_resample(X, y)
    other, _ = MCRBO(random_state=6, **FAST).fit_resample(X, y)
    assert torch.equal(first, again)
    assert not torch.equal(first, other)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        (dict(gamma=0.0), ValueError, "gamma"),
        (dict(step_size=-1.0), ValueError, "step_size"),
        (dict(n_steps=2.5), TypeError, "n_steps"),
        (dict(k_neighbors=0), ValueError, "k_neighbors"),
        (dict(criterion="descend"), ValueError, "criterion.*balance"),
    ],
)
def test_bad_parameters_are_named(data, kwargs, error, match):
    with pytest.raises(error, match=match):
        MCRBO(**kwargs).fit_resample(*data)


# ----------------------------------------------------------------------------- the walk


def test_accepted_moves_never_increase_abs_potential():
    g, pool, points, neighbours, own, distances = _problem()
    pixels = torch.randint(points.shape[1], (len(points),), generator=g)
    signs = torch.randint(0, 2, (len(points),), generator=g) * 2 - 1
    rows = torch.arange(len(points))
    out = rbo_step(
        points[rows, pixels],
        pool[neighbours, pixels[:, None]],
        distances,
        own,
        signs,
        step_size=0.2,
        gamma=0.8,
    )
    accepted = out.accepted
    moved = points.clone()
    moved[rows, pixels] = out.values
    before = _potential(points, pool, neighbours, own, 0.8).abs()
    after = _potential(moved, pool, neighbours, own, 0.8).abs()
    assert accepted.any() and (~accepted).any()
    assert bool((after[accepted] < before[accepted]).all())
    assert torch.equal(moved[~accepted], points[~accepted])
    # the incremental update equals a recomputation, and so does the potential it returns
    assert torch.allclose(out.distances, (moved[:, None] - pool[neighbours]).abs().sum(dim=-1))
    assert torch.allclose(out.potential.abs(), after)
    # and every rejected move would not have lowered |Φ|
    proposed = points.clone()
    proposed[rows, pixels] = (points[rows, pixels] + 0.2 * signs).clamp(0, 1)
    would = _potential(proposed, pool, neighbours, own, 0.8).abs()
    assert bool((would[~accepted] >= before[~accepted] - 1e-12).all())


def test_step_is_pure_and_never_leaves_the_unit_interval():
    g, pool, points, neighbours, own, distances = _problem(seed=1)
    values = torch.tensor([0.0, 1.0, 0.99, 0.01]).double()
    signs = torch.tensor([-1, 1, 1, -1])
    copies = values.clone(), distances[:4].clone()
    out = rbo_step(values, pool[neighbours[:4], 0], distances[:4], own[:4], signs, step_size=0.5, gamma=1.0)
    assert torch.equal(values, copies[0]) and torch.equal(distances[:4], copies[1])
    assert bool(((out.values >= 0) & (out.values <= 1)).all())
    assert not out.accepted[:2].any()  # clipping left them where they were: rejected
    # a known potential is used as given, not recomputed
    given = torch.full((4,), 100.0, dtype=torch.float64)
    forced = rbo_step(
        values,
        pool[neighbours[:4], 0],
        distances[:4],
        own[:4],
        signs,
        step_size=0.5,
        gamma=1.0,
        potential=given,
    )
    assert bool(forced.accepted[2:].all())  # any real move beats |Φ| = 100


@pytest.mark.parametrize("criterion", ["balance", "minimize", "maximize"])
@pytest.mark.parametrize("block_points", [None, 10])
def test_walk_lowers_the_criterion_for_every_point_and_stays_in_range(criterion, block_points, monkeypatch):
    g, pool, points, neighbours, own, distances = _problem(seed=2)
    if block_points:  # several blocks: 64 points in blocks of 10
        monkeypatch.setattr(mc_rbo, "_BLOCK_BYTES", block_points * 5 * 6 * 8)
    walked = rbo_walk(
        points,
        pool,
        neighbours,
        own,
        distances,
        n_steps=60,
        step_size=0.3,
        gamma=0.8,
        criterion=criterion,
        generator=g,
    )
    before = _potential(points, pool, neighbours, own, 0.8)
    after = _potential(walked, pool, neighbours, own, 0.8)
    score = {"balance": torch.abs, "minimize": lambda p: p, "maximize": lambda p: -p}[criterion]
    assert bool((score(after) <= score(before) + 1e-9).all())
    assert bool((score(after) < score(before)).any())
    assert float(walked.min()) >= 0.0 and float(walked.max()) <= 1.0


def test_neighbour_tables_include_the_seed_itself():
    g = torch.Generator().manual_seed(3)
    pool = torch.rand(30, 7, generator=g)
    indices, distances = neighbour_tables(pool[:10], pool, 25)
    assert indices.shape == (10, 25)
    assert torch.equal(indices[:, 0], torch.arange(10)) and bool((distances[:, 0] == 0).all())
    assert bool((distances[:, 1:] >= distances[:, :-1]).all())
    assert neighbour_tables(pool[:2], pool[:3], 25)[0].shape == (2, 3)  # k capped at the pool
