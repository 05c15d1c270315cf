"""A small CNN and a plain training loop, shared by the demo and the benchmarks.

The loop knows nothing of resampling: each method differs only in the
``DataLoader`` it hands over, which is the point of the plug-in.
"""

from __future__ import annotations

from typing import Any, Callable, Iterable

import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from torch_deepsmote._utils.validation import check_option
from torch_deepsmote.nn.init import reset_parameters_

__all__ = ["SmallCNN", "SCHEDULES", "train_classifier", "predict"]

SCHEDULES = ("constant", "cosine")


class SmallCNN(nn.Module):
    """Two 3×3 conv blocks (max-pooling between them), pooling to 4×4, a two-layer head.

    Shapes: (N, C, H, W) images (any H, W ≥ 4) → (N, num_classes) logits.
    """

    def __init__(self, channels: int, num_classes: int, *, width: int = 32, generator: torch.Generator | None = None):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(channels, width, 3, padding=1),
            nn.BatchNorm2d(width),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(2),
            nn.Conv2d(width, 2 * width, 3, padding=1),
            nn.BatchNorm2d(2 * width),
            nn.ReLU(inplace=True),
            nn.AdaptiveAvgPool2d(4),
        )
        self.head = nn.Sequential(
            nn.Flatten(),
            nn.Linear(2 * width * 16, 128),
            nn.ReLU(inplace=True),
            nn.Linear(128, num_classes),
        )
        reset_parameters_(self, generator)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(images))


def train_classifier(
    model: nn.Module,
    batches: Iterable[tuple[torch.Tensor, torch.Tensor]],
    *,
    epochs: int,
    lr: float = 1e-3,
    schedule: str = "constant",
    device: Any = "cpu",
    criterion: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
    progress: bool = True,
    desc: str = "classifier",
) -> nn.Module:
    """Train ``model`` with Adam and ``criterion`` for ``epochs`` passes over ``batches``.

    Args:
        model: the classifier, trained in place.
        batches: a re-iterable of ``(images (B, C, H, W), labels (B,))``, e.g. a DataLoader.
        epochs: passes over ``batches``; a batch sampler's ``set_epoch`` is called each time.
        lr: Adam learning rate (the peak one with ``schedule="cosine"``).
        schedule: ``"constant"``, or ``"cosine"``: the learning rate decays from ``lr``
            to 0 over all steps, so the model is scored after its steps have settled
            rather than at a full-size step (``batches`` must have a length).
        device: where to train.
        criterion: ``(logits (B, K), labels (B,)) -> loss``, default cross-entropy (an
            ``nn.Module`` is moved to ``device``). One with ``set_progress`` is told the
            share of steps done before each step.
        progress: show a tqdm bar.
        desc: the bar's label.
    """
    check_option("schedule", schedule, SCHEDULES)
    model.to(device).train()
    criterion = F.cross_entropy if criterion is None else criterion
    if isinstance(criterion, nn.Module):
        criterion.to(device)
    set_progress = getattr(criterion, "set_progress", None)
    total_steps, step = epochs * len(batches) if set_progress else 0, 0
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    scheduler = None
    if schedule == "cosine":
        scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(1, epochs * len(batches)))
    for epoch in tqdm(range(epochs), desc=desc, unit="epoch", disable=not progress, leave=False):
        for part in (getattr(batches, "batch_sampler", None), getattr(batches, "dataset", None)):
            if hasattr(part, "set_epoch"):
                part.set_epoch(epoch)
        for images, labels in batches:
            if set_progress:
                set_progress(step / total_steps)
                step += 1
            loss = criterion(model(images.to(device)), labels.to(device))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            if scheduler is not None:
                scheduler.step()
    return model.eval()


@torch.inference_mode()
def predict(model: nn.Module, images: torch.Tensor, *, device: Any = "cpu", batch_size: int = 512) -> torch.Tensor:
    """(N, C, H, W) float images → (N,) int64 predicted classes (on the CPU)."""
    model.to(device).eval()
    return torch.cat([model(chunk.to(device)).argmax(1).cpu() for chunk in images.split(batch_size)])
