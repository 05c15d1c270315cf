"""Training the DeepSMOTE autoencoder: reconstruction loss plus a penalty term.

Penalties (``penalty=``):

* ``"paper"`` — the paper's text: latents of same-class images are decoded in a
  permuted order and compared with the images in the original order, so
  ``decode(z_π(i))`` is pulled toward ``x_i``; gradients reach encoder and decoder.
  The same-class pairs are taken from the current batch (a random derangement
  within each class; classes with one image in the batch sit out of the penalty),
  which saves the second encoder pass of a separate class batch. ``decode(z_π(i))``
  is row ``π(i)`` of the batch's one decoder pass: decoding the latents in permuted
  order changes no batch-norm statistic, so one decoder pass (forward and
  backward) serves both terms.
* ``"official"`` — what the authors' released code computes: one class drawn
  uniformly, up to 100 of its images, encoded with the encoder detached, decoded
  and compared with the same images (the code shifts images and latents the same
  way, so the shift cancels): a second reconstruction loss on one class.
* ``"none"`` — reconstruction only.

A held-out stop (``validation_fraction=``, ``n_iter_no_change=``): a share of each
class is kept out of training, and training stops once their reconstruction loss has
not improved for ``n_iter_no_change`` epochs, with the best epoch's weights put back
(:mod:`torch_deepsmote.nn.early_stopping`).

Under ``torch.distributed`` (``torchrun``) the model is wrapped in
``DistributedDataParallel`` and each rank trains on its own share of every
shuffled epoch; all ranks must pass the same ``random_state``.

Crash safety (``checkpoint=``): after every epoch the model's ``state_dict``, the
Adam state, the training generator's state, the history and the epoch number are
written atomically (a temporary file in the same folder, ``fsync``, ``os.replace``;
see :mod:`torch_deepsmote._utils.files`) to the checkpoint file, together with an identity
fingerprint: a SHA-256 of the images, the labels, the training options (``epochs``,
``batch_size``, ``lr``, ``penalty``, ``penalty_weight``, the number of processes), the
model's architecture and *initial* weights, and the generator's *initial* state. A
later call with a checkpoint of the same identity restores all of it and continues
with the next epoch, so the shuffling and penalty draws carry on exactly as if the
run had not stopped and the result is the same as that of an uninterrupted run. A
checkpoint of another identity, or an unreadable one, is ignored with a warning and
training starts from scratch (overwriting it). The file is removed when
``fit_autoencoder`` returns (also after a ``callback`` stop): it only outlives a run
that died. Under ``torch.distributed`` only rank 0 writes it.
"""

from __future__ import annotations

import copy
import os
import time
from typing import Any, Callable

import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from torch_deepsmote._utils.distributed import distributed_context
from torch_deepsmote._utils.validation import check_float, check_generator, check_int, check_option, resolve_device
from torch_deepsmote.nn.autoencoder import ConvAutoencoder
from torch_deepsmote.nn.checkpoint import check_checkpoint, resume, run_identity, save_checkpoint
from torch_deepsmote.nn.early_stopping import BestEpoch, held_out_loss, split_held_out
from torch_deepsmote.nn.sources import as_source
from torch_deepsmote.nn.step_settings import StepSettings, default_step_settings

__all__ = ["PENALTIES", "check_batch_size", "fit_autoencoder", "time_training_step"]

PENALTIES = ("paper", "official", "none")
OFFICIAL_CLASS_BATCH = 100

EpochRecord = dict[str, float]


def same_class_derangement(labels: torch.Tensor, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Pair each item with another item of its class, at random.

    Args:
        labels: (B,) int64 class of each batch item.
        generator: CPU generator for the random order.

    Returns:
        ``(items, partners)``: (m,) positions of the items whose class has at least
        two members in the batch, and (m,) positions of their partners; no item is
        its own partner.
    """
    keys = torch.rand(labels.shape[0], generator=generator)
    order = torch.argsort(keys)
    order = order[torch.argsort(labels[order], stable=True)]
    sorted_labels = labels[order]
    _, counts = torch.unique_consecutive(sorted_labels, return_counts=True)
    starts = torch.repeat_interleave(torch.cumsum(counts, 0) - counts, counts)
    sizes = torch.repeat_interleave(counts, counts)
    position = torch.arange(labels.shape[0])
    shifted = starts + (position - starts + 1) % sizes
    keep = sizes > 1
    return order[keep], order[shifted[keep]]


class _AutoencoderLoss(nn.Module):
    """Both loss terms in one ``forward`` so ``DistributedDataParallel`` can wrap it."""

    def __init__(self, model: ConvAutoencoder, penalty: str) -> None:
        super().__init__()
        self.model = model
        self.penalty = penalty

    def forward(
        self,
        images: torch.Tensor,
        items: torch.Tensor,
        partners: torch.Tensor,
        class_batch: torch.Tensor | None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        latents = self.model.encode(images)
        decoded = self.model.decode(latents)
        reconstruction = F.mse_loss(decoded, images)
        if self.penalty == "paper" and items.numel() > 0:
            penalty = F.mse_loss(decoded[partners], images[items])
        elif self.penalty == "official" and class_batch is not None:
            with torch.no_grad():
                class_latents = self.model.encode(class_batch)
            penalty = F.mse_loss(self.model.decode(class_latents), class_batch)
        else:
            penalty = reconstruction.new_zeros(())
        return reconstruction, penalty


def _batches(n_items: int, batch_size: int, generator: torch.Generator) -> list[torch.Tensor]:
    """Shuffled index batches; a last batch of one item joins the one before (batch norm)."""
    batches = list(torch.randperm(n_items, generator=generator).split(batch_size))
    if len(batches) > 1 and batches[-1].numel() == 1:
        batches[-2:] = [torch.cat(batches[-2:])]
    return batches


def _rank_batches(
    n_items: int, batch_size: int, generator: torch.Generator, rank: int, world_size: int
) -> list[torch.Tensor]:
    """This rank's share of an epoch's batches; every rank gets the same count."""
    batches = _batches(n_items, batch_size, generator)
    usable = len(batches) - len(batches) % world_size
    if usable == 0:
        raise ValueError(
            f"`batch_size` {batch_size} leaves {len(batches)} batches for {world_size} "
            f"processes; every process needs at least one: lower `batch_size`."
        )
    return batches[:usable][rank::world_size]


def _official_class_batch(source: Any, labels: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Up to 100 images of one class drawn uniformly among the classes, read from the image ``source``."""
    classes = torch.unique(labels)
    chosen = classes[torch.randint(classes.numel(), (1,), generator=generator)]
    members = torch.nonzero(labels == chosen).flatten()
    pick = torch.randperm(members.numel(), generator=generator)[:OFFICIAL_CLASS_BATCH]
    return source.read(members[pick])


def _has_fused_adam(device: torch.device) -> bool:
    """Whether this torch has a fused Adam kernel for ``device`` (CUDA; the CPU from torch 2.4)."""
    return device.type == "cuda" or (device.type == "cpu" and torch.__version__ >= "2.4")


def check_batch_size(batch_size: Any) -> int:
    """``batch_size`` as an int ≥ 2: batch norm needs two images in every training batch."""
    if check_int("batch_size", batch_size, minimum=1) < 2:
        raise ValueError(
            f"`batch_size` must be an int >= 2 (the autoencoder's batch norm needs two images per batch), "
            f"got {batch_size}."
        )
    return int(batch_size)


def fit_autoencoder(
    model: ConvAutoencoder,
    images: torch.Tensor | Any,
    labels: torch.Tensor,
    *,
    epochs: int,
    batch_size: int = 100,
    lr: float = 1e-3,
    penalty: str = "none",
    penalty_weight: float = 1.0,
    device: Any = None,
    random_state: int | torch.Generator | None = None,
    progress: bool = True,
    callback: Callable[[EpochRecord], bool | None] | None = None,
    checkpoint: str | os.PathLike | None = None,
    validation_fraction: float = 0.0,
    n_iter_no_change: int = 5,
    tol: float = 0.0,
    step_settings: StepSettings | None = None,
) -> list[EpochRecord]:
    """Train ``model`` in place with Adam on reconstruction MSE + ``penalty``.

    Args:
        model: the autoencoder to train (moved to ``device``).
        images: (N, C, H, W) float images scaled to [-1, 1], or an image source
            (:mod:`torch_deepsmote.nn.sources`: a tensor converted a batch at a time, or a
            dataset streamed through a ``DataLoader``), read one batch at a time.
        labels: (N,) int64 class labels.
        epochs: passes over the data (0 trains nothing).
        batch_size: images per step.
        lr: Adam learning rate (the paper: 2e-4).
        penalty: ``"paper"``, ``"official"`` or ``"none"`` (module docstring).
        penalty_weight: factor of the penalty in the summed loss.
        device: where to train; ``None`` means CUDA when available.
        random_state: seed or generator for shuffling and penalty draws.
        progress: show a tqdm bar with both loss terms.
        callback: called with each epoch's record (after the epoch's checkpoint is
            written); returning ``True`` stops training.
        checkpoint: file for the per-epoch crash-safe checkpoint (module docstring);
            an existing checkpoint of the same run is resumed. ``None``: none.
        validation_fraction: share of each class's images kept out of training to
            stop on (see :mod:`torch_deepsmote.nn.early_stopping`); 0 trains on every
            image for ``epochs`` epochs.
        n_iter_no_change: with ``validation_fraction``, epochs without a better
            held-out reconstruction loss before training stops (``epochs`` is then a
            maximum) and the best epoch's weights are put back.
        tol: how much lower than the best so far a held-out loss must be to count
            as better.
        step_settings: how the steps run (layout, bf16 autocast, ``torch.compile``;
            :mod:`torch_deepsmote.nn.step_settings`); ``None``: the device's default.

    Returns:
        One record per epoch: ``{"epoch", "reconstruction", "penalty", "loss"}``,
        each a mean over the epoch's training images, and ``"validation"``, the
        held-out reconstruction MSE, with ``validation_fraction``.
    """
    epochs = check_int("epochs", epochs, minimum=0)
    batch_size = check_batch_size(batch_size)
    lr = check_float("lr", lr, minimum=0.0, inclusive_minimum=False)
    penalty = check_option("penalty", penalty, PENALTIES)
    penalty_weight = check_float("penalty_weight", penalty_weight, minimum=0.0)
    validation_fraction = check_float(
        "validation_fraction", validation_fraction, minimum=0.0, maximum=1.0, inclusive_maximum=False
    )
    n_iter_no_change = check_int("n_iter_no_change", n_iter_no_change, minimum=1)
    tol = check_float("tol", tol, minimum=0.0)
    source = as_source(images)
    if len(source) < 2 or tuple(labels.shape) != (len(source),):
        raise ValueError(
            f"`images` must hold at least 2 images with one label each, got {len(source)} "
            f"images and labels of shape {tuple(labels.shape)}."
        )
    device = resolve_device(device)
    settings = _check_step_settings(step_settings, device)
    generator = check_generator(random_state)
    rank, world_size = distributed_context()
    held_out, best = None, BestEpoch(n_iter_no_change, tol)
    if validation_fraction > 0:
        kept, held = split_held_out(labels, validation_fraction, generator)
        source, labels, held_out = source.subset(kept), labels[kept], source.subset(held)

    layout = settings.layout
    model.to(device, memory_format=layout).train()
    step = _AutoencoderLoss(model, penalty)
    if world_size > 1:
        step = nn.parallel.DistributedDataParallel(step)
    step = settings.prepare(step)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr, fused=_has_fused_adam(device))
    history: list[EpochRecord] = []
    start, identity = 0, ""
    if checkpoint is not None:
        checkpoint = check_checkpoint(checkpoint)
        options = dict(
            epochs=epochs,
            batch_size=batch_size,
            lr=lr,
            penalty=penalty,
            penalty_weight=penalty_weight,
            world_size=world_size,
            step_settings=settings.describe(),
        )
        if held_out is not None:
            options |= dict(validation_fraction=validation_fraction, n_iter_no_change=n_iter_no_change, tol=tol)
        identity = run_identity(model, source, labels, generator, options)
        start, history, best_state = resume(checkpoint, identity, model, optimizer, generator)
        if best_state is not None:
            best.load_state_dict(best_state)
            start = epochs if best.stopped else start  # it died between its stop and its return
    bar = tqdm(
        range(start, epochs),
        initial=start,
        total=epochs,
        desc="autoencoder",
        unit="epoch",
        disable=not progress or rank != 0,
    )
    for epoch in bar:
        sums = torch.zeros(3, dtype=torch.float64, device=device)
        batches = _rank_batches(len(source), batch_size, generator, rank, world_size)
        for batch, batch_images in zip(batches, source.batches(batches)):
            items, partners = same_class_derangement(labels[batch], generator)
            class_batch = None
            if penalty == "official":
                class_batch = _official_class_batch(source, labels, generator).to(device, memory_format=layout)
            inputs = batch_images.to(device, memory_format=layout), items.to(device), partners.to(device), class_batch
            reconstruction, penalty_term, loss = _train_step(step, optimizer, settings, device, penalty_weight, inputs)
            terms = torch.stack([reconstruction.detach(), penalty_term.detach(), loss.new_ones(())])
            sums += terms.double() * batch.numel()
        if world_size > 1:
            torch.distributed.all_reduce(sums)
        record = _epoch_record(epoch, sums, penalty_weight)
        stop = False
        if held_out is not None:
            held_sums = held_out_loss(model, held_out, batch_size, device, layout)
            if world_size > 1:  # batch-norm statistics differ per rank: all ranks stop together
                torch.distributed.all_reduce(held_sums)
            record["validation"] = float(held_sums[0] / held_sums[1])
            stop = best.update(model, epoch, record["validation"])
        history.append(record)
        if checkpoint is not None and rank == 0:
            stop_state = best.state_dict() if held_out is not None else None
            save_checkpoint(checkpoint, identity, model, optimizer, generator, history, epoch, stop_state)
        shown = (("rec", "reconstruction"), ("pen", "penalty"), ("val", "validation"))
        bar.set_postfix({short: f"{record[key]:.4f}" for short, key in shown if key in record})
        if (callback is not None and callback(record)) or stop:
            break
    best.restore(model)
    if world_size > 1:
        for buffer in model.buffers():  # batch-norm statistics are per rank: take rank 0's
            torch.distributed.broadcast(buffer, src=0)
    model.to(memory_format=torch.contiguous_format).eval()
    if checkpoint is not None and rank == 0:
        checkpoint.unlink(missing_ok=True)
    return history


def _train_step(
    step: nn.Module,
    optimizer: torch.optim.Optimizer,
    settings: StepSettings,
    device: torch.device,
    penalty_weight: float,
    inputs: tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor | None],
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """One Adam step on a batch's ``(images, items, partners, class_batch)``, the forward pass
    under ``settings``' autocast; returns the reconstruction, penalty and summed loss."""
    with settings.autocast(device):
        reconstruction, penalty_term = step(*inputs)
    loss = reconstruction.float() + penalty_weight * penalty_term.float()
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return reconstruction, penalty_term, loss


def _check_step_settings(step_settings: Any, device: torch.device) -> StepSettings:
    """``step_settings``, or the device's default for ``None``."""
    if step_settings is None:
        return default_step_settings(device)
    if not isinstance(step_settings, StepSettings):
        raise TypeError(
            f"`step_settings` must be None or a StepSettings, got {step_settings!r} "
            f"(type {type(step_settings).__name__})."
        )
    return step_settings


def time_training_step(
    model: ConvAutoencoder,
    images: torch.Tensor | Any,
    labels: torch.Tensor,
    *,
    batch_size: int,
    penalty: str = "none",
    penalty_weight: float = 1.0,
    device: Any = None,
    steps: int = 3,
    step_settings: StepSettings | None = None,
) -> float:
    """Seconds one training step takes: the mean of ``steps`` steps after one warm-up step.

    The steps are :func:`fit_autoencoder`'s, on the first ``batch_size`` of the (N, C, H, W)
    ``images`` in [-1, 1] (or of an image source) with their (N,) int64 ``labels``, but they train a copy of
    ``model`` with an Adam of its own and draw from a generator of their own: ``model``
    and every generator a fit draws from are left as they were.
    """
    device = resolve_device(device)
    settings = _check_step_settings(step_settings, device)
    layout = settings.layout
    trained = copy.deepcopy(model).to(device, memory_format=layout).train()
    step = settings.prepare(_AutoencoderLoss(trained, penalty))
    optimizer = torch.optim.Adam(trained.parameters(), fused=_has_fused_adam(device))
    generator = torch.Generator().manual_seed(0)
    source = as_source(images)
    batch = torch.arange(min(batch_size, len(source)))
    batch_images = source.read(batch)

    def one_step() -> None:
        items, partners = same_class_derangement(labels[batch], generator)
        class_batch = None
        if penalty == "official":
            class_batch = _official_class_batch(source, labels, generator).to(device, memory_format=layout)
        inputs = batch_images.to(device, memory_format=layout), items.to(device), partners.to(device), class_batch
        _train_step(step, optimizer, settings, device, penalty_weight, inputs)

    one_step()
    _synchronize(device)
    start = time.perf_counter()
    for _ in range(steps):
        one_step()
    _synchronize(device)
    return (time.perf_counter() - start) / steps


def _synchronize(device: torch.device) -> None:
    """Wait for the queued kernels of a CUDA ``device`` (a clock read is then their end)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _epoch_record(epoch: int, sums: torch.Tensor, penalty_weight: float) -> EpochRecord:
    """Mean loss terms from (Σ reconstruction·n, Σ penalty·n, Σ n)."""
    reconstruction, penalty, seen = sums.tolist()
    reconstruction, penalty = reconstruction / max(seen, 1.0), penalty / max(seen, 1.0)
    return {
        "epoch": epoch,
        "reconstruction": reconstruction,
        "penalty": penalty,
        "loss": reconstruction + penalty_weight * penalty,
    }
