"""Property: a wrong value for any public parameter fails with a ``TypeError``,
``ValueError`` or ``IndexError`` whose message names the parameter, never another
exception, and fails fast: parameters are checked before anything trains (training is
stubbed out here, and a value that passes every check counts as accepted)."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import FAST_OPTIONS, blob_images
from torch_deepsmote import BalancedBatchSampler, DeepSMOTE, DeepSMOTEDataset, kneighbors
from torch_deepsmote import oversampler as oversampler_module

IMAGES, LABELS = blob_images([30, 12, 6])
BASE = dict(FAST_OPTIONS, random_state=0, device="cpu")
ALLOWED = (TypeError, ValueError, IndexError)
EXAMPLES = int(os.environ.get("DEEPSMOTE_PROPERTY_EXAMPLES", "60"))  # small in CI; raise it to search harder
SETTINGS = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])


class Accepted(Exception):
    """Raised by the stubbed training: every check passed."""


def _no_training(*args, **kwargs):
    raise Accepted


# Values of the wrong type, or ints and floats out of any range the package takes (negative,
# zero, enormous), so that no value here starts a long computation.
WRONG = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(max_value=0),
    st.integers(min_value=2**40, max_value=2**80),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=6),
    st.binary(max_size=4),
    st.lists(st.integers(-3, 3), max_size=3),
    st.dictionaries(
        st.one_of(st.integers(-2, 4), st.text(max_size=2)), st.one_of(st.integers(), st.floats()), max_size=2
    ),
    st.tuples(st.integers(-2, 2)),
    st.complex_numbers(allow_nan=False),
    st.sampled_from([object(), np.float64(2.5), np.int64(-3), torch.tensor(1.5), torch.tensor([1, 2]), slice(1, 2)]),
)

DEEPSMOTE_PARAMETERS = sorted(DeepSMOTE().get_params())


def _assert_named(error: BaseException, *names: str) -> None:
    assert isinstance(error, ALLOWED), f"{type(error).__name__}: {error}"
    message = str(error)
    assert any(f"`{name}" in message for name in names), f"none of {names} named in {message!r}"


def _outcome(call):
    try:
        call()
    except Accepted:
        return None
    except Exception as error:  # what the property is about
        return error
    return None


@pytest.fixture(scope="module")
def fitted() -> DeepSMOTE:
    return DeepSMOTE(**BASE).fit(IMAGES, LABELS)


@SETTINGS
@given(name=st.sampled_from(DEEPSMOTE_PARAMETERS), value=WRONG)
def test_deepsmote_parameters(name, value):
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(oversampler_module, "fit_autoencoder", _no_training)
        error = _outcome(lambda: DeepSMOTE(**(BASE | {name: value})).fit(IMAGES, LABELS))
    if error is not None:
        _assert_named(error, name)


@SETTINGS
@given(which=st.sampled_from(["X", "y"]), value=WRONG)
def test_deepsmote_fit_data(which, value):
    X, y = (value, LABELS) if which == "X" else (IMAGES, value)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(oversampler_module, "fit_autoencoder", _no_training)
        error = _outcome(lambda: DeepSMOTE(**BASE).fit(X, y))
    if error is not None:
        _assert_named(error, which)


@SETTINGS
@given(value=WRONG)
def test_deepsmote_sample_random_state(fitted, value):
    error = _outcome(lambda: fitted.sample(random_state=value))
    if error is not None:
        _assert_named(error, "random_state")


DATASET_PARAMETERS = ["dataset", "oversampler", "transform", "target_transform", "targets", "cache_dir"]


@SETTINGS
@given(name=st.sampled_from([*DATASET_PARAMETERS, "fresh_per_epoch"]), value=WRONG)
def test_deepsmote_dataset_parameters(fitted, name, value, tmp_path_factory):
    arguments = dict(dataset=torch.utils.data.TensorDataset(IMAGES, LABELS), oversampler=fitted, cache_dir=False)
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(tmp_path_factory.getbasetemp())  # a relative cache_dir lands in a scratch folder
        patch.setattr(oversampler_module, "fit_autoencoder", _no_training)
        error = _outcome(lambda: DeepSMOTEDataset(**(arguments | {name: value})))
    if error is not None:
        _assert_named(error, name)


@SETTINGS
@given(what=st.sampled_from(["index", "epoch"]), value=WRONG)
def test_deepsmote_dataset_indices_and_epochs(fitted, what, value):
    dataset = DeepSMOTEDataset(torch.utils.data.TensorDataset(IMAGES, LABELS), fitted, cache_dir=False)
    error = _outcome(lambda: dataset[value] if what == "index" else dataset.set_epoch(value))
    if error is not None:
        _assert_named(error, what) if what == "epoch" else _assert_index(error)


def _assert_index(error):
    assert isinstance(error, ALLOWED), f"{type(error).__name__}: {error}"
    assert "index" in str(error), str(error)


SAMPLER_PARAMETERS = ["targets", "batch_size", "num_batches", "drop_last", "generator", "num_replicas", "rank"]


@SETTINGS
@given(name=st.sampled_from(SAMPLER_PARAMETERS), value=WRONG)
def test_balanced_batch_sampler_parameters(name, value):
    arguments = dict(targets=LABELS, batch_size=8, generator=0)
    error = _outcome(lambda: BalancedBatchSampler(**(arguments | {name: value})))
    if error is not None:
        _assert_named(error, name)


@SETTINGS
@given(name=st.sampled_from(["x", "k", "backend", "chunk_size"]), value=WRONG)
def test_kneighbors_parameters(name, value):
    if name == "backend" and value == "keops":  # valid; without pykeops an ImportError with the install hint
        return
    arguments = dict(x=torch.rand(6, 3), k=2)
    error = _outcome(lambda: kneighbors(**(arguments | {name: value})))
    if error is not None:
        _assert_named(error, name)


@SETTINGS
@given(name=st.sampled_from(DEEPSMOTE_PARAMETERS), value=WRONG)
def test_deepsmote_dataset_checks_its_oversampler_before_training(name, value):
    dataset = torch.utils.data.TensorDataset(IMAGES, LABELS)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(oversampler_module, "fit_autoencoder", _no_training)
        error = _outcome(lambda: DeepSMOTEDataset(dataset, DeepSMOTE(**(BASE | {name: value})), cache_dir=False))
    if error is not None:
        _assert_named(error, name)
