"""What a DeepSMOTE fit will cost, said before it trains (``docs/performance.md``).

:func:`estimate_fit` counts, without training, the autoencoder's parameters, the memory
its training takes (16 bytes a parameter: float32 weights, gradients and Adam's two
moments, plus the activations one training batch keeps for the backward pass) and the
RAM the rest of the fit holds (the images it holds, the latents and the residuals).
:func:`check_fit_memory` refuses a fit that memory cannot hold, and
:func:`time_fit` adds the seconds per epoch, measured on a few training steps of a copy
of the model.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any, Callable

import torch
from torch import nn

from torch_deepsmote._utils.distributed import distributed_context
from torch_deepsmote._utils.memory import available_memory, format_bytes
from torch_deepsmote._utils.validation import resolve_device
from torch_deepsmote.latent.index import INFERENCE_BATCH
from torch_deepsmote.nn.autoencoder import ConvAutoencoder
from torch_deepsmote.nn.training import OFFICIAL_CLASS_BATCH, time_training_step

__all__ = ["MIN_TIMED_FIT_STEPS", "TIMED_STEPS", "FitEstimate", "check_fit_memory", "estimate_fit", "time_fit"]

TRAINING_BYTES_PER_PARAMETER = 16
"""float32 weight, gradient and Adam's two moments."""

INDEXING_BYTES_PER_VALUE = 12
"""While a batch of residuals is made: the images read in [-1, 1], their decode and the difference (float32)."""

IMAGE_COPIES = {"none": 4, "official": 4, "paper": 8}
"""Image-sized tensors of a training step per penalty, besides the layers' outputs (:func:`activation_bytes`)."""

TRAINING_HEADROOM = 1.2
"""The memory check asks for this multiple of the estimated training memory: measured
against real fits, the estimate came 0.84-1.02 of it (``benchmarks/estimate_accuracy.py``)."""

TIMED_STEPS = 3
"""Training steps timed (after one warm-up step) for the seconds per epoch."""

MIN_TIMED_FIT_STEPS = 100
"""A fit of fewer training steps is not timed: the timed steps would add more than 4 % to it."""


@dataclass(frozen=True)
class FitEstimate:
    """What a fit will cost, known before it trains.

    Attributes:
        n_images, image_shape: the images, ``(C, H, W)``.
        width, latent_dim, batch_size, epochs: the autoencoder and its training.
        device: where the autoencoder trains.
        parameters: the autoencoder's parameter count.
        training_bytes: memory the training takes on ``device``: 16 bytes a parameter
            plus the activations of one training batch.
        ram_bytes: RAM the fit holds besides: the images a tensor source holds, the latents
            and the residuals of the classes to grow (a streamed source holds neither
            images nor residuals), and one inference batch's images, decode and difference
            while the residuals are made.
        input_bytes: of ``ram_bytes``, the images held (already in memory).
        steps_per_epoch: training steps per epoch (of each process under ``torch.distributed``).
        seconds_per_epoch: measured by :func:`time_fit`; ``None`` when not timed.
    """

    n_images: int
    image_shape: tuple[int, int, int]
    width: int
    latent_dim: int
    batch_size: int
    epochs: int
    device: torch.device
    parameters: int
    training_bytes: int
    ram_bytes: int
    input_bytes: int
    steps_per_epoch: int
    seconds_per_epoch: float | None = None

    def request(self) -> str:
        """The options and data the estimate is for, as a message names them."""
        return (
            f"`width`={self.width}, `latent_dim`={self.latent_dim} and `batch_size`={self.batch_size} on "
            f"{self.n_images:,} images of shape {self.image_shape}"
        )

    def describe(self) -> str:
        """One line: the parameters, the memory and the time of the fit."""
        shape = "×".join(map(str, self.image_shape))
        memory = (
            f"{self.parameters / 1e6:.3g} M parameters; training takes {format_bytes(self.training_bytes)} on "
            f"{self.device} (weights, gradients, Adam's moments and one batch's activations) and the fit "
            f"{format_bytes(self.ram_bytes)} of RAM besides (images held, latents, residuals)"
        )
        if self.seconds_per_epoch is None:
            time = "time not measured"
        else:
            total = _format_seconds(self.seconds_per_epoch * self.epochs)
            time = f"{_format_seconds(self.seconds_per_epoch)} an epoch, about {total} for {self.epochs} epochs"
        return (
            f"DeepSMOTE fit of {self.n_images:,} images of {shape} (width {self.width}, latent_dim "
            f"{self.latent_dim}, batch_size {self.batch_size}, {self.steps_per_epoch} steps an epoch): "
            f"{memory}; {time}."
        )

    __str__ = describe


def estimate_fit(
    model: ConvAutoencoder,
    source: Any,
    codes: torch.Tensor,
    grown: list[int],
    *,
    batch_size: int,
    epochs: int,
    penalty: str = "none",
    validation_fraction: float = 0.0,
    device: Any = None,
) -> FitEstimate:
    """The parameters and memory of fitting ``model`` on the N images of an image ``source``
    (:mod:`torch_deepsmote.nn.sources`) with (N,) int64 class ``codes``, growing the classes
    ``grown``; nothing trains.

    Args:
        penalty: the training's penalty (:data:`~torch_deepsmote.nn.training.PENALTIES`).
        validation_fraction: the share of each class held out of training.
        device: where the autoencoder will train; ``None`` = CUDA when available.
    """
    counts = torch.bincount(codes).tolist()
    n_train = sum(n - int(validation_fraction * n) for n in counts)
    parameters = sum(parameter.numel() for parameter in model.parameters())
    activations = activation_bytes(model, batch_size, penalty, min(OFFICIAL_CLASS_BATCH, max(counts)))
    return FitEstimate(
        n_images=len(source),
        image_shape=tuple(model.image_shape),
        width=model.width,
        latent_dim=model.latent_dim,
        batch_size=batch_size,
        epochs=epochs,
        device=resolve_device(device),
        parameters=parameters,
        training_bytes=TRAINING_BYTES_PER_PARAMETER * parameters + activations,
        ram_bytes=fit_ram_bytes(source, codes, grown, model.latent_dim),
        input_bytes=source.held_bytes,
        steps_per_epoch=steps_per_epoch(n_train, batch_size),
    )


def activation_bytes(model: ConvAutoencoder, batch_size: int, penalty: str = "none", class_batch: int = 0) -> int:
    """Bytes the activations of one training step on ``batch_size`` images take at their peak.

    The forward pass keeps, for the backward pass, the output of every layer that makes
    a new tensor (the in-place activations, flatten and unflatten reuse their input's
    memory); the backward pass adds the gradients of one layer's input and output at a
    time, counted as twice the largest layer output. Image-sized tensors: the batch
    gathered and in the training layout (or on the device), the loss's difference and
    its gradient, and with the paper penalty as many again for its pairs. The official
    penalty also decodes a ``class_batch`` of images with gradients. Each of these
    tensors holds one row per image: the sizes of one image are multiplied.
    """
    image = 4 * math.prod(model.image_shape)
    encoder, decoder = layer_output_bytes(model)
    per_image = sum(encoder) + sum(decoder) + IMAGE_COPIES[penalty] * image
    total = batch_size * (per_image + 2 * max(encoder + decoder))
    if penalty == "official":
        total += class_batch * (sum(decoder) + IMAGE_COPIES["none"] * image)
    return total


def layer_output_bytes(model: ConvAutoencoder) -> tuple[list[int], list[int]]:
    """Bytes per image of each layer output of the encoder and of the decoder that is a new
    tensor (not an in-place result or a view), read on a forward pass of one zero image
    in eval mode without gradients; ``model`` is left as it was."""
    image = torch.zeros((1, *model.image_shape), device=next(model.parameters()).device)
    encoder: list[int] = []
    decoder: list[int] = []

    def recorder(sizes: list[int]) -> Callable[..., None]:
        def record(layer: nn.Module, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
            if output.untyped_storage().data_ptr() != inputs[0].untyped_storage().data_ptr():
                sizes.append(output.numel() * output.element_size())

        return record

    blocks = ((model.encoder, encoder), (model.decoder_input, decoder), (model.decoder, decoder))
    handles = [layer.register_forward_hook(recorder(sizes)) for block, sizes in blocks for layer in block]
    was_training = model.training
    try:
        model.eval()
        with torch.no_grad():
            model(image)
    finally:
        model.train(was_training)
        for handle in handles:
            handle.remove()
    return encoder, decoder


def fit_ram_bytes(source: Any, codes: torch.Tensor, grown: list[int], latent_dim: int) -> int:
    """RAM the fit holds besides training, for the N images of ``source`` with (N,) ``codes``.

    The images the source holds (``source.held_bytes``), a float32 latent per image, a
    float16 residual per image of a class in ``grown`` (kept whatever the recipe's
    ``detail``; a streamed source, which holds no image, writes them to a memory-mapped
    file instead), and 12 bytes a value of one inference batch of the largest grown class
    while its residuals are made (:meth:`~torch_deepsmote.latent.index.LatentIndex.build`).
    """
    values = math.prod(source.image_shape)
    grown_sizes = torch.bincount(codes)[grown].tolist() if grown else [0]
    residuals = sum(grown_sizes) * values * 2 if source.held_bytes else 0
    return (
        source.held_bytes
        + len(source) * latent_dim * 4
        + residuals
        + min(max(grown_sizes), INFERENCE_BATCH) * values * INDEXING_BYTES_PER_VALUE
    )


def steps_per_epoch(n_items: int, batch_size: int) -> int:
    """:func:`~torch_deepsmote.fit_autoencoder`'s steps an epoch on ``n_items`` images: a
    last batch of one joins the one before, and the processes of ``torch.distributed``
    share the batches."""
    batches = -(-n_items // batch_size)
    if batches > 1 and n_items % batch_size == 1:
        batches -= 1
    return batches // distributed_context()[1]


def check_fit_memory(estimate: FitEstimate) -> None:
    """Refuse, with a ``ValueError`` that names the options and gives the numbers, a fit
    whose memory this machine does not have; unknown available memory is not checked.

    On the CPU the training and the rest of the fit share the RAM; on CUDA the training
    must fit in the GPU's free memory (``torch.cuda.mem_get_info``) and the rest in RAM.
    The images as given are already in memory and are not asked for again; a fit of no
    epochs trains nothing. The training is asked :data:`TRAINING_HEADROOM` times its
    estimate.
    """
    training = math.ceil(TRAINING_HEADROOM * estimate.training_bytes) if estimate.epochs > 0 else 0
    needed = estimate.ram_bytes - estimate.input_bytes + (training if estimate.device.type == "cpu" else 0)
    shortfalls = []
    available = available_memory()
    if available is not None and needed > available:
        shortfalls.append(f"{format_bytes(needed)} of RAM, more than the {format_bytes(available)} available")
    if estimate.device.type == "cuda":
        free = torch.cuda.mem_get_info(estimate.device)[0]
        if training > free:
            shortfalls.append(
                f"{format_bytes(training)} on {estimate.device}, more than the {format_bytes(free)} free there"
            )
    if shortfalls:
        raise ValueError(
            f"{estimate.request()} need {' and '.join(shortfalls)}: training takes "
            f"{format_bytes(estimate.training_bytes)} (the {estimate.parameters:,} parameters' weights, gradients "
            f"and Adam moments, and one batch's activations) and the rest of the fit "
            f"{format_bytes(estimate.ram_bytes)} (the images held, latents and residuals); the check asks for "
            f"{TRAINING_HEADROOM:g}× the training estimate, which real fits exceeded by up to a fifth. "
            "Lower `width`, `latent_dim` or `batch_size`, or resize the images (e.g. with "
            "torchvision.transforms.v2.Resize)."
        )


def time_fit(
    estimate: FitEstimate,
    model: ConvAutoencoder,
    source: Any,
    codes: torch.Tensor,
    *,
    penalty: str = "none",
    penalty_weight: float = 1.0,
) -> FitEstimate:
    """``estimate`` with its seconds per epoch: :data:`TIMED_STEPS` training steps timed
    (:func:`~torch_deepsmote.nn.training.time_training_step`, on a copy of ``model``)
    times the steps an epoch. A fit of fewer than :data:`MIN_TIMED_FIT_STEPS` steps, or
    of fewer than two images, is returned untimed.

    Args:
        source: the image source (:mod:`torch_deepsmote.nn.sources`).
        codes: (N,) int64 class codes.
    """
    if estimate.epochs * estimate.steps_per_epoch < MIN_TIMED_FIT_STEPS or len(source) < 2:
        return estimate
    seconds = time_training_step(
        model,
        source,
        codes,
        batch_size=estimate.batch_size,
        penalty=penalty,
        penalty_weight=penalty_weight,
        device=estimate.device,
        steps=TIMED_STEPS,
    )
    return dataclasses.replace(estimate, seconds_per_epoch=seconds * estimate.steps_per_epoch)


def _format_seconds(seconds: float) -> str:
    """``seconds`` in s, min or h, with three significant digits."""
    if seconds < 60:
        return f"{seconds:.3g} s"
    if seconds < 3600:
        return f"{seconds / 60:.3g} min"
    return f"{seconds / 3600:.3g} h"
