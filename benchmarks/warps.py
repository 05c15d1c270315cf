"""Borrowed variations rendered as a smooth warp of the base image.

The default adds the decoded change ``decode(z + δ) − decode(z)`` to the base image.
A decoder is blurry, so a moved outline comes out as a soft new edge beside the
sharp old one. Here a smooth displacement field is fitted that carries
``decode(z)`` onto ``decode(z + δ)``, the base image is warped by it (its edges and
texture move, and stay sharp), and a share ``intensity`` of what the warp leaves
unexplained is added as before. With a zero field and ``intensity=1`` this is the
default's image.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from torch_deepsmote import DeepSMOTE
from torch_deepsmote.nn.ranges import from_network_range
from torch_deepsmote.latent.smote import SmoteDraw

from pools import Tweak


def warp(images: torch.Tensor, field: torch.Tensor) -> torch.Tensor:
    """(M, C, H, W) images sampled at the identity grid plus the (M, H, W, 2) ``field``
    (in grid_sample's [-1, 1] units); outside the image, its border."""
    identity = F.affine_grid(torch.eye(2, 3).expand(len(images), 2, 3), list(images.shape), align_corners=False)
    return F.grid_sample(images, identity + field, padding_mode="border", align_corners=False)


def fit_fields(before: torch.Tensor, after: torch.Tensor, grid: int = 7, steps: int = 60, lr: float = 0.02) -> torch.Tensor:
    """(M, H, W, 2) smooth displacement fields, one per pair, that warp each of the
    (M, C, H, W) ``before`` images closest (in squared error) to ``after``: a
    ``grid`` × ``grid`` field upsampled bicubically, fitted by ``steps`` Adam steps."""
    coarse = torch.zeros(len(before), 2, grid, grid, requires_grad=True)
    optimizer = torch.optim.Adam([coarse], lr=lr)
    size = before.shape[-2:]

    def fields() -> torch.Tensor:
        return F.interpolate(coarse, size=size, mode="bicubic", align_corners=True).permute(0, 2, 3, 1)

    with torch.enable_grad():
        for _ in range(steps):
            loss = (warp(before, fields()) - after).pow(2).sum()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    return fields().detach()


def warped_variation(intensity: float = 1.0, **fit: int | float) -> Tweak:
    """Tweak: the default's synthetic images rendered as a warp of the base image plus
    ``intensity`` × the change the warp leaves unexplained (see the module)."""
    def tweak(oversampler: DeepSMOTE, images: torch.Tensor, labels: torch.Tensor) -> None:
        def render_draws(draws: dict[int, SmoteDraw]) -> torch.Tensor:
            starts = torch.cat([oversampler.latents_[label][draw.base] for label, draw in draws.items()])
            moved = torch.cat([oversampler.latents_for(label, draw) for label, draw in draws.items()])
            details = torch.cat([oversampler.residuals_[label][draw.base].float() for label, draw in draws.items()])
            before = oversampler._decode_network(starts).clone()
            after = oversampler._decode_network(moved).clone()
            fields = fit_fields(before, after, **fit)
            with torch.no_grad():
                made = warp(before + details, fields) + intensity * (after - warp(before, fields))
            return from_network_range(made, oversampler.dtype_)

        oversampler.render_draws = render_draws

    tweak.__doc__ = warped_variation.__doc__.replace("``intensity``", f"{intensity:g}")
    return tweak
