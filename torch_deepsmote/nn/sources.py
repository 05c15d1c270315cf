"""Where the fit reads its images from: a tensor in memory, or a dataset streamed in batches.

The autoencoder's training, the held-out stop and the latent index read images only by
index batches, through an image source:

* ``len(source)`` images of ``source.image_shape`` ``(C, H, W)`` and raw ``source.dtype``,
  ``source.held_bytes`` of them held in memory;
* ``source.read(indices)``: (B,) int64 indices → (B, C, H, W) float32 CPU images in the
  network's [−1, 1];
* ``source.batches(index_batches)``: the same for a list of index batches, in their order
  (a streamed source reads ahead with ``DataLoader`` workers);
* ``source.subset(indices)``: the source of those images only, in that order;
* ``source.update_digest(digest)``: feeds a ``hashlib`` digest what
  :func:`~torch_deepsmote._utils.files.fingerprint` feeds it for the raw (N, C, H, W)
  tensor, so a fit's fingerprint is the same whether its images were held or streamed.

:class:`TensorSource` is the source of a tensor; ``torch_deepsmote.data.streaming`` has the
one of a dataset.
"""

from __future__ import annotations

from typing import Any, Iterator, Sequence

import torch

from torch_deepsmote._utils.files import update_tensor_digest
from torch_deepsmote.nn.ranges import to_network_range

__all__ = ["TensorSource", "as_source"]


class TensorSource:
    """(N, C, H, W) images held in memory: raw ones (uint8, or float in [0, 1]) converted to
    [−1, 1] a batch at a time, so the fit holds no float32 copy of them; or, with
    ``network_range=True``, images already in [−1, 1]."""

    def __init__(self, images: torch.Tensor, *, network_range: bool = False) -> None:
        self.images, self.network_range = images, network_range

    def __len__(self) -> int:
        return self.images.shape[0]

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return tuple(self.images.shape[1:])

    @property
    def dtype(self) -> torch.dtype:
        return self.images.dtype

    @property
    def held_bytes(self) -> int:
        """Bytes of the images held in memory."""
        return self.images.numel() * self.images.element_size()

    def read(self, indices: torch.Tensor) -> torch.Tensor:
        """(B,) indices → (B, C, H, W) float32 images in [−1, 1]."""
        chosen = self.images[indices]
        return chosen if self.network_range else to_network_range(chosen)

    def batches(self, index_batches: Sequence[torch.Tensor]) -> Iterator[torch.Tensor]:
        """:meth:`read` of each index batch, in order."""
        return (self.read(batch) for batch in index_batches)

    def subset(self, indices: torch.Tensor) -> "TensorSource":
        return TensorSource(self.images[indices], network_range=self.network_range)

    def update_digest(self, digest: Any) -> None:
        update_tensor_digest(digest, self.images)


def as_source(images: Any) -> Any:
    """An image source: ``images`` itself, or a :class:`TensorSource` of a tensor in [−1, 1]."""
    if isinstance(images, torch.Tensor):
        return TensorSource(images, network_range=True)
    if not all(hasattr(images, name) for name in ("read", "batches", "subset", "update_digest")):
        raise TypeError(
            f"`images` must be an (N, C, H, W) float tensor in [-1, 1] or an image source, got {type(images).__name__}."
        )
    return images
