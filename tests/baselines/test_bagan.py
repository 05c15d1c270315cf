"""BAGAN: the resampling contract, the class Gaussians and the adversarial phase."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from torch_deepsmote.baselines.bagan import BAGAN, SeededDropout, base_resolution
from torch_deepsmote.nn.ranges import to_network_range

COUNTS = [30, 10, 4]


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """One intra-op thread: on a shared 2-core machine, two spinning threads make these
    tiny fits several times slower (measured: 2 s vs 9-12 s per 8×8 fit at load 3.5)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def blobs(counts: list[int], shape: tuple[int, int, int] = (1, 8, 8), seed: int = 0):
    """uint8 images whose classes differ by a bright square's position, plus labels."""
    generator = torch.Generator().manual_seed(seed)
    images, labels = [], []
    for label, count in enumerate(counts):
        noise = torch.randint(0, 60, (count, *shape), generator=generator)
        noise[:, :, 2 * label : 2 * label + 3, 1:5] += 180
        images.append(noise.clamp(0, 255).to(torch.uint8))
        labels.append(torch.full((count,), label, dtype=torch.long))
    return torch.cat(images), torch.cat(labels)


def small(**kwargs) -> BAGAN:
    options = dict(autoencoder_epochs=1, gan_epochs=1, batch_size=16, device="cpu", random_state=0)
    options.update(kwargs)
    return BAGAN(**options)


@pytest.fixture(scope="module")
def fitted():
    images, labels = blobs(COUNTS)
    model = small(autoencoder_epochs=2)
    return model, images, labels, model.fit_resample(images, labels)


def test_contract_uint8(fitted) -> None:
    model, images, labels, (x_res, y_res) = fitted
    assert x_res.dtype == torch.uint8 and y_res.dtype == torch.int64
    assert torch.equal(x_res[: len(images)], images) and torch.equal(y_res[: len(labels)], labels)
    assert torch.bincount(y_res).tolist() == [30, 30, 30]
    assert model.n_synthetic_ == {0: 0, 1: 20, 2: 26}
    new = y_res[len(labels) :]
    assert torch.equal(new, torch.sort(new).values)  # grouped, ascending
    assert x_res.shape[1:] == images.shape[1:]


def test_contract_float_and_sparse_labels() -> None:
    images, labels = blobs([12, 5, 3])
    floats = images.double() / 255.0
    sparse = torch.tensor([2, 5, 9])[labels]
    x_res, y_res = small(gan_epochs=1).fit_resample(floats.numpy(), sparse.numpy())
    assert x_res.dtype == torch.float64
    assert 0.0 <= float(x_res.min()) and float(x_res.max()) <= 1.0
    assert torch.equal(x_res[:20], floats) and torch.equal(y_res[:20], sparse)
    assert {c: int((y_res == c).sum()) for c in (2, 5, 9)} == {2: 12, 5: 12, 9: 12}
    assert y_res[20:].tolist() == [5] * 7 + [9] * 9


@pytest.mark.parametrize("shape", [(1, 8, 8), (3, 32, 32), (1, 28, 28)])
def test_shapes(shape: tuple[int, int, int]) -> None:
    images, labels = blobs([3, 2, 1], shape)
    model = small(batch_size=32, gan_epochs=0 if shape[1] > 8 else 1)  # phase 3 is tested at 8×8
    x_res, y_res = model.fit_resample(images, labels)
    assert x_res.shape == (9, *shape) and y_res.tolist() == [0, 0, 0, 1, 1, 2, 1, 2, 2]
    assert model.generator_(torch.zeros(2, 100)).shape == (2, *shape)
    assert model.discriminator_(to_network_range(images)).shape == (6, 4)  # K + 1


def test_width_scales_every_layer() -> None:
    images, labels = blobs([3, 2], (1, 28, 28))
    default, narrow = small(gan_epochs=0).fit(images, labels), small(gan_epochs=0, width=8).fit(images, labels)
    convs = [
        [m.out_channels for m in net.modules() if isinstance(m, nn.Conv2d)]
        for net in (default.generator_, narrow.generator_, default.encoder_, narrow.encoder_)
    ]
    assert convs[0] == [256, 128, 1] and convs[1] == [64, 32, 1]
    assert convs[2] == [32, 64, 128, 256] and convs[3] == [8, 16, 32, 64]
    assert narrow.generator_(torch.zeros(2, 100)).shape == (2, 1, 28, 28)


def test_base_resolution() -> None:
    assert base_resolution(28) == (7, 2) and base_resolution(32) == (8, 2) and base_resolution(8) == (8, 0)
    images, labels = blobs([3, 2], (1, 18, 18))
    with pytest.raises(ValueError, match="r·2\\^k"):
        small().fit(images, labels)


def test_class_gaussians_fit_the_codes(fitted) -> None:
    model, images, labels, _ = fitted
    with torch.no_grad():
        codes = model.encoder_(to_network_range(images)).double()
    eye = torch.eye(model.latent_dim, dtype=torch.float64)
    for label in range(len(COUNTS)):
        gaussian = model.gaussians_[label]
        members = codes[labels == label]
        torch.testing.assert_close(gaussian.loc, members.mean(0), rtol=1e-5, atol=1e-6)
        expected = torch.cov(members.T) + model.jitter_[label] * eye
        torch.testing.assert_close(gaussian.covariance_matrix, expected, rtol=1e-4, atol=1e-8)
    assert model.jitter_[2] > 0.0  # 4 codes in 100 dimensions: singular covariance


def test_latents_follow_the_class_gaussian(fitted) -> None:
    model = fitted[0]
    z = model.sample_latents(torch.full((20000,), 1), torch.Generator().manual_seed(1)).double()
    gaussian = model.gaussians_[1]
    spread = gaussian.covariance_matrix.diagonal().sqrt()
    assert float(((z.mean(0) - gaussian.loc).abs() / spread).max()) < 0.1
    tolerance = 0.1 * float(spread.max() ** 2)
    torch.testing.assert_close(torch.cov(z.T), gaussian.covariance_matrix, rtol=0.0, atol=tolerance)


def test_identical_class_decodes_its_mean() -> None:
    images, labels = blobs([12, 4])
    images[labels == 1] = images[labels == 1][0]  # one class, one repeated image
    model = small(gan_epochs=1)
    x_res, y_res = model.fit_resample(images.float() / 255.0, labels)
    synthetic = x_res[y_res == 1][4:]
    with torch.no_grad():
        mean_image = model.generator_(model.gaussians_[1].loc.float()[None]).add(1.0).mul(0.5)
    assert synthetic.shape[0] == 8
    torch.testing.assert_close(synthetic, mean_image.expand_as(synthetic), rtol=0.0, atol=5e-3)


def test_reproducible() -> None:
    images, labels = blobs([12, 5, 3])
    first = small(random_state=3).fit_resample(images, labels)
    again = small(random_state=3).fit_resample(images, labels)
    other = small(random_state=4).fit_resample(images, labels)
    assert torch.equal(first[0], again[0]) and torch.equal(first[1], again[1])
    assert not torch.equal(first[0][20:], other[0][20:])


def test_adversarial_phase_updates_d_and_g() -> None:
    images, labels = blobs([12, 5, 3])
    before = small(gan_epochs=0).fit(images, labels)
    after = small(gan_epochs=1).fit(images, labels)
    for a, b in zip(before.encoder_.parameters(), after.encoder_.parameters()):
        assert torch.equal(a, b)  # phase 1 is the same run
    for a, b in zip(before.encoder_[0].parameters(), before.discriminator_[0].parameters()):
        assert torch.equal(a, b)  # D starts as the trained trunk
    pairs = zip(after.encoder_[0].parameters(), after.discriminator_[0].parameters())
    assert any(not torch.equal(a, b) for a, b in pairs)  # phase 3 moved D's trunk
    assert not torch.equal(before.discriminator_[1].weight, after.discriminator_[1].weight)
    pairs = zip(before.generator_.parameters(), after.generator_.parameters())
    assert all(not torch.equal(a, b) for a, b in pairs)  # phase 3 moved every G layer
    assert len(after.history_["gan"]) == 1 and after.history_["gan"][0]["generator_loss"] > 0.0


def test_rebalance_probabilities() -> None:
    images, labels = blobs(COUNTS)
    model = small(autoencoder_epochs=0, gan_epochs=0, class_sampling="rebalance").fit(images, labels)
    raw = (torch.tensor(2 / 3) - torch.tensor(COUNTS, dtype=torch.float64) / 44).clamp(min=0)
    torch.testing.assert_close(model.class_probabilities_, raw / raw.sum())
    assert float(model.class_probabilities_[0]) == 0.0
    uniform = small(autoencoder_epochs=0, gan_epochs=0).fit(images, labels)
    torch.testing.assert_close(uniform.class_probabilities_, torch.full((3,), 1 / 3, dtype=torch.float64))


def test_seeded_dropout() -> None:
    layer = SeededDropout(0.3)
    x = torch.ones(200, 50)
    layer.generator = torch.Generator().manual_seed(0)
    first = layer(x)
    layer.generator = torch.Generator().manual_seed(0)
    assert torch.equal(first, layer(x))
    assert abs(float((first == 0).float().mean()) - 0.3) < 0.02
    torch.testing.assert_close(first[first != 0], torch.full_like(first[first != 0], 1 / 0.7))
    assert torch.equal(layer.eval()(x), x)


@pytest.mark.parametrize(
    ("option", "value", "error"),
    [
        ("latent_dim", 0, ValueError),
        ("width", 0, ValueError),
        ("gan_epochs", 1.5, TypeError),
        ("autoencoder_epochs", -1, ValueError),
        ("batch_size", 0, ValueError),
        ("lr", 0.0, ValueError),
        ("beta1", 1.0, ValueError),
        ("class_sampling", "balanced", ValueError),
    ],
)
def test_bad_parameters(option: str, value: object, error: type) -> None:
    images, labels = blobs([3, 2])
    with pytest.raises(error, match=option):
        small(**{option: value}).fit(images, labels)


def test_estimator_parameters_without_scikit_learn() -> None:
    model = BAGAN(latent_dim=8, gan_epochs=1)
    params = model.get_params()
    assert list(params) == sorted(params) and params["latent_dim"] == 8 and params["lr"] == 5e-5
    assert repr(model) == "BAGAN(gan_epochs=1, latent_dim=8)"
    assert model.set_params(lr=1e-3, latent_dim=4) is model
    assert (model.lr, model.latent_dim) == (1e-3, 4)
    with pytest.raises(ValueError, match=r"`set_params` accepts only BAGAN's arguments \[.*'width'\], got \['depth'\]"):
        model.set_params(depth=3)
    assert model.latent_dim == 4
    assert "sklearn" not in {cls.__module__.split(".")[0] for cls in BAGAN.__mro__}


def test_scikit_learn_clone() -> None:
    base = pytest.importorskip("sklearn.base")
    model = small(latent_dim=8)
    copy = base.clone(model)
    assert copy is not model and type(copy) is BAGAN
    assert copy.get_params() == model.get_params()
