"""``sampling_strategy`` read with imbalanced-learn's meanings."""

from __future__ import annotations

from collections import OrderedDict
from typing import Callable, Mapping

import torch
from imblearn.utils import check_sampling_strategy

from torch_deepsmote._utils.validation import check_option

__all__ = ["SAMPLING_STRINGS", "SamplingStrategy", "resolve_sampling_strategy"]

SAMPLING_STRINGS = ("auto", "minority", "not minority", "not majority", "all")

SamplingStrategy = float | str | Mapping[int, int] | Callable[..., Mapping[int, int]]


def resolve_sampling_strategy(
    sampling_strategy: SamplingStrategy, labels: torch.Tensor
) -> "OrderedDict[int, int]":
    """imbalanced-learn's reading of ``sampling_strategy``: class → number of images to add."""
    targets = labels.numpy()
    strategy = sampling_strategy
    if isinstance(strategy, str):
        check_option("sampling_strategy", strategy, SAMPLING_STRINGS)
    elif callable(strategy):
        strategy = strategy(targets)
        if not isinstance(strategy, Mapping):
            raise TypeError(
                "`sampling_strategy` is a callable, so it must return a dict {class: final count}, "
                f"got {strategy!r} (type {type(strategy).__name__})."
            )
    elif isinstance(strategy, bool) or not isinstance(strategy, (float, Mapping)):
        raise TypeError(
            "`sampling_strategy` must be a float, a str, a dict or a callable, got "
            f"{strategy!r} (type {type(strategy).__name__})."
        )
    try:
        resolved = check_sampling_strategy(strategy, targets, "over-sampling")
    except ValueError as error:
        classes, counts = torch.unique(labels, return_counts=True)
        raise ValueError(
            f"`sampling_strategy` {sampling_strategy!r} does not fit the classes "
            f"{dict(zip(classes.tolist(), counts.tolist()))} (class: count): {error}"
        ) from error
    return OrderedDict((int(label), int(n_new)) for label, n_new in sorted(resolved.items()))
