"""Tests for torch_deepsmote.evaluation.metrics against hand-computed values."""

from __future__ import annotations

import math
import sys
import warnings

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import balanced_accuracy_score

from torch_deepsmote.evaluation.metrics import format_report, imbalanced_report

# Confusion matrix (rows: true class, columns: predicted class)
#        0  1  2
#   0  [ 3, 1, 0 ]   recall 3/4   precision 3/5   specificity (6-2)/6 = 2/3
#   1  [ 0, 2, 1 ]   recall 2/3   precision 2/3   specificity (7-1)/7 = 6/7
#   2  [ 2, 0, 1 ]   recall 1/3   precision 1/2   specificity (7-1)/7 = 6/7
Y_TRUE = [0, 0, 0, 0, 1, 1, 1, 2, 2, 2]
Y_PRED = [0, 0, 0, 1, 1, 1, 2, 0, 0, 2]
ACSA = (3 / 4 + 2 / 3 + 1 / 3) / 3  # 7/12
# imbalanced-learn's macro GM: sqrt(mean sensitivity * mean specificity)
GM_MACRO = math.sqrt(ACSA * (2 / 3 + 6 / 7 + 6 / 7) / 3)  # sqrt(25/54)
GM_MULTICLASS = (3 / 4 * 2 / 3 * 1 / 3) ** (1 / 3)  # (1/6)^(1/3)
F1_MACRO = (2 / 3 + 2 / 3 + 2 / 5) / 3  # 26/45


def test_hand_computed_three_class_example():
    report = imbalanced_report(Y_TRUE, Y_PRED)
    assert report["acsa"] == pytest.approx(7 / 12)
    assert report["gm_macro"] == pytest.approx(math.sqrt(25 / 54))
    assert report["gm_macro"] == pytest.approx(GM_MACRO)
    assert report["gm_multiclass"] == pytest.approx(GM_MULTICLASS)
    assert report["f1_macro"] == pytest.approx(26 / 45)
    assert report["f1_macro"] == pytest.approx(F1_MACRO)
    assert report["recall"] == pytest.approx({0: 3 / 4, 1: 2 / 3, 2: 1 / 3})
    assert report["support"] == {0: 4, 1: 3, 2: 3}


def test_macro_gm_is_imblearn_formula_not_mean_of_per_class_gm():
    per_class = [math.sqrt(3 / 4 * 2 / 3), math.sqrt(2 / 3 * 6 / 7), math.sqrt(1 / 3 * 6 / 7)]
    per_class_mean = sum(per_class) / 3
    report = imbalanced_report(Y_TRUE, Y_PRED)
    assert abs(report["gm_macro"] - per_class_mean) > 1e-3


@pytest.mark.parametrize(
    "module, library", [("imblearn.metrics", "imbalanced-learn"), ("sklearn.metrics", "scikit-learn")]
)
def test_missing_library_is_named_with_the_extra(monkeypatch, module, library):
    monkeypatch.setitem(sys.modules, module, None)
    with pytest.raises(ImportError, match=rf'imbalanced_report needs {library}.*pip install "torch_deepsmote\[demo\]"'):
        imbalanced_report(Y_TRUE, Y_PRED)


def test_acsa_is_balanced_accuracy():
    assert imbalanced_report(Y_TRUE, Y_PRED)["acsa"] == pytest.approx(balanced_accuracy_score(Y_TRUE, Y_PRED))


def test_perfect_prediction_scores_one_everywhere():
    labels = [2, 0, 1, 1, 0, 2, 2]
    report = imbalanced_report(labels, labels)
    for key in ("acsa", "gm_macro", "gm_multiclass", "f1_macro"):
        assert report[key] == pytest.approx(1.0)
    assert report["recall"] == {0: 1.0, 1: 1.0, 2: 1.0}


def test_class_never_predicted_has_zero_recall_and_zero_multiclass_gm():
    y_true = [0, 0, 1, 1, 2, 2]
    y_pred = [0, 0, 1, 1, 1, 0]  # class 2 never predicted
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no UndefinedMetricWarning for the unpredicted class
        report = imbalanced_report(y_true, y_pred)
    assert report["recall"][2] == 0.0
    assert report["gm_multiclass"] == 0.0
    assert report["acsa"] == pytest.approx(2 / 3)
    assert 0.0 < report["gm_macro"] < 1.0
    # F1: class 0 P=2/3 R=1 -> 4/5; class 1 P=2/3 R=1 -> 4/5; class 2 -> 0
    assert report["f1_macro"] == pytest.approx((4 / 5 + 4 / 5 + 0) / 3)


def test_tensors_arrays_and_lists_agree():
    from_lists = imbalanced_report(Y_TRUE, Y_PRED)
    from_tensors = imbalanced_report(torch.tensor(Y_TRUE), torch.tensor(Y_PRED))
    from_arrays = imbalanced_report(np.array(Y_TRUE), np.array(Y_PRED, dtype=np.int32))
    assert from_tensors == from_lists
    assert from_arrays == from_lists
    assert all(type(label) is int for label in from_tensors["recall"])


def test_labels_choose_and_order_the_classes():
    report = imbalanced_report(Y_TRUE, Y_PRED, labels=[2, 0])
    assert list(report["recall"]) == [2, 0]
    assert report["acsa"] == pytest.approx((1 / 3 + 3 / 4) / 2)


def test_predicted_label_outside_true_classes_counts_as_error():
    report = imbalanced_report([0, 0, 1, 1], [0, 5, 1, 1])
    assert list(report["recall"]) == [0, 1]
    assert report["recall"] == {0: 0.5, 1: 1.0}


def test_string_labels():
    report = imbalanced_report(["a", "b", "b"], ["a", "b", "a"])
    assert report["recall"] == {"a": 1.0, "b": 0.5}


def test_length_mismatch_names_both():
    with pytest.raises(ValueError, match=r"`y_true` and `y_pred`.*3 and 2"):
        imbalanced_report([0, 1, 1], [0, 1])


@pytest.mark.parametrize("name, args", [("y_true", ([], [])), ("y_pred", ([0], []))])
def test_empty_input_rejected(name, args):
    with pytest.raises(ValueError, match=f"`{name}` must not be empty"):
        imbalanced_report(*args)


def test_scores_instead_of_labels_rejected():
    with pytest.raises(ValueError, match=r"`y_pred`.*argmax"):
        imbalanced_report([0, 1], torch.zeros(2, 3))


def test_label_without_samples_rejected():
    with pytest.raises(ValueError, match=r"`labels`.*\[7\]"):
        imbalanced_report(Y_TRUE, Y_PRED, labels=[0, 1, 7])


def test_repeated_label_rejected():
    with pytest.raises(ValueError, match="`labels` must not repeat"):
        imbalanced_report(Y_TRUE, Y_PRED, labels=[0, 0])


def test_format_report_shows_percentages_and_fractions():
    report = imbalanced_report(Y_TRUE, Y_PRED)
    text = format_report(report)
    assert "58.33" in text  # ACSA 7/12
    assert "33.33" in text  # recall of class 2
    lines = text.splitlines()
    assert len(lines) == 1 + 3 + 1 + 4
    assert "0.583" in format_report(report, digits=3, percent=False)
    with pytest.raises(ValueError, match="`digits`"):
        format_report(report, digits=-1)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 4), st.integers(0, 5)), min_size=1, max_size=40))
def test_acsa_and_multiclass_gm_match_their_definitions(pairs):
    y_true = [t for t, _ in pairs]
    y_pred = [p for _, p in pairs]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected_acsa = balanced_accuracy_score(y_true, y_pred)
        report = imbalanced_report(y_true, y_pred)
    recalls = np.array(list(report["recall"].values()))
    assert report["acsa"] == pytest.approx(expected_acsa)
    assert report["gm_multiclass"] == pytest.approx(float(np.prod(recalls)) ** (1 / len(recalls)))
    for key in ("acsa", "gm_macro", "gm_multiclass", "f1_macro"):
        assert 0.0 <= report[key] <= 1.0
