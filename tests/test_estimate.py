"""The fit's estimate: its counts, its memory check before training, its log line, and that
timing it changes nothing the fit makes."""

import dataclasses
import logging
import math

import pytest
import torch
from torch.utils.data import TensorDataset

from tests.conftest import FAST_OPTIONS, blob_images
from torch_deepsmote import DeepSMOTE, DeepSMOTEDataset
from torch_deepsmote._utils.memory import format_bytes
from torch_deepsmote.nn import estimate as estimate_module
from torch_deepsmote.nn.autoencoder import ConvAutoencoder
from torch_deepsmote.nn.estimate import (
    activation_bytes,
    check_fit_memory,
    estimate_fit,
    layer_output_bytes,
    steps_per_epoch,
    time_fit,
)
from torch_deepsmote.nn.ranges import to_network_range
from torch_deepsmote.nn.sources import TensorSource
from torch_deepsmote.nn.training import _batches, time_training_step
from torch_deepsmote.recipes import DEFAULT_RECIPE, RECIPES

COUNTS = [30, 12, 6]
SMALL = dict(FAST_OPTIONS, random_state=0, device="cpu")


def small_model() -> ConvAutoencoder:
    """The (1, 8, 8) model of FAST_OPTIONS: width 4, latent_dim 8."""
    return ConvAutoencoder((1, 8, 8), 8, width=4, generator=torch.Generator().manual_seed(0))


def small_estimate(penalty: str = "none"):
    images, labels = blob_images(COUNTS)
    source = TensorSource(images)
    return estimate_fit(small_model(), source, labels, [1, 2], batch_size=16, epochs=3, penalty=penalty, device="cpu")


def refuse_to_train(*args, **kwargs):
    raise AssertionError("a training step ran")


@pytest.mark.parametrize("shape, latent_dim, width", [((1, 8, 8), 8, 4), ((3, 40, 24), 16, 2), ((3, 64, 64), 32, 8)])
def test_the_parameter_count_is_the_built_models(shape, latent_dim, width):
    model = ConvAutoencoder(shape, latent_dim, width=width, generator=torch.Generator().manual_seed(0))
    images = torch.zeros((4, *shape), dtype=torch.uint8)
    codes = torch.tensor([0, 0, 1, 1])
    estimate = estimate_fit(model, TensorSource(images), codes, [1], batch_size=2, epochs=1, device="cpu")
    assert estimate.parameters == sum(p.numel() for p in model.parameters())


def test_the_layer_outputs_are_counted_by_hand_and_the_model_is_left_as_it_was():
    model = small_model().train()
    before = {name: value.clone() for name, value in model.state_dict().items()}
    encoder, decoder = layer_output_bytes(model)
    # float32 values per image: conv 4×4×4, conv 8×2×2 and its batch norm, conv 16×1×1 + bn, conv 32×1×1 + bn,
    # linear 8 (the in-place LeakyReLUs and the flatten share their input's memory) ...
    assert encoder == [4 * n for n in (64, 32, 32, 16, 16, 32, 32, 8)]
    # ... linear 128, convT 16×4×4 + bn, convT 8×8×8 + bn, convT 1×8×8 and its tanh (ReLUs in place, unflatten a view)
    assert decoder == [4 * n for n in (128, 256, 256, 512, 512, 64, 64)]
    assert model.training
    assert all(torch.equal(value, before[name]) for name, value in model.state_dict().items())


@pytest.mark.parametrize("penalty, copies", [("none", 4), ("paper", 8), ("official", 4)])
def test_the_memory_is_the_sum_of_its_parts(penalty, copies):
    estimate = small_estimate(penalty)
    parameters = sum(p.numel() for p in small_model().parameters())
    layers = [64, 32, 32, 16, 16, 32, 32, 8] + [128, 256, 256, 512, 512, 64, 64]
    image = 64
    activations = 16 * 4 * (sum(layers) + copies * image + 2 * max(layers))
    if penalty == "official":  # one class of up to 100 images decoded again: the largest has 30
        activations += 30 * 4 * (sum(layers[8:]) + 4 * image)
    assert activation_bytes(small_model(), 16, penalty, 30) == activations
    assert estimate.training_bytes == 16 * parameters + activations  # weights, gradients, Adam's two moments
    n_images, grown = sum(COUNTS), 12 + 6
    # uint8 images (no float32 copy) + float32 latents + float16 residuals + the largest grown class while indexed
    assert estimate.ram_bytes == n_images * image * 1 + n_images * 8 * 4 + grown * image * 2 + 12 * image * 12
    assert estimate.input_bytes == n_images * image
    assert estimate.steps_per_epoch == 3


@pytest.mark.parametrize("n_items", [2, 15, 16, 17, 31, 32, 33, 48, 49])
def test_the_steps_per_epoch_are_the_trainings_batches(n_items):
    assert steps_per_epoch(n_items, 16) == len(_batches(n_items, 16, torch.Generator().manual_seed(0)))


def test_the_line_gives_the_numbers():
    estimate = small_estimate()
    line = str(estimate)
    assert line == estimate.describe()
    assert format_bytes(estimate.training_bytes) in line and format_bytes(estimate.ram_bytes) in line
    assert "M parameters" in line and "time not measured" in line
    timed = dataclasses.replace(estimate, seconds_per_epoch=90.0)
    assert "1.5 min an epoch, about 4.5 min for 3 epochs" in timed.describe()


@pytest.mark.parametrize("wrapped", [False, True])
def test_a_fit_too_big_for_the_memory_fails_before_any_step(monkeypatch, wrapped):
    monkeypatch.setattr(estimate_module, "available_memory", lambda: 1000)
    monkeypatch.setattr("torch_deepsmote.oversampler.fit_autoencoder", refuse_to_train)
    monkeypatch.setattr(estimate_module, "time_training_step", refuse_to_train)
    images, labels = blob_images(COUNTS)
    oversampler = DeepSMOTE(**SMALL)
    with pytest.raises(ValueError) as raised:
        if wrapped:
            DeepSMOTEDataset(TensorDataset(images, labels), oversampler, cache_dir=False)
        else:
            oversampler.fit(images, labels)
    estimate = small_estimate()
    needed = math.ceil(1.2 * estimate.training_bytes) + estimate.ram_bytes - estimate.input_bytes
    message = str(raised.value)
    assert "1.2× the training estimate" in message
    for number in (estimate.training_bytes, estimate.ram_bytes, needed, 1000):
        assert format_bytes(number) in message
    assert f"{estimate.parameters:,} parameters" in message
    assert "`width`=4" in message and "`latent_dim`=8" in message and "`batch_size`" in message
    assert "resize the images" in message and "torchvision.transforms.v2.Resize" in message


def test_on_cuda_the_training_must_fit_in_the_gpus_free_memory(monkeypatch):
    monkeypatch.setattr(estimate_module, "available_memory", lambda: 2**40)
    estimate = dataclasses.replace(small_estimate(), device=torch.device("cuda", 0))
    asked = math.ceil(1.2 * estimate.training_bytes)  # the training estimate with its headroom
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device: (asked, 2**40))
    check_fit_memory(estimate)  # just fits
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device: (asked - 1, 2**40))
    with pytest.raises(ValueError, match="free there"):
        check_fit_memory(estimate)


def test_on_the_cpu_the_training_with_its_headroom_and_the_rest_must_fit_in_ram(monkeypatch):
    estimate = small_estimate()
    asked = math.ceil(1.2 * estimate.training_bytes) + estimate.ram_bytes - estimate.input_bytes
    monkeypatch.setattr(estimate_module, "available_memory", lambda: asked)
    check_fit_memory(estimate)  # just fits
    monkeypatch.setattr(estimate_module, "available_memory", lambda: asked - 1)
    with pytest.raises(ValueError, match="of RAM, more than"):
        check_fit_memory(estimate)


def test_unknown_memory_and_a_fit_without_epochs_are_not_refused(monkeypatch):
    monkeypatch.setattr(estimate_module, "available_memory", lambda: None)
    check_fit_memory(small_estimate())
    estimate = dataclasses.replace(small_estimate(), epochs=0)
    monkeypatch.setattr(estimate_module, "available_memory", lambda: estimate.ram_bytes - estimate.input_bytes)
    check_fit_memory(estimate)


def test_the_estimate_is_logged_at_info(caplog):
    images, labels = blob_images(COUNTS)
    with caplog.at_level(logging.INFO, logger="torch_deepsmote"):
        DeepSMOTE(**SMALL).fit(images, labels)
    lines = [r.getMessage() for r in caplog.records if r.name == "torch_deepsmote.oversampler"]
    assert len(lines) == 1 and lines[0] == str(small_estimate(RECIPES[DEFAULT_RECIPE].penalty))
    assert "time not measured" in lines[0]  # 3 steps: too few to time


def test_small_fits_are_not_timed_and_large_ones_are(monkeypatch):
    images, labels = blob_images(COUNTS)
    estimate = small_estimate()
    assert time_fit(estimate, small_model(), TensorSource(images), labels) is estimate
    monkeypatch.setattr(estimate_module, "MIN_TIMED_FIT_STEPS", 9)
    timed = time_fit(estimate, small_model(), TensorSource(images), labels)
    assert timed.seconds_per_epoch > 0 and dataclasses.replace(timed, seconds_per_epoch=None) == estimate


@pytest.mark.parametrize("penalty", ["none", "paper", "official"])
def test_timing_steps_leaves_the_model_and_the_random_generators_alone(penalty):
    images, labels = blob_images(COUNTS)
    model = small_model().eval()
    before = {name: value.clone() for name, value in model.state_dict().items()}
    rng = torch.get_rng_state()
    seconds = time_training_step(
        model, to_network_range(images), labels, batch_size=16, penalty=penalty, device="cpu", steps=2
    )
    assert seconds > 0
    assert torch.equal(torch.get_rng_state(), rng)
    assert not model.training
    assert all(torch.equal(value, before[name]) for name, value in model.state_dict().items())


@pytest.mark.parametrize("recipe", ["borrowed-variations", "paper", "paper-code"])
def test_timing_the_fit_does_not_change_what_it_makes(monkeypatch, caplog, recipe):
    images, labels = blob_images(COUNTS)
    plain = DeepSMOTE(**SMALL, recipe=recipe).fit(images, labels)
    monkeypatch.setattr(estimate_module, "MIN_TIMED_FIT_STEPS", 1)
    with caplog.at_level(logging.INFO, logger="torch_deepsmote"):
        timed = DeepSMOTE(**SMALL, recipe=recipe).fit(images, labels)
    assert "an epoch, about" in caplog.text  # the steps were timed
    weights, timed_weights = plain.autoencoder_.state_dict(), timed.autoencoder_.state_dict()
    assert all(torch.equal(value, timed_weights[name]) for name, value in weights.items())
    assert plain.history_ == timed.history_
    assert torch.equal(plain.sample()[0], timed.sample()[0])
