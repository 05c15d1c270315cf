"""A base dataset streamed to the fit in batches, never held whole (:class:`DatasetSource`).

The autoencoder's training, its held-out stop and the latent index read the images of a
:class:`DatasetSource` one index batch at a time, through a ``DataLoader`` whose workers
read ahead; the batches come in the order asked for, so a seed gives the same fit with
any number of workers, and the same fit as from the images held in memory.
"""

from __future__ import annotations

import math
from typing import Any, Iterator, Sequence

import torch
from torch.utils.data import DataLoader, Dataset

from torch_deepsmote.data.items import RawFormat
from torch_deepsmote.data.reading import check_raw_values, raw_chw, read_item
from torch_deepsmote.nn.ranges import to_network_range

__all__ = ["DIGEST_BATCH", "DatasetSource", "RawImages", "held_size"]

DIGEST_BATCH = 256
"""Images read a batch at a time while the data's fingerprint is taken."""


class RawImages(Dataset):
    """Item i: ``(C, H, W)`` raw image of the base dataset's item i (its label dropped),
    checked against the format of item 0."""

    def __init__(self, dataset: Dataset, raw_format: RawFormat) -> None:
        self.dataset, self.raw_format = dataset, raw_format

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int) -> torch.Tensor:
        return raw_chw(read_item(self.dataset, index)[0], self.raw_format, self.dataset, index)


class DatasetSource:
    """The images of a map-style dataset as an image source (:mod:`torch_deepsmote.nn.sources`),
    read when asked for and never held: ``held_bytes`` is 0.

    Args:
        dataset: yields ``(image, label)``; its images have ``raw_format``.
        raw_format: the format of item 0 (:func:`~torch_deepsmote.data.reading.read_format`).
        num_workers: ``DataLoader`` workers reading ahead (0: read in this process).
        indices: the items of ``dataset`` this source holds, in order (default: all).
    """

    def __init__(
        self,
        dataset: Dataset,
        raw_format: RawFormat,
        *,
        num_workers: int = 0,
        indices: torch.Tensor | None = None,
    ) -> None:
        self.dataset, self.raw_format, self.num_workers = dataset, raw_format, num_workers
        self.indices = torch.arange(len(dataset)) if indices is None else indices
        self._raw = RawImages(dataset, raw_format)

    def __len__(self) -> int:
        return len(self.indices)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return tuple(self.raw_format.shape)

    @property
    def dtype(self) -> torch.dtype:
        return self.raw_format.dtype

    held_bytes = 0

    def read(self, indices: torch.Tensor) -> torch.Tensor:
        """(B,) positions in this source → (B, C, H, W) float32 images in [−1, 1]."""
        return next(self.batches([indices]))

    def batches(self, index_batches: Sequence[torch.Tensor]) -> Iterator[torch.Tensor]:
        """:meth:`read` of each batch of positions, in order, read ahead by the workers."""
        return (to_network_range(raw) for raw in self._raw_batches(index_batches))

    def subset(self, indices: torch.Tensor) -> "DatasetSource":
        return DatasetSource(self.dataset, self.raw_format, num_workers=self.num_workers, indices=self.indices[indices])

    def update_digest(self, digest: Any) -> None:
        """Feed ``digest`` what :func:`~torch_deepsmote._utils.files.update_tensor_digest` feeds
        it for the (N, C, H, W) tensor of the raw images, :data:`DIGEST_BATCH` at a time."""
        digest.update(f"{self.dtype}{(len(self), *self.image_shape)}".encode())
        for raw in self._raw_batches(torch.arange(len(self)).split(DIGEST_BATCH)):
            digest.update(raw.contiguous().view(torch.uint8).numpy().tobytes())

    def _raw_batches(self, index_batches: Sequence[torch.Tensor]) -> Iterator[torch.Tensor]:
        """(B, C, H, W) raw images of each batch of positions, in order, values checked."""
        items = [self.indices[batch].tolist() for batch in index_batches]
        loader = DataLoader(
            self._raw,
            batch_sampler=items,
            num_workers=self.num_workers if len(items) > 1 else 0,
            collate_fn=torch.stack,
        )
        for positions, raw in zip(items, loader):
            check_raw_values(raw, self.dataset, positions)
            yield raw


def held_size(n_items: int, raw_format: RawFormat) -> int:
    """Bytes of the (N, C, H, W) tensor that holding ``n_items`` raw images of ``raw_format`` takes."""
    return n_items * math.prod(raw_format.shape) * torch.empty((), dtype=raw_format.dtype).element_size()
