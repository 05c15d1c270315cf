import json

import pytest
from PIL import Image

from tests.conftest import blob_images
from torch_deepsmote.cli import main


def test_demo_runs_end_to_end_in_fast_mode(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "--fast", "--quiet", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    for piece in (
        "train class counts before: [85, 43, 21, 16, 11, 7, 5, 5, 5, 5]",
        "none",
        "random oversampling",
        "deepsmote",
        "acsa",
    ):
        assert piece in printed
    results = json.loads((out / "results.json").read_text())
    assert results["class_counts"]["train_after"] == [85] * 10
    assert set(results["scores"]) == {"none", "random oversampling", "deepsmote"}
    for method in results["scores"].values():
        assert 0.0 <= method["acsa"] <= 1.0
    for picture in ("grid.png", "metrics.png"):
        with Image.open(out / picture) as image:
            assert image.width > 100 and image.height > 100


def _image_folder(root, counts, names):
    images, labels = blob_images(counts)
    for index, (image, label) in enumerate(zip(images, labels)):
        folder = root / names[int(label)]
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(image[0].numpy(), mode="L").save(folder / f"{index:03d}.png")


FAST = ["--epochs", "1", "--quiet", "--seed", "0"]


def test_generate_writes_a_balanced_image_folder_and_refuses_to_overwrite(tmp_path, capsys):
    source, out = tmp_path / "source", tmp_path / "balanced"
    _image_folder(source, [20, 6], ["cats", "dogs"])
    assert main(["generate", "--image-folder", str(source), "--out", str(out), *FAST]) == 0
    assert len(list((out / "cats").glob("*.png"))) == 20
    dogs = sorted((out / "dogs").glob("*.png"))
    assert len(dogs) == 20 and sum(p.name.startswith("synthetic") for p in dogs) == 14
    with Image.open(dogs[-1]) as image:
        assert image.mode == "RGB" and image.size == (8, 8)
    assert "wrote 40 images (14 synthetic)" in capsys.readouterr().out

    with pytest.raises(SystemExit, match="overwrite"):
        main(["generate", "--image-folder", str(source), "--out", str(out), *FAST])
    assert len(list((out / "dogs").glob("*.png"))) == 20
    assert main(["generate", "--image-folder", str(source), "--out", str(out), "--overwrite", *FAST]) == 0
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".balanced-")]


def test_generate_refuses_unsafe_class_names(tmp_path):
    source = tmp_path / "source"
    _image_folder(source, [10, 4], ["ok", "-rf"])
    with pytest.raises(SystemExit, match="class name"):
        main(["generate", "--image-folder", str(source), "--out", str(tmp_path / "out"), *FAST])
    assert not (tmp_path / "out").exists()


def test_grid_and_fit_on_digits(tmp_path, capsys):
    picture = tmp_path / "grid.png"
    assert main(["grid", "--dataset", "digits", "--out", str(picture), "--per-class", "4", *FAST]) == 0
    with Image.open(picture) as image:
        assert image.height >= 10 * 48
    assert main(["fit", "--dataset", "digits", *FAST]) == 0
    assert "loaded from the cache" in capsys.readouterr().out


def test_grid_on_an_image_folder(tmp_path):
    source, picture = tmp_path / "source", tmp_path / "grid.png"
    _image_folder(source, [12, 4], ["a", "b"])
    assert main(["grid", "--image-folder", str(source), "--out", str(picture), *FAST]) == 0
    with Image.open(picture) as image:
        assert image.height == 2 * (48 + 2) + 2  # two rows of 48-pixel cells, 2-pixel borders


def test_generate_from_a_tensor_dataset_writes_grey_pngs(tmp_path):
    out = tmp_path / "digits"
    assert main(["generate", "--dataset", "digits", "--out", str(out), *FAST]) == 0
    folders = sorted(p.name for p in out.iterdir())
    assert folders == [str(c) for c in range(10)]
    pictures = sorted((out / "9").glob("synthetic-*.png"))
    assert len(list((out / "9").glob("*.png"))) == 85 and len(pictures) == 80
    with Image.open(pictures[0]) as image:
        assert image.mode == "L" and image.size == (8, 8)


def test_recipe_and_training_flags_reach_the_oversampler(tmp_path, monkeypatch, capsys):
    import torch_deepsmote.cli as cli
    from torch_deepsmote import RECIPES

    seen = []
    original = cli.DeepSMOTEDataset

    def recording(*args, **kwargs):
        dataset = original(*args, **kwargs)
        seen.append(dataset.oversampler)
        return dataset

    monkeypatch.setattr(cli, "DeepSMOTEDataset", recording)
    source = tmp_path / "source"
    _image_folder(source, [20, 6], ["cats", "dogs"])
    grid = ["grid", "--image-folder", str(source), "--out", str(tmp_path / "g.png"), *FAST]
    assert main(grid) == 0
    assert main([*grid, "--recipe", "paper"]) == 0
    assert main([*grid, "--recipe", "interpolation"]) == 0
    assert main([*grid, "--epochs", "3", "--validation-fraction", "0.2", "--n-iter-no-change", "2"]) == 0
    default, paper, interpolation, held = seen
    assert default.recipe_ == RECIPES["borrowed-variations"]
    assert (paper.recipe, paper.recipe_) == ("paper", RECIPES["paper"])
    assert (interpolation.recipe, interpolation.recipe_) == ("interpolation", RECIPES["interpolation"])
    assert paper.recipe_ != interpolation.recipe_ != default.recipe_
    assert (default.validation_fraction, held.validation_fraction, held.n_iter_no_change) == (0.0, 0.2, 2)
    assert (default.epochs, held.epochs) == (1, 3)
    for flag, value, says in (
        ("--epochs", "-1", "`epochs` must be an int >= 0, got -1"),
        ("--k-neighbors", "two", "`k_neighbors` must be an int, got 'two' (type str)"),
        ("--per-class", "0", "`per_class` must be an int >= 1, got 0"),
        ("--validation-fraction", "1", "`validation_fraction` must be a finite number in [0.0, 1.0), got 1.0"),
        ("--n-iter-no-change", "0", "`n_iter_no_change` must be an int >= 1, got 0"),
        ("--recipe", "papr", "invalid choice: 'papr'"),
    ):
        with pytest.raises(SystemExit):
            main([*grid, flag, value])
        assert f"argument {flag}: {says}" in capsys.readouterr().err
    for removed in ("--paper-recipe", "--detail", "--copy-fraction"):
        with pytest.raises(SystemExit):
            main([*grid, removed, "1"])
        assert "unrecognized arguments" in capsys.readouterr().err
