"""Loss-level fixes for class imbalance, alone or with DeepSMOTE's balanced data.

:func:`ldam_margins_` is the one line that adds LDAM's margins to a classifier trained on a
:class:`~torch_deepsmote.DeepSMOTEDataset` (the combination that measured best at the
benchmark's `cpu` budget, ``benchmarks/results/cpu/table-losses.md``). The rest are the
loss-level methods of the comparison, as their papers define them.

Each loss takes ``(N, C)`` logits and ``(N,)`` int64 labels and returns the mean loss; the
class counts it corrects for are given once, at construction. A loss whose behaviour
changes during training (LDAM's deferred re-weighting) has ``set_progress(fraction)``,
which :func:`~torch_deepsmote.evaluation.classifier.train_classifier` calls before every
step with the share of steps done.

* :class:`ClassBalancedLoss`: cross-entropy weighted by the inverse effective number of
  samples (Cui et al., CVPR 2019).
* :class:`LDAMLoss`: label-distribution-aware margins with deferred re-weighting (Cao et
  al., NeurIPS 2019), on a cosine classifier (:func:`cosine_classifier_`).
* :class:`BalancedSoftmaxLoss`: the softmax shifted by the log class counts (Ren et al.,
  NeurIPS 2020).
* :class:`LogitAdjustedLoss`: cross-entropy on logits shifted by τ × the log prior (Menon
  et al., ICLR 2021). With τ = 1 it is :class:`BalancedSoftmaxLoss`: the two shifts differ
  by the constant log N, which the softmax cancels.
"""

from __future__ import annotations

import math
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "effective_number_weights",
    "ClassBalancedLoss",
    "LDAMLoss",
    "BalancedSoftmaxLoss",
    "LogitAdjustedLoss",
    "NormedLinear",
    "cosine_classifier_",
    "ldam_margins_",
]


def _counts(counts: Sequence[int] | torch.Tensor) -> torch.Tensor:
    """``counts`` as a float64 (C,) tensor, every class at least one image."""
    tensor = torch.as_tensor(counts, dtype=torch.float64).flatten()
    if tensor.numel() < 2 or not torch.all(tensor >= 1) or not torch.all(tensor == tensor.round()):
        raise ValueError(
            f"`counts` must hold one whole count ≥ 1 per class, at least two classes, got {tensor.tolist()!r}."
        )
    return tensor


def effective_number_weights(counts: Sequence[int] | torch.Tensor, beta: float) -> torch.Tensor:
    """(C,) float32 class weights ∝ (1 − β) / (1 − βⁿ), scaled to sum to C (Cui et al., eq. 2 and §4).

    ``beta = 0`` gives equal weights, ``beta → 1`` weights ∝ 1 / n.
    """
    if not 0 <= beta < 1:
        raise ValueError(f"`beta` must be in [0, 1), got {beta!r}.")
    counts = _counts(counts)
    weights = (1 - beta) / (1 - beta**counts)
    return (weights * len(counts) / weights.sum()).float()


class ClassBalancedLoss(nn.Module):
    """Softmax cross-entropy weighted per class by the inverse effective number of samples.

    Choices where Cui et al. leave room: the softmax loss (the paper also weights sigmoid
    and focal losses), β = 0.999 by default (the paper searches β ∈ {0.9, 0.99, 0.999,
    0.9999} per data set), weights normalised to sum to the number of classes, and the
    batch mean divided by the batch's count, not by its summed weights.
    """

    def __init__(self, counts: Sequence[int] | torch.Tensor, beta: float = 0.999) -> None:
        super().__init__()
        self.register_buffer("weight", effective_number_weights(counts, beta))

    def forward(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return (F.cross_entropy(logits, labels, reduction="none") * self.weight[labels]).mean()


class LDAMLoss(nn.Module):
    """LDAM: the true class's logit lowered by a margin ∝ n^(−1/4), then scaled; with DRW.

    Cao et al.'s defaults: the largest margin 0.5, the scale s = 30 on cosine logits
    (:func:`cosine_classifier_`: their code normalises the last layer for LDAM), and
    deferred re-weighting: unweighted for the first ``defer`` share of steps (160 of their
    200 epochs = 0.8), then weighted by :func:`effective_number_weights` with β = 0.9999.
    The deferral switches at a step rather than an epoch, so it works at any budget; the
    weighted batch mean is divided by the batch's summed weights, as their code does.
    """

    def __init__(
        self,
        counts: Sequence[int] | torch.Tensor,
        *,
        max_margin: float = 0.5,
        scale: float = 30.0,
        defer: float = 0.8,
        beta: float = 0.9999,
    ) -> None:
        super().__init__()
        if not 0 <= defer <= 1:
            raise ValueError(f"`defer` must be in [0, 1], got {defer!r}.")
        counts = _counts(counts)
        margins = counts**-0.25
        self.register_buffer("margin", (margins * max_margin / margins.max()).float())
        self.register_buffer("deferred_weight", effective_number_weights(counts, beta))
        self.scale, self.defer, self.reweighted = scale, defer, defer == 0

    def set_progress(self, fraction: float) -> None:
        """Re-weight from the step where ``fraction`` (the share of steps done) reaches ``defer``."""
        self.reweighted = fraction >= self.defer

    def forward(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        shifted = logits - F.one_hot(labels, logits.shape[1]).to(logits.dtype) * self.margin
        return F.cross_entropy(self.scale * shifted, labels, weight=self.deferred_weight if self.reweighted else None)


class LogitAdjustedLoss(nn.Module):
    """Cross-entropy on ``logits + tau × log prior``; the classifier predicts with the plain logits.

    Menon et al.'s logit-adjusted loss (their eq. 10) with τ = 1 by default; the prior is
    the training labels' frequencies ``counts / counts.sum()``.
    """

    def __init__(self, counts: Sequence[int] | torch.Tensor, tau: float = 1.0) -> None:
        super().__init__()
        counts = _counts(counts)
        self.register_buffer("shift", (tau * torch.log(counts / counts.sum())).float())

    def forward(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(logits + self.shift, labels)


class BalancedSoftmaxLoss(nn.Module):
    """Cross-entropy on ``logits + log counts`` (Ren et al., eq. 4); plain logits at test time.

    Used alone, without the paper's meta sampler.
    """

    def __init__(self, counts: Sequence[int] | torch.Tensor) -> None:
        super().__init__()
        self.register_buffer("shift", torch.log(_counts(counts)).float())

    def forward(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(logits + self.shift, labels)


class NormedLinear(nn.Module):
    """A bias-free linear layer on unit vectors: (N, in) → (N, out) cosine similarities in [−1, 1]."""

    def __init__(self, in_features: int, out_features: int, *, generator: torch.Generator | None = None) -> None:
        super().__init__()
        bound = 1 / math.sqrt(in_features)
        weight = torch.empty(out_features, in_features).uniform_(-bound, bound, generator=generator)
        self.weight = nn.Parameter(weight)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return F.normalize(features, dim=1) @ F.normalize(self.weight, dim=1).T


def cosine_classifier_(model: nn.Module, *, generator: torch.Generator | None = None) -> nn.Module:
    """``model`` with its last ``nn.Linear`` replaced, in place, by a :class:`NormedLinear` of the same shape."""
    parent, name, last = None, None, None
    for module in model.modules():
        for child_name, child in module.named_children():
            if isinstance(child, nn.Linear):
                parent, name, last = module, child_name, child
    if last is None:
        raise ValueError(f"`model` has no nn.Linear layer to replace, got {type(model).__name__}.")
    setattr(parent, name, NormedLinear(last.in_features, last.out_features, generator=generator))
    return model


def ldam_margins_(
    classifier: nn.Module,
    counts: Sequence[int] | torch.Tensor,
    *,
    max_margin: float = 0.5,
    scale: float = 30.0,
    generator: torch.Generator | None = None,
) -> LDAMLoss:
    """LDAM's margins for a classifier trained on class-balanced data: its last ``nn.Linear``
    becomes a cosine layer (:func:`cosine_classifier_`, in place, its weights drawn from
    ``generator``) and the returned loss lowers each true-class logit by a margin ∝ n^(−1/4),
    ``n`` the class's count of *real* images, with no re-weighting (the balanced draws
    weight the classes already).

    Example::

        criterion = ldam_margins_(model, torch.bincount(real_labels))  # then criterion(model(x), y)
    """
    cosine_classifier_(classifier, generator=generator)
    return LDAMLoss(counts, max_margin=max_margin, scale=scale, beta=0.0)
