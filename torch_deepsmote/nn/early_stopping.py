"""The held-out reconstruction stop of :func:`~torch_deepsmote.fit_autoencoder`.

With ``validation_fraction=f`` a share ``f`` of each class's images (rounded down, so
a class of fewer than ``1/f`` images gives none) is kept out of training; after every
epoch their reconstruction MSE is measured in eval mode. Training stops once
``n_iter_no_change`` epochs in a row have not lowered the best held-out loss by more
than ``tol``, and the weights of the best epoch are put back.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from torch_deepsmote.nn.autoencoder import ConvAutoencoder
from torch_deepsmote.nn.sources import as_source

__all__ = ["BestEpoch", "held_out_loss", "split_held_out"]


def split_held_out(
    labels: torch.Tensor, fraction: float, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """(n_train,) and (n_held,) int64 indices: ``floor(fraction · n_c)`` random images
    of each class held out, the rest kept for training, each in ascending order.

    Raises:
        ValueError: when no image is held out or fewer than 2 are kept.
    """
    held = []
    for label in torch.unique(labels).tolist():
        members = torch.nonzero(labels == label).flatten()
        order = torch.randperm(members.numel(), generator=generator)
        held.append(members[order[: int(fraction * members.numel())]])
    held_out = torch.cat(held).sort().values
    kept = torch.ones(labels.numel(), dtype=torch.bool)
    kept[held_out] = False
    if held_out.numel() == 0 or int(kept.sum()) < 2:
        raise ValueError(
            f"`validation_fraction`={fraction} holds out {held_out.numel()} of {labels.numel()} images "
            f"and keeps {int(kept.sum())} to train on: it needs at least 1 held out and 2 kept (each class "
            f"gives floor(fraction × its count))."
        )
    return torch.nonzero(kept).flatten(), held_out


@torch.no_grad()
def held_out_loss(
    model: ConvAutoencoder,
    images: Any,
    batch_size: int,
    device: torch.device,
    layout: torch.memory_format,
) -> torch.Tensor:
    """(2,) float64 on ``device``: the summed reconstruction MSE per image of the M held-out
    images (an image source, :mod:`torch_deepsmote.nn.sources`, or an (M, C, H, W) tensor
    in [-1, 1]; eval mode) and M; the model is left in train mode."""
    model.eval()
    total = torch.zeros(2, dtype=torch.float64, device=device)
    source = as_source(images)
    for chunk in source.batches(torch.arange(len(source)).split(batch_size)):
        chunk = chunk.to(device, memory_format=layout)
        total[0] += F.mse_loss(model(chunk), chunk, reduction="sum").double() / chunk[0].numel()
        total[1] += chunk.shape[0]
    model.train()
    return total


class BestEpoch:
    """The best held-out loss so far, its weights and the epochs since it improved."""

    def __init__(self, n_iter_no_change: int, tol: float) -> None:
        self.n_iter_no_change, self.tol = n_iter_no_change, tol
        self.loss, self.epoch, self.since, self.weights = float("inf"), -1, 0, None

    def update(self, model: ConvAutoencoder, epoch: int, loss: float) -> bool:
        """Record ``epoch``'s held-out ``loss``; True when training should stop."""
        if loss < self.loss - self.tol:
            self.loss, self.epoch, self.since = loss, epoch, 0
            self.weights = {name: tensor.detach().cpu().clone() for name, tensor in model.state_dict().items()}
        else:
            self.since += 1
        return self.stopped

    @property
    def stopped(self) -> bool:
        """Whether ``n_iter_no_change`` epochs in a row have not improved on the best."""
        return self.since >= self.n_iter_no_change

    def restore(self, model: ConvAutoencoder) -> None:
        """Put the best epoch's weights back into ``model`` (nothing if none was recorded)."""
        if self.weights is not None:
            model.load_state_dict(self.weights)

    def state_dict(self) -> dict[str, Any]:
        return {"loss": self.loss, "epoch": self.epoch, "since": self.since, "weights": self.weights}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.loss, self.epoch, self.since = float(state["loss"]), int(state["epoch"]), int(state["since"])
        self.weights = state["weights"]
