"""Raw dataset items (PIL images, tensors, arrays) ↔ (C, H, W) image tensors.

A :class:`RawFormat` is read off a dataset's first item; it turns every item into
a (C, H, W) tensor (uint8 in [0, 255] or float in [0, 1]) for the autoencoder, and
turns decoded tensors back into the same kind of object, so that the user's
transform sees real and synthetic items alike.

Layouts: PIL images as they are (modes L, LA, RGB, RGBA); tensors as (H, W) or
(C, H, W), the torchvision convention; numpy arrays as (H, W) or (H, W, C), the
PIL/OpenCV convention.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from PIL import Image

from torch_deepsmote._utils.validation import CHANNELS_LAST_HINT, looks_channels_last

__all__ = ["RawFormat"]

PIL_MODES = ("L", "LA", "RGB", "RGBA")


@dataclass(frozen=True)
class RawFormat:
    """How one dataset stores an image.

    Attributes:
        kind: ``"pil"``, ``"tensor"`` or ``"numpy"``.
        shape: (C, H, W) of every image.
        dtype: ``torch.uint8`` or a float dtype of the (C, H, W) view.
        mode: PIL mode (PIL items only).
        squeeze: the item has no channel axis (a 2-D tensor or array).
        numpy_dtype: dtype of numpy items.
    """

    kind: str
    shape: tuple[int, int, int]
    dtype: torch.dtype
    mode: str | None = None
    squeeze: bool = False
    numpy_dtype: Any = None

    @classmethod
    def of(cls, item: Any) -> "RawFormat":
        """The format of ``item``; ``TypeError`` if it is not an image this package reads."""
        if isinstance(item, Image.Image):
            if item.mode not in PIL_MODES:
                raise TypeError(
                    f"PIL images of mode {item.mode!r} are not supported; accepted modes are "
                    f"{PIL_MODES} (convert them with `img.convert('RGB')` in the base dataset)."
                )
            channels = len(item.getbands())
            return cls("pil", (channels, item.height, item.width), torch.uint8, mode=item.mode)
        if isinstance(item, torch.Tensor):
            _check_pixel_dtype(item.dtype, "tensor")
            chw = item.unsqueeze(0) if item.ndim == 2 else item
            if chw.ndim != 3:
                raise TypeError(f"image tensors must be (H, W) or (C, H, W), got shape {tuple(item.shape)}.")
            if item.is_meta or item.layout != torch.strided:
                raise TypeError(f"image tensors must be dense tensors that hold data, got a {item.device} tensor.")
            if looks_channels_last(tuple(item.shape)):
                raise ValueError(
                    f"image tensors must be (C, H, W), got shape {tuple(item.shape)}, which looks channels-last "
                    f"(H, W, C): {CHANNELS_LAST_HINT}."
                )
            return cls("tensor", tuple(chw.shape), item.dtype, squeeze=item.ndim == 2)
        if isinstance(item, np.ndarray):
            chw = torch.from_numpy(np.ascontiguousarray(item))
            _check_pixel_dtype(chw.dtype, "array")
            if item.ndim not in (2, 3):
                raise TypeError(f"image arrays must be (H, W) or (H, W, C), got shape {item.shape}.")
            chw = chw.unsqueeze(0) if item.ndim == 2 else chw.permute(2, 0, 1)
            return cls("numpy", tuple(chw.shape), chw.dtype, squeeze=item.ndim == 2, numpy_dtype=item.dtype)
        raise TypeError(f"dataset items must be PIL images, tensors or numpy arrays, got {type(item).__name__}.")

    def to_chw(self, item: Any) -> torch.Tensor:
        """One raw item → (C, H, W) tensor of ``self.dtype``."""
        if self.kind == "pil":
            array = np.asarray(item)
            tensor = torch.from_numpy(array.copy())
            return tensor.unsqueeze(0) if tensor.ndim == 2 else tensor.permute(2, 0, 1)
        if self.kind == "tensor":
            return item.unsqueeze(0) if item.ndim == 2 else item
        tensor = torch.from_numpy(np.ascontiguousarray(item))
        return tensor.unsqueeze(0) if item.ndim == 2 else tensor.permute(2, 0, 1)

    def to_uint8_chw(self, item: Any) -> torch.Tensor:
        """One raw item → (C, H, W) uint8 tensor (float pixels in [0, 1] scaled to 255)."""
        image = self.to_chw(item)
        if image.dtype == torch.uint8:
            return image
        return image.mul(255).round_().clamp_(0, 255).to(torch.uint8)

    def from_chw(self, image: torch.Tensor) -> Any:
        """(C, H, W) tensor of ``self.dtype`` → a raw item like the dataset's own."""
        if self.kind == "pil":
            array = image.permute(1, 2, 0).numpy()
            return Image.fromarray(array[:, :, 0] if self.mode == "L" else array, mode=self.mode)
        if self.kind == "tensor":
            return image[0] if self.squeeze else image
        array = image[0].numpy() if self.squeeze else image.permute(1, 2, 0).contiguous().numpy()
        return array.astype(self.numpy_dtype, copy=False)

    def matches(self, item: Any) -> bool:
        """Whether ``item`` has this format (kind, mode, dtype and shape)."""
        try:
            return RawFormat.of(item) == self
        except (TypeError, ValueError):
            return False


def _check_pixel_dtype(dtype: torch.dtype, what: str) -> None:
    if dtype != torch.uint8 and not dtype.is_floating_point:
        raise TypeError(f"image {what}s must be uint8 in [0, 255] or float in [0, 1], got dtype {dtype}.")
