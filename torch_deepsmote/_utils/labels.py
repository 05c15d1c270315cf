"""Class labels of any hashable kind, encoded once as int64 codes ``0 … n_classes − 1``.

As in imbalanced-learn, labels may be ints (with gaps, negative), strings, numpy
scalars or any other hashable, mutually orderable values. Classes are sorted, so int
labels ``0 … C − 1`` have themselves as codes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Hashable, Sequence

import numpy as np
import torch

__all__ = ["LabelCoding"]


def _as_list(labels: Any, name: str) -> list[Hashable]:
    """``labels`` (a tensor, array or sequence) as a 1-D list of Python values."""
    if isinstance(labels, (torch.Tensor, np.ndarray)):
        if labels.ndim != 1:
            raise ValueError(f"`{name}` must be 1-D, got shape {tuple(labels.shape)}.")
        return labels.tolist()
    try:
        values = list(labels) if not isinstance(labels, (str, bytes)) else None
    except TypeError:
        values = None
    if values is None:
        raise TypeError(f"`{name}` must be a 1-D sequence of labels, got {type(labels).__name__}.")
    return [_scalar(value) for value in values]


def _scalar(value: Any) -> Any:
    """A 0-d tensor or array label (as a ``TensorDataset`` yields) as its Python value."""
    if isinstance(value, (torch.Tensor, np.ndarray)) and value.ndim == 0:
        return value.item()
    return value


@dataclass(frozen=True)
class LabelCoding:
    """The sorted classes of a label sequence and each label's code.

    Attributes:
        classes: the distinct labels, sorted (their original values and types).
        codes: (N,) int64 code of each label: its position in ``classes``.
    """

    classes: tuple[Hashable, ...]
    codes: torch.Tensor

    @classmethod
    def fit(cls, labels: Any, name: str = "y") -> "LabelCoding":
        """Encode ``labels``; ``name`` is the parameter named in errors."""
        values = _as_list(labels, name)
        for value in values:
            if not isinstance(value, Hashable) or (isinstance(value, float) and value != value):
                raise TypeError(f"`{name}` must hold hashable class labels (not NaN), got {value!r}.")
        try:
            classes = tuple(sorted(set(values)))
        except TypeError as error:
            kinds = sorted({type(value).__name__ for value in values})
            raise TypeError(
                f"`{name}` must hold labels that can be sorted against each other, got a mix of {kinds}."
            ) from error
        position = {label: code for code, label in enumerate(classes)}
        return cls(classes, torch.tensor([position[value] for value in values], dtype=torch.long))

    @property
    def integer(self) -> bool:
        """Whether every class is an integer (not a bool): labels then travel as int64 tensors."""
        return all(isinstance(c, (int, np.integer)) and not isinstance(c, (bool, np.bool_)) for c in self.classes)

    def code_of(self, label: Hashable, name: str) -> int:
        """The code of one class label; ``ValueError`` naming ``name`` when it is not a class."""
        for code, known in enumerate(self.classes):
            if known == label:
                return code
        raise ValueError(f"`{name}` names the class {label!r}, which is not among the classes {list(self.classes)}.")

    def decode(self, codes: torch.Tensor) -> torch.Tensor | np.ndarray:
        """(M,) codes → (M,) labels: an int64 tensor for integer classes, else a numpy array."""
        if self.integer:
            return torch.tensor(self.classes, dtype=torch.long)[codes]
        return np.asarray(self.classes, dtype=object if _mixed(self.classes) else None)[codes.numpy()]


def _mixed(classes: Sequence[Hashable]) -> bool:
    return len({type(c) for c in classes}) > 1
