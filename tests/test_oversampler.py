from collections import Counter

import numpy as np
import pytest
import torch

from torch_deepsmote import INTERPOLATION_SETTINGS, DeepSMOTE
from torch_deepsmote.latent.smote import draw_smote
from torch_deepsmote.latent.variations import nearest_classes
from tests.conftest import blob_images


def _fast(**kwargs):
    options = dict(latent_dim=8, width=4, epochs=1, batch_size=16, random_state=0, progress=False)
    return DeepSMOTE(**(options | kwargs))


def _counts(labels):
    return dict(sorted(Counter(labels.tolist()).items()))


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


def test_synthetic_latents_lie_between_same_class_neighbours(tiny_images):
    images, labels = tiny_images
    sampler = _fast(k_neighbors=3, **INTERPOLATION_SETTINGS).fit(images, labels)
    draw = sampler.draw(2, 40, torch.Generator().manual_seed(0))
    latents = sampler.latents_[2]
    new = sampler.latents_for(2, draw)
    for i in range(40):
        base, neighbor = int(draw.base[i]), int(draw.neighbor[i])
        assert neighbor in sampler.neighbors_[2][base].tolist() and neighbor != base
        expected = latents[base] + draw.gap[i] * (latents[neighbor] - latents[base])
        assert torch.allclose(new[i], expected, atol=1e-5)


def test_fitted_attributes(tiny_images):
    images, labels = tiny_images
    sampler = _fast(epochs=2, k_neighbors=4).fit(images, labels)
    assert sampler.classes_.tolist() == [0, 1, 2]
    assert len(sampler.history_) == 2
    assert sampler.image_shape_ == (1, 8, 8)
    assert set(sampler.latents_) == {1, 2}
    assert sampler.latents_[1].shape == (12, 8)
    assert sampler.neighbors_[2].shape == (6, 4)
    assert not sampler.autoencoder_.training


def test_tiny_classes_shrink_k_and_duplicate_singletons():
    images, labels = blob_images([20, 3, 1])
    sampler = _fast(k_neighbors=5, **INTERPOLATION_SETTINGS)
    with pytest.warns(UserWarning) as record:
        new_images, new_labels = sampler.fit_resample(images, labels)
    messages = " ".join(str(w.message) for w in record)
    assert "using k=2" in messages and "single image" in messages
    assert sampler.neighbors_[1].shape == (3, 2)
    synthetic = new_labels[len(labels) :] == 2
    singles = new_images[len(labels) :][synthetic]
    assert len(singles) == 19 and bool((singles == singles[0]).all())


def test_no_class_of_two_images_leaves_no_variation_to_borrow():
    images, labels = blob_images([1, 1])
    sampler = _fast(sampling_strategy={0: 3, 1: 3})
    with pytest.warns(UserWarning, match="single image"):
        sampler.fit(images, labels)
    assert sampler.variations_.shape == (0, 8)
    with pytest.raises(ValueError, match=r"from classes \[0, 1\] .* none of which has two images: set `variation_transfer=0`"):
        sampler.sample()
    new_images, new_labels = sampler.set_params(variation_transfer=0.0).sample()
    assert new_labels.tolist() == [0, 0, 1, 1] and bool((new_images[0] == new_images[1]).all())


def test_a_class_borrows_from_itself_and_its_nearest_classes():
    images, labels = blob_images([30, 20, 10, 1])
    with pytest.warns(UserWarning, match="single image"):
        sampler = _fast(variation_classes=2).fit(images, labels)
    assert sampler.class_means_.shape == (4, 8)
    assert sorted(set(sampler.variation_sources_.tolist())) == [0, 1, 2]  # a class of one image lends nothing
    for label in (1, 2):
        lenders = nearest_classes(sampler.classes_, sampler.class_means_, label, 2)
        sources = sampler.variation_sources_[sampler.draw(label, 200, torch.Generator().manual_seed(0)).variation]
        assert lenders[0] == label and set(sources.tolist()) == set(lenders.tolist()) - {3}
    with pytest.raises(ValueError, match=r"class 3 borrows from classes \[3\] .* raise `variation_classes` or set"):
        sampler.set_params(variation_classes=1).draw(3, 5, torch.Generator())
    every = sampler.set_params(variation_classes=None).draw(3, 500, torch.Generator().manual_seed(0))
    assert set(sampler.variation_sources_[every.variation].tolist()) == {0, 1, 2}


def test_borrowing_from_every_class_draws_as_one_pool_does():
    images, labels = blob_images([30, 20, 10])
    sampler = _fast(variation_classes=None).fit(images, labels)
    made = sampler.draw(2, 50, torch.Generator().manual_seed(3))
    plain = draw_smote(sampler.neighbors_[2], 50, torch.Generator().manual_seed(3), copy_fraction=1.0,
                       n_variations=len(sampler.variations_), variation_transfer=1.0)
    assert all(torch.equal(a, b) for a, b in zip(made, plain))


def test_reindex_recomputes_the_tables_without_training(tiny_images):
    images, labels = tiny_images
    sampler = _fast(k_neighbors=4).fit(images, labels)
    weights = {name: value.clone() for name, value in sampler.autoencoder_.state_dict().items()}
    sampler.set_params(k_neighbors=2, sampling_strategy={1: 20, 2: 20}).reindex(images, labels)
    assert all(torch.equal(weights[name], value) for name, value in sampler.autoencoder_.state_dict().items())
    fresh = _fast(k_neighbors=2, sampling_strategy={1: 20, 2: 20}).fit(images, labels)
    assert dict(sampler.sampling_strategy_) == dict(fresh.sampling_strategy_) == {1: 8, 2: 14}
    assert all(torch.equal(sampler.neighbors_[c], fresh.neighbors_[c]) for c in (1, 2))
    assert torch.equal(sampler.variations_, fresh.variations_)
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
        ({"penalty": "paperish"}, ValueError, "penalty"),
        ({"knn_backend": "faiss"}, ValueError, "knn_backend"),
        ({"sampling_strategy": "most"}, ValueError, "sampling_strategy"),
        ({"sampling_strategy": {5: 40}}, ValueError, r"sampling_strategy.*\{5\} target class"),
        ({"sampling_strategy": {1: 5}}, ValueError, "greater or equal"),
        ({"sampling_strategy": 0.5}, ValueError, "binary"),
        ({"sampling_strategy": None}, TypeError, "sampling_strategy"),
        ({"sampling_strategy": lambda y: "junk"}, TypeError, "callable"),
        ({"sampling_strategy": {1: -5}}, ValueError, "negative"),
        ({"autoencoder": "model.pt"}, TypeError, "autoencoder"),
    ],
)
def test_bad_parameters(tiny_images, kwargs, error, match):
    images, labels = tiny_images
    with pytest.raises(error, match=match):
        _fast(**kwargs).fit(images, labels)


@pytest.mark.parametrize(
    "images, labels, error, match",
    [
        (torch.zeros(4, 8, 8, dtype=torch.uint8), [0, 0, 1, 1], ValueError, "X"),
        (torch.zeros(0, 1, 8, 8, dtype=torch.uint8), [], ValueError, "X"),
        (torch.zeros(4, 1, 8, 8, dtype=torch.int32), [0, 0, 1, 1], TypeError, "dtype"),
        (torch.full((4, 1, 8, 8), 2.0), [0, 0, 1, 1], ValueError, r"\[0, 1\]"),
        (torch.full((4, 1, 8, 8), float("nan")), [0, 0, 1, 1], ValueError, "NaN"),
        (torch.zeros(4, 1, 8, 8), [0, 0, 1], ValueError, "y"),
        (torch.zeros(4, 1, 8, 8), [0.0, 0.5, 1.0, 1.0], TypeError, "y"),
        (torch.zeros(4, 1, 8, 8), ["a", "a", "b", "b"], TypeError, "y"),
        (torch.zeros(4, 1, 8, 8), [0, -1, 1, 1], ValueError, "non-negative"),
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


def _draw_with_gap(sampler, label, gap):
    from torch_deepsmote.latent.smote import SmoteDraw

    n = sampler.latents_[label].shape[0]
    base = torch.arange(n)
    no_variation = (torch.zeros(n, dtype=torch.long), torch.zeros(n))
    return SmoteDraw(base, sampler.neighbors_[label][:, 0].cpu(), torch.full((n,), float(gap)), *no_variation)


@pytest.mark.parametrize("detail", ["base", "blend"])
def test_detail_gives_the_real_image_back_at_the_segment_ends(detail):
    images, labels = blob_images([30, 12])
    sampler = _fast(detail=detail).fit(images, labels)
    members = images[labels == 1]
    start = sampler.render_draws({1: _draw_with_gap(sampler, 1, 0.0)})
    assert (start.int() - members.int()).abs().max() <= 1  # residuals are kept in float16
    if detail == "blend":
        draw = _draw_with_gap(sampler, 1, 1.0)
        end = sampler.render_draws({1: draw})
        assert (end.int() - members[draw.neighbor].int()).abs().max() <= 1
    plain = sampler.set_params(detail="none").render_draws({1: _draw_with_gap(sampler, 1, 0.0)})
    assert torch.equal(plain, sampler.decode(sampler.latents_[1]))
    assert (plain.int() - members.int()).abs().max() > 1  # a 1-epoch autoencoder does not reconstruct


def test_detail_none_is_the_plain_decode(tiny_images):
    images, labels = tiny_images
    sampler = _fast(detail="none").fit(images, labels)
    new_images, new_labels = sampler.sample()
    generator = torch.Generator().manual_seed(sampler.sample_seed_)
    latents = [sampler.latents_for(c, sampler.draw(c, n, generator)) for c, n in sampler.sampling_strategy_.items() if n]
    assert torch.equal(new_images, sampler.decode(torch.cat(latents)))
    residuals = {c: r.float() for c, r in sampler.residuals_.items()}
    for label, residual in residuals.items():
        members = images[labels == label].float() / 127.5 - 1.0
        assert residual.dtype == torch.float32 and residual.shape == members.shape
        reconstructed = members - residual
        assert torch.allclose(reconstructed, sampler.decode(sampler.latents_[label]).float() / 127.5 - 1.0, atol=2e-2)


def test_bad_detail_is_named():
    images, labels = blob_images([30, 12])
    with pytest.raises(ValueError, match="detail"):
        _fast(detail="sharp").fit(images, labels)


def test_max_gap_bounds_the_gaps_and_is_validated():
    from torch_deepsmote.latent.smote import draw_smote

    table = torch.tensor([[1], [0]])
    gaps = draw_smote(table, 2000, torch.Generator().manual_seed(0), max_gap=0.25).gap
    assert float(gaps.max()) < 0.25 and float(gaps.max()) > 0.24
    with pytest.raises(ValueError, match="max_gap"):
        draw_smote(table, 3, torch.Generator(), max_gap=0.0)
    images, labels = blob_images([30, 12])
    with pytest.raises(ValueError, match="max_gap"):
        _fast(max_gap=1.5).fit(images, labels)


def test_copy_fraction_zeroes_that_share_of_the_gaps_and_is_validated():
    from torch_deepsmote.latent.smote import draw_smote

    table = torch.tensor([[1], [0], [0]])
    plain = draw_smote(table, 200, torch.Generator().manual_seed(0))
    mixed = draw_smote(table, 200, torch.Generator().manual_seed(0), copy_fraction=0.3)
    assert int((mixed.gap == 0).sum()) == 60 and bool((mixed.gap[:60] == 0).all())
    assert torch.equal(mixed.gap[60:], plain.gap[60:]) and torch.equal(mixed.base, plain.base)
    assert int((plain.gap == 0).sum()) == 0
    with pytest.raises(ValueError, match="copy_fraction"):
        draw_smote(table, 3, torch.Generator(), copy_fraction=1.2)
    images, labels = blob_images([30, 12])
    with pytest.raises(ValueError, match="copy_fraction"):
        _fast(copy_fraction=-0.1).fit(images, labels)


def test_copy_fraction_with_base_detail_adds_real_copies():
    images, labels = blob_images([30, 12])
    sampler = _fast(copy_fraction=0.5, variation_transfer=0.0).fit(images, labels)
    new_images, _ = sampler.sample()
    members = images[labels == 1].int()
    nearest = (new_images.int()[:, None] - members[None]).abs().flatten(2).amax(2).amin(1)
    assert len(nearest) == 18 and int(nearest[:9].max()) <= 1  # real images, up to rounding
    sampler.copy_fraction = 0.0
    interpolated, _ = sampler.sample()
    assert torch.equal(new_images[9:], interpolated[9:])  # the rest: the same SMOTE draws


def test_a_tiny_max_gap_with_base_detail_approaches_random_oversampling():
    images, labels = blob_images([30, 12])
    sampler = _fast(max_gap=1e-6, **INTERPOLATION_SETTINGS).fit(images, labels)
    new_images, _ = sampler.sample()
    members = images[labels == 1].int()
    nearest = (new_images.int()[:, None] - members[None]).abs().flatten(2).amax(2).amin(1)
    assert int(nearest.max()) <= 1  # every synthetic image is (up to rounding) a real one


def test_variation_transfer_borrows_from_every_class_and_is_a_generation_option():
    images, labels = blob_images([30, 12, 9])
    sampler = _fast(sampling_strategy="minority", **INTERPOLATION_SETTINGS).fit(images, labels)
    assert sampler.variations_.shape == (51 * 5, 8)  # every class's pairs, not the minority's alone
    plain = sampler.sample()[0]
    plain_draw = sampler.draw(2, 21, torch.Generator().manual_seed(1))
    sampler.variation_transfer = 1.0  # no refit needed
    borrowed_draw = sampler.draw(2, 21, torch.Generator().manual_seed(1))
    assert not torch.equal(sampler.latents_for(2, borrowed_draw), sampler.latents_for(2, plain_draw))
    assert torch.equal(sampler.sample()[0], sampler.sample()[0])
    sampler.variation_transfer = 0.0
    assert torch.equal(sampler.sample()[0], plain)
    with pytest.raises(ValueError, match="variation_transfer"):
        _fast(variation_transfer=-0.5).fit(images, labels)


def test_variation_transfer_moves_each_latent_by_its_weighted_borrowed_step():
    images, labels = blob_images([30, 12])
    sampler = _fast(variation_transfer=2.0).fit(images, labels)
    draw = sampler.draw(1, 40, torch.Generator().manual_seed(0))
    assert float(draw.strength.max()) < 2.0 and len(draw.strength.unique()) == 40
    moved = sampler.latents_for(1, draw)
    still = sampler.latents_for(1, draw._replace(strength=torch.zeros(40)))
    step = draw.strength.unsqueeze(1) * sampler.variations_[draw.variation]
    torch.testing.assert_close(moved - still, step)


def test_the_default_moves_real_latents_along_borrowed_variations():
    images, labels = blob_images([30, 12])
    sampler = _fast().fit(images, labels)
    draw = sampler.draw(1, 50, torch.Generator().manual_seed(2))
    assert not bool(draw.gap.any()) and bool((draw.strength > 0).all())
    expected = sampler.latents_[1][draw.base] + draw.strength.unsqueeze(1) * sampler.variations_[draw.variation]
    torch.testing.assert_close(sampler.latents_for(1, draw), expected)
