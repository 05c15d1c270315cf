import dataclasses
import inspect
import warnings
from collections import Counter

import numpy as np
import pytest
import torch

from tests.conftest import blob_images
from torch_deepsmote import RECIPES, DeepSMOTE, Recipe
from torch_deepsmote.latent.smote import SmoteDraw, draw_smote, interpolate
from torch_deepsmote.latent.variations import nearest_classes


def _fast(**kwargs):
    options = dict(latent_dim=8, width=4, epochs=1, batch_size=16, random_state=0, progress=False)
    return DeepSMOTE(**(options | kwargs))


def _counts(labels):
    return dict(sorted(Counter(labels.tolist()).items()))


def _latents(sampler, code, draw):
    """The latents of ``draw`` (what the 0.x ``latents_for`` returned)."""
    return interpolate(sampler.index_.latents[code], draw, sampler.index_.variations)


def _weights(model):
    return {name: value.clone() for name, value in model.state_dict().items()}


@pytest.mark.parametrize(
    "strategy, expected",
    [
        ("auto", {0: 30, 1: 30, 2: 30}),
        ("not majority", {0: 30, 1: 30, 2: 30}),
        ("all", {0: 30, 1: 30, 2: 30}),
        ("minority", {0: 30, 1: 12, 2: 30}),
        ("not minority", {0: 30, 1: 30, 2: 6}),
        ({1: 20, 2: 9}, {0: 30, 1: 20, 2: 9}),
        (lambda y: {2: 10}, {0: 30, 1: 12, 2: 10}),
    ],
)
def test_counts_follow_every_strategy_form(tiny_images, strategy, expected, device):
    images, labels = tiny_images
    sampler = _fast(sampling_strategy=strategy, device=device)
    new_images, new_labels = sampler.fit_resample(images, labels)
    assert _counts(new_labels) == expected
    assert new_images.shape == (sum(expected.values()), 1, 8, 8)
    assert torch.equal(new_images[: len(images)], images)
    assert torch.equal(new_labels[: len(labels)], labels)
    added = {c: expected[c] - n for c, n in _counts(labels).items() if expected[c] > n}
    assert {c: n for c, n in sampler.sampling_strategy_.items() if n} == added


def test_float_strategy_for_two_classes():
    images, labels = blob_images([40, 10])
    _, new_labels = _fast(sampling_strategy=0.5).fit_resample(images, labels)
    assert _counts(new_labels) == {0: 40, 1: 20}


def test_uint8_round_trip(tiny_images):
    images, labels = tiny_images
    new_images, _ = _fast().fit_resample(images, labels)
    assert new_images.dtype == torch.uint8


def test_float_round_trip_stays_in_unit_range(tiny_images):
    images, labels = tiny_images
    as_float = images.float() / 255
    new_images, _ = _fast().fit_resample(as_float, labels)
    assert new_images.dtype == torch.float32
    assert float(new_images.min()) >= 0.0 and float(new_images.max()) <= 1.0
    float64, _ = _fast().fit_resample(as_float.double(), labels)
    assert float64.dtype == torch.float64


def test_numpy_input_is_accepted(tiny_images):
    images, labels = tiny_images
    new_images, new_labels = _fast().fit_resample(images.numpy(), labels.numpy())
    assert _counts(new_labels) == {0: 30, 1: 30, 2: 30}


def test_same_seed_same_images_different_seed_different(tiny_images):
    images, labels = tiny_images
    first, _ = _fast(random_state=7).fit_resample(images, labels)
    second, _ = _fast(random_state=7).fit_resample(images, labels)
    third, _ = _fast(random_state=8).fit_resample(images, labels)
    assert torch.equal(first, second)
    assert not torch.equal(first, third)


def test_sample_repeats_unless_given_a_new_state(tiny_images):
    images, labels = tiny_images
    sampler = _fast().fit(images, labels)
    first, first_labels = sampler.sample()
    again, _ = sampler.sample()
    other, _ = sampler.sample(random_state=123)
    assert torch.equal(first, again)
    assert not torch.equal(first, other)
    assert _counts(first_labels) == {1: 18, 2: 24}


def test_sample_is_the_index_rendering_its_draws(tiny_images):
    images, labels = tiny_images
    sampler = _fast().fit(images, labels)
    generator = torch.Generator().manual_seed(sampler.sample_seed_)
    strategy = sampler.sampling_strategy_
    draws = {c: sampler.index_.draw(c, n, generator, sampler.recipe_) for c, n in strategy.items() if n}
    new_images, new_labels = sampler.sample()
    assert torch.equal(new_images, sampler.index_.render(draws, sampler.recipe_))
    assert new_labels.tolist() == [1] * 18 + [2] * 24


def test_synthetic_latents_lie_between_same_class_neighbours(tiny_images):
    images, labels = tiny_images
    sampler = _fast(k_neighbors=3, recipe="interpolation").fit(images, labels)
    draw = sampler.index_.draw(2, 40, torch.Generator().manual_seed(0), sampler.recipe_)
    latents = sampler.index_.latents[2]
    new = _latents(sampler, 2, draw)
    assert not bool(draw.strength.any())  # the interpolation recipe borrows nothing
    for i in range(40):
        base, neighbor = int(draw.base[i]), int(draw.neighbor[i])
        assert neighbor in sampler.index_.neighbors[2][base].tolist() and neighbor != base
        expected = latents[base] + draw.gap[i] * (latents[neighbor] - latents[base])
        assert torch.allclose(new[i], expected, atol=1e-5)


def test_fitted_attributes(tiny_images):
    images, labels = tiny_images
    sampler = _fast(epochs=2, k_neighbors=4).fit(images, labels)
    assert sampler.classes_ == [0, 1, 2] and all(type(c) is int for c in sampler.classes_)
    assert len(sampler.history_) == 2
    assert sampler.image_shape_ == (1, 8, 8)
    assert sampler.dtype_ == torch.uint8
    assert sampler.recipe_ == RECIPES["borrowed-variations"] == Recipe()
    assert isinstance(sampler.sample_seed_, int)
    index = sampler.index_
    assert set(index.latents) == set(index.neighbors) == set(index.residuals) == {1, 2}
    assert index.latents[1].shape == (12, 8)
    assert index.neighbors[2].shape == (6, 4)
    assert index.residuals[2].shape == (6, 1, 8, 8)
    assert index.class_means.shape == (3, 8)
    assert index.variations.shape == (48 * 4, 8) and index.variation_sources.shape == (48 * 4,)
    assert index.k_neighbors == 4
    assert index.autoencoder is sampler.autoencoder_ and not sampler.autoencoder_.training
    for removed in (
        "latents_",
        "neighbors_",
        "residuals_",
        "variations_",
        "variation_sources_",
        "class_means_",
        "indexed_k_",
        "encode",
        "decode",
        "draw",
        "render_draws",
        "latents_for",
    ):
        assert not hasattr(sampler, removed), removed


def test_tiny_classes_shrink_k_and_duplicate_singletons():
    images, labels = blob_images([20, 3, 1])
    sampler = _fast(k_neighbors=5, recipe="interpolation")
    with pytest.warns(UserWarning) as record:
        new_images, new_labels = sampler.fit_resample(images, labels)
    messages = " ".join(str(w.message) for w in record)
    assert "using k=2" in messages and "single image" in messages
    assert sampler.index_.neighbors[1].shape == (3, 2)
    synthetic = new_labels[len(labels) :] == 2
    singles = new_images[len(labels) :][synthetic]
    assert len(singles) == 19 and bool((singles == singles[0]).all())


def test_no_class_of_two_images_leaves_no_variation_to_borrow():
    images, labels = blob_images([1, 1])
    sampler = _fast(sampling_strategy={0: 3, 1: 3})
    with pytest.warns(UserWarning, match="single image"):
        sampler.fit(images, labels)
    assert sampler.index_.variations.shape == (0, 8)
    no_pair = r"from classes \[0, 1\] .* none of which has two images: set `variation_transfer=0`"
    with pytest.raises(ValueError, match=no_pair):
        sampler.sample()
    with pytest.warns(UserWarning, match="single image"):
        sampler.set_params(recipe=Recipe(variation_transfer=0.0)).reindex(images, labels)
    new_images, new_labels = sampler.sample()
    assert new_labels.tolist() == [0, 0, 1, 1] and bool((new_images[0] == new_images[1]).all())


def test_a_class_borrows_from_itself_and_its_nearest_classes():
    images, labels = blob_images([30, 20, 10, 1])
    with pytest.warns(UserWarning, match="single image"):
        sampler = _fast(recipe=Recipe(variation_classes=2)).fit(images, labels)
    index = sampler.index_
    assert index.class_means.shape == (4, 8)
    assert sorted(set(index.variation_sources.tolist())) == [0, 1, 2]  # a class of one image lends nothing
    codes = torch.arange(4)
    for code in (1, 2):
        lenders = nearest_classes(codes, index.class_means, code, 2)
        draw = index.draw(code, 200, torch.Generator().manual_seed(0), sampler.recipe_)
        sources = index.variation_sources[draw.variation]
        assert lenders[0] == code and set(sources.tolist()) == set(lenders.tolist()) - {3}
    with pytest.raises(ValueError, match=r"class 3 borrows from classes \[3\] .* raise `variation_classes` or set"):
        index.draw(3, 5, torch.Generator(), Recipe(variation_classes=1))
    every = index.draw(3, 500, torch.Generator().manual_seed(0), Recipe(variation_classes=None))
    assert set(index.variation_sources[every.variation].tolist()) == {0, 1, 2}


def test_borrowing_from_every_class_draws_as_one_pool_does():
    images, labels = blob_images([30, 20, 10])
    sampler = _fast(recipe=Recipe(variation_classes=None)).fit(images, labels)
    made = sampler.index_.draw(2, 50, torch.Generator().manual_seed(3), sampler.recipe_)
    plain = draw_smote(
        sampler.index_.neighbors[2],
        50,
        torch.Generator().manual_seed(3),
        copy_fraction=1.0,
        n_variations=len(sampler.index_.variations),
        variation_transfer=1.0,
    )
    assert all(torch.equal(a, b) for a, b in zip(made, plain))


def test_reindex_recomputes_the_tables_without_training(tiny_images):
    images, labels = tiny_images
    sampler = _fast(k_neighbors=4).fit(images, labels)
    weights = _weights(sampler.autoencoder_)
    sampler.set_params(k_neighbors=2, sampling_strategy={1: 20, 2: 20}).reindex(images, labels)
    assert all(torch.equal(weights[name], value) for name, value in sampler.autoencoder_.state_dict().items())
    fresh = _fast(k_neighbors=2, sampling_strategy={1: 20, 2: 20}).fit(images, labels)
    assert dict(sampler.sampling_strategy_) == dict(fresh.sampling_strategy_) == {1: 8, 2: 14}
    assert sampler.index_.k_neighbors == 2
    assert all(torch.equal(sampler.index_.neighbors[c], fresh.index_.neighbors[c]) for c in (1, 2))
    assert torch.equal(sampler.index_.variations, fresh.index_.variations)
    assert all(torch.equal(a, b) for a, b in zip(sampler.sample(), fresh.sample()))


def test_reindex_needs_a_fitted_model_and_its_kind_of_data(tiny_images):
    images, labels = tiny_images
    with pytest.raises(RuntimeError, match="fit"):
        _fast().reindex(images, labels)
    sampler = _fast().fit(images, labels)
    with pytest.raises(ValueError, match=r"classes \[0, 1, 2\], got .* and \[0, 1\]"):
        sampler.reindex(images[labels < 2], labels[labels < 2])
    with pytest.raises(ValueError, match=r"images of shape \(1, 8, 8\)"):
        sampler.reindex(images[:, :, :4, :4], labels)


def test_autoencoder_given_is_copied_not_trained_in_place(tiny_images):
    from torch_deepsmote import ConvAutoencoder

    images, labels = tiny_images
    start = ConvAutoencoder((1, 8, 8), latent_dim=8, width=4)
    before = [p.clone() for p in start.parameters()]
    sampler = _fast(autoencoder=start).fit(images, labels)
    assert all(torch.equal(a, b) for a, b in zip(before, start.parameters()))
    assert sampler.autoencoder_ is not start
    with pytest.raises(ValueError, match="autoencoder"):
        _fast(autoencoder=ConvAutoencoder((1, 16, 16), latent_dim=8, width=4)).fit(images, labels)


def test_sample_before_fit():
    with pytest.raises(RuntimeError, match="fit"):
        DeepSMOTE().sample()


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"k_neighbors": 0}, ValueError, "k_neighbors"),
        ({"k_neighbors": True}, TypeError, "k_neighbors"),
        ({"k_neighbors": 2.0}, TypeError, "k_neighbors"),
        ({"epochs": -1}, ValueError, "epochs"),
        ({"recipe": "paperish"}, ValueError, "recipe"),
        ({"knn_backend": "faiss"}, ValueError, "knn_backend"),
        ({"sampling_strategy": "most"}, ValueError, "sampling_strategy"),
        ({"sampling_strategy": {5: 40}}, ValueError, r"sampling_strategy.* class 5"),
        ({"sampling_strategy": {1: 5}}, ValueError, r"sampling_strategy.*at least the class's own"),
        ({"sampling_strategy": 0.5}, ValueError, r"sampling_strategy.*two classes"),
        ({"sampling_strategy": None}, TypeError, "sampling_strategy"),
        ({"sampling_strategy": lambda y: "junk"}, TypeError, "callable"),
        ({"sampling_strategy": {1: -5}}, ValueError, r"sampling_strategy\[1\].*>= 0"),
        ({"autoencoder": "model.pt"}, TypeError, "autoencoder"),
    ],
)
def test_bad_parameters(tiny_images, kwargs, error, match):
    images, labels = tiny_images
    with pytest.raises(error, match=match):
        _fast(**kwargs).fit(images, labels)


@pytest.mark.parametrize(
    "name, value",
    [
        ("penalty", "paper"),
        ("penalty_weight", 1.0),
        ("lr", 2e-4),
        ("detail", "none"),
        ("max_gap", 0.5),
        ("copy_fraction", 0.0),
        ("variation_transfer", 0.0),
        ("variation_classes", None),
    ],
)
def test_removed_research_keywords_are_refused(name, value):
    with pytest.raises(TypeError, match=name):
        DeepSMOTE(**{name: value})
    with pytest.raises(ValueError, match=name):
        DeepSMOTE().set_params(**{name: value})


@pytest.mark.parametrize(
    "images, labels, error, match",
    [
        (torch.zeros(4, 8, 8, dtype=torch.uint8), [0, 0, 1, 1], ValueError, "X"),
        (torch.zeros(0, 1, 8, 8, dtype=torch.uint8), [], ValueError, "X"),
        (torch.zeros(4, 1, 8, 8, dtype=torch.int32), [0, 0, 1, 1], TypeError, "dtype"),
        (torch.full((4, 1, 8, 8), 2.0), [0, 0, 1, 1], ValueError, r"\[0, 1\]"),
        (torch.full((4, 1, 8, 8), float("nan")), [0, 0, 1, 1], ValueError, "NaN"),
        (torch.zeros(4, 1, 8, 8), [0, 0, 1], ValueError, "y"),
        (torch.zeros(4, 1, 8, 8), [0.0, float("nan"), 1.0, 1.0], TypeError, "y"),
        (torch.zeros(4, 1, 8, 8), ["a", 1, "b", 2], TypeError, r"`y`.*sorted"),
        (torch.zeros(4, 1, 8, 8), torch.zeros(2, 2, dtype=torch.long), ValueError, r"`y` must be 1-D"),
        (torch.zeros(4, 1, 8, 8), [0, 0, 0, 0], ValueError, "class"),
        (torch.zeros(4, 1, 3, 3), [0, 0, 1, 1], ValueError, "too small"),
    ],
)
def test_bad_data(images, labels, error, match):
    with pytest.raises(error, match=match):
        _fast().fit(images, labels)


def test_labels_as_numpy_ints(tiny_images):
    images, labels = tiny_images
    _, new_labels = _fast().fit_resample(images, np.asarray(labels.tolist(), dtype=np.int32))
    assert new_labels.dtype == torch.int64


def _draw_with_gap(sampler, code, gap):
    n = sampler.index_.latents[code].shape[0]
    base = torch.arange(n)
    no_variation = (torch.zeros(n, dtype=torch.long), torch.zeros(n))
    return SmoteDraw(base, sampler.index_.neighbors[code][:, 0].cpu(), torch.full((n,), float(gap)), *no_variation)


@pytest.mark.parametrize("detail", ["base", "blend"])
def test_detail_gives_the_real_image_back_at_the_segment_ends(detail):
    images, labels = blob_images([30, 12])
    sampler = _fast(recipe=Recipe(detail=detail)).fit(images, labels)
    index = sampler.index_
    members = images[labels == 1]
    start = index.render({1: _draw_with_gap(sampler, 1, 0.0)}, sampler.recipe_)
    assert (start.int() - members.int()).abs().max() <= 1  # residuals are kept in float16
    if detail == "blend":
        draw = _draw_with_gap(sampler, 1, 1.0)
        end = index.render({1: draw}, sampler.recipe_)
        assert (end.int() - members[draw.neighbor].int()).abs().max() <= 1
    plain = index.render({1: _draw_with_gap(sampler, 1, 0.0)}, Recipe(detail="none"))
    assert torch.equal(plain, index.decode(index.latents[1]))
    assert (plain.int() - members.int()).abs().max() > 1  # a 1-epoch autoencoder does not reconstruct


def test_detail_none_is_the_plain_decode(tiny_images):
    images, labels = tiny_images
    sampler = _fast(recipe=Recipe(detail="none")).fit(images, labels)
    index = sampler.index_
    new_images, new_labels = sampler.sample()
    generator = torch.Generator().manual_seed(sampler.sample_seed_)
    latents = [
        _latents(sampler, c, index.draw(c, n, generator, sampler.recipe_))
        for c, n in sampler.sampling_strategy_.items()
        if n
    ]
    assert torch.equal(new_images, index.decode(torch.cat(latents)))
    residuals = {c: r.float() for c, r in index.residuals.items()}
    assert set(residuals) == {1, 2}
    for code, residual in residuals.items():
        members = images[labels == code].float() / 127.5 - 1.0
        assert residual.dtype == torch.float32 and residual.shape == members.shape
        reconstructed = members - residual
        assert torch.allclose(reconstructed, index.decode(index.latents[code]).float() / 127.5 - 1.0, atol=2e-2)


def test_max_gap_bounds_the_gaps_and_is_validated():
    table = torch.tensor([[1], [0]])
    gaps = draw_smote(table, 2000, torch.Generator().manual_seed(0), max_gap=0.25).gap
    assert float(gaps.max()) < 0.25 and float(gaps.max()) > 0.24
    with pytest.raises(ValueError, match="max_gap"):
        draw_smote(table, 3, torch.Generator(), max_gap=0.0)
    with pytest.raises(ValueError, match=r"recipe\.max_gap"):
        Recipe(max_gap=1.5)
    images, labels = blob_images([30, 12])
    sampler = _fast(recipe=dataclasses.replace(RECIPES["interpolation"], max_gap=0.25)).fit(images, labels)
    draw = sampler.index_.draw(1, 500, torch.Generator().manual_seed(0), sampler.recipe_)
    assert float(draw.gap.max()) < 0.25 and float(draw.gap.max()) > 0.2


def test_copy_fraction_zeroes_that_share_of_the_gaps_and_is_validated():
    table = torch.tensor([[1], [0], [0]])
    plain = draw_smote(table, 200, torch.Generator().manual_seed(0))
    mixed = draw_smote(table, 200, torch.Generator().manual_seed(0), copy_fraction=0.3)
    assert int((mixed.gap == 0).sum()) == 60 and bool((mixed.gap[:60] == 0).all())
    assert torch.equal(mixed.gap[60:], plain.gap[60:]) and torch.equal(mixed.base, plain.base)
    assert int((plain.gap == 0).sum()) == 0
    with pytest.raises(ValueError, match="copy_fraction"):
        draw_smote(table, 3, torch.Generator(), copy_fraction=1.2)
    with pytest.raises(ValueError, match=r"recipe\.copy_fraction"):
        Recipe(copy_fraction=-0.1)


def test_copy_fraction_with_base_detail_adds_real_copies():
    images, labels = blob_images([30, 12])
    sampler = _fast(recipe=Recipe(copy_fraction=0.5, variation_transfer=0.0)).fit(images, labels)
    new_images, _ = sampler.sample()
    members = images[labels == 1].int()
    nearest = (new_images.int()[:, None] - members[None]).abs().flatten(2).amax(2).amin(1)
    assert len(nearest) == 18 and int(nearest[:9].max()) <= 1  # real images, up to rounding
    weights = _weights(sampler.autoencoder_)
    sampler.set_params(recipe=Recipe(copy_fraction=0.0, variation_transfer=0.0)).reindex(images, labels)
    assert sampler.recipe_.copy_fraction == 0.0
    assert all(torch.equal(weights[name], value) for name, value in sampler.autoencoder_.state_dict().items())
    interpolated, _ = sampler.sample()
    assert torch.equal(new_images[9:], interpolated[9:])  # the rest: the same SMOTE draws
    generator = torch.Generator().manual_seed(sampler.sample_seed_)
    assert bool(sampler.index_.draw(1, 18, generator, sampler.recipe_).gap.all())  # none is a copy now


def test_a_tiny_max_gap_with_base_detail_approaches_random_oversampling():
    images, labels = blob_images([30, 12])
    sampler = _fast(recipe=dataclasses.replace(RECIPES["interpolation"], max_gap=1e-6)).fit(images, labels)
    new_images, _ = sampler.sample()
    members = images[labels == 1].int()
    nearest = (new_images.int()[:, None] - members[None]).abs().flatten(2).amax(2).amin(1)
    assert int(nearest.max()) <= 1  # every synthetic image is (up to rounding) a real one


def test_variation_transfer_borrows_from_every_class_and_is_a_generation_option():
    images, labels = blob_images([30, 12, 9])
    sampler = _fast(sampling_strategy="minority", recipe="interpolation").fit(images, labels)
    index = sampler.index_
    assert index.variations.shape == (51 * 5, 8)  # every class's pairs, not the minority's alone
    plain = sampler.sample()[0]
    plain_draw = index.draw(2, 21, torch.Generator().manual_seed(1), sampler.recipe_)
    borrowing = dataclasses.replace(RECIPES["interpolation"], variation_transfer=1.0)
    borrowed_draw = index.draw(2, 21, torch.Generator().manual_seed(1), borrowing)  # no refit needed
    assert not torch.equal(_latents(sampler, 2, borrowed_draw), _latents(sampler, 2, plain_draw))
    weights, history = _weights(sampler.autoencoder_), list(sampler.history_)
    sampler.set_params(recipe=borrowing).reindex(images, labels)  # nor retraining
    assert sampler.history_ == history
    assert all(torch.equal(weights[name], value) for name, value in sampler.autoencoder_.state_dict().items())
    assert sampler.recipe_ == borrowing
    assert bool(index.draw(2, 21, torch.Generator().manual_seed(sampler.sample_seed_), sampler.recipe_).strength.all())
    assert torch.equal(sampler.sample()[0], sampler.sample()[0])
    sampler.set_params(recipe="interpolation").reindex(images, labels)
    assert torch.equal(sampler.sample()[0], plain)
    with pytest.raises(ValueError, match=r"recipe\.variation_transfer"):
        Recipe(variation_transfer=-0.5)


def test_variation_transfer_moves_each_latent_by_its_weighted_borrowed_step():
    images, labels = blob_images([30, 12])
    sampler = _fast(recipe=Recipe(variation_transfer=2.0)).fit(images, labels)
    index = sampler.index_
    draw = index.draw(1, 40, torch.Generator().manual_seed(0), sampler.recipe_)
    assert float(draw.strength.max()) < 2.0 and len(draw.strength.unique()) == 40
    moved = _latents(sampler, 1, draw)
    still = _latents(sampler, 1, draw._replace(strength=torch.zeros(40)))
    step = draw.strength.unsqueeze(1) * index.variations[draw.variation]
    torch.testing.assert_close(moved - still, step)


def test_the_default_moves_real_latents_along_borrowed_variations():
    images, labels = blob_images([30, 12])
    sampler = _fast().fit(images, labels)
    index = sampler.index_
    draw = index.draw(1, 50, torch.Generator().manual_seed(2), sampler.recipe_)
    assert not bool(draw.gap.any()) and bool((draw.strength > 0).all())
    expected = index.latents[1][draw.base] + draw.strength.unsqueeze(1) * index.variations[draw.variation]
    torch.testing.assert_close(_latents(sampler, 1, draw), expected)


# --------------------------------------------------------------------------- estimator protocol


def test_get_params_set_params_and_clone_round_trip():
    from sklearn.base import clone

    original = DeepSMOTE(k_neighbors=3, recipe="paper", epochs=2)
    copy = clone(original)
    assert copy is not original and type(copy) is DeepSMOTE
    assert copy.get_params() == original.get_params()
    assert copy.get_params()["k_neighbors"] == 3 and copy.get_params()["recipe"] == "paper"
    assert not hasattr(copy, "index_")
    with pytest.raises(RuntimeError, match="fit"):
        copy.sample()
    assert copy.set_params(epochs=4, recipe=RECIPES["interpolation"]) is copy
    assert copy.epochs == 4 and copy.recipe == RECIPES["interpolation"] and original.epochs == 2
    with pytest.raises(ValueError, match="unknown"):
        copy.set_params(unknown=1)
    assert repr(DeepSMOTE(k_neighbors=3, recipe="paper")) == "DeepSMOTE(k_neighbors=3, recipe='paper')"
    parameters = [name for name in inspect.signature(DeepSMOTE.__init__).parameters if name != "self"]
    assert len(parameters) <= 14
    assert set(DeepSMOTE().get_params()) == set(parameters)


def test_clone_of_a_fitted_estimator_is_unfitted_and_refits_alike(tiny_images):
    from sklearn.base import clone

    images, labels = tiny_images
    fitted = _fast(k_neighbors=3).fit(images, labels)
    copy = clone(fitted)
    assert not hasattr(copy, "index_") and copy.get_params() == fitted.get_params()
    assert torch.equal(copy.fit(images, labels).sample()[0], fitted.sample()[0])


# --------------------------------------------------------------------------- labels, as imbalanced-learn


def test_string_labels_come_back_as_a_numpy_array_of_their_names(tiny_images):
    images, codes = tiny_images
    names = np.array(["dog", "cat", "ant"])[codes.numpy()]  # sorted: ant (6), cat (12), dog (30)
    sampler = _fast()
    new_images, new_labels = sampler.fit_resample(images, names.tolist())
    assert isinstance(new_labels, np.ndarray) and new_labels.dtype.kind == "U"
    assert new_labels[: len(names)].tolist() == names.tolist()
    assert Counter(new_labels[len(names) :].tolist()) == {"cat": 18, "ant": 24}
    assert sampler.classes_ == ["ant", "cat", "dog"]
    assert dict(sampler.sampling_strategy_) == {"ant": 24, "cat": 18}
    assert torch.equal(new_images[: len(images)], images)
    _, sampled = sampler.sample()
    assert isinstance(sampled, np.ndarray) and sampled.tolist() == ["ant"] * 24 + ["cat"] * 18


def test_labels_that_sort_like_the_codes_make_the_same_images(tiny_images):
    images, codes = tiny_images
    reference, _ = _fast().fit_resample(images, codes)
    strings = np.array(["a", "b", "c"])[codes.numpy()]
    as_strings, string_labels = _fast().fit_resample(images, strings)
    assert torch.equal(as_strings, reference)
    gapped = torch.tensor([-2, 3, 10])[codes]
    as_gapped, gapped_labels = _fast().fit_resample(images, gapped.tolist())
    assert torch.equal(as_gapped, reference)
    assert string_labels[len(codes) :].tolist() == ["b"] * 18 + ["c"] * 24
    assert gapped_labels[len(codes) :].tolist() == [3] * 18 + [10] * 24


@pytest.mark.parametrize("as_numpy", [False, True])
def test_int_labels_with_gaps_come_back_as_their_values(as_numpy):
    images, codes = blob_images([20, 8, 6])
    values = torch.tensor([3, 10, -2])[codes]  # classes sorted: -2 (6), 3 (20), 10 (8)
    labels = values.numpy().astype(np.int64) if as_numpy else values.tolist()
    sampler = _fast()
    _, new_labels = sampler.fit_resample(images, labels)
    assert isinstance(new_labels, torch.Tensor) and new_labels.dtype == torch.int64
    assert torch.equal(new_labels[: len(values)], values)
    assert _counts(new_labels[len(values) :]) == {-2: 14, 10: 12}
    assert sampler.classes_ == [-2, 3, 10]
    assert dict(sampler.sampling_strategy_) == {-2: 14, 10: 12}
    assert set(sampler.index_.latents) == {0, 2}  # keyed by class code


def test_a_dict_strategy_names_classes_by_their_labels(tiny_images):
    images, codes = tiny_images
    names = np.array(["dog", "cat", "ant"])[codes.numpy()]
    _, new_labels = _fast(sampling_strategy={"ant": 10, "cat": 15}).fit_resample(images, names)
    assert Counter(new_labels.tolist()) == {"dog": 30, "cat": 15, "ant": 10}


@pytest.mark.parametrize("strategy", [{"zebra": 30}, {0: 30}, lambda y: {"zebra": 30}])
def test_a_strategy_naming_an_unknown_class_fails_before_training(tiny_images, monkeypatch, strategy):
    def no_training(*args, **kwargs):
        raise AssertionError("trained before checking `sampling_strategy`")

    monkeypatch.setattr("torch_deepsmote.oversampler.fit_autoencoder", no_training)
    images, codes = tiny_images
    names = np.array(["dog", "cat", "ant"])[codes.numpy()]
    with pytest.raises(ValueError, match=r"`sampling_strategy`.*'zebra'|`sampling_strategy`.* class 0"):
        _fast(sampling_strategy=strategy).fit(images, names)


# --------------------------------------------------------------------------- sampling_strategy as imbalanced-learn


LABEL_SETS = [
    [0] * 10 + [1] * 4 + [2] * 7,
    [0] * 5 + [1] * 5 + [2] * 3,  # two majorities
    [0] * 3 + [1] * 5 + [2] * 3,  # two minorities
    [7] * 4 + [-1] * 4,  # all tied
    ["b"] * 6 + ["a"] * 2 + ["c"] * 4 + ["d"] * 2,
    [10] * 3 + [3] * 9,
]


def _resolved(strategy, labels):
    from torch_deepsmote._utils.labels import LabelCoding
    from torch_deepsmote._utils.sampling_strategy import resolve_sampling_strategy

    coding = LabelCoding.fit(labels)
    return {coding.classes[code]: n for code, n in resolve_sampling_strategy(strategy, coding).items()}


def _imblearn(strategy, labels):
    from imblearn.utils import check_sampling_strategy

    resolved = check_sampling_strategy(strategy, np.asarray(labels), "over-sampling")
    return {label.item() if hasattr(label, "item") else label: int(n) for label, n in resolved.items()}


@pytest.mark.parametrize("labels", LABEL_SETS, ids=range(len(LABEL_SETS)))
@pytest.mark.parametrize("strategy", ["auto", "minority", "not minority", "not majority", "all", "callable"])
def test_sampling_strategy_agrees_with_imbalanced_learn(labels, strategy):
    if strategy == "callable":

        def strategy(y):
            values, counts = np.unique(y, return_counts=True)
            return {value: int(count) + 1 + i for i, (value, count) in enumerate(zip(values, counts)) if i != 1}

    ours = _resolved(strategy, labels)
    assert ours == _imblearn(strategy, labels)  # zero entries too: both keep them
    assert list(ours) == sorted(ours)


@pytest.mark.parametrize("labels", LABEL_SETS, ids=range(len(LABEL_SETS)))
def test_dict_strategy_agrees_with_imbalanced_learn(labels):
    counts = Counter(labels)
    classes = sorted(counts)
    wanted = {classes[-1]: counts[classes[-1]] + 3, classes[0]: counts[classes[0]]}
    assert _resolved(wanted, labels) == _imblearn(wanted, labels) == {classes[0]: 0, classes[-1]: 3}


@pytest.mark.parametrize(
    "labels", [[0] * 10 + [1] * 4, [1] * 10 + [0] * 4, ["x"] * 3 + ["y"] * 9, [5] * 6 + [2] * 6], ids=range(4)
)
@pytest.mark.parametrize("ratio", [0.35, 0.4, 0.55, 0.75, 1.0])
def test_float_strategy_agrees_with_imbalanced_learn(labels, ratio):
    counts = Counter(labels)
    minority = min(counts, key=counts.get) if len(set(counts.values())) > 1 else sorted(counts)[1]
    try:
        expected = _imblearn(ratio, labels)
    except ValueError:
        # imbalanced-learn (0.14) refuses a ratio that adds no image (n <= 0); torch_deepsmote
        # refuses one that would remove images and otherwise adds none.
        try:
            assert _resolved(ratio, labels) == {minority: 0}
        except ValueError as error:
            assert "sampling_strategy" in str(error)
        return
    assert _resolved(ratio, labels) == expected == {minority: expected[minority]}


@pytest.mark.parametrize(
    "strategy, labels, error, match",
    [
        ("most", [0, 0, 1], ValueError, "sampling_strategy"),
        ({2: 5}, [0, 0, 1], ValueError, r"`sampling_strategy`.*class 2"),
        ({"z": 5}, ["a", "a", "b"], ValueError, r"`sampling_strategy`.*'z'"),
        ({0: 1}, [0, 0, 1], ValueError, "sampling_strategy"),
        ({1: -1}, [0, 0, 1], ValueError, "sampling_strategy"),
        ({1: 2.5}, [0, 0, 1], TypeError, "sampling_strategy"),
        (0.5, [0, 0, 1, 2], ValueError, "sampling_strategy"),
        (0.0, [0, 0, 1], ValueError, "sampling_strategy"),
        (1.5, [0, 0, 1], ValueError, "sampling_strategy"),
        (0.2, [0] * 10 + [1] * 4, ValueError, "sampling_strategy"),
        (lambda y: [1, 2], [0, 0, 1], TypeError, "sampling_strategy"),
        (None, [0, 0, 1], TypeError, "sampling_strategy"),
        ([0, 1], [0, 0, 1], TypeError, "sampling_strategy"),
    ],
)
def test_bad_sampling_strategies_are_named(strategy, labels, error, match):
    with pytest.raises(error, match=match):
        _resolved(strategy, labels)


# --------------------------------------------------------------------------- warnings


def test_small_class_warnings_point_at_the_caller():
    images, labels = blob_images([20, 3])
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        _fast(k_neighbors=5).fit(images, labels)
    small = [w for w in record if "k_neighbors=5" in str(w.message)]
    assert len(small) == 1 and small[0].category is UserWarning
    assert small[0].filename == __file__
    with pytest.warns(UserWarning, match="using k=2") as caught:
        _fast(k_neighbors=5).fit_resample(images, labels)
    assert all(w.filename == __file__ for w in caught if "k_neighbors" in str(w.message))


# --------------------------------------------------------------------------- recipes


@pytest.mark.parametrize(
    "field, value, error",
    [
        ("penalty", "strong", ValueError),
        ("penalty_weight", -1.0, ValueError),
        ("lr", 0.0, ValueError),
        ("detail", "sharp", ValueError),
        ("max_gap", 0, ValueError),
        ("max_gap", 1.5, ValueError),
        ("copy_fraction", 1.2, ValueError),
        ("variation_transfer", -0.5, ValueError),
        ("variation_classes", 0, ValueError),
        ("variation_classes", 2.0, TypeError),
    ],
)
def test_bad_recipe_fields_are_named(field, value, error):
    with pytest.raises(error, match=rf"`recipe\.{field}`"):
        Recipe(**{field: value})


def test_an_unknown_recipe_fails_at_fit_listing_the_presets(tiny_images):
    images, labels = tiny_images
    sampler = DeepSMOTE(recipe="nope")  # accepted until fit, as every parameter
    with pytest.raises(ValueError, match="`recipe`") as info:
        sampler.fit(images, labels)
    assert all(repr(name) in str(info.value) for name in RECIPES)
    assert "'nope'" in str(info.value)
    with pytest.raises(ValueError, match="`recipe`"):
        _fast(recipe={"max_gap": 0.5}).fit(images, labels)


def test_recipe_presets_are_frozen_recipes():
    assert set(RECIPES) == {"borrowed-variations", "interpolation", "paper", "paper-code"}
    assert all(isinstance(recipe, Recipe) for recipe in RECIPES.values())
    with pytest.raises(dataclasses.FrozenInstanceError):
        RECIPES["paper"].max_gap = 0.5
    with pytest.raises(TypeError):
        RECIPES["mine"] = Recipe()
    assert RECIPES["borrowed-variations"] == Recipe()
    assert RECIPES["interpolation"] == Recipe(copy_fraction=0.0, variation_transfer=0.0)
    assert RECIPES["paper"] == dataclasses.replace(RECIPES["interpolation"], penalty="paper", lr=2e-4, detail="none")
    assert RECIPES["paper-code"] == dataclasses.replace(RECIPES["paper"], penalty="official")
    assert DeepSMOTE().recipe == "borrowed-variations"


def test_a_recipe_sets_the_training_objective(tiny_images):
    images, labels = tiny_images
    sampler = _fast(recipe="paper").fit(images, labels)
    assert sampler.recipe_ is RECIPES["paper"]
    assert sampler.history_[0]["penalty"] > 0
    assert _fast().fit(images, labels).history_[0]["penalty"] == 0.0
    config = _fast(recipe="paper").model_config()
    assert (config["lr"], config["penalty"], config["penalty_weight"]) == (2e-4, "paper", 1.0)
    # generation knobs do not key the trained model
    assert _fast(recipe="interpolation").model_config() == _fast(recipe="borrowed-variations").model_config()
