"""Per-class quality of synthetic images, measured with a reference classifier.

The reference is the benchmark's classifier trained on the full, balanced training pool
(no imbalance, no synthetic data). For each class it reports

* ``agreement``: the share of the class's synthetic images the reference labels as
  that class (high = recognisable);
* ``frechet``: the Fréchet distance between Gaussians fitted to the reference's
  penultimate features of the synthetic images and of the real test images of the
  class (low = close to the real class distribution; an FID-like figure that needs no
  Inception download, so its scale is this classifier's, not FID's).
"""

from __future__ import annotations

import warnings
from typing import Any, Callable

import numpy as np
import torch
from scipy import linalg
from torch import nn
from torch.utils.data import DataLoader, RandomSampler

from torch_deepsmote.evaluation.classifier import predict, train_classifier
from torch_deepsmote.evaluation.demo import TensorImages

REFERENCE_EPOCHS = 2


def train_reference(
    pool: TensorImages, transform: Callable, model: nn.Module, batch_size: int, device: Any, schedule: str = "constant"
) -> nn.Module:
    """``model`` trained on the whole balanced pool for ``REFERENCE_EPOCHS`` epochs."""
    data = TensorImages(pool.images, pool.targets, transform)
    sampler = RandomSampler(data, generator=torch.Generator().manual_seed(0))
    loader = DataLoader(data, batch_size=batch_size, sampler=sampler)
    return train_classifier(
        model, loader, epochs=REFERENCE_EPOCHS, schedule=schedule, device=device, desc="reference classifier"
    )


@torch.inference_mode()
def penultimate_features(model: nn.Module, inputs: torch.Tensor, device: Any, batch_size: int = 512) -> torch.Tensor:
    """(N, C, H, W) network inputs → (N, F) float64 inputs of the model's last linear layer."""
    last = [m for m in model.modules() if isinstance(m, nn.Linear)][-1]
    captured: list[torch.Tensor] = []
    hook = last.register_forward_hook(lambda _module, args, _out: captured.append(args[0].detach().cpu()))
    try:
        model.to(device).eval()
        for chunk in inputs.split(batch_size):
            model(chunk.to(device))
    finally:
        hook.remove()
    return torch.cat(captured).double()


def frechet_distance(a: torch.Tensor, b: torch.Tensor) -> float:
    """Fréchet distance between Gaussians fitted to (n, F) and (m, F) feature sets."""
    mean_a, mean_b = a.mean(0).numpy(), b.mean(0).numpy()
    cov_a, cov_b = np.atleast_2d(np.cov(a.numpy(), rowvar=False)), np.atleast_2d(np.cov(b.numpy(), rowvar=False))
    with warnings.catch_warnings():  # fewer images than features: singular, still well defined
        warnings.simplefilter("ignore", linalg.LinAlgWarning)
        root = linalg.sqrtm(cov_a @ cov_b)
    return float(np.sum((mean_a - mean_b) ** 2) + np.trace(cov_a + cov_b - 2.0 * np.real(root)))


def class_quality(
    reference: nn.Module,
    transform: Callable,
    synthetic: tuple[torch.Tensor, torch.Tensor],
    real: tuple[torch.Tensor, torch.Tensor],
    device: Any,
) -> dict[int, dict[str, float]]:
    """Per class with ≥ 2 synthetic images: ``{"count", "agreement", "frechet"}``.

    Args:
        synthetic, real: ``(images (N, C, H, W) uint8, labels (N,))``.
    """
    fake_inputs, real_inputs = transform(synthetic[0]), transform(real[0])
    predicted = predict(reference, fake_inputs, device=device)
    fake_features = penultimate_features(reference, fake_inputs, device)
    real_features = penultimate_features(reference, real_inputs, device)
    quality = {}
    for label in torch.unique(synthetic[1]).tolist():
        mine = synthetic[1] == label
        if int(mine.sum()) < 2:
            continue
        quality[label] = {
            "count": int(mine.sum()),
            "agreement": float((predicted[mine] == label).double().mean()),
            "frechet": frechet_distance(fake_features[mine], real_features[real[1] == label]),
        }
    return quality
