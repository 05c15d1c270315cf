"""The loss-level baselines against hand computations from their papers' formulas."""

import math

import pytest
import torch
from torch import nn

from torch_deepsmote.evaluation.classifier import SmallCNN, train_classifier
from torch_deepsmote.losses import (
    BalancedSoftmaxLoss,
    ClassBalancedLoss,
    LDAMLoss,
    LogitAdjustedLoss,
    NormedLinear,
    cosine_classifier_,
    effective_number_weights,
    ldam_margins_,
)

COUNTS = [400, 40, 4]
LOGITS = torch.tensor([[2.0, 0.5, -1.0], [0.1, 0.3, 0.2], [-0.5, 1.5, 0.0], [1.0, -2.0, 3.0]])
LABELS = torch.tensor([0, 1, 2, 2])


def cross_entropy_by_hand(logits: list[float], label: int) -> float:
    return -logits[label] + math.log(sum(math.exp(z) for z in logits))


def test_effective_number_weights_follow_cui_et_al():
    beta = 0.99
    raw = [(1 - beta) / (1 - beta**n) for n in COUNTS]
    expected = [w * 3 / sum(raw) for w in raw]
    assert effective_number_weights(COUNTS, beta).tolist() == pytest.approx(expected, rel=1e-6)
    assert effective_number_weights(COUNTS, 0.0).tolist() == pytest.approx([1.0, 1.0, 1.0])


def test_class_balanced_loss_is_the_weighted_mean_of_the_cross_entropies():
    weights = effective_number_weights(COUNTS, 0.999).tolist()
    expected = sum(
        weights[y] * cross_entropy_by_hand(row, y) for row, y in zip(LOGITS.tolist(), LABELS.tolist())
    ) / len(LABELS)
    assert ClassBalancedLoss(COUNTS)(LOGITS, LABELS).item() == pytest.approx(expected, rel=1e-6)


def test_ldam_subtracts_margins_then_reweights_after_the_deferral():
    loss = LDAMLoss(COUNTS, max_margin=0.5, scale=2.0, defer=0.5, beta=0.9)
    margins = [n**-0.25 for n in COUNTS]
    margins = [0.5 * m / max(margins) for m in margins]
    assert loss.margin.tolist() == pytest.approx(margins, rel=1e-6)  # the rarest class gets 0.5
    per_item = []
    for row, y in zip(LOGITS.tolist(), LABELS.tolist()):
        shifted = [2.0 * (z - (margins[y] if c == y else 0.0)) for c, z in enumerate(row)]
        per_item.append(cross_entropy_by_hand(shifted, y))
    loss.set_progress(0.49)
    assert loss(LOGITS, LABELS).item() == pytest.approx(sum(per_item) / len(per_item), rel=1e-6)
    weights = effective_number_weights(COUNTS, 0.9).tolist()
    chosen = [weights[y] for y in LABELS.tolist()]
    loss.set_progress(0.5)
    weighted = sum(w * item for w, item in zip(chosen, per_item)) / sum(chosen)
    assert loss(LOGITS, LABELS).item() == pytest.approx(weighted, rel=1e-6)


def test_logit_adjustment_with_tau_one_is_balanced_softmax():
    prior = [n / sum(COUNTS) for n in COUNTS]
    expected = [
        cross_entropy_by_hand([z + 0.5 * math.log(p) for z, p in zip(row, prior)], y)
        for row, y in zip(LOGITS.tolist(), LABELS.tolist())
    ]
    tau_half = LogitAdjustedLoss(COUNTS, tau=0.5)(LOGITS, LABELS).item()
    assert tau_half == pytest.approx(sum(expected) / len(expected), rel=1e-6)
    balanced_softmax = BalancedSoftmaxLoss(COUNTS)(LOGITS, LABELS).item()
    by_hand = [
        cross_entropy_by_hand([z + math.log(n) for z, n in zip(row, COUNTS)], y)
        for row, y in zip(LOGITS.tolist(), LABELS.tolist())
    ]
    assert balanced_softmax == pytest.approx(sum(by_hand) / len(by_hand), rel=1e-6)
    assert LogitAdjustedLoss(COUNTS, tau=1.0)(LOGITS, LABELS).item() == pytest.approx(balanced_softmax, rel=1e-5)


def test_a_uniform_prior_leaves_the_cross_entropy_unchanged():
    plain = nn.functional.cross_entropy(LOGITS, LABELS).item()
    assert LogitAdjustedLoss([7, 7, 7])(LOGITS, LABELS).item() == pytest.approx(plain, rel=1e-6)
    assert ClassBalancedLoss([7, 7, 7])(LOGITS, LABELS).item() == pytest.approx(plain, rel=1e-6)


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: ClassBalancedLoss([5, 0, 3]), "`counts`"),
        (lambda: ClassBalancedLoss([5]), "`counts`"),
        (lambda: ClassBalancedLoss([5, 2], beta=1.0), "`beta`"),
        (lambda: LDAMLoss([5, 2], defer=1.5), "`defer`"),
        (lambda: LogitAdjustedLoss([5, 2.5]), "`counts`"),
    ],
)
def test_bad_arguments_name_the_parameter(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_cosine_classifier_replaces_the_last_linear_layer():
    model = SmallCNN(1, 3, generator=torch.Generator().manual_seed(0))
    cosine_classifier_(model, generator=torch.Generator().manual_seed(0))
    assert isinstance(model.head[-1], NormedLinear) and isinstance(model.head[1], nn.Linear)
    logits = model(torch.randn(5, 1, 8, 8, generator=torch.Generator().manual_seed(1)))
    assert logits.shape == (5, 3) and logits.abs().max() <= 1 + 1e-6
    with pytest.raises(ValueError, match="`model`"):
        cosine_classifier_(nn.Sequential(nn.ReLU()))


def test_the_training_loop_tells_the_loss_its_progress():
    seen = []

    class Recording(nn.Module):
        def set_progress(self, fraction):
            seen.append(fraction)

        def forward(self, logits, labels):
            return nn.functional.cross_entropy(logits, labels)

    images = torch.randn(8, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    batches = [(images[:4], LABELS), (images[4:], LABELS)]
    train_classifier(SmallCNN(1, 3), batches, epochs=2, criterion=Recording(), progress=False)
    assert seen == [0.0, 0.25, 0.5, 0.75]


def test_ldam_margins_make_a_cosine_head_and_margins_from_the_real_counts_without_reweighting():
    model = SmallCNN(1, 3, generator=torch.Generator().manual_seed(0))
    criterion = ldam_margins_(model, COUNTS, generator=torch.Generator().manual_seed(1))
    assert isinstance(model.head[-1], NormedLinear)
    margins = [n**-0.25 for n in COUNTS]
    assert criterion.margin.tolist() == pytest.approx([0.5 * m / max(margins) for m in margins], rel=1e-6)
    per_item = [
        cross_entropy_by_hand(
            [30.0 * (z - (criterion.margin[y].item() if c == y else 0.0)) for c, z in enumerate(row)], y
        )
        for row, y in zip(LOGITS.tolist(), LABELS.tolist())
    ]
    for progress in (0.0, 0.99):  # no deferred re-weighting: the balanced draws weight the classes
        criterion.set_progress(progress)
        assert criterion(LOGITS, LABELS).item() == pytest.approx(sum(per_item) / len(per_item), rel=1e-5)
