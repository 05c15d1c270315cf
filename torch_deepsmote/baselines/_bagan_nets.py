"""BAGAN's networks: the shared conv trunk, the generator, seeded dropout, Keras-style init."""

from __future__ import annotations

import torch
from torch import nn

__all__ = [
    "SeededDropout",
    "base_resolution",
    "generator_network",
    "init_weights_",
    "set_dropout_generator",
    "trunk",
]

LEAKY_SLOPE = 0.3
DROPOUT = 0.3


def base_resolution(size: int) -> tuple[int, int]:
    """``(r0, k)`` with ``size = r0·2^k`` and r0 ≤ 8, or ``ValueError``."""
    r0, doublings = size, 0
    while r0 > 8:
        if r0 % 2:
            raise ValueError(
                f"BAGAN needs image sides of the form r·2^k with an integer r <= 8 "
                f"(e.g. 8, 28, 32, 64), got a side of {size}."
            )
        r0, doublings = r0 // 2, doublings + 1
    return r0, doublings


class SeededDropout(nn.Module):
    """Inverted dropout, any input shape, masks drawn from ``self.generator`` (on the input's
    device; ``None`` = the global RNG), identity in eval mode."""

    def __init__(self, p: float) -> None:
        super().__init__()
        self.p = p
        self.generator: torch.Generator | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        keep = torch.rand(x.shape, generator=self.generator, device=x.device, dtype=x.dtype) >= self.p
        return x * keep / (1.0 - self.p)


def trunk(channels: int, height: int, width: int, r0: tuple[int, int], base: int = 32) -> tuple[nn.Sequential, int]:
    """Shared conv trunk (N, C, H, W) → (N, F) and its flattened size F.

    ``base`` is the first layer's filter count (32 in BAGAN); later layers scale with it.
    """
    top = 8 * base
    specs, (h, w) = [(base, 2), (2 * base, 1), (4 * base, 2), (top, 1)], (-(-height // 4), -(-width // 4))
    while h > r0[0] or w > r0[1]:
        specs, h, w = specs + [(top, 2), (top, 1)], -(-h // 2), -(-w // 2)
    layers: list[nn.Module] = []
    for (in_channels, _), (out_channels, stride) in zip([(channels, 0)] + specs, specs):
        layers += [
            nn.Conv2d(in_channels, out_channels, 3, stride, padding=1),
            nn.LeakyReLU(LEAKY_SLOPE),
            SeededDropout(DROPOUT),
        ]
    return nn.Sequential(*layers, nn.Flatten()), top * h * w


def generator_network(latent_dim: int, image_shape: tuple[int, int, int], base: int = 32) -> nn.Sequential:
    """``G``: (N, latent_dim) codes → (N, C, H, W) images in [-1, 1].

    ``base`` scales every width as in :func:`trunk` (32: BAGAN's 1024-unit dense layer,
    128 channels at the base resolution, 256 then 128 filters in the upsampling convs).
    """
    channels, height, width = image_shape
    (r0h, n_up), (r0w, _) = base_resolution(height), base_resolution(width)
    layers: list[nn.Module] = [
        nn.Linear(latent_dim, 32 * base, bias=False),
        nn.ReLU(),
        nn.Linear(32 * base, 4 * base * r0h * r0w, bias=False),
        nn.ReLU(),
        nn.Unflatten(1, (4 * base, r0h, r0w)),
    ]
    in_channels = 4 * base
    for step in range(n_up):
        out_channels = 8 * base if step < n_up - 1 else 4 * base
        layers += [
            nn.Upsample(scale_factor=2, mode="nearest"),
            nn.Conv2d(in_channels, out_channels, 5, padding=2, bias=False),
            nn.ReLU(),
        ]
        in_channels = out_channels
    # Keras "same" for a 2×2 kernel: one zero row/column at the bottom/right.
    return nn.Sequential(*layers, nn.ZeroPad2d((0, 1, 0, 1)), nn.Conv2d(in_channels, channels, 2), nn.Tanh())


@torch.no_grad()
def init_weights_(module: nn.Module, generator: torch.Generator, conv_normal: bool) -> None:
    """Keras-style init from ``generator``: Glorot (normal for convs if asked), zero biases."""
    for layer in module.modules():
        if isinstance(layer, (nn.Conv2d, nn.Linear)):
            normal = conv_normal and isinstance(layer, nn.Conv2d)
            (nn.init.xavier_normal_ if normal else nn.init.xavier_uniform_)(layer.weight, generator=generator)
            if layer.bias is not None:
                nn.init.zeros_(layer.bias)


def set_dropout_generator(module: nn.Module, generator: torch.Generator) -> None:
    for layer in module.modules():
        if isinstance(layer, SeededDropout):
            layer.generator = generator
