"""The per-epoch training checkpoint of :func:`~torch_deepsmote.fit_autoencoder`.

See the crash-safety paragraph of :mod:`torch_deepsmote.nn.training`.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import torch

from torch_deepsmote._utils import files
from torch_deepsmote._utils.warn import warn
from torch_deepsmote.nn.autoencoder import ConvAutoencoder

__all__ = ["check_checkpoint", "resume", "run_identity", "save_checkpoint"]

logger = logging.getLogger(__name__)


def check_checkpoint(checkpoint: Any) -> Path:
    if not isinstance(checkpoint, (str, os.PathLike)):
        raise TypeError(
            f"`checkpoint` must be None, a str or an os.PathLike file path, got {checkpoint!r} "
            f"(type {type(checkpoint).__name__})."
        )
    path = Path(checkpoint)
    if path.is_dir():
        raise ValueError(f"`checkpoint` must name a file, got the folder {str(path)!r}.")
    return path


def run_identity(
    model: ConvAutoencoder,
    images: torch.Tensor,
    labels: torch.Tensor,
    generator: torch.Generator,
    options: dict[str, Any],
) -> str:
    """SHA-256 of everything that determines the run: data, options, initial weights and RNG."""
    config = {
        "kind": "training checkpoint",
        "model": [list(model.image_shape), model.latent_dim, model.width],
        "initial": files.tensor_digest({**model.state_dict(), "generator state": generator.get_state()}),
        **options,
    }
    return files.fingerprint(images, labels, config)


def resume(
    path: Path,
    identity: str,
    model: ConvAutoencoder,
    optimizer: torch.optim.Optimizer,
    generator: torch.Generator,
) -> tuple[int, list[dict[str, float]], dict[str, Any] | None]:
    """Restore a matching checkpoint; (first epoch to run, history so far, the
    held-out stop's state or ``None``)."""
    state = files.read_envelope(path, identity, "training checkpoint")
    if state is None:
        return 0, [], None
    initial = {name: tensor.clone() for name, tensor in model.state_dict().items()}
    try:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        generator.set_state(state["generator"])
        history = [dict(record) for record in state["history"]]
        start = int(state["epoch"]) + 1
        if len(history) != start:
            raise ValueError(f"{len(history)} history records for {start} epochs")
    except Exception as error:  # a well-formed file of a wrong layout: start afresh
        model.load_state_dict(initial)
        warn(
            f"Ignoring the training checkpoint {path}: it cannot be restored "
            f"({type(error).__name__}: {error}); training anew."
        )
        return 0, [], None
    logger.info("resuming autoencoder training from %s after epoch %d", path, start - 1)
    return start, history, state.get("best_epoch")


def save_checkpoint(
    path: Path,
    identity: str,
    model: ConvAutoencoder,
    optimizer: torch.optim.Optimizer,
    generator: torch.Generator,
    history: list[dict[str, float]],
    epoch: int,
    best_epoch: dict[str, Any] | None = None,
) -> None:
    state = {
        "model": {name: tensor.detach().cpu() for name, tensor in model.state_dict().items()},
        "optimizer": optimizer.state_dict(),
        "generator": generator.get_state(),
        "history": history,
        "epoch": epoch,
        "best_epoch": best_epoch,
    }
    files.write_envelope(path, identity, state)
