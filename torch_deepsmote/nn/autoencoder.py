"""The DeepSMOTE convolutional encoder/decoder (DCGAN style).

Layout rule, for an image of ``channels × height × width`` and a base width ``w``
(64 in the paper):

* **Encoder**: four convolution blocks with ``w, 2w, 4w, 8w`` output channels, no
  bias, LeakyReLU(0.2), batch norm on every block but the first (as in the authors'
  code). Each block shrinks every side on its own axis: a side of 1 is kept
  (kernel 1); the last block maps a side of exactly 4 to 1 (kernel 4, stride 1, no
  padding: the 32×32 layout); every other side is halved (kernel 4, stride 2,
  padding 1). The feature map is flattened into ``Linear(→ latent_dim)``.
  28 → 14 → 7 → 3 → 1 and 32 → 16 → 8 → 4 → 1 are the paper's layouts.
* **Decoder**: ``Linear(latent_dim → 8w·h0·w0)`` + ReLU, where ``(h0, w0)`` is the
  encoder's feature size after two blocks, then three transposed convolutions with
  ``4w, 2w, channels`` outputs (batch norm + ReLU after the first two, Tanh at the
  end). A side of 28 grows as in the paper, 7 → 10 → 13 → 28; every other side ``s``
  doubles twice (kernel 4, stride 2, padding 1) and a last stride-1 convolution
  (padding 1, kernel ``s − 4·s0 + 3``) lands exactly on ``s``: 8 → 16 → 32 → 32.

These are the layouts up to 32×32 (both sides ≤ 32). A larger image grows the network in
depth, not in the width of its linear layers: the encoder halves every side (kernel 4,
stride 2, padding 1; a side of 1 is kept) with ``w, 2w, 4w, 8w, 8w, …`` channels until
both sides are at most 4, and the decoder mirrors it block for block, each transposed
convolution doubling a side and adding the one pixel a halving dropped from an odd side
(``output_padding``), so it lands exactly on the image size: 224 → 112 → 56 → 28 → 14 →
7 → 3 and back. The parameter count then stays below twice the 3×32×32 model's for any
side up to 512 (``docs/performance.md`` lists it per size).

Images must be at least 4×4; inputs are expected in ``[-1, 1]``.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from torch_deepsmote._utils.memory import available_memory, format_bytes
from torch_deepsmote._utils.validation import check_int
from torch_deepsmote.nn.init import reset_parameters_

__all__ = ["ConvAutoencoder", "default_latent_dim"]

MIN_SIDE = 4
PAPER_MAX_SIDE = 32
"""The largest side the paper's four-block layouts serve; larger images grow in depth."""
_PAPER_SIDE = 28
_DEEP_MAP_SIDE = 4


def default_latent_dim(channels: int) -> int:
    """The paper's latent size: 300 for one-channel images, 600 otherwise."""
    return 300 if channels == 1 else 600


def _encoder_axis(side: int, last: bool) -> tuple[int, int, int]:
    """(kernel, stride, padding) of one encoder block along one axis of size ``side``."""
    if side == 1:
        return 1, 1, 0
    if last and side == 4:
        return 4, 1, 0
    return 4, 2, 1


def _decoder_axis(side: int, start: int) -> list[tuple[int, int, int]]:
    """(kernel, stride, padding) of the three decoder blocks along one axis."""
    if side == _PAPER_SIDE:
        return [(4, 1, 0), (4, 1, 0), (4, 2, 0)]
    return [(4, 2, 1), (4, 2, 1), (side - 4 * start + 3, 1, 1)]


def _conv_out(side: int, kernel: int, stride: int, padding: int) -> int:
    return (side + 2 * padding - kernel) // stride + 1


def _deep_sizes(height: int, width: int) -> list[tuple[int, int]]:
    """(h, w) of the input and of each deep encoder block's output, down to ≤ 4×4."""
    sizes = [(height, width)]
    while max(sizes[-1]) > _DEEP_MAP_SIDE:
        h, w = sizes[-1]
        sizes.append((h // 2 if h > 1 else 1, w // 2 if w > 1 else 1))
    return sizes


def _deep_axis(side: int) -> tuple[int, int, int]:
    """(kernel, stride, padding) of a deep encoder block along an axis of size ``side``."""
    return (1, 1, 0) if side == 1 else (4, 2, 1)


def _per_axis(params_h: tuple[int, int, int], params_w: tuple[int, int, int]) -> dict:
    """Conv keyword arguments from per-axis (kernel, stride, padding) triples."""
    return {
        "kernel_size": (params_h[0], params_w[0]),
        "stride": (params_h[1], params_w[1]),
        "padding": (params_h[2], params_w[2]),
    }


class ConvAutoencoder(nn.Module):
    """DeepSMOTE's encoder/decoder for ``(channels, height, width)`` images.

    Args:
        image_shape: ``(channels, height, width)``; height and width at least 4.
        latent_dim: size of the latent code; ``None`` takes the paper's value
            (300 for one channel, 600 otherwise).
        width: channels of the first encoder block (``dim_h`` in the paper, 64).
        generator: seeds the initial weights (PyTorch's default initialisation,
            drawn from this generator instead of the global one).

    Shapes:
        ``encode``: (N, C, H, W) in [-1, 1] → (N, latent_dim);
        ``decode``: (N, latent_dim) → (N, C, H, W) in [-1, 1];
        ``forward``: reconstruction, (N, C, H, W) → (N, C, H, W).
    """

    def __init__(
        self,
        image_shape: Sequence[int],
        latent_dim: int | None = None,
        *,
        width: int = 64,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        self._layout(image_shape, latent_dim, width)
        if generator is not None and not isinstance(generator, torch.Generator):
            raise TypeError(f"`generator` must be None or a torch.Generator, got {type(generator).__name__}.")
        if generator is None:  # PyTorch's own initialisation, from the global RNG, then redrawn from it
            self._build()
        else:  # built on the meta device, so building draws nothing from the global RNG
            self.to_empty(device="cpu")
        self.reset_parameters(generator)

    @classmethod
    def empty(cls, image_shape: Sequence[int], latent_dim: int | None = None, *, width: int = 64) -> "ConvAutoencoder":
        """A model with uninitialised weights, to ``load_state_dict`` into: it draws nothing
        from any random number generator."""
        model = cls.__new__(cls)
        nn.Module.__init__(model)
        model._layout(image_shape, latent_dim, width)
        model.to_empty(device="cpu")
        for layer in model.modules():
            if isinstance(layer, nn.BatchNorm2d):
                layer.reset_parameters()
        return model

    def _layout(self, image_shape: Sequence[int], latent_dim: int | None, width: int) -> None:
        """Check the arguments and build the layers on the meta device (no memory, no RNG)."""
        channels, height, width_px = _check_image_shape(image_shape)
        latent_dim = default_latent_dim(channels) if latent_dim is None else latent_dim
        self.image_shape = (channels, height, width_px)
        self.latent_dim = check_int("latent_dim", latent_dim, minimum=1)
        self.width = check_int("width", width, minimum=1)
        try:
            with torch.device("meta"):
                self._build()
        except (RuntimeError, OverflowError, TypeError, ValueError) as error:  # sizes past what a tensor can index
            raise ValueError(
                f"`latent_dim`={self.latent_dim} and `width`={self.width} for images of shape {self.image_shape} "
                f"make a network too large to build ({error}): lower `latent_dim` or `width`."
            ) from error
        _check_size(self)

    def _build(self) -> None:
        if max(self.image_shape[1:]) > PAPER_MAX_SIDE:
            self._build_deep()
            return
        self.encoder, feature_sizes = self._build_encoder()
        self.decoder_input, self.decoder = self._build_decoder(feature_sizes[2])

    def _build_deep(self) -> None:
        """The layout of images larger than 32×32: halving blocks down to ≤ 4×4 and their mirror."""
        channels, height, width_px = self.image_shape
        sizes = _deep_sizes(height, width_px)
        widths = [channels] + [self.width * 2 ** min(block, 3) for block in range(len(sizes) - 1)]
        encoder: list[nn.Module] = []
        for block, (h, w) in enumerate(sizes[:-1]):
            params = _per_axis(_deep_axis(h), _deep_axis(w))
            encoder.append(nn.Conv2d(widths[block], widths[block + 1], bias=False, **params))
            encoder += [nn.BatchNorm2d(widths[block + 1])] if block > 0 else []
            encoder.append(nn.LeakyReLU(0.2, inplace=True))
        (h, w), top = sizes[-1], widths[-1]
        self.encoder = nn.Sequential(*encoder, nn.Flatten(), nn.Linear(top * h * w, self.latent_dim))
        self.decoder_input = nn.Sequential(
            nn.Linear(self.latent_dim, top * h * w), nn.ReLU(inplace=True), nn.Unflatten(1, (top, h, w))
        )
        decoder: list[nn.Module] = []
        for block in reversed(range(len(sizes) - 1)):
            (h, w), last = sizes[block], block == 0
            params = _per_axis(_deep_axis(h), _deep_axis(w))
            padding = (h % 2 if h > 1 else 0, w % 2 if w > 1 else 0)
            decoder.append(
                nn.ConvTranspose2d(widths[block + 1], widths[block], bias=last, output_padding=padding, **params)
            )
            decoder += [nn.Tanh()] if last else [nn.BatchNorm2d(widths[block]), nn.ReLU(inplace=True)]
        self.decoder = nn.Sequential(*decoder)

    def _build_encoder(self) -> tuple[nn.Sequential, list[tuple[int, int]]]:
        channels, height, width_px = self.image_shape
        widths = [channels] + [self.width * 2**i for i in range(4)]
        sizes = [(height, width_px)]
        layers: list[nn.Module] = []
        for block in range(4):
            h, w = sizes[-1]
            last = block == 3
            params = _per_axis(_encoder_axis(h, last), _encoder_axis(w, last))
            layers.append(nn.Conv2d(widths[block], widths[block + 1], bias=False, **params))
            if block > 0:
                layers.append(nn.BatchNorm2d(widths[block + 1]))
            layers.append(nn.LeakyReLU(0.2, inplace=True))
            sizes.append(
                (
                    _conv_out(h, *_encoder_axis(h, last)),
                    _conv_out(w, *_encoder_axis(w, last)),
                )
            )
        h, w = sizes[-1]
        layers += [nn.Flatten(), nn.Linear(widths[-1] * h * w, self.latent_dim)]
        return nn.Sequential(*layers), sizes

    def _build_decoder(self, start: tuple[int, int]) -> tuple[nn.Sequential, nn.Sequential]:
        channels, height, width_px = self.image_shape
        top = self.width * 8
        decoder_input = nn.Sequential(
            nn.Linear(self.latent_dim, top * start[0] * start[1]),
            nn.ReLU(inplace=True),
            nn.Unflatten(1, (top, start[0], start[1])),
        )
        widths = [top, self.width * 4, self.width * 2, channels]
        steps = zip(_decoder_axis(height, start[0]), _decoder_axis(width_px, start[1]))
        layers: list[nn.Module] = []
        for block, (params_h, params_w) in enumerate(steps):
            last = block == 2
            params = _per_axis(params_h, params_w)
            layers.append(nn.ConvTranspose2d(widths[block], widths[block + 1], bias=last, **params))
            layers += [nn.Tanh()] if last else [nn.BatchNorm2d(widths[block + 1]), nn.ReLU(inplace=True)]
        return decoder_input, nn.Sequential(*layers)

    def reset_parameters(self, generator: torch.Generator | None = None) -> None:
        """Re-draw every weight with PyTorch's default scheme, from ``generator``."""
        reset_parameters_(self, generator)

    def encode(self, images: torch.Tensor) -> torch.Tensor:
        """(N, C, H, W) images in [-1, 1] → (N, latent_dim) latents."""
        return self.encoder(images)

    def decode(self, latents: torch.Tensor) -> torch.Tensor:
        """(N, latent_dim) latents → (N, C, H, W) images in [-1, 1]."""
        return self.decoder(self.decoder_input(latents))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(images))

    def extra_repr(self) -> str:
        return f"image_shape={self.image_shape}, latent_dim={self.latent_dim}, width={self.width}"


def _check_size(model: ConvAutoencoder) -> None:
    """Refuse a network whose float32 weights the memory available cannot hold."""
    n_parameters = sum(parameter.numel() for parameter in model.parameters())
    needed, available = 4 * n_parameters, available_memory()
    if n_parameters >= 2**62 or (available is not None and needed > available):
        room = "" if available is None else f", more than the {format_bytes(available)} of memory available"
        raise ValueError(
            f"`latent_dim`={model.latent_dim} and `width`={model.width} for images of shape "
            f"{model.image_shape} make a network of {n_parameters:,} weights ({format_bytes(needed)}){room}: "
            "lower `latent_dim` or `width`."
        )


def _check_image_shape(image_shape: Sequence[int]) -> tuple[int, int, int]:
    try:
        values = tuple(image_shape)
    except TypeError:
        values = ()
    if len(values) != 3:
        raise ValueError(f"`image_shape` must be (channels, height, width), got {image_shape!r}.")
    channels = check_int("image_shape[0] (channels)", values[0], minimum=1)
    height = check_int("image_shape[1] (height)", values[1], minimum=1)
    width = check_int("image_shape[2] (width)", values[2], minimum=1)
    if min(height, width) < MIN_SIDE:
        raise ValueError(
            f"`image_shape` {tuple(values)} is too small for the network: height and width must be at least {MIN_SIDE}."
        )
    return channels, height, width
