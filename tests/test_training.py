import pytest
import torch

from torch_deepsmote import ConvAutoencoder, fit_autoencoder
from torch_deepsmote.nn.ranges import to_network_range
from torch_deepsmote.nn.training import same_class_derangement


def _model(seed=0):
    return ConvAutoencoder((1, 8, 8), latent_dim=16, width=8, generator=torch.Generator().manual_seed(seed))


def _weights(model):
    return torch.cat([p.detach().flatten().cpu() for p in model.parameters()])


@pytest.fixture
def digits():
    """A 600-image slice of scikit-learn's digits, scaled to [-1, 1]."""
    from sklearn.datasets import load_digits

    data = load_digits()
    images = torch.tensor(data.images[:600], dtype=torch.float32).div(16).unsqueeze(1)
    return to_network_range(images), torch.tensor(data.target[:600])


def test_derangement_pairs_same_class_and_never_self():
    labels = torch.tensor([0, 1, 0, 2, 1, 1, 0, 3, 3])
    items, partners = same_class_derangement(labels, torch.Generator().manual_seed(0))
    assert torch.equal(labels[items], labels[partners])
    assert bool((items != partners).all())
    # classes 2 (one member) sits out; all others take part exactly once each way
    assert sorted(items.tolist()) == [0, 1, 2, 4, 5, 6, 7, 8]
    assert sorted(partners.tolist()) == sorted(items.tolist())


@pytest.mark.parametrize("penalty", ["paper", "official", "none"])
def test_loss_decreases_on_digits(digits, penalty, device):
    images, labels = digits
    history = fit_autoencoder(
        _model(),
        images,
        labels,
        epochs=4,
        batch_size=50,
        penalty=penalty,
        device=device,
        random_state=0,
        progress=False,
    )
    assert [r["epoch"] for r in history] == [0, 1, 2, 3]
    assert history[-1]["reconstruction"] < 0.6 * history[0]["reconstruction"]
    if penalty == "none":
        assert all(r["penalty"] == 0.0 for r in history)
    else:
        assert history[-1]["penalty"] < history[0]["penalty"]
        assert history[-1]["loss"] == pytest.approx(history[-1]["reconstruction"] + history[-1]["penalty"])


def test_penalties_train_different_models(digits, device):
    images, labels = digits
    trained = {}
    for penalty in ("paper", "official", "none"):
        model = _model()
        fit_autoencoder(model, images, labels, epochs=1, penalty=penalty, device=device, random_state=0, progress=False)
        trained[penalty] = _weights(model)
    assert not torch.allclose(trained["paper"], trained["official"])
    assert not torch.allclose(trained["paper"], trained["none"])
    assert not torch.allclose(trained["official"], trained["none"])


def test_same_seed_same_weights(digits):
    images, labels = digits
    runs = []
    for seed in (0, 0, 1):
        model = _model()
        fit_autoencoder(model, images[:200], labels[:200], epochs=1, random_state=seed, progress=False)
        runs.append(_weights(model))
    assert torch.equal(runs[0], runs[1])
    assert not torch.equal(runs[0], runs[2])


def test_callback_sees_every_epoch_and_can_stop(digits):
    images, labels = digits
    seen = []

    def stop_after_two(record):
        seen.append(record["epoch"])
        return record["epoch"] == 1

    history = fit_autoencoder(
        _model(), images[:200], labels[:200], epochs=5, random_state=0, progress=False, callback=stop_after_two
    )
    assert seen == [0, 1] and len(history) == 2


def test_zero_epochs_leaves_weights_alone(digits):
    images, labels = digits
    model = _model()
    before = _weights(model)
    assert fit_autoencoder(model, images, labels, epochs=0, progress=False) == []
    assert torch.equal(before, _weights(model))


def test_penalty_weight_scales_the_loss(digits):
    images, labels = digits
    history = fit_autoencoder(
        _model(),
        images[:200],
        labels[:200],
        epochs=1,
        penalty="paper",
        penalty_weight=2.5,
        random_state=0,
        progress=False,
    )
    record = history[0]
    assert record["penalty"] > 0
    assert record["loss"] == pytest.approx(record["reconstruction"] + 2.5 * record["penalty"])


def test_defaults_match_the_default_recipe():
    import inspect

    from torch_deepsmote import RECIPES

    defaults = inspect.signature(fit_autoencoder).parameters
    recipe = RECIPES["borrowed-variations"]
    assert (
        (defaults["lr"].default, defaults["penalty"].default, defaults["penalty_weight"].default)
        == (recipe.lr, recipe.penalty, recipe.penalty_weight)
        == (1e-3, "none", 1.0)
    )


def test_single_leftover_image_joins_the_previous_batch(digits):
    images, labels = digits
    history = fit_autoencoder(
        _model(), images[:101], labels[:101], epochs=1, batch_size=50, random_state=0, progress=False
    )
    assert len(history) == 1


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"epochs": -1}, ValueError, "epochs"),
        ({"epochs": 1.5}, TypeError, "epochs"),
        ({"batch_size": 0}, ValueError, "batch_size"),
        ({"penalty": "strong"}, ValueError, "penalty"),
        ({"penalty_weight": -1.0}, ValueError, "penalty_weight"),
        ({"lr": 0.0}, ValueError, "lr"),
    ],
)
def test_bad_arguments(digits, kwargs, error, match):
    images, labels = digits
    options = {"epochs": 1, "progress": False} | kwargs
    with pytest.raises(error, match=match):
        fit_autoencoder(_model(), images, labels, **options)
