"""One epoch's synthetic images, rendered ahead in large decoder batches into shared memory.

With a CUDA model, ``DataLoader`` worker processes cannot decode on the GPU (a forked
process cannot use its parent's CUDA context). Instead, the main process renders every
synthetic item of the selected epoch on the GPU, ``RENDER_BATCH`` at a time, into one
tensor in shared memory, and workers read their items from it: the decoder stays on
the GPU whatever ``num_workers`` is, and the per-item transform still runs in the
workers. The store is allocated once and refilled in place when the epoch changes, so
workers that already hold it (persistent ones too) see the new items.

Memory: ``n_synthetic × C × H × W`` elements of the images' dtype (one byte each for
uint8 images), allocated when the dataset is built.
"""

from __future__ import annotations

import logging
from typing import Callable

import torch
from tqdm.auto import tqdm

from torch_deepsmote._utils.memory import available_memory, check_memory, format_bytes

__all__ = ["RENDER_BATCH", "RENDER_SHARE", "RenderedEpoch", "rendered_epoch"]

RENDER_BATCH = 4096
"""Synthetic items per decoder call while an epoch is rendered."""

RENDER_SHARE = 0.25
"""With ``prerender=None``, a CUDA model's epochs are rendered ahead unless their images
would take more than this share of the memory available."""

logger = logging.getLogger(__name__)


class RenderedEpoch:
    """Every synthetic item of one epoch, in shared memory.

    Args:
        n_items: synthetic items per epoch.
        image_shape: (C, H, W) of an item.
        dtype: the items' dtype (that of the raw images).
    """

    def __init__(self, n_items: int, image_shape: tuple[int, int, int], dtype: torch.dtype) -> None:
        self.images = torch.empty((n_items, *image_shape), dtype=dtype).share_memory_()
        self._epoch = torch.full((), -1, dtype=torch.long).share_memory_()

    def share_memory_(self) -> "RenderedEpoch":
        """Move the images and the epoch to shared memory (a copy's own, for its workers)."""
        self.images.share_memory_()
        self._epoch.share_memory_()
        return self

    @staticmethod
    def size(n_items: int, image_shape: tuple[int, int, int], dtype: torch.dtype) -> int:
        """Bytes a store of ``n_items`` images takes."""
        channels, height, width = image_shape
        return n_items * channels * height * width * torch.empty((), dtype=dtype).element_size()

    @property
    def epoch(self) -> int | None:
        """The epoch whose items the store holds; ``None`` before the first render or
        while one is under way."""
        epoch = int(self._epoch)
        return None if epoch < 0 else epoch

    def render(self, epoch: int, images_for: Callable[[torch.Tensor], torch.Tensor], *, progress: bool = False) -> None:
        """Fill the store with ``epoch``'s items.

        Args:
            epoch: the epoch the items belong to (recorded once every item is written).
            images_for: synthetic rows (m,) int64 → their (m, C, H, W) images.
            progress: show a tqdm bar (for more than one decoder batch).
        """
        self._epoch.fill_(-1)
        batches = torch.arange(len(self.images)).split(RENDER_BATCH)
        bar = tqdm(batches, desc=f"rendering epoch {epoch}", unit="batch", disable=not progress or len(batches) < 2)
        for rows in bar:
            self.images[rows[0] : rows[-1] + 1] = images_for(rows)
        self._epoch.fill_(epoch)

    def read(self, rows: torch.Tensor, epoch: int) -> torch.Tensor:
        """(m, C, H, W) images of synthetic ``rows`` of ``epoch``; ``RuntimeError`` if the
        store holds another epoch."""
        if self.epoch != epoch:
            raise RuntimeError(
                f"the rendered synthetic items are those of epoch {self.epoch}, not of the selected epoch {epoch}: "
                "select epochs with `DeepSMOTEDataset.set_epoch` in the main process, which renders them."
            )
        return self.images[rows]


def rendered_epoch(
    prerender: bool | None, on_cuda: bool, n_items: int, image_shape: tuple[int, int, int], dtype: torch.dtype
) -> RenderedEpoch | None:
    """The store that a dataset's epochs are rendered ahead into, or ``None`` to decode on demand.

    Args:
        prerender: ``True``/``False`` as asked (``ValueError`` naming ``prerender`` if the
            store cannot fit in memory); ``None``: ahead with a CUDA model, unless the store
            would take more than :data:`RENDER_SHARE` of the memory available (then a warning).
        on_cuda: whether the model decodes on a CUDA device.
        n_items: synthetic items per epoch.
        image_shape, dtype: (C, H, W) and dtype of an item.
    """
    if not (on_cuda if prerender is None else prerender) or n_items == 0:
        return None
    size = RenderedEpoch.size(n_items, image_shape, dtype)
    available = available_memory()
    if prerender is None and available is not None and size > RENDER_SHARE * available:
        logger.warning(
            "the %d synthetic items of an epoch would take %s, more than a quarter of the %s of memory "
            "available: they are decoded on demand, on the CPU in DataLoader workers (pass prerender=True "
            "to render them ahead anyway)",
            n_items,
            format_bytes(size),
            format_bytes(available),
        )
        return None
    check_memory("prerender", n_items, size // n_items, "DeepSMOTEDataset's rendered epoch")
    return RenderedEpoch(n_items, image_shape, dtype)
