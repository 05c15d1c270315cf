"""Class-imbalance metrics used by the DeepSMOTE paper, as thin wrappers.

The paper reports three numbers per experiment:

* **ACSA**, the average class-specific accuracy: the mean over classes of the
  per-class recall (scikit-learn's balanced accuracy);
* **GM**, imbalanced-learn's ``geometric_mean_score(average="macro")``. Note what
  imbalanced-learn computes there: the square root of (macro-averaged sensitivity)
  times (macro-averaged specificity), *not* the mean over classes of
  ``sqrt(sensitivity_c * specificity_c)``;
* **F1**, scikit-learn's macro F1.

:func:`imbalanced_report` also gives imbalanced-learn's default multi-class GM (the
geometric mean of the per-class recalls, which is 0 as soon as one class is never
recognised) and the per-class recall and support. Every score is a fraction in
``[0, 1]``, not a percentage; :func:`format_report` prints them as percentages, the
way the paper's tables do.

scikit-learn and imbalanced-learn (the ``demo`` extra) are imported when a report is
computed, not when this module is imported.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import torch

from torch_deepsmote._utils.validation import check_int
from torch_deepsmote.evaluation._extras import import_extra

__all__ = ["imbalanced_report", "format_report"]


def _as_label_array(name: str, values: Any) -> np.ndarray:
    """Return class labels (tensor, array or list) as a 1-D numpy array.

    Args:
        name: Parameter name used in error messages.
        values: Labels of shape ``(N,)``.

    Returns:
        A numpy array of shape ``(N,)``.
    """
    if isinstance(values, torch.Tensor):
        values = values.detach().cpu().numpy()
    array = np.asarray(values)
    if array.ndim != 1:
        raise ValueError(
            f"`{name}` must be a 1-D sequence of class labels, got shape {array.shape}"
            + (" (take the argmax of scores or logits first)." if array.ndim == 2 else ".")
        )
    if array.size == 0:
        raise ValueError(f"`{name}` must not be empty.")
    return array


def _python_scalar(value: Any) -> Any:
    """Turn a numpy scalar into the equivalent Python scalar (int, str, ...)."""
    return value.item() if isinstance(value, np.generic) else value


def _resolve_labels(y_true: np.ndarray, labels: Sequence[Any] | None) -> np.ndarray:
    """Return the labels to report on: ``labels``, or the classes present in ``y_true``.

    Raises:
        ValueError: If ``labels`` is empty, repeats a label, or names a class with no
            sample in ``y_true`` (its recall would be undefined).
    """
    if labels is None:
        return np.unique(y_true)
    resolved = _as_label_array("labels", labels)
    if len(np.unique(resolved)) != len(resolved):
        raise ValueError(f"`labels` must not repeat a label, got {resolved.tolist()}.")
    missing = [_python_scalar(label) for label in resolved if not np.any(y_true == label)]
    if missing:
        raise ValueError(f"`labels` names classes with no sample in `y_true`, so their recall is undefined: {missing}.")
    return resolved


def imbalanced_report(y_true: Any, y_pred: Any, *, labels: Sequence[Any] | None = None) -> dict[str, Any]:
    """Compute the paper's imbalance-aware scores for one set of predictions.

    Args:
        y_true: True class labels, shape ``(N,)``; a tensor, numpy array or list.
        y_pred: Predicted class labels, shape ``(N,)``; same kinds accepted.
        labels: Classes to report on, in this order. ``None`` means the sorted
            classes present in ``y_true``; predictions of other labels still count
            as errors for the true class. Every listed class must occur in ``y_true``.

    Returns:
        A dict with fractions in ``[0, 1]``:

        * ``"acsa"``: mean per-class recall (balanced accuracy);
        * ``"gm_macro"``: ``geometric_mean_score(average="macro")`` (the paper's GM);
        * ``"gm_multiclass"``: ``geometric_mean_score(average="multiclass")``;
        * ``"f1_macro"``: macro F1 (a class never predicted counts as F1 0);
        * ``"recall"``: ``{label: recall}`` in the order of ``labels``;
        * ``"support"``: ``{label: number of samples in y_true}``.

        Labels are Python scalars (``int`` for integer labels).

    Raises:
        ValueError: If an input is not 1-D, is empty, the two lengths differ, or
            ``labels`` is invalid.
        ImportError: If scikit-learn or imbalanced-learn is not installed.
    """
    true = _as_label_array("y_true", y_true)
    pred = _as_label_array("y_pred", y_pred)
    if len(true) != len(pred):
        raise ValueError(f"`y_true` and `y_pred` must have the same length, got {len(true)} and {len(pred)}.")
    classes = _resolve_labels(true, labels)

    sklearn_metrics = import_extra("sklearn.metrics", needed_by="imbalanced_report")
    geometric_mean_score = import_extra("imblearn.metrics", needed_by="imbalanced_report").geometric_mean_score

    recalls = sklearn_metrics.recall_score(true, pred, labels=classes, average=None, zero_division=0)
    keys = [_python_scalar(label) for label in classes]
    f1 = sklearn_metrics.f1_score(true, pred, labels=classes, average="macro", zero_division=0)
    return {
        "acsa": float(np.mean(recalls)),
        "gm_macro": float(geometric_mean_score(true, pred, labels=classes, average="macro")),
        "gm_multiclass": float(geometric_mean_score(true, pred, labels=classes, average="multiclass")),
        "f1_macro": float(f1),
        "recall": {key: float(value) for key, value in zip(keys, recalls)},
        "support": {key: int(np.sum(true == label)) for key, label in zip(keys, classes)},
    }


def format_report(report: dict[str, Any], *, digits: int = 2, percent: bool = True) -> str:
    """Render :func:`imbalanced_report`'s result as a small plain-text table.

    Args:
        report: The dict returned by :func:`imbalanced_report`.
        digits: Decimals shown for each score.
        percent: Show scores as percentages (as in the paper) rather than fractions.

    Returns:
        A multi-line string: one row per class (recall, support), then the summary
        scores.
    """
    digits = check_int("digits", digits, minimum=0)
    scale = 100.0 if percent else 1.0

    def show(value: float) -> str:
        return f"{value * scale:.{digits}f}"

    names = [str(label) for label in report["recall"]]
    width = max([len("class"), len("gm_multiclass")] + [len(name) for name in names])
    lines = [f"{'class':>{width}}  {'recall':>8}  {'support':>8}"]
    for name, label in zip(names, report["recall"]):
        lines.append(f"{name:>{width}}  {show(report['recall'][label]):>8}  {report['support'][label]:>8}")
    lines.append("")
    for key in ("acsa", "gm_macro", "gm_multiclass", "f1_macro"):
        lines.append(f"{key:>{width}}  {show(report[key]):>8}")
    return "\n".join(lines)
