"""GAMO: the resampling contract, convexity of every synthetic image, and the three-player training."""

from __future__ import annotations

import copy

import pytest
import torch

from tests.conftest import blob_images
from torch_deepsmote.baselines.gamo import GAMO

COUNTS = [30, 10, 4]
FAST = dict(latent_dim=8, steps=6, batch_size=8, device="cpu")


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """The nets are tiny: one thread avoids OpenMP contention on a shared CPU."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def data() -> tuple[torch.Tensor, torch.Tensor]:
    return blob_images(COUNTS)


@pytest.fixture(scope="module")
def fitted(data):
    model = GAMO(random_state=0, **FAST)
    return model, *model.fit_resample(*data)


def test_contract_originals_first_counts_and_dtype(data, fitted):
    X, y = data
    model, X_res, y_res = fitted
    assert X_res.dtype == torch.uint8 and y_res.dtype == torch.int64
    assert torch.equal(X_res[: len(X)], X) and torch.equal(y_res[: len(y)], y)
    assert torch.bincount(y_res).tolist() == [30, 30, 30]
    assert torch.equal(y_res[len(y) :], torch.tensor([1] * 20 + [2] * 26))
    assert model.n_synthetic_ == {0: 0, 1: 20, 2: 26}
    assert all(torch.isfinite(torch.tensor(list(record.values()))).all() for record in model.history_)
    assert model.history_[-1]["steps"] == FAST["steps"]


def test_float_input_stays_float_in_unit_range(data):
    X, y = data
    X_float = X.double() / 255.0
    X_res, _ = GAMO(random_state=1, **FAST).fit_resample(X_float.numpy(), y.numpy())
    assert X_res.dtype == torch.float64
    assert torch.equal(X_res[: len(X)], X_float)
    assert 0.0 <= float(X_res.min()) and float(X_res.max()) <= 1.0


@pytest.mark.parametrize("as_float", [False, True])
def test_every_synthetic_image_is_a_convex_combination_of_its_class(data, as_float):
    X, y = data
    X_in = X.float() / 255.0 if as_float else X
    model = GAMO(random_state=2, **FAST)
    X_res, y_res = model.fit_resample(X_in, y)
    tolerance = 1e-5 if as_float else 0.5 / 255 + 1e-5  # uint8 output is rounded
    checked = 0
    for label, weights in model.sample_weights_.items():
        members = model.class_indices_[label]
        assert torch.equal(members, torch.nonzero(y == label).flatten())
        assert weights.shape == (model.n_synthetic_[label], len(members))
        assert bool((weights >= 0).all())
        torch.testing.assert_close(weights.sum(1), torch.ones(len(weights)), atol=1e-5, rtol=0)
        new = X_res[len(y) :][y_res[len(y) :] == label].flatten(1).double()
        new = new if as_float else new / 255.0
        mixed = weights.double() @ (X[members].flatten(1).double() / 255.0)
        assert float((new - mixed).abs().max()) <= tolerance
        # not a copy of one image: the weights really mix several class members
        assert float(weights.max()) < 1.0
        checked += 1
    assert checked == 2


def test_same_seed_same_output_other_seed_differs(data, fitted):
    _, X_first, y_first = fitted
    X_again, y_again = GAMO(random_state=0, **FAST).fit_resample(*data)
    X_other, _ = GAMO(random_state=3, **FAST).fit_resample(*data)
    assert torch.equal(X_first, X_again) and torch.equal(y_first, y_again)
    assert not torch.equal(X_first, X_other)


def test_training_updates_all_three_players(data):
    untrained = GAMO(**{**FAST, "steps": 0}, random_state=4).fit(*data)
    trained = GAMO(**{**FAST, "steps": 3}, random_state=4).fit(*data)
    assert untrained.history_ == []
    for name in ("classifier_", "discriminator_", "generator_"):
        before = dict(getattr(untrained, name).named_parameters())
        after = dict(getattr(trained, name).named_parameters())
        assert before.keys() == after.keys()
        for key, value in after.items():
            assert not torch.equal(before[key], value), f"{name}{key} was not updated"
    assert set(dict(trained.generator_.heads.named_children())) == {"0", "1"}  # the two minority ranks


def test_generator_updates_leave_classifier_and_discriminator_frozen(data):
    model = GAMO(**{**FAST, "steps": 1}, random_state=5).fit(*data)
    for net in (model.generator_, model.classifier_, model.discriminator_):
        net.train()
    frozen = [copy.deepcopy(model.classifier_.state_dict()), copy.deepcopy(model.discriminator_.state_dict())]
    generator_before = copy.deepcopy(model.generator_.state_dict())
    optimizer = torch.optim.Adam(model.generator_.parameters(), lr=1e-2)
    model.classifier_.requires_grad_(False)
    model.discriminator_.requires_grad_(False)
    losses = model._train_generator(optimizer, torch.Generator().manual_seed(0), torch.device("cpu"))
    assert losses.shape == (2,) and bool(torch.isfinite(losses).all())
    for net, state in zip((model.classifier_, model.discriminator_), frozen):
        assert all(torch.equal(state[k], v) for k, v in net.state_dict().items())
    changed = [k for k, v in model.generator_.state_dict().items() if not torch.equal(generator_before[k], v)]
    assert any(k.startswith("trunk.") for k in changed)
    assert {"heads.0.weight", "heads.1.weight"} <= set(changed)


def test_classes_ranked_by_ascending_size_with_sparse_labels():
    X, y = blob_images([4, 30, 10])
    y = torch.tensor([7, 2, 5])[y]  # sizes: 7 → 4, 2 → 30, 5 → 10
    model = GAMO(random_state=6, **{**FAST, "steps": 2})
    X_res, y_res = model.fit_resample(X, y)
    assert model.ranks_ == {7: 0, 5: 1, 2: 2}
    assert model.n_synthetic_ == {2: 0, 5: 20, 7: 26}
    assert torch.equal(y_res[len(y) :], torch.tensor([5] * 20 + [7] * 26))
    assert sorted(model.sample_weights_) == [5, 7]


def test_balanced_input_adds_nothing(data):
    X, y = blob_images([6, 6])
    X_res, y_res = GAMO(random_state=0, **{**FAST, "steps": 2}).fit_resample(X, y)
    assert torch.equal(X_res, X) and torch.equal(y_res, y)


@pytest.mark.parametrize(
    "options, error, match",
    [
        ({"steps": -1}, ValueError, "steps"),
        ({"batch_size": 0}, ValueError, "batch_size"),
        ({"latent_dim": "100"}, TypeError, "latent_dim"),
        ({"lr": 0.0}, ValueError, "lr"),
        ({"beta1": 1.0}, ValueError, "beta1"),
        ({"random_state": -3}, ValueError, "random_state"),
    ],
)
def test_bad_parameters_are_named(data, options, error, match):
    with pytest.raises(error, match=match):
        GAMO(**{**FAST, **options}).fit_resample(*data)
