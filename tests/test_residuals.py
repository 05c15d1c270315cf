"""Residuals on disk: a streamed fit's temporary file and the cache's ``.f16`` file, memory-mapped."""

import os
import tempfile

import pytest
import torch

from tests.conftest import blob_images
from tests.test_streaming import COUNTS, Pairs, synthetic, wrap
from torch_deepsmote._utils.files import read_envelope, write_envelope
from torch_deepsmote.data.cache import cache_key, entry_path, residual_path
from torch_deepsmote.latent.residuals import open_rows, temporary_rows, write_rows
from torch_deepsmote.nn.sources import TensorSource


def residuals_of(dataset):
    return {code: rows.clone() for code, rows in dataset.oversampler.index_.residuals.items()}


def test_a_streamed_fit_keeps_its_residuals_in_an_unnamed_temporary_file():
    base = Pairs(*blob_images(COUNTS))
    before = set(os.listdir(tempfile.gettempdir()))
    held, streamed = wrap(base, stream=False), wrap(base, stream=True)
    assert held.oversampler.index_.residual_file is None
    assert streamed.oversampler.index_.residual_file == "temporary file"
    assert set(os.listdir(tempfile.gettempdir())) <= before  # no file left with a name
    held_rows, streamed_rows = residuals_of(held), residuals_of(streamed)
    assert list(held_rows) == list(streamed_rows) == [1, 2]
    assert all(torch.equal(held_rows[code], streamed_rows[code]) for code in held_rows)


def test_the_cache_keeps_residuals_beside_the_entry_and_maps_them_when_loading(tmp_path):
    base = Pairs(*blob_images(COUNTS))
    first = wrap(base, stream=False, cache_dir=tmp_path)
    [rows_file] = tmp_path.glob("deepsmote-*.f16")
    [entry] = tmp_path.glob("deepsmote-*.pt")
    assert rows_file.stat().st_size == (COUNTS[1] + COUNTS[2]) * 8 * 8 * 2  # float16 rows of the grown classes
    second = wrap(base, stream=False, cache_dir=tmp_path)
    assert second.from_cache and second.oversampler.index_.residual_file == str(rows_file)
    payload = read_envelope(entry, cache_key(first.oversampler, TensorSource(base.images), first.oversampler._coding))
    assert "residuals" not in payload and payload["residual_file"]["name"] == rows_file.name  # not inline
    assert all(torch.equal(residuals_of(first)[c], rows) for c, rows in residuals_of(second).items())
    assert torch.equal(synthetic(first), synthetic(second))


@pytest.mark.parametrize("damage", ["corrupt", "missing"])
def test_a_damaged_residual_file_is_reported_and_trained_anew(tmp_path, damage):
    base = Pairs(*blob_images(COUNTS))
    first = wrap(base, stream=False, cache_dir=tmp_path)
    [rows_file] = tmp_path.glob("deepsmote-*.f16")
    if damage == "missing":
        rows_file.unlink()
    else:
        data = bytearray(rows_file.read_bytes())
        data[5] ^= 0xFF
        rows_file.write_bytes(bytes(data))
    with pytest.warns(UserWarning, match="residual file .* is missing or corrupt"):
        again = wrap(base, stream=False, cache_dir=tmp_path)
    assert not again.from_cache and torch.equal(synthetic(first), synthetic(again))
    assert wrap(base, stream=False, cache_dir=tmp_path).from_cache  # written anew


def test_an_entry_holding_its_residuals_inline_still_loads(tmp_path):
    images, labels = blob_images(COUNTS)
    base = Pairs(images, labels)
    first = wrap(base, stream=False, cache_dir=False)
    oversampler = first.oversampler
    key = cache_key(oversampler, TensorSource(images), oversampler._coding)
    write_envelope(entry_path(tmp_path, key), key, oversampler.fitted_state())  # as written before the .f16 files
    loaded = wrap(base, stream=False, cache_dir=tmp_path)
    assert loaded.from_cache and loaded.oversampler.index_.residual_file is None
    assert not residual_path(tmp_path, key).exists()
    assert torch.equal(synthetic(first), synthetic(loaded))


def test_rows_round_trip_and_a_wrong_size_or_checksum_is_refused(tmp_path):
    generator = torch.Generator().manual_seed(0)
    rows = {
        3: torch.randn(5, 2, 3, 4, generator=generator).half(),
        7: torch.randn(2, 2, 3, 4, generator=generator).half(),
    }
    path = tmp_path / "rows.f16"
    digest = write_rows(path, rows)
    counts = {3: 5, 7: 2}
    opened = open_rows(path, counts, (2, 3, 4), digest)
    assert all(torch.equal(opened[code], rows[code]) for code in rows)
    assert open_rows(path, counts, (2, 3, 4), "0" * 64) is None
    assert open_rows(path, {3: 5, 7: 3}, (2, 3, 4), digest) is None
    assert open_rows(tmp_path / "absent.f16", counts, (2, 3, 4), digest) is None
    assert [p.name for p in tmp_path.iterdir()] == ["rows.f16"]  # no temporary file left
    scratch = temporary_rows(counts, (2, 3, 4))
    scratch[7][:] = rows[7]
    assert torch.equal(scratch[7], rows[7]) and scratch[3].shape == (5, 2, 3, 4)
