"""How training steps run: layout, bf16 autocast and torch.compile (``StepSettings``)."""

import pytest
import torch

from tests.conftest import blob_images
from torch_deepsmote import ConvAutoencoder, fit_autoencoder
from torch_deepsmote.nn.ranges import to_network_range
from torch_deepsmote.nn.step_settings import StepSettings, default_step_settings
from torch_deepsmote.nn.training import time_training_step


def _fit(step_settings, epochs=2):
    images, labels = blob_images([30, 12, 6])
    model = ConvAutoencoder((1, 8, 8), 8, width=4, generator=torch.Generator().manual_seed(0))
    history = fit_autoencoder(
        model,
        to_network_range(images),
        labels,
        epochs=epochs,
        batch_size=16,
        penalty="paper",
        device="cpu",
        random_state=0,
        progress=False,
        step_settings=step_settings,
    )
    return model, history


def test_each_device_type_has_its_default():
    assert default_step_settings(torch.device("cpu")) == StepSettings(channels_last=True)
    assert default_step_settings(torch.device("cuda")) == StepSettings()
    assert default_step_settings(torch.device("meta")) == StepSettings()


def test_none_is_the_devices_default():
    default, _ = _fit(None)
    explicit, _ = _fit(default_step_settings(torch.device("cpu")))
    assert all(torch.equal(a, b) for a, b in zip(default.state_dict().values(), explicit.state_dict().values()))


def test_the_layout_changes_the_speed_not_the_training():
    contiguous, first = _fit(StepSettings())
    channels_last, second = _fit(StepSettings(channels_last=True))
    assert [r["loss"] for r in first] == pytest.approx([r["loss"] for r in second], rel=1e-4)
    for a, b in zip(contiguous.state_dict().values(), channels_last.state_dict().values()):
        assert torch.allclose(a.float(), b.float(), atol=1e-4)
    assert channels_last.decoder[0].weight.is_contiguous()  # handed back in the default layout


def test_bf16_runs_the_forward_pass_in_bfloat16_and_keeps_float32_weights(monkeypatch):
    seen = []
    original = torch.nn.Conv2d.forward
    monkeypatch.setattr(
        torch.nn.Conv2d,
        "forward",
        lambda self, x: (
            seen.append(torch.get_autocast_dtype("cpu") if torch.is_autocast_enabled("cpu") else None)
            or original(self, x)
        ),
    )
    model, history = _fit(StepSettings(bf16=True), epochs=1)
    assert seen and set(seen) == {torch.bfloat16}
    assert all(p.dtype == torch.float32 for p in model.parameters())
    _, float32 = _fit(StepSettings(), epochs=1)
    assert history[0]["loss"] == pytest.approx(float32[0]["loss"], rel=0.05)
    assert history[0]["loss"] != float32[0]["loss"]


def test_compiled_wraps_the_loss_module_in_torch_compile():
    module = torch.nn.Linear(2, 2)
    assert StepSettings().prepare(module) is module
    compiled = StepSettings(compiled=True).prepare(module)
    assert compiled is not module and compiled._orig_mod is module


def test_the_timed_step_takes_the_settings():
    images, labels = blob_images([30, 12, 6])
    model = ConvAutoencoder((1, 8, 8), 8, width=4, generator=torch.Generator().manual_seed(0))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    seconds = time_training_step(
        model, to_network_range(images), labels, batch_size=16, device="cpu", step_settings=StepSettings(bf16=True)
    )
    assert seconds > 0
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_describe_names_the_settings_on():
    assert StepSettings().describe() == "contiguous, float32, eager"
    assert StepSettings(channels_last=True, bf16=True).describe() == "channels-last, bf16"


@pytest.mark.parametrize("value", ["yes", 1, None])
def test_settings_are_bools(value):
    with pytest.raises(TypeError, match="StepSettings.bf16"):
        StepSettings(bf16=value)


def test_fit_refuses_other_step_settings():
    with pytest.raises(TypeError, match="`step_settings` must be None or a StepSettings, got 'fast'"):
        _fit("fast")
