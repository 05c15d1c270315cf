import pytest
import torch

from torch_deepsmote.variations import variation_pool


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
    pool = variation_pool(latents, neighbors)
    expected = torch.tensor([[1.0, 0.0], [-1.0, 0.0], [0.0, -2.0], [0.0, 3.0], [0.0, -3.0]])
    assert pool.dtype == torch.float32 and torch.equal(pool, expected)


def test_a_capped_pool_keeps_evenly_spaced_pairs_from_every_class():
    latents = {label: torch.randn(50, 4, generator=torch.Generator().manual_seed(label)) for label in (0, 1)}
    neighbors = {label: torch.stack([torch.roll(torch.arange(50), -s) for s in (1, 2)], 1) for label in (0, 1)}
    full = variation_pool(latents, neighbors)
    capped = variation_pool(latents, neighbors, size=20)
    assert full.shape == (200, 4) and capped.shape == (20, 4)
    assert torch.equal(capped, full[torch.arange(20) * 10])  # rows 0, 10, ..., 190: both classes
    with pytest.raises(ValueError, match="size"):
        variation_pool(latents, neighbors, size=0)
