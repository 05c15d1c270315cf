"""How the autoencoder's training steps run on a device: memory layout, bf16 autocast, ``torch.compile``.

The settings change the speed of a step, and with ``bf16`` the rounding of its forward
pass; never the data, the batches or the draws. Each device type has a default, chosen
by measurement (``benchmarks/throughput.py``, ``benchmarks/fit_speed.py --settings``):

* CPU: channels-last, float32, eager (oneDNN's NHWC kernels measured faster);
* CUDA: contiguous, float32, eager: the other settings have not yet been measured on a
  GPU; ``benchmarks/gpu_check.sh`` measures them.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any, ContextManager

import torch

__all__ = ["StepSettings", "default_step_settings"]


@dataclass(frozen=True)
class StepSettings:
    """How a training step runs.

    Attributes:
        channels_last: weights and images in the channels-last (NHWC) layout.
        bf16: the forward pass under bfloat16 autocast (weights, gradients and Adam's
            state stay float32).
        compiled: the loss module runs through ``torch.compile``.
    """

    channels_last: bool = False
    bf16: bool = False
    compiled: bool = False

    def __post_init__(self) -> None:
        for name in ("channels_last", "bf16", "compiled"):
            value = getattr(self, name)
            if not isinstance(value, bool):
                raise TypeError(f"`StepSettings.{name}` must be a bool, got {value!r} (type {type(value).__name__}).")

    @property
    def layout(self) -> torch.memory_format:
        """The memory format of weights and image batches."""
        return torch.channels_last if self.channels_last else torch.contiguous_format

    def autocast(self, device: torch.device) -> ContextManager[Any]:
        """The context a step's forward pass runs in on ``device``."""
        if not self.bf16:
            return contextlib.nullcontext()
        return torch.autocast(device.type, dtype=torch.bfloat16)

    def prepare(self, module: torch.nn.Module) -> torch.nn.Module:
        """``module`` as the steps call it: compiled or as it is."""
        return torch.compile(module) if self.compiled else module

    def describe(self) -> str:
        """A short name: ``"contiguous, float32, eager"`` or the settings on, e.g. ``"channels-last, bf16"``."""
        names = ("channels-last", "bf16", "compiled")
        on = [name for name, flag in zip(names, (self.channels_last, self.bf16, self.compiled)) if flag]
        return ", ".join(on) or "contiguous, float32, eager"


DEFAULT_STEP_SETTINGS = {
    "cpu": StepSettings(channels_last=True),
    "cuda": StepSettings(),
}


def default_step_settings(device: torch.device) -> StepSettings:
    """The measured default for ``device``'s type (plain settings for other types)."""
    return DEFAULT_STEP_SETTINGS.get(device.type, StepSettings())
