"""Conversions between the value ranges of images and the network's [-1, 1]."""

from __future__ import annotations

import torch

__all__ = ["to_network_range", "from_network_range"]


def to_network_range(images: torch.Tensor) -> torch.Tensor:
    """uint8 in [0, 255] or float in [0, 1] → float32 in [-1, 1]; shape kept."""
    if images.dtype == torch.uint8:
        return images.float().div_(127.5).sub_(1.0)
    return images.float().mul(2.0).sub_(1.0)


def from_network_range(images: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """float in [-1, 1] → ``dtype``: uint8 in [0, 255] or a float dtype in [0, 1]."""
    unit = images.add(1.0).mul_(0.5).clamp_(0.0, 1.0)
    if dtype == torch.uint8:
        return unit.mul_(255.0).round_().to(torch.uint8)
    return unit.to(dtype)
