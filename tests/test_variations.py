import pytest
import torch

from torch_deepsmote.latent.variations import borrowable_rows, nearest_classes, variation_pool


def test_pool_holds_each_neighbour_difference_of_every_class_and_skips_self_pairs():
    latents = {
        3: torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 2.0]]),
        7: torch.tensor([[5.0, 5.0]]),  # one image: its table names itself
        1: torch.tensor([[10.0, 0.0], [10.0, 3.0]]),
    }
    neighbors = {
        3: torch.tensor([[1], [0], [0]]),
        7: torch.tensor([[0]]),
        1: torch.tensor([[1], [0]]),
    }
    pool, sources = variation_pool(latents, neighbors)
    expected = torch.tensor([[1.0, 0.0], [-1.0, 0.0], [0.0, -2.0], [0.0, 3.0], [0.0, -3.0]])
    assert pool.dtype == torch.float32 and torch.equal(pool, expected)
    assert sources.tolist() == [3, 3, 3, 1, 1]


def test_a_capped_pool_keeps_evenly_spaced_pairs_from_every_class():
    latents = {label: torch.randn(50, 4, generator=torch.Generator().manual_seed(label)) for label in (0, 1)}
    neighbors = {label: torch.stack([torch.roll(torch.arange(50), -s) for s in (1, 2)], 1) for label in (0, 1)}
    full, full_sources = variation_pool(latents, neighbors)
    capped, capped_sources = variation_pool(latents, neighbors, size=20)
    assert full.shape == (200, 4) and capped.shape == (20, 4)
    assert torch.equal(capped, full[torch.arange(20) * 10])  # rows 0, 10, ..., 190: both classes
    assert capped_sources.tolist() == [0] * 10 + [1] * 10
    with pytest.raises(ValueError, match="size"):
        variation_pool(latents, neighbors, size=0)


def test_nearest_classes_are_the_class_then_the_classes_with_the_nearest_mean():
    classes = torch.tensor([2, 5, 7, 9])
    means = torch.tensor([[0.0, 0.0], [10.0, 0.0], [1.0, 0.0], [0.0, 3.0]])
    assert nearest_classes(classes, means, 2, 3).tolist() == [2, 7, 9]
    assert nearest_classes(classes, means, 5, 2).tolist() == [5, 7]
    assert nearest_classes(classes, means, 9, None).tolist() == [9, 2, 7, 5]
    assert nearest_classes(classes, means, 7, 10).tolist() == [7, 2, 9, 5]
    same = torch.zeros(4, 2)  # ties: the class itself still comes first
    assert nearest_classes(classes, same, 7, 1).tolist() == [7]


def test_borrowable_rows_are_those_of_the_lending_classes():
    sources = torch.tensor([3, 1, 3, 4, 1])
    assert borrowable_rows(sources, torch.tensor([3, 4])).tolist() == [0, 2, 3]
    assert borrowable_rows(sources, torch.tensor([8])).tolist() == []
