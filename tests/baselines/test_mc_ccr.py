"""MC-CCR: the baseline contract, the L1 spheres, cleaning, and the shared multi-class scheme."""

from __future__ import annotations

import pytest
import torch

from tests.conftest import blob_images
from torch_deepsmote.baselines._multiclass import StepResult, class_order, resample_multiclass
from torch_deepsmote.baselines.mc_ccr import (
    MCCCR,
    ccr_binary,
    median_gap,
    sphere_radii,
    sphere_samples,
    translations,
)

COUNTS = [30, 10, 4]


@pytest.fixture
def data() -> tuple[torch.Tensor, torch.Tensor]:
    return blob_images(COUNTS)


def _l1(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return (a.double() - b.double()).abs().sum(dim=-1)


# ----------------------------------------------------------------------------- contract


@pytest.mark.parametrize("cleaning", ["translate", "remove", "ignore"])
def test_layout_counts_and_dtype_uint8(data, cleaning):
    X, y = data
    kept = MCCCR(energy=15.0, cleaning=cleaning, random_state=0)
    X_res, y_res = kept.fit_resample(X, y)
    n_kept = len(kept.sample_indices_)
    assert X_res.dtype == torch.uint8 and y_res.dtype == torch.int64
    assert X_res.shape[1:] == X.shape[1:]
    assert torch.equal(y_res[:n_kept], y[kept.sample_indices_])
    synthetic = y_res[n_kept:]
    assert torch.equal(synthetic, synthetic.sort().values)  # grouped, ascending class
    assert {c: int((synthetic == c).sum()) for c in range(3)} == kept.n_synthetic_
    if cleaning != "remove":
        assert n_kept == len(X)
        assert torch.bincount(y_res).tolist() == [30, 30, 30]  # exact balance
        assert kept.n_synthetic_ == {0: 0, 1: 20, 2: 26}


def test_originals_unchanged_without_cleaning(data):
    X, y = data
    X_res, _ = MCCCR(energy=15.0, cleaning="ignore", random_state=0).fit_resample(X, y)
    assert torch.equal(X_res[: len(X)], X)


def test_translate_moves_only_larger_classes_and_keeps_the_rest(data):
    X, y = data
    model = MCCCR(energy=15.0, random_state=0)
    X_res, _ = model.fit_resample(X, y)
    moved = model.translated_
    assert moved.any(), "energy 15 on these blobs should reach some majority points"
    assert not moved[y == 2].any()  # the smallest class is never anyone's majority
    assert torch.equal(X_res[: len(X)][~moved], X[~moved])
    assert (X_res[: len(X)][moved] != X[moved]).flatten(1).any(dim=1).all()


def test_remove_deletes_originals_and_reports_them(data):
    X, y = data
    model = MCCCR(energy=15.0, cleaning="remove", random_state=0)
    X_res, y_res = model.fit_resample(X, y)
    kept = model.sample_indices_
    assert len(kept) < len(X)
    assert torch.equal(X_res[: len(kept)], X[kept])
    assert torch.equal(y_res[: len(kept)], y[kept])


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_float_input_keeps_dtype_range_and_exact_originals(data, dtype):
    X, y = data
    X = X.to(dtype) / 255
    model = MCCCR(energy=15.0, cleaning="ignore", random_state=1)
    X_res, _ = model.fit_resample(X.numpy(), y.numpy())
    assert X_res.dtype == dtype
    assert float(X_res.min()) >= 0.0 and float(X_res.max()) <= 1.0
    assert torch.equal(X_res[: len(X)], X)


def test_reproducible_with_seed_and_different_with_another(data):
    X, y = data
    first, _ = MCCCR(random_state=3).fit_resample(X, y)
    again, _ = MCCCR(random_state=3).fit_resample(X, y)
    other, _ = MCCCR(random_state=4).fit_resample(X, y)
    assert torch.equal(first, again)
    assert not torch.equal(first, other)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        (dict(energy=0.0), ValueError, "energy"),
        (dict(energy="big"), TypeError, "energy"),
        (dict(kappa=-1.0), ValueError, "kappa"),
        (dict(cleaning="push"), ValueError, "cleaning.*translate"),
    ],
)
def test_bad_parameters_are_named(data, kwargs, error, match):
    with pytest.raises(error, match=match):
        MCCCR(**kwargs).fit_resample(*data)


def test_default_energy_is_kappa_times_the_median_gap_to_another_class(data):
    X, y = data
    flat = X.flatten(1).float() / 255
    distances = torch.cdist(flat, flat, p=1)
    distances[y[:, None] == y[None]] = float("inf")
    gap = float(distances.min(dim=1).values.median())  # every item queried: 44 < 500
    model = MCCCR(kappa=0.5, random_state=0)
    model.fit_resample(X, y)
    assert model.energy_ == pytest.approx(0.5 * gap, rel=1e-5)
    assert median_gap(flat, y, torch.Generator().manual_seed(0)) == pytest.approx(gap, rel=1e-5)
    fixed = MCCCR(energy=7.0, random_state=0)
    fixed.fit_resample(X, y)
    assert fixed.energy_ == 7.0


def test_single_class_input_comes_back_unchanged(data):
    X, y = data
    model = MCCCR(random_state=0)
    X_res, y_res = model.fit_resample(X[y == 0], y[y == 0])
    assert torch.equal(X_res, X[y == 0]) and model.energy_ is None and model.n_synthetic_ == {0: 0}


# ----------------------------------------------------------------------------- binary core


def test_sphere_radius_spends_the_energy_as_described():
    # Majority points at L1 distances 1 and 2: reaching 1 costs 1, the next unit costs 2 each.
    distances = torch.tensor([[2.0, 1.0], [2.0, 1.0], [2.0, 1.0], [0.0, 5.0]])
    radii = sphere_radii(distances, energy=2.5)
    assert radii[0].item() == pytest.approx(1.75)  # 1 + (2.5 - 1) / 2
    assert sphere_radii(distances[:1], 0.5).item() == pytest.approx(0.5)
    assert sphere_radii(distances[:1], 10.0).item() == pytest.approx(2 + (10 - 3) / 3)
    assert radii[3].item() == pytest.approx(2.5 / 2)  # a coincident point costs nothing to reach
    assert sphere_radii(torch.empty(2, 0), 4.0).tolist() == [4.0, 4.0]


def test_synthetic_points_lie_inside_their_seeds_l1_ball():
    g = torch.Generator().manual_seed(0)
    minority = torch.rand(12, 20, generator=g, dtype=torch.float64)
    majority = torch.rand(40, 20, generator=g, dtype=torch.float64)
    result = ccr_binary(minority, majority, 500, energy=3.0, generator=g)
    assert len(result.synthetic) == 500
    gap = _l1(result.synthetic, minority[result.seeds])
    assert bool((gap <= result.radii[result.seeds] + 1e-9).all())
    assert float((gap / result.radii[result.seeds]).max()) > 0.9  # they do fill the ball
    assert bool((result.radii > 0).all()) and bool((result.radii <= 3.0).all())


def test_translated_majority_points_end_on_the_sphere_surface():
    g = torch.Generator().manual_seed(1)
    # Two far-apart minority points (disjoint spheres), majority scattered around both.
    minority = torch.stack([torch.zeros(10), torch.full((10,), 10.0)]).double()
    noise = torch.rand(2, 15, 10, generator=g, dtype=torch.float64) - 0.5
    majority = torch.cat([centre + noise[i] for i, centre in enumerate(minority)])
    result = ccr_binary(minority, majority, 4, energy=4.0, generator=g)
    centre = minority[(torch.arange(30) >= 15).long()]
    radius = result.radii[(torch.arange(30) >= 15).long()]
    before, after = _l1(majority, centre), _l1(result.majority, centre)
    inside = before < radius
    assert inside.any() and (~inside).any()
    assert torch.allclose(after[inside], radius[inside])
    assert torch.equal(result.majority[~inside], majority[~inside])
    # pushed radially: the direction from the centre is unchanged
    direction = (result.majority - centre)[inside] / after[inside, None]
    assert torch.allclose(direction, (majority - centre)[inside] / before[inside, None])
    assert torch.equal(result.kept, ~inside)


def test_overlapping_spheres_add_their_pushes():
    g = torch.Generator().manual_seed(2)
    minority = torch.rand(5, 6, generator=g, dtype=torch.float64)
    majority = torch.rand(20, 6, generator=g, dtype=torch.float64)
    distances = torch.cdist(minority, majority, p=1)
    radii = sphere_radii(distances, 2.0)
    expected = torch.zeros_like(majority)
    for i in range(5):
        for j in range(20):
            if 0 < distances[i, j] < radii[i]:
                push = (radii[i] - distances[i, j]) / distances[i, j]
                expected[j] += push * (majority[j] - minority[i])
    assert expected.abs().sum() > 0
    assert torch.allclose(translations(minority, majority, distances, radii), expected)


def test_seed_shares_follow_inverse_radius_and_total_is_exact():
    g = torch.Generator().manual_seed(0)
    minority = torch.zeros(2, 3)
    _, seeds = sphere_samples(minority, torch.tensor([1.0, 2.0], dtype=torch.float64), 30, g)
    assert torch.bincount(seeds).tolist() == [20, 10]
    equal = torch.ones(3, dtype=torch.float64)
    for n_new in (2, 4, 7):  # rounding gives 3, 3, 6: trimmed or topped up at random
        points, seeds = sphere_samples(torch.zeros(3, 3), equal, n_new, g)
        assert len(points) == len(seeds) == n_new


# ----------------------------------------------------------------------------- multi-class scheme


def test_class_order_sorts_by_size_then_label():
    assert class_order(torch.tensor([2, 2, 0, 1, 1, 3, 3, 3])) == [3, 1, 2, 0]


def test_scheme_draws_floor_n_max_over_i_minus_1_and_writes_back():
    X, y = blob_images([30, 10, 4, 4])
    seen = []

    def step(minority, majority, n_new, generator):
        seen.append((len(minority), len(majority), n_new))
        new = minority[:1].repeat(n_new, 1)
        return StepResult(synthetic=new, majority=torch.ones_like(majority))

    g = torch.Generator().manual_seed(0)
    out = resample_multiclass(X, y, step, replace=False, generator=g)
    # class 1 vs 30 of class 0; class 2 vs 15 of 0 and 1; class 3 vs 10 of 0, 1, 2
    assert seen == [(10, 30, 20), (4, 30, 26), (4, 30, 26)]
    assert bool(out.modified[y == 0].all())  # all 30 drawn once, written back as 1.0
    assert not out.modified[y == 3].any()
    assert bool((out.X[: len(X)][y == 0] == 255).all())
    assert torch.bincount(out.y).tolist() == [30, 30, 30, 30]
    assert torch.equal(out.sample_indices, torch.arange(len(X)))
