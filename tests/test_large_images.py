"""`benchmarks/make_shapes.py` and `benchmarks/large_images.py` at 16×16: the folder, rows, table and check."""

import json
from pathlib import Path

import pytest
import torch
from torchvision.datasets import ImageFolder

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
FIELDS = {"profile", "method", "seed", "commit", "machine", "settings", "balanced", "resample_seconds", "train_seconds"}
FIT_COST = {"rss_before_fit_mib", "peak_rss_fit_mib", "rss_after_fit_mib", "autoencoder_seconds_per_epoch"}


@pytest.fixture
def shapes(monkeypatch):
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    import make_shapes as module

    return module


@pytest.fixture
def large(shapes):
    import large_images as module

    return module


@pytest.fixture
def data(shapes, tmp_path):
    """Two classes of 16×16 shapes, 12 and 4 to train on, 3 each to test on."""
    return shapes.make_shapes(tmp_path / "shapes", 16, seed=0, counts=[12, 4], test_per_class=3)


def files(folder: Path) -> dict[str, bytes]:
    return {str(path.relative_to(folder)): path.read_bytes() for path in sorted(folder.rglob("*.png"))}


def test_shapes_are_an_image_folder_of_the_counts_asked_for_byte_identical_per_seed(shapes, data, tmp_path):
    train, test = ImageFolder(str(data / "train")), ImageFolder(str(data / "test"))
    assert train.classes == ["0-triangle", "1-bar"] and torch.bincount(torch.tensor(train.targets)).tolist() == [12, 4]
    assert torch.bincount(torch.tensor(test.targets)).tolist() == [3, 3]
    image, _ = train[0]
    assert image.mode == "RGB" and image.size == (16, 16)
    again = shapes.make_shapes(tmp_path / "again", 16, seed=0, counts=[12, 4], test_per_class=3)
    assert files(again) == files(data)
    other = shapes.make_shapes(tmp_path / "other", 16, seed=1, counts=[13, 4], test_per_class=3)
    assert files(other).keys() > files(data).keys() and files(other) != files(data)
    grown = shapes.make_shapes(tmp_path / "grown", 16, seed=0, counts=[13, 4], test_per_class=3)
    assert files(grown).items() > files(data).items()  # a 13th image keeps the other twelve
    assert shapes.make_shapes(data, 16, seed=0, counts=[12, 4], test_per_class=3) == data  # already there
    with pytest.raises(SystemExit, match="other files"):
        shapes.make_shapes(data, 16, seed=2, counts=[12, 4], test_per_class=3)


@pytest.mark.parametrize(("method", "counts"), [("none", [12, 4]), ("random oversampling", [12, 12])])
def test_plain_methods_read_the_image_folder_itself(large, data, method, counts):
    profile = large.shapes_profile(data, 1, [0])
    job = {"profile": profile, "name": "large-images-16", "method": method, "seed": 0, "commit": "c"}
    row = large.measure(job | {"threads": None, "progress": False})
    assert FIELDS <= set(row) and "fit_cost" not in row
    assert row["train_counts"] == counts and set(row["balanced"]["support"].values()) == {3}


def test_deepsmote_runs_in_its_own_process_resumes_and_tables_its_fit_cost(large, data, tmp_path):
    import tables

    out = tmp_path / "results"
    arguments = ["--data", str(data), "--out", str(out), "--seeds", "0", "--epochs", "1", "--threads", "1"]
    large.main([*arguments, "--methods", "DeepSMOTE (default)"])
    (row,) = tables.read_runs(out / "runs.jsonl")
    assert FIELDS <= set(row) and row["profile"] == "large-images-16" and row["train_counts"] == [12, 12]
    assert row["settings"]["data"]["counts"] == [12, 4] and "root" not in row["settings"]
    cost = row["fit_cost"]
    assert FIT_COST <= set(cost) and cost["generation_items"] == 8 and cost["generation_items_per_s"] > 0
    assert cost["autoencoder_seconds_per_epoch"] > 0  # the fit went through the timed fit_autoencoder
    assert cost["rss_before_fit_mib"] <= cost["peak_rss_fit_mib"] <= cost["peak_rss_mib"]
    assert cost["estimate"].startswith("DeepSMOTE fit of 16 images of 3×16×16 (width 16") and not cost["streamed"]
    table = (out / "table.md").read_text(encoding="utf-8")
    assert table == tables.generate(out)["table.md"]
    assert "## Fit cost" in table and "| DeepSMOTE (default) | 1 |" in table.split("## Fit cost")[1]
    large.main([*arguments, "--methods", "DeepSMOTE (default)"])  # resumed: nothing left to measure
    assert len(tables.read_runs(out / "runs.jsonl")) == 1


@pytest.mark.parametrize("stream", [False, True])
def test_check_wraps_trains_and_serves_every_synthetic_item_in_a_fresh_process(large, data, tmp_path, stream):
    command = ["--check", "--data", str(data), "--out", str(tmp_path), "--threads", "1"] + ["--stream"] * stream
    path = large.main(command)
    result = json.loads(path.read_text(encoding="utf-8"))
    assert path.name == f"check-16{'-streamed' * stream}.json" and result["fit_cost"]["streamed"] is stream
    assert result["deepsmote"] == large.CHECK and result["within_limit"]
    assert result["fit_cost"]["generation_items"] == 8 and FIT_COST <= set(result["fit_cost"])
    assert result["fit_cost"]["estimate"].startswith("DeepSMOTE fit of 16 images")
