import json
import os
import stat

import pytest
from PIL import Image

from tests.conftest import blob_images
from torch_deepsmote.cli import main


def test_demo_runs_end_to_end_in_fast_mode(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "--fast", "--quiet", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    for piece in (
        "protocol: the benchmark's `smoke` profile",
        "on digits, seed 0",
        "changed from the profile: classifier epochs 1 (profile: 2)",
        "train class counts before: [85, 43, 21, 16, 11, 7, 5, 5, 5, 5]",
        "none",
        "random oversampling",
        "deepsmote",
        "ACSA",
        "not compared with the committed rows (benchmarks/results/smoke/table.md",
    ):
        assert piece in printed
    results = json.loads((out / "results.json").read_text())
    assert results["class_counts"]["train_after"] == [85] * 10
    assert set(results["runs"][0]["scores"]) == {"none", "random oversampling", "deepsmote"}
    for method in results["runs"][0]["scores"].values():
        assert 0.0 <= method["acsa"] <= 1.0
    for picture in ("grid.png", "metrics.png"):
        with Image.open(out / picture) as image:
            assert image.width > 100 and image.height > 100


def test_demo_flags_reach_its_settings(tmp_path, monkeypatch, capsys):
    from torch_deepsmote.evaluation import demo

    seen = []
    monkeypatch.setattr(demo, "run_demo", seen.append)
    monkeypatch.setattr(demo, "format_report", lambda results: "report")
    main(["demo", "--dataset", "fashion-mnist", "--seeds", "3", "--seed", "2", "--out", str(tmp_path)])
    main(["demo", "--classifier-epochs", "4", "--autoencoder-epochs", "0", "--recipe", "paper", "--quiet"])
    plain, changed = seen
    assert (plain.dataset, plain.seed_list, plain.profile_name) == ("fashion-mnist", [2, 3, 4], "cpu")
    assert plain.departures() == [] and plain.progress
    assert (changed.classifier_epochs, changed.autoencoder_epochs, changed.recipe) == (4, 0, "paper")
    assert not changed.progress
    assert capsys.readouterr().out == "report\nreport\n"
    with pytest.raises(SystemExit):
        main(["demo", "--seeds", "0"])
    assert "argument --seeds: `seeds` must be an int >= 1, got 0" in capsys.readouterr().err


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
    folders = sorted(p.name for p in out.iterdir() if p.is_dir())
    assert folders == [str(c) for c in range(10)] and (out / ".deepsmote-generate.json").is_file()
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


# -- generate never deletes or reads back what it did not write -------------------------------


@pytest.fixture
def no_training(monkeypatch):
    """Fails the test if the command gets as far as building the dataset (training)."""
    import torch_deepsmote.cli as cli

    def refuse(*args, **kwargs):
        raise AssertionError("the command trained before refusing")

    monkeypatch.setattr(cli, "DeepSMOTEDataset", refuse)


def _tree(root):
    """Every file under ``root`` with its bytes."""
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.mark.parametrize(
    "layout, says",
    [
        ("out-is-the-image-folder", "is --image-folder"),
        ("out-above-the-image-folder", "contains --image-folder"),
        ("out-inside-the-image-folder", "is inside --image-folder"),
        ("out-inside-a-class-folder", "is inside --image-folder"),
    ],
)
@pytest.mark.parametrize("overwrite", [False, True])
def test_generate_refuses_an_out_that_overlaps_the_image_folder(tmp_path, layout, says, overwrite, no_training):
    project = tmp_path / "proj"
    source = project / "data"
    _image_folder(source, [12, 4], ["a", "b"])
    (project / "notes.txt").write_text("mine")
    out = {
        "out-is-the-image-folder": source,
        "out-above-the-image-folder": project,
        "out-inside-the-image-folder": source / "balanced",
        "out-inside-a-class-folder": source / "a" / "more",
    }[layout]
    before = _tree(project)
    flags = ["--overwrite"] if overwrite else []
    with pytest.raises(SystemExit, match=says):
        main(["generate", "--image-folder", str(source), "--out", str(out), *flags, *FAST])
    assert _tree(project) == before and not (source / "balanced").exists()


def test_generate_refuses_a_symlinked_or_file_out_before_training(tmp_path, no_training):
    source = tmp_path / "source"
    _image_folder(source, [12, 4], ["a", "b"])
    target = tmp_path / "elsewhere"
    target.mkdir()
    (target / "keep.txt").write_text("mine")
    link = tmp_path / "link"
    link.symlink_to(target, target_is_directory=True)
    plain = tmp_path / "plain.txt"
    plain.write_text("mine")
    for out, says in ((link, "symbolic link"), (plain, "not a folder")):
        for flags in ([], ["--overwrite"]):
            with pytest.raises(SystemExit, match=says):
                main(["generate", "--image-folder", str(source), "--out", str(out), *flags, *FAST])
    assert (target / "keep.txt").read_text() == "mine" and plain.read_text() == "mine"


def test_overwrite_replaces_only_a_folder_generate_wrote(tmp_path, capsys):
    source, out = tmp_path / "source", tmp_path / "balanced"
    _image_folder(source, [12, 4], ["a", "b"])
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "thesis.tex").write_text("mine")
    with pytest.raises(SystemExit, match="not written by `deepsmote generate`"):
        main(["generate", "--image-folder", str(source), "--out", str(foreign), "--overwrite", *FAST])
    assert _tree(foreign) == {"thesis.tex": b"mine"}

    assert main(["generate", "--image-folder", str(source), "--out", str(out), *FAST]) == 0
    manifest = json.loads((out / ".deepsmote-generate.json").read_text())
    assert sorted(manifest["files"]) == sorted(p for p in _tree(out) if p != ".deepsmote-generate.json")
    (out / "a" / "my-notes.txt").write_text("mine")  # a file generate did not write
    with pytest.raises(SystemExit, match=r"did not write \(a/my-notes.txt\)"):
        main(["generate", "--image-folder", str(source), "--out", str(out), "--overwrite", *FAST])
    assert (out / "a" / "my-notes.txt").read_text() == "mine" and len(_tree(out)) == len(manifest["files"]) + 2
    (out / "a" / "my-notes.txt").unlink()
    (out / "b" / "real-0000015.png").unlink()  # a listed file that is gone is fine
    assert main(["generate", "--image-folder", str(source), "--out", str(out), "--overwrite", *FAST]) == 0
    assert len(_tree(out)) == len(manifest["files"]) + 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["balanced", "foreign", "source"]  # nothing left aside


def test_generate_folders_follow_the_umask(tmp_path):
    source, out = tmp_path / "source", tmp_path / "balanced"
    _image_folder(source, [12, 4], ["a", "b"])
    previous = os.umask(0o002)
    try:
        assert main(["generate", "--image-folder", str(source), "--out", str(out), *FAST]) == 0
    finally:
        os.umask(previous)
    for folder in (out, out / "a"):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o775
    assert stat.S_IMODE((out / "a" / "real-0000000.png").stat().st_mode) == 0o664


@pytest.mark.parametrize(
    "damage",
    [lambda p: p.write_bytes(b""), lambda p: p.write_bytes(p.read_bytes()[:40]), lambda p: p.write_bytes(b"x" * 99)],
    ids=["zero-byte", "truncated", "corrupt"],
)
def test_unreadable_images_are_listed_or_skipped(tmp_path, damage, capsys):
    source, out = tmp_path / "source", tmp_path / "balanced"
    _image_folder(source, [12, 4], ["a", "b"])
    bad = source / "b" / "013.png"
    damage(bad)
    with pytest.raises(SystemExit, match=r"1 image\(s\) of --image-folder cannot be read") as refused:
        main(["generate", "--image-folder", str(source), "--out", str(out), *FAST])
    assert str(bad) in str(refused.value) and "--skip-unreadable" in str(refused.value) and not out.exists()
    assert main(["generate", "--image-folder", str(source), "--out", str(out), "--skip-unreadable", *FAST]) == 0
    assert f"skipping 1 unreadable image(s):\n  {bad}" in capsys.readouterr().err
    assert len(list((out / "b").glob("real-*.png"))) == 3 and len(list((out / "b").glob("*.png"))) == 12


def test_mixed_image_sizes_name_the_files(tmp_path, no_training):
    source = tmp_path / "source"
    _image_folder(source, [12, 4], ["a", "b"])
    odd = source / "b" / "013.png"
    Image.new("RGB", (9, 9)).save(odd)
    with pytest.raises(SystemExit, match=r"share one size; 15 are 8×8") as refused:
        main(["generate", "--image-folder", str(source), "--out", str(tmp_path / "out"), *FAST])
    assert f"{odd} (9×9)" in str(refused.value)
    with pytest.raises(SystemExit, match="is not a folder"):
        main(["generate", "--image-folder", str(tmp_path / "missing"), "--out", str(tmp_path / "out"), *FAST])
