"""The autoencoder's held-out reconstruction stop (``validation_fraction``)."""

from __future__ import annotations

import pytest
import torch

from tests.conftest import FAST_OPTIONS, blob_images
from torch_deepsmote import ConvAutoencoder, DeepSMOTE, fit_autoencoder
from torch_deepsmote.nn.early_stopping import held_out_loss, split_held_out
from torch_deepsmote.nn.ranges import to_network_range


class _Interrupted(Exception):
    pass


def _fit(epochs=12, callback=None, checkpoint=None, **options):
    images, labels = blob_images([30, 12, 6])
    model = ConvAutoencoder((1, 8, 8), 8, width=4, generator=torch.Generator().manual_seed(0))
    history = fit_autoencoder(
        model,
        to_network_range(images),
        labels,
        epochs=epochs,
        batch_size=16,
        device="cpu",
        random_state=3,
        progress=False,
        callback=callback,
        checkpoint=checkpoint,
        **options,
    )
    return model, history


def _same_weights(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    one, two = a.state_dict(), b.state_dict()
    return one.keys() == two.keys() and all(torch.equal(one[k], two[k]) for k in one)


def test_split_holds_out_the_share_of_each_class_rounded_down():
    labels = torch.tensor([0] * 30 + [1] * 12 + [2] * 6)
    kept, held = split_held_out(labels, 0.2, torch.Generator().manual_seed(1))
    assert torch.bincount(labels[held], minlength=3).tolist() == [6, 2, 1]
    assert sorted(torch.cat([kept, held]).tolist()) == list(range(48))  # disjoint, nothing lost
    again, _ = split_held_out(labels, 0.2, torch.Generator().manual_seed(1))
    other, _ = split_held_out(labels, 0.2, torch.Generator().manual_seed(2))
    assert torch.equal(kept, again) and not torch.equal(kept, other)


def test_training_stops_after_n_iter_no_change_and_keeps_the_best_epoch():
    # a tolerance no epoch can beat: the first epoch is the best, then two without change
    model, history = _fit(validation_fraction=0.2, n_iter_no_change=2, tol=1e9)
    assert [record["epoch"] for record in history] == [0, 1, 2]
    first, _ = _fit(epochs=1, validation_fraction=0.2)
    assert _same_weights(model, first)  # epoch 0's weights were put back


def test_the_stop_fires_after_a_later_best_epoch_and_puts_its_weights_back():
    options = dict(validation_fraction=0.2, lr=1e-2, n_iter_no_change=2)
    _, (first,) = _fit(epochs=1, **options)
    # Every improvement lowers the best loss by more than `tol` and losses are >= 0, so at
    # most 4 epochs after the first improve: the stop must fire within 1 + 4 * 2 + 2 = 11
    # of the 12 epochs allowed.
    tol = first["validation"] / 4.5
    model, history = _fit(epochs=12, tol=tol, **options)
    losses = [record["validation"] for record in history]
    assert losses[0] == first["validation"]

    best, best_loss = 0, losses[0]  # the stopping rule, replayed on the recorded losses
    for epoch, loss in enumerate(losses):
        if loss < best_loss - tol:
            best, best_loss = epoch, loss
    assert len(history) == best + 1 + options["n_iter_no_change"] < 12  # stopped, before the maximum
    assert best > 0 and losses[-1] != losses[best]  # putting the best weights back is visible

    stopped_at_best, _ = _fit(epochs=best + 1, tol=tol, **options)  # the same run, cut at its best
    assert _same_weights(model, stopped_at_best)
    images, labels = blob_images([30, 12, 6])
    _, held = split_held_out(labels, 0.2, torch.Generator().manual_seed(3))  # the run's first draws
    total = held_out_loss(model, to_network_range(images)[held], 16, torch.device("cpu"), torch.contiguous_format)
    assert float(total[0] / total[1]) == pytest.approx(losses[best], rel=1e-5)


def test_without_validation_fraction_every_image_trains_and_no_validation_is_recorded():
    plain, plain_history = _fit(epochs=2)
    off, off_history = _fit(epochs=2, validation_fraction=0.0)
    assert _same_weights(plain, off) and plain_history == off_history
    assert "validation" not in off_history[0]
    _, held_history = _fit(epochs=2, validation_fraction=0.2)
    assert held_history[0]["reconstruction"] != off_history[0]["reconstruction"]  # fewer images trained


@pytest.mark.parametrize("stop_epoch", [1, 2])
def test_an_interrupted_held_out_run_resumes_to_the_uninterrupted_result(tmp_path, stop_epoch):
    reference, reference_history = _fit(validation_fraction=0.2, n_iter_no_change=2, tol=1e9)
    checkpoint = tmp_path / "run.partial.pt"

    def crash(record):
        if record["epoch"] == stop_epoch:  # epoch 2 is the stopping one: killed before it returned
            raise _Interrupted

    with pytest.raises(_Interrupted):
        _fit(validation_fraction=0.2, n_iter_no_change=2, tol=1e9, checkpoint=checkpoint, callback=crash)
    assert checkpoint.is_file()
    seen = []
    resumed, history = _fit(
        validation_fraction=0.2,
        n_iter_no_change=2,
        tol=1e9,
        checkpoint=checkpoint,
        callback=lambda record: seen.append(record["epoch"]),
    )
    assert seen == list(range(stop_epoch + 1, 3))  # none after the stop
    assert history == reference_history and _same_weights(resumed, reference)
    assert not checkpoint.exists()


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"validation_fraction": 1.0}, r"`validation_fraction` must be a finite number in \[0.0, 1.0\), got 1.0"),
        ({"validation_fraction": -0.1}, r"`validation_fraction` must be .* got -0.1"),
        ({"validation_fraction": 0.01}, r"`validation_fraction`=0.01 holds out 0 of 48 images"),
        ({"validation_fraction": 0.2, "n_iter_no_change": 0}, r"`n_iter_no_change` must be an int >= 1, got 0"),
    ],
)
def test_bad_held_out_options_are_named(options, message):
    with pytest.raises(ValueError, match=message):
        _fit(epochs=1, **options)


def test_deepsmote_keys_its_cache_by_the_stop_only_when_it_is_on():
    images, labels = blob_images([30, 12, 6])
    plain = DeepSMOTE(random_state=0, **FAST_OPTIONS)
    assert "validation_fraction" not in plain.model_config()  # the keys of earlier entries hold
    stopping = DeepSMOTE(random_state=0, validation_fraction=0.2, n_iter_no_change=1, **FAST_OPTIONS | {"epochs": 6})
    assert stopping.model_config()["validation_fraction"] == 0.2
    assert (
        stopping.model_config()
        != DeepSMOTE(
            random_state=0, validation_fraction=0.2, n_iter_no_change=2, **FAST_OPTIONS | {"epochs": 6}
        ).model_config()
    )
    stopping.fit(images, labels)
    assert all("validation" in record for record in stopping.history_)
    assert len(stopping.index_.latents[2]) == 6  # every image is still indexed for the draws
    with pytest.raises(ValueError, match="`n_iter_no_change` must be"):
        DeepSMOTE(n_iter_no_change=0).fit(images, labels)
