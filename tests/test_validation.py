"""The range each bad float is told to fit."""

import re

import pytest

from torch_deepsmote._utils.validation import check_float


@pytest.mark.parametrize(
    ("bounds", "value", "expected"),
    [
        ({"minimum": 0, "maximum": 1}, 1.5, "`x` must be a finite number in [0.0, 1.0], got 1.5."),
        (
            {"minimum": 0, "maximum": 1, "inclusive_minimum": False},
            0,
            "`x` must be a finite number in (0.0, 1.0], got 0.0.",
        ),
        ({"minimum": 0}, -1, "`x` must be a finite number ≥ 0.0, got -1.0."),
        ({"minimum": 0, "inclusive_minimum": False}, 0, "`x` must be a finite number > 0.0, got 0.0."),
        ({"maximum": 2}, 3, "`x` must be a finite number ≤ 2.0, got 3.0."),
        ({}, float("nan"), "`x` must be a finite number, got nan."),
        ({"minimum": 0}, float("inf"), "`x` must be a finite number ≥ 0.0, got inf."),
    ],
)
def test_out_of_range_names_the_accepted_range(bounds, value, expected):
    with pytest.raises(ValueError, match=re.escape(expected)):
        check_float("x", value, **bounds)


@pytest.mark.parametrize("value", [True, "1", None])
def test_non_numbers_are_type_errors(value):
    with pytest.raises(TypeError, match="`x` must be a real number"):
        check_float("x", value)


def test_accepted_values_come_back_as_float():
    assert check_float("x", 1, minimum=0, maximum=1) == 1.0
    assert type(check_float("x", 1, minimum=0)) is float
