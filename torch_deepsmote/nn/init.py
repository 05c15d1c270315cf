"""PyTorch's default weight initialisation, drawn from a given generator."""

from __future__ import annotations

import math

import torch
from torch import nn

__all__ = ["reset_parameters_"]


@torch.no_grad()
def reset_parameters_(module: nn.Module, generator: torch.Generator | None = None) -> nn.Module:
    """Re-draw the weights of every conv, transposed conv and linear layer in ``module``.

    The scheme is PyTorch's own default (Kaiming-uniform with ``a = √5``, biases
    uniform in ±1/√fan_in), but the draws come from ``generator`` instead of the
    global random state; batch-norm layers are reset to identity.
    """
    for layer in module.modules():
        if isinstance(layer, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.kaiming_uniform_(layer.weight, a=math.sqrt(5), generator=generator)
            if layer.bias is not None:
                fan_in, _ = nn.init._calculate_fan_in_and_fan_out(layer.weight)
                bound = 1.0 / math.sqrt(fan_in)
                nn.init.uniform_(layer.bias, -bound, bound, generator=generator)
        elif isinstance(layer, nn.BatchNorm2d):
            layer.reset_parameters()
    return module
