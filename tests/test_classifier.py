"""The shared classifier loop: learning-rate schedules and argument checks."""

import math

import pytest
import torch
from torch.optim.optimizer import register_optimizer_step_pre_hook
from torch.utils.data import DataLoader, TensorDataset

from torch_deepsmote.evaluation.classifier import SmallCNN, train_classifier


def learning_rates(schedule: str, epochs: int = 2, lr: float = 1e-2) -> list[float]:
    """The learning rate in force at every optimizer step of one training run."""
    generator = torch.Generator().manual_seed(0)
    data = TensorDataset(torch.rand(24, 1, 8, 8, generator=generator), torch.arange(24) % 3)
    seen: list[float] = []
    handle = register_optimizer_step_pre_hook(
        lambda optimizer, args, kwargs: seen.append(optimizer.param_groups[0]["lr"])
    )
    try:
        train_classifier(
            SmallCNN(1, 3, width=4),
            DataLoader(data, batch_size=8),
            epochs=epochs,
            lr=lr,
            schedule=schedule,
            progress=False,
        )
    finally:
        handle.remove()
    return seen


def test_constant_schedule_keeps_the_learning_rate():
    assert learning_rates("constant") == [1e-2] * 6


def test_cosine_schedule_decays_from_lr_towards_zero_over_all_steps():
    rates = learning_rates("cosine")
    assert len(rates) == 6
    expected = [1e-2 * 0.5 * (1 + math.cos(math.pi * step / 6)) for step in range(6)]
    assert rates == pytest.approx(expected)
    assert all(later < earlier for earlier, later in zip(rates, rates[1:]))


def test_unknown_schedule_is_refused_by_name():
    with pytest.raises(ValueError, match=r"`schedule` must be one of \('constant', 'cosine'\), got 'linear'"):
        learning_rates("linear")
