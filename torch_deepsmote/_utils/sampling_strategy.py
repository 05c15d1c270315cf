"""``sampling_strategy`` read with imbalanced-learn's meanings, for over-sampling.

* ``"minority"``: grow the smallest class to the largest's count;
* ``"not minority"``, ``"not majority"`` (= ``"auto"``), ``"all"``: grow those classes
  to the largest's count;
* a dict ``{class: final count}``: grow the classes named to those counts;
* a callable ``y -> dict``: that dict;
* a float ``r`` in (0, 1], two classes only: grow the minority to ``r`` × the majority.
"""

from __future__ import annotations

import numbers
from collections import OrderedDict
from typing import Callable, Mapping

import numpy as np
import torch

from torch_deepsmote._utils.labels import LabelCoding
from torch_deepsmote._utils.validation import check_int, check_option

__all__ = ["SAMPLING_STRINGS", "SamplingStrategy", "resolve_sampling_strategy"]

SAMPLING_STRINGS = ("auto", "minority", "not minority", "not majority", "all")

SamplingStrategy = float | str | Mapping | Callable[..., Mapping]


def resolve_sampling_strategy(sampling_strategy: SamplingStrategy, coding: LabelCoding) -> "OrderedDict[int, int]":
    """Class code → number of images to add, in code order, for the labels of ``coding``."""
    counts = torch.bincount(coding.codes, minlength=len(coding.classes)).tolist()
    if len(counts) < 2:
        raise ValueError(f"`y` must hold at least 2 classes to oversample, got {len(counts)}: {list(coding.classes)}.")
    largest = max(counts)
    strategy = sampling_strategy
    if callable(strategy):
        strategy = strategy(np.asarray(coding.decode(coding.codes)))
        if not isinstance(strategy, Mapping):
            raise TypeError(
                "`sampling_strategy` is a callable, so it must return a dict {class: final count}, "
                f"got {strategy!r} (type {type(strategy).__name__})."
            )
    if isinstance(strategy, str):
        check_option("sampling_strategy", strategy, SAMPLING_STRINGS)
        minority, majority = counts.index(min(counts)), counts.index(largest)
        grown = {
            "minority": [minority],
            "not minority": [c for c in range(len(counts)) if c != minority],
            "not majority": [c for c in range(len(counts)) if c != majority],
            "auto": [c for c in range(len(counts)) if c != majority],
            "all": list(range(len(counts))),
        }[strategy]
        return OrderedDict((code, largest - counts[code]) for code in grown)
    if isinstance(strategy, Mapping):
        return _from_counts(strategy, coding, counts)
    if isinstance(strategy, numbers.Real) and not isinstance(strategy, bool):
        return _from_ratio(float(strategy), coding, counts)
    raise TypeError(
        "`sampling_strategy` must be a float, a str, a dict or a callable, got "
        f"{sampling_strategy!r} (type {type(sampling_strategy).__name__})."
    )


def _from_counts(wanted: Mapping, coding: LabelCoding, counts: list[int]) -> "OrderedDict[int, int]":
    added = {}
    for label, total in wanted.items():
        code = coding.code_of(label, "sampling_strategy")
        total = check_int(f"sampling_strategy[{label!r}]", total, minimum=0)
        if total < counts[code]:
            raise ValueError(
                f"`sampling_strategy` asks for {total} images of class {label!r}, which has {counts[code]}: "
                "an oversampler only adds images, so each count must be at least the class's own."
            )
        added[code] = total - counts[code]
    return OrderedDict(sorted(added.items()))


def _from_ratio(ratio: float, coding: LabelCoding, counts: list[int]) -> "OrderedDict[int, int]":
    if len(counts) != 2:
        raise ValueError(
            f"`sampling_strategy`={ratio} is a float, which needs two classes, got {len(counts)} classes "
            f"{list(coding.classes)}: pass a dict {{class: final count}} instead."
        )
    if not 0.0 < ratio <= 1.0:
        raise ValueError(f"`sampling_strategy` as a float must lie in (0, 1], got {ratio}.")
    majority = counts.index(max(counts))
    minority = 1 - majority
    added = int(counts[majority] * ratio - counts[minority])
    if added < 0:
        raise ValueError(
            f"`sampling_strategy`={ratio} asks for fewer minority images ({int(counts[majority] * ratio)}) "
            f"than there are ({counts[minority]}): raise the ratio."
        )
    return OrderedDict([(minority, added)])
