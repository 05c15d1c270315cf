import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from torch_deepsmote.latent.smote import SmoteDraw, draw_smote, interpolate, smote_interpolate


def _segment_parameter(point, start, end):
    """Position t of ``point`` on the segment start→end, and the distance off the line."""
    direction = end - start
    length = direction.dot(direction)
    if length == 0:
        return 0.0, float((point - start).norm())
    t = float((point - start).dot(direction) / length)
    return t, float((point - (start + t * direction)).norm())


@settings(max_examples=40, deadline=None)
@given(
    n_points=st.integers(2, 12),
    dim=st.integers(1, 6),
    n_samples=st.integers(0, 30),
    seed=st.integers(0, 2**31),
)
def test_every_point_lies_on_a_segment_to_a_listed_neighbour(n_points, dim, n_samples, seed):
    generator = torch.Generator().manual_seed(seed)
    latents = torch.randn(n_points, dim, generator=generator, dtype=torch.float64)
    k = min(3, n_points - 1)
    neighbors = torch.stack([torch.roll(torch.arange(n_points), -s) for s in range(1, k + 1)], dim=1)
    new, draw = smote_interpolate(latents, neighbors, n_samples, generator)
    assert new.shape == (n_samples, dim)
    for i in range(n_samples):
        base, neighbor = int(draw.base[i]), int(draw.neighbor[i])
        assert neighbor in neighbors[base].tolist()
        t, off = _segment_parameter(new[i], latents[base], latents[neighbor])
        assert off < 1e-9
        assert -1e-9 <= t < 1 + 1e-9
        assert abs(t - float(draw.gap[i])) < 1e-6


def test_same_generator_state_same_draw_and_device_independent_types():
    neighbors = torch.tensor([[1, 2], [0, 2], [0, 1]])
    first = draw_smote(neighbors, 50, torch.Generator().manual_seed(3))
    second = draw_smote(neighbors, 50, torch.Generator().manual_seed(3))
    other = draw_smote(neighbors, 50, torch.Generator().manual_seed(4))
    assert all(torch.equal(a, b) for a, b in zip(first, second))
    assert not torch.equal(first.gap, other.gap)
    assert first.base.dtype == torch.int64 and first.gap.dtype == torch.float32
    assert bool(((first.gap >= 0) & (first.gap < 1)).all())


def test_output_follows_the_latents_dtype():
    latents = torch.randn(4, 3, dtype=torch.float64)
    neighbors = torch.tensor([[1], [0], [3], [2]])
    new, _ = smote_interpolate(latents, neighbors, 5, torch.Generator().manual_seed(0))
    assert new.dtype == torch.float64


def test_errors_name_the_parameter():
    with pytest.raises(ValueError, match="neighbors"):
        draw_smote(torch.zeros((0, 2), dtype=torch.long), 3, torch.Generator())
    with pytest.raises(ValueError, match="n_samples"):
        draw_smote(torch.zeros((2, 1), dtype=torch.long), -1, torch.Generator())
    with pytest.raises(ValueError, match="latents"):
        smote_interpolate(torch.zeros(3, 2), torch.zeros((2, 1), dtype=torch.long), 1, torch.Generator())


def test_variation_draws_come_after_the_smote_draws_and_stay_in_range():
    neighbors = torch.tensor([[1, 2], [0, 2], [0, 1]])
    plain = draw_smote(neighbors, 500, torch.Generator().manual_seed(5))
    borrowed = draw_smote(neighbors, 500, torch.Generator().manual_seed(5), n_variations=7, variation_transfer=0.5)
    assert all(torch.equal(a, b) for a, b in zip(plain[:3], borrowed[:3]))  # the same SMOTE samples
    assert not bool(plain.strength.any()) and not bool(plain.variation.any())
    assert set(borrowed.variation.tolist()) == set(range(7))
    assert float(borrowed.strength.min()) >= 0 and 0.49 < float(borrowed.strength.max()) < 0.5
    with pytest.raises(ValueError, match="variation_transfer"):
        draw_smote(neighbors, 3, torch.Generator(), variation_transfer=-1.0)
    with pytest.raises(ValueError, match="n_variations"):
        draw_smote(neighbors, 3, torch.Generator(), variation_transfer=1.0)


def test_interpolate_adds_the_weighted_variation():
    latents = torch.tensor([[0.0, 0.0], [2.0, 0.0]])
    pool = torch.tensor([[0.0, 1.0], [0.0, 10.0]])
    draw = SmoteDraw(
        base=torch.tensor([0, 1]),
        neighbor=torch.tensor([1, 0]),
        gap=torch.tensor([0.5, 0.0]),
        variation=torch.tensor([1, 0]),
        strength=torch.tensor([0.25, 2.0]),
    )
    assert torch.equal(interpolate(latents, draw, pool), torch.tensor([[1.0, 2.5], [2.0, 2.0]]))
    with pytest.raises(ValueError, match="variations"):
        interpolate(latents, draw)
    no_strength = draw._replace(strength=torch.zeros(2))
    assert torch.equal(interpolate(latents, no_strength), torch.tensor([[1.0, 0.0], [2.0, 0.0]]))
