from collections import Counter

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.utils.data import DataLoader, TensorDataset

from torch_deepsmote.data.sampler import BalancedBatchSampler


def _targets(counts: list[int], seed: int = 0) -> torch.Tensor:
    """Labels 0..C-1 with the given counts, in a shuffled order."""
    labels = torch.cat([torch.full((n,), c, dtype=torch.long) for c, n in enumerate(counts)])
    return labels[torch.randperm(len(labels), generator=torch.Generator().manual_seed(seed))]


def _per_class(batch: list[int], targets, classes: list) -> list[int]:
    """Items of each of ``classes`` in ``batch``; ``targets`` is any sequence of labels."""
    labels = targets.tolist() if hasattr(targets, "tolist") else list(targets)
    counts = Counter(labels[i] for i in batch)
    assert set(counts) <= set(classes)
    return [counts[label] for label in classes]


def _assert_balanced(sampler: BalancedBatchSampler, targets) -> None:
    num_classes, size = len(sampler.classes), sampler.batch_size
    for batch in sampler:
        assert len(batch) == size
        counts = _per_class(batch, targets, sampler.classes)
        assert min(counts) == size // num_classes
        assert max(counts) - min(counts) <= 1
        assert sum(c > size // num_classes for c in counts) == size % num_classes


def _assert_classes_cycle(stream: torch.Tensor, targets: torch.Tensor) -> None:
    """Each class's draws in ``stream`` walk through its items, all once before any repeats.

    Every class must be drawn at least as often as it has items, so its first cycle
    is complete.
    """
    for label in targets.unique().tolist():
        members = torch.nonzero(targets == label).flatten().sort().values
        drawn = stream[targets[stream] == label]
        n = len(members)
        assert len(drawn) >= n
        for start in range(0, len(drawn) - n + 1, n):  # every complete cycle is a permutation
            assert torch.equal(drawn[start : start + n].sort().values, members)
        tail = drawn[len(drawn) // n * n :]
        assert len(set(tail.tolist())) == len(tail)


# --------------------------------------------------------------------------- balance


@pytest.mark.parametrize(
    ("counts", "batch_size"),
    [
        ([40, 10], 4),
        ([50, 7, 3], 10),  # B % C = 1
        ([30, 20, 9, 5, 1], 7),  # B % C = 2
        ([100, 1, 1, 1, 1, 1, 1], 7),  # B == C
        ([25, 13, 8, 4], 6),  # B % C = 2
        ([60, 30, 15, 8, 4, 2, 1, 1, 1, 1], 128),  # B % C = 8
        ([9], 5),  # one class
    ],
)
def test_every_batch_is_balanced(counts, batch_size):
    targets = _targets(counts)
    _assert_balanced(BalancedBatchSampler(targets, batch_size, generator=0), targets)


def test_leftover_slots_are_shared_fairly_over_many_batches():
    targets = _targets([500, 50, 5])
    sampler = BalancedBatchSampler(targets, 4, num_batches=3000, generator=1)
    extras = Counter()
    for batch in sampler:
        counts = _per_class(batch, targets, [0, 1, 2])
        extras.update(c for c in range(3) if counts[c] == 2)
    # 3000 leftover slots over 3 classes: 1000 each, standard deviation ~26.
    assert all(850 < extras[c] < 1150 for c in range(3)), extras


def test_indices_are_valid_and_batches_are_shuffled_across_classes():
    targets = _targets([40, 12, 3])
    sampler = BalancedBatchSampler(targets, 6, generator=2)
    batches = list(sampler)
    flat = torch.tensor(batches).flatten()
    assert flat.min() >= 0 and flat.max() < len(targets)
    assert set(targets[flat].tolist()) == {0, 1, 2}
    # Classes are not laid out in sorted blocks inside every batch.
    assert any(targets[b].tolist() != sorted(targets[b].tolist()) for b in batches)


@pytest.mark.parametrize(
    ("make", "classes"),
    [
        (lambda codes: [("bird", "cat", "dog")[c] for c in codes], ["bird", "cat", "dog"]),
        (lambda codes: [(-5, 3, 1000)[c] for c in codes], [-5, 3, 1000]),  # gaps, negative
        (lambda codes: np.array([(2, 9, 40)[c] for c in codes], dtype=np.int64), [2, 9, 40]),
        (lambda codes: [np.int32((4, 5, 6)[c]) for c in codes], [4, 5, 6]),  # numpy scalars
        (lambda codes: torch.tensor([(0, 10, 20)[c] for c in codes]), [0, 10, 20]),
        (lambda codes: np.array([("a", "b", "c")[c] for c in codes]), ["a", "b", "c"]),
        (lambda codes: [bool(c) for c in codes], [False, True]),
    ],
    ids=["strings", "int-gaps", "numpy-int64", "numpy-scalars", "tensor", "numpy-strings", "bools"],
)
def test_hashable_labels_give_balanced_batches_over_their_sorted_classes(make, classes):
    counts = [23, 7, 2][: len(classes)]
    codes = _targets(counts)
    targets = make(codes.tolist())
    sampler = BalancedBatchSampler(targets, 5, generator=3)
    assert sampler.classes == classes
    assert sampler.class_counts == dict(zip(classes, counts))
    _assert_balanced(sampler, targets)
    # The labels are encoded once, as their positions in the sorted classes: the batches
    # are those of the codes themselves.
    assert list(sampler) == list(BalancedBatchSampler(codes, 5, generator=3))


def test_labels_need_not_be_contiguous():
    targets = np.array([7, -2, 7, 7, 100, -2, 7, 7])
    sampler = BalancedBatchSampler(targets, 3, generator=0)
    assert sampler.classes == [-2, 7, 100]
    assert sampler.class_counts == {-2: 2, 7: 5, 100: 1}
    for batch in sampler:
        assert sorted(targets[batch].tolist()) == [-2, 7, 100]


# --------------------------------------------------------------------------- cycling


@pytest.mark.parametrize("batch_size", [3, 5, 16])
def test_each_class_is_visited_fully_before_any_item_repeats(batch_size):
    targets = _targets([37, 11, 4, 1])
    sampler = BalancedBatchSampler(targets, max(batch_size, 4), num_batches=40, generator=3)
    _assert_classes_cycle(torch.tensor([i for batch in sampler for i in batch]), targets)


def test_cycles_use_fresh_permutations():
    targets = torch.zeros(20, dtype=torch.long)
    sampler = BalancedBatchSampler(targets, 20, num_batches=5, generator=0)
    stream = [i for batch in sampler for i in batch]
    cycles = [stream[k : k + 20] for k in range(0, 100, 20)]
    assert len({tuple(c) for c in cycles}) > 1


# --------------------------------------------------------------------------- epoch length


def test_default_epoch_length_is_one_pass_over_the_largest_class():
    targets = _targets([11, 3])  # 11 * 2 / 4 = 5.5 batches
    assert len(BalancedBatchSampler(targets, 4, generator=0)) == 6
    assert len(list(BalancedBatchSampler(targets, 4, generator=0))) == 6
    assert len(BalancedBatchSampler(targets, 4, drop_last=True, generator=0)) == 5
    exact = _targets([10, 3])  # 10 * 2 / 4 = 5 exactly
    assert len(BalancedBatchSampler(exact, 4, generator=0)) == 5
    assert len(BalancedBatchSampler(exact, 4, drop_last=True, generator=0)) == 5


def test_drop_last_never_gives_an_empty_epoch():
    sampler = BalancedBatchSampler([0, 1, 2], 128, drop_last=True, generator=0)
    assert len(sampler) == 1
    batches = list(sampler)
    assert len(batches) == 1 and len(batches[0]) == 128


def test_explicit_num_batches_overrides_the_default():
    targets = _targets([11, 3])
    for drop_last in (False, True):
        sampler = BalancedBatchSampler(targets, 4, num_batches=17, drop_last=drop_last, generator=0)
        assert len(sampler) == 17 and len(list(sampler)) == 17
        assert sampler.num_batches == 17


# --------------------------------------------------------------------------- seeding


def test_same_seed_and_epoch_give_identical_batches():
    targets = _targets([30, 9, 2])
    first = BalancedBatchSampler(targets, 5, generator=11)
    second = BalancedBatchSampler(targets.tolist(), 5, generator=11)
    assert list(first) == list(first) == list(second)
    first.set_epoch(4)
    second.set_epoch(4)
    assert list(first) == list(second)


def test_int_seed_matches_a_generator_seeded_the_same_way():
    targets = _targets([30, 9, 2])
    from_int = BalancedBatchSampler(targets, 5, generator=5)
    from_generator = BalancedBatchSampler(targets, 5, generator=torch.Generator().manual_seed(5))
    assert list(from_int) == list(from_generator)


def test_different_epochs_and_seeds_give_different_batches():
    targets = _targets([30, 9, 2])
    sampler = BalancedBatchSampler(targets, 5, generator=0)
    epoch0 = list(sampler)
    sampler.set_epoch(1)
    assert list(sampler) != epoch0
    sampler.set_epoch(0)
    assert list(sampler) == epoch0
    assert list(BalancedBatchSampler(targets, 5, generator=1)) != epoch0


def test_no_seed_draws_from_entropy_and_global_rng_is_untouched():
    targets = _targets([30, 9, 2])
    state = torch.get_rng_state()
    a, b = BalancedBatchSampler(targets, 5), BalancedBatchSampler(targets, 5)
    batches_a, batches_b = list(a), list(b)
    assert torch.equal(torch.get_rng_state(), state)
    assert batches_a != batches_b


def test_targets_types_are_interchangeable():
    labels = [0, 1, 1, 2, 0, 0, 0, 2, 1, 0]
    reference = list(BalancedBatchSampler(labels, 4, generator=3))
    for targets in (
        np.array(labels, dtype=np.int32),
        np.array(labels, dtype=np.uint8),
        torch.tensor(labels),
        torch.tensor(labels, dtype=torch.int16),
        np.array(labels, dtype=np.int64),
        [np.int64(label) for label in labels],
        tuple(labels),
    ):
        assert list(BalancedBatchSampler(targets, 4, generator=3)) == reference


# --------------------------------------------------------------------------- DDP


def _rank_batches(targets, batch_size, replicas, **kwargs):
    samplers = [
        BalancedBatchSampler(targets, batch_size, num_replicas=replicas, rank=r, **kwargs) for r in range(replicas)
    ]
    return samplers, [list(s) for s in samplers]


@pytest.mark.parametrize("replicas", [1, 2, 3, 4])
@pytest.mark.parametrize("drop_last", [False, True])
def test_ranks_split_the_global_batch_list(replicas, drop_last):
    targets = _targets([23, 7, 2])
    samplers, per_rank = _rank_batches(targets, 5, replicas, drop_last=drop_last, generator=9)
    length = len(samplers[0])
    assert all(len(s) == length for s in samplers)
    assert all(len(batches) == length for batches in per_rank)
    # 23 * 3 / 5 = 13.8 -> 14 global batches (13 with drop_last), rounded to the replicas.
    expected = -(-14 // replicas) if not drop_last else 13 // replicas
    assert length == expected
    whole = list(BalancedBatchSampler(targets, 5, num_batches=length * replicas, generator=9))
    assert whole == [per_rank[i % replicas][i // replicas] for i in range(len(whole))]


def test_ranks_follow_set_epoch_together():
    targets = _targets([23, 7, 2])
    samplers, before = _rank_batches(targets, 5, 2, generator=4)
    for s in samplers:
        s.set_epoch(3)
    after = [list(s) for s in samplers]
    assert after != before
    whole = BalancedBatchSampler(targets, 5, num_batches=2 * len(samplers[0]), generator=4)
    whole.set_epoch(3)
    assert list(whole) == [after[i % 2][i // 2] for i in range(2 * len(samplers[0]))]


def test_replicas_default_from_torch_distributed(monkeypatch):
    monkeypatch.setattr(torch.distributed, "is_available", lambda: True)
    monkeypatch.setattr(torch.distributed, "is_initialized", lambda: True)
    monkeypatch.setattr(torch.distributed, "get_world_size", lambda group=None: 3)
    monkeypatch.setattr(torch.distributed, "get_rank", lambda group=None: 2)
    sampler = BalancedBatchSampler(_targets([23, 7, 2]), 5, generator=0)
    assert (sampler.num_replicas, sampler.rank) == (3, 2)
    with pytest.raises(ValueError, match="generator"):
        BalancedBatchSampler(_targets([23, 7, 2]), 5)


def test_replicas_default_to_a_single_process():
    sampler = BalancedBatchSampler(_targets([5, 5]), 2, generator=0)
    assert (sampler.num_replicas, sampler.rank) == (1, 0)


# --------------------------------------------------------------------------- DataLoader


def test_works_as_a_dataloader_batch_sampler():
    targets = _targets([40, 8, 3])
    features = torch.arange(len(targets), dtype=torch.float32).unsqueeze(1) * 10
    dataset = TensorDataset(features, targets)
    sampler = BalancedBatchSampler(targets, 9, generator=0)
    loader = DataLoader(dataset, batch_sampler=sampler)
    assert len(loader) == len(sampler)
    seen = 0
    for (x, y), indices in zip(loader, sampler):
        assert x.shape == (9, 1) and torch.bincount(y, minlength=3).tolist() == [3, 3, 3]
        assert torch.equal(x.squeeze(1), features[indices].squeeze(1))
        seen += 1
    assert seen == len(sampler)


def test_repr_and_attributes():
    sampler = BalancedBatchSampler(_targets([11, 3]), 4, generator=0, num_replicas=2, rank=1)
    text = repr(sampler)
    for piece in (
        "BalancedBatchSampler(",
        "num_classes=2",
        "batch_size=4",
        "num_batches=6",
        "num_replicas=2",
        "rank=1",
        "epoch=0",
    ):
        assert piece in text
    assert sampler.classes == [0, 1]
    assert sampler.class_counts == {0: 11, 1: 3}
    sampler.set_epoch(2)
    assert sampler.epoch == 2 and "epoch=2" in repr(sampler)


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"batch_size": 2}, ValueError, r"`batch_size`.*number of classes \(3\).*got 2"),
        ({"batch_size": 0}, ValueError, r"`batch_size`.*>= 1, got 0"),
        ({"batch_size": -4}, ValueError, r"`batch_size`"),
        ({"batch_size": True}, TypeError, r"`batch_size`.*bool"),
        ({"batch_size": 4.0}, TypeError, r"`batch_size`.*float"),
        ({"num_batches": 0}, ValueError, r"`num_batches`"),
        ({"num_batches": 2.5}, TypeError, r"`num_batches`"),
        ({"drop_last": "yes"}, TypeError, r"`drop_last`"),
        ({"generator": "seed"}, TypeError, r"`generator`"),
        ({"generator": -1}, ValueError, r"`generator`"),
        ({"generator": 1.5}, TypeError, r"`generator`"),
        ({"num_replicas": 0, "rank": 0}, ValueError, r"`num_replicas`"),
        ({"num_replicas": 2, "rank": 2}, ValueError, r"`rank`.*\[0, 2\).*got 2"),
        ({"num_replicas": 2, "rank": -1}, ValueError, r"`rank`"),
        ({"num_replicas": 2, "rank": True}, TypeError, r"`rank`"),
        ({"num_replicas": 2, "rank": 0, "generator": None}, ValueError, r"`generator`.*every rank"),
    ],
)
def test_bad_arguments_are_refused_with_the_parameter_named(kwargs, error, match):
    arguments = {"batch_size": 6, "generator": 0, **kwargs}
    with pytest.raises(error, match=match):
        BalancedBatchSampler([0, 1, 2, 0, 0], **arguments)


@pytest.mark.parametrize(
    ("targets", "error", "match"),
    [
        ([0, 1.5, 1], TypeError, r"`targets` must hold class labels that are not floating-point .* got the label 1\.5"),
        (
            np.array([0.0, 1.0]),
            TypeError,
            r"`targets` must hold class labels that are not floating-point .* dtype float64",
        ),
        (torch.tensor([0.0, 1.0]), TypeError, r"`targets` must hold .* not floating-point .* dtype torch\.float32"),
        (torch.tensor([1.0], dtype=torch.bfloat16), TypeError, r"not floating-point .* dtype torch\.bfloat16"),
        (
            torch.tensor([0.0, float("nan")]),
            TypeError,
            r"`targets` must hold hashable class labels \(not NaN\), got nan",
        ),
        (
            [1, "1"],
            TypeError,
            r"`targets` must hold labels that can be sorted .* \['int', 'str'\]",
        ),  # not one class "1"
        ([0, 1, None], TypeError, r"`targets` must hold labels that can be sorted .* \['NoneType', 'int'\]"),
        (np.array([{}, {}], dtype=object), TypeError, r"`targets` must hold hashable class labels .* got \{\}"),
        ([[0, 1], [2, 3]], TypeError, r"`targets` must hold hashable class labels .* got \[0, 1\]"),
        (7, TypeError, r"`targets` must be a 1-D sequence of labels, got int"),
        ("abc", TypeError, r"`targets` must be a 1-D sequence of labels, got str"),
        ([], ValueError, r"`targets` must hold at least one class label .* got an empty sequence"),
        (torch.tensor([], dtype=torch.long), ValueError, r"`targets` must hold at least one .* empty"),
        (np.zeros((3, 2), dtype=np.int64), ValueError, r"`targets` must be 1-D, got shape \(3, 2\)"),
        (torch.tensor(3), ValueError, r"`targets` must be 1-D, got shape \(\)"),
    ],
)
def test_bad_targets_are_refused_with_what_is_accepted_and_received(targets, error, match):
    with pytest.raises(error, match=match):
        BalancedBatchSampler(targets, 4, generator=0)


def test_bad_epoch_is_refused():
    sampler = BalancedBatchSampler([0, 1], 2, generator=0)
    with pytest.raises(ValueError, match="`epoch`"):
        sampler.set_epoch(-1)
    with pytest.raises(TypeError, match="`epoch`"):
        sampler.set_epoch(1.0)


# --------------------------------------------------------------------------- properties

_counts = st.lists(st.integers(1, 30), min_size=1, max_size=8)


@settings(max_examples=40, deadline=None)
@given(counts=_counts, extra=st.integers(0, 12), seed=st.integers(0, 2**32), epoch=st.integers(0, 50))
def test_property_batches_are_balanced_and_cycle_classes(counts, extra, seed, epoch):
    targets, size = _targets(counts, seed=seed % 1000), len(counts) + extra
    # Enough batches that even the largest class, at B // C items per batch, is drawn in full.
    num_batches = -(-max(counts) // (size // len(counts)))
    sampler = BalancedBatchSampler(targets, size, num_batches=num_batches, generator=seed)
    sampler.set_epoch(epoch)
    _assert_balanced(sampler, targets)
    _assert_classes_cycle(torch.tensor([i for batch in sampler for i in batch]), targets)


@settings(max_examples=30, deadline=None)
@given(
    counts=_counts,
    extra=st.integers(0, 6),
    replicas=st.integers(1, 5),
    num_batches=st.one_of(st.none(), st.integers(1, 20)),
    drop_last=st.booleans(),
    seed=st.integers(0, 2**32),
)
def test_property_ranks_partition_the_global_list(counts, extra, replicas, num_batches, drop_last, seed):
    targets, size = _targets(counts), len(counts) + extra
    kwargs = {"num_batches": num_batches, "drop_last": drop_last, "generator": seed}
    samplers, per_rank = _rank_batches(targets, size, replicas, **kwargs)
    length = len(samplers[0])
    assert length >= 1 and all(len(b) == length for b in per_rank)
    global_count = num_batches if num_batches is not None else samplers[0].num_batches
    rounded = global_count // replicas if drop_last else -(-global_count // replicas)
    assert length == max(1, rounded)
    whole = list(BalancedBatchSampler(targets, size, num_batches=length * replicas, generator=seed))
    assert whole == [per_rank[i % replicas][i // replicas] for i in range(length * replicas)]


@settings(max_examples=30, deadline=None)
@given(counts=_counts, seed=st.integers(0, 2**32), epoch=st.integers(0, 1000))
def test_property_draw_is_a_function_of_seed_and_epoch(counts, seed, epoch):
    targets = _targets(counts)
    size = len(counts) + 3
    first = BalancedBatchSampler(targets, size, num_batches=8, generator=seed)
    second = BalancedBatchSampler(targets.numpy(), size, num_batches=8, generator=seed)
    first.set_epoch(epoch)
    second.set_epoch(epoch)
    batches = list(first)
    assert batches == list(first) == list(second)
    if sum(counts) >= 6:  # enough items that two epochs colliding is negligible
        first.set_epoch(epoch + 1)
        assert list(first) != batches
