"""The benchmark's smoke profile runs end to end (every method, digits, seconds)."""

import json
import pickle
from pathlib import Path

import pytest
import torch

from tests.conftest import blob_images

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
RUN = dict(capture_output=True, text=True, check=True, timeout=300)


def runs(folder, seed=0):
    """``{method: row}`` of the rows of ``folder/runs.jsonl`` measured at ``seed``."""
    lines = (Path(folder) / "runs.jsonl").read_text().splitlines()
    return {row["method"]: row for row in map(json.loads, lines) if row["seed"] == seed}


@pytest.fixture
def compare(monkeypatch):
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    import compare as module

    return module


@pytest.fixture
def tables(compare):
    import tables as module

    return module


def test_smoke_profile_fills_every_row(compare, tables, tmp_path):
    from methods import GENERATIVE, METHODS

    out = compare.main(["--profile", "smoke", "--out", str(tmp_path / "smoke")])
    table = (out / "table.md").read_text()
    for name in METHODS:
        assert f"| {name} |" in table
    assert (out / "runs.jsonl").is_file() and (out / "metrics.png").is_file()
    assert len(list(out.glob("grid-*.png"))) == len(GENERATIVE)
    assert "## Synthetic-image quality per class" in table
    rows = runs(out)
    assert list(rows) == list(METHODS)  # one row per method, appended in the registry's order
    for name in GENERATIVE:
        quality = rows[name]["quality"]
        assert set(quality) == {str(c) for c in range(1, 10)}  # every minority class of digits
        assert all(0.0 <= q["agreement"] <= 1.0 and q["frechet"] >= 0.0 for q in quality.values())
        assert 0.5 < rows[name]["reference"]["acsa"] <= 1.0
    for row in rows.values():
        assert row["profile"] == "smoke" and row["settings"]["dataset"] == "digits" and "seeds" not in row["settings"]
        assert set(row["balanced"]["recall"]) == {str(c) for c in range(10)} and row["machine"]["processor"]
        assert row["commit"] and row["command"].startswith("--profile smoke") and row["train_seconds"] > 0
    assert (out / "reference-classifier.pt").is_file()  # a later run into `out` reuses it
    assert table == tables.generate(out)["table.md"]  # the table is the runs file's, byte for byte


def test_resume_keeps_measured_rows_and_adds_methods(compare, tables, tmp_path):
    out = tmp_path / "resume"
    compare.main(["--profile", "smoke", "--methods", "none", "--out", str(out)])
    first = (out / "runs.jsonl").read_text()
    compare.main(["--profile", "smoke", "--methods", "none", "random oversampling", "--out", str(out)])
    assert (out / "runs.jsonl").read_text().startswith(first)  # appended to, never rewritten
    assert [row["method"] for row in map(json.loads, (out / "runs.jsonl").read_text().splitlines())] == [
        "none",
        "random oversampling",  # "none" was not rerun
    ]
    assert "| random oversampling |" in (out / "table.md").read_text()

    merged = tmp_path / "merged"
    compare.main(
        ["--profile", "smoke", "--methods", "none", "SMOTE", "--reuse", str(out), "--table-only", "--out", str(merged)]
    )
    assert not (merged / "runs.jsonl").exists()  # nothing measured, nothing copied
    assert json.loads((merged / "tables.json").read_text())["table.md"] == {
        "runs": ["../resume/runs.jsonl", "runs.jsonl"],
        "methods": ["none"],  # SMOTE was not measured
    }
    table = (merged / "table.md").read_text()
    assert "| none |" in table and "| random oversampling |" not in table and "| SMOTE |" not in table
    assert table == tables.generate(merged)["table.md"]


def test_a_name_that_meant_another_recipe_is_shown_and_resumed_under_its_recipe(compare, tables, tmp_path, monkeypatch):
    out = tmp_path / "renamed"
    compare.main(["--profile", "smoke", "--methods", "none", "--out", str(out)])
    row = json.loads((out / "runs.jsonl").read_text())
    row["commit"] = "feedbee" + "0" * 33  # as if measured at an older commit, where "none" meant another method
    (out / "runs.jsonl").write_text(json.dumps(row) + "\n")
    renames = [{"commits": ["feedbee"], "names": {"none": "no resampling, as once named"}}]
    monkeypatch.setattr(tables, "load_display", lambda path=None: renames)
    compare.main(["--profile", "smoke", "--methods", "none", "--out", str(out)])
    lines = (out / "runs.jsonl").read_text().splitlines()
    assert [json.loads(line)["method"] for line in lines] == ["none", "none"]  # measured again, under its name
    table = (out / "table.md").read_text()
    assert "| no resampling, as once named | 1 |" in table and "| none | 1 |" in table
    assert "| no resampling, as once named | none | feedbee |" in table  # the Names section says so
    compare.main(["--profile", "smoke", "--methods", "none", "--out", str(out)])
    assert len((out / "runs.jsonl").read_text().splitlines()) == 2  # today's "none" is not measured twice


def test_a_merged_table_names_the_machine_of_each_row(compare, tmp_path):
    here, there = tmp_path / "here", tmp_path / "there"
    compare.main(["--profile", "smoke", "--methods", "none", "--out", str(here)])
    compare.main(["--profile", "smoke", "--methods", "random oversampling", "--out", str(there)])
    row = json.loads((there / "runs.jsonl").read_text())
    row["machine"] |= {"processor": "elsewhere-cpu"}  # as if measured on another machine
    (there / "runs.jsonl").write_text(json.dumps(row) + "\n")

    assert "; machine: " in (here / "table.md").read_text()  # one machine
    merged = tmp_path / "merged"
    compare.main(
        [
            "--profile",
            "smoke",
            "--methods",
            "none",
            "random oversampling",
            "--reuse",
            str(here),
            str(there),
            "--table-only",
            "--out",
            str(merged),
        ]
    )
    header = (merged / "table.md").read_text().splitlines()[2]
    assert "machines: " in header and "elsewhere-cpu, " in header
    assert compare.describe_machine()["processor"] + ", " in header

    compare.main(["--profile", "smoke", "--methods", "random oversampling", "--table-only", "--out", str(there)])
    assert "machine: elsewhere-cpu, " in (there / "table.md").read_text()  # re-tabling keeps each row's machine


def test_rows_measured_under_another_protocol_are_not_resumed_or_reused(compare, tmp_path):
    out = tmp_path / "constant"
    compare.main(["--profile", "smoke", "--methods", "none", "--out", str(out)])
    row = json.loads((out / "runs.jsonl").read_text())
    row["settings"]["lr_schedule"] = "constant"
    (out / "runs.jsonl").write_text(json.dumps(row) + "\n")
    with pytest.raises(SystemExit, match="lr_schedule differ from the profile's"):
        compare.main(["--profile", "smoke", "--methods", "none", "--out", str(out)])
    with pytest.raises(SystemExit, match="lr_schedule differ"):
        compare.main(
            [
                "--profile",
                "smoke",
                "--methods",
                "none",
                "--table-only",
                "--reuse",
                str(out),
                "--out",
                str(tmp_path / "merged"),
            ]
        )


def test_quality_figures_rank_copies_above_noise():
    from torch import nn

    from quality import class_quality, frechet_distance

    generator = torch.Generator().manual_seed(0)
    a = torch.randn(400, 3, generator=generator, dtype=torch.float64)
    assert frechet_distance(a, a) == pytest.approx(0.0, abs=1e-6)
    assert frechet_distance(a, a + 2.0) == pytest.approx(12.0, rel=1e-6)  # 3 dims × 2²

    # A "classifier" that reads the class off the mean brightness of the image.
    class Brightness(nn.Module):
        def __init__(self):
            super().__init__()
            self.features = nn.Flatten()
            self.head = nn.Linear(16, 2)
            with torch.no_grad():
                self.head.weight.copy_(torch.stack([-torch.ones(16), torch.ones(16)]))
                self.head.bias.zero_()

        def forward(self, x):
            return self.head(self.features(x))

    labels = torch.arange(200) % 2
    real = (labels[:, None, None, None] * 200 + torch.randint(0, 50, (200, 1, 4, 4), generator=generator)).to(
        torch.uint8
    )
    noise = torch.randint(0, 256, (200, 1, 4, 4), generator=generator, dtype=torch.uint8)
    transform = lambda x: x.float() / 127.5 - 1.0  # noqa: E731
    copies = class_quality(Brightness(), transform, (real, labels), (real, labels), "cpu")
    noisy = class_quality(Brightness(), transform, (noise, labels), (real, labels), "cpu")
    assert all(q["agreement"] == 1.0 and q["frechet"] < 1e-6 for q in copies.values())
    assert all(noisy[c]["agreement"] < 0.9 and noisy[c]["frechet"] > 1.0 for c in (0, 1))


def test_ablation_variants_run_and_name_the_default_recipe(compare, tmp_path):
    import ablation
    from methods import build_deepsmote
    from torch_deepsmote import RECIPES

    oversampler, dataset_options = build_deepsmote(ablation.INTERPOLATION | {"max_gap": 0.5}, seed=3)
    assert oversampler.recipe == RECIPES["interpolation"].__class__(
        copy_fraction=0.0, variation_transfer=0.0, max_gap=0.5
    )
    assert oversampler.random_state == 3 and dataset_options == {"fresh_per_epoch": False}
    chosen = ["DeepSMOTE (default)", "interpolation, plain decodes (detail none)"]
    out = ablation.main(["--profile", "smoke", "--methods", *chosen, "--out", str(tmp_path / "ablation")])
    rows = runs(out)
    assert set(rows) == set(chosen) and all("quality" in row for row in rows.values())


def test_only_the_default_and_the_rows_named_fresh_draw_new_items_each_epoch(compare, monkeypatch):
    import ablation
    import methods

    class Built(Exception):
        """Raised by the stand-in dataset: the method's options are all the test needs."""

    def stand_in(*args, fresh_per_epoch=True, **kwargs):
        raise Built(fresh_per_epoch)

    monkeypatch.setattr(methods, "DeepSMOTEDataset", stand_in)
    images, labels = blob_images([30, 12, 6])
    settings = {"deepsmote": {"epochs": 1, "width": 4, "latent_dim": 8, "batch_size": 16}}
    fresh = {}
    for name, method in ablation.VARIANTS.items():
        if name.startswith(("none", "random oversampling", "SMOTE", "unseen real images")):
            continue
        with pytest.raises(Built) as built:
            method(images, labels, 0, settings, None)
        fresh[name] = built.value.args[0]
    assert {name for name, drawn in fresh.items() if drawn} == {"DeepSMOTE (default)"} | {
        name for name in fresh if "fresh synthetic items" in name
    }
    assert not fresh["DeepSMOTE (fixed draws)"] and not fresh["DeepSMOTE (paper penalty)"]


def test_scaled_and_resized_autoencoders_change_only_the_named_budget_entries(compare):
    import ablation

    seen = []
    settings = {"deepsmote": {"epochs": 10, "width": 16}, "gamo": {"steps": 5}}
    ablation.scaled_autoencoder(lambda *args: seen.append(args[3]), epochs=3)(None, None, 0, settings, None)
    ablation.scaled_autoencoder(lambda *args: seen.append(args[3]), width=2)(None, None, 0, settings, None)
    ablation.resized_autoencoder(lambda *args: seen.append(args[3]), latent_dim=32)(None, None, 0, settings, None)
    assert seen == [
        {"deepsmote": {"epochs": 30, "width": 16}, "gamo": {"steps": 5}},
        {"deepsmote": {"epochs": 10, "width": 32}, "gamo": {"steps": 5}},
        {"deepsmote": {"epochs": 10, "width": 16, "latent_dim": 32}, "gamo": {"steps": 5}},
    ]
    assert settings["deepsmote"]["epochs"] == 10  # the profile is left as it was


def test_deferred_rebalancing_draws_only_real_items_first(compare):
    from methods import deferred, random_oversampling

    labels = torch.tensor([0] * 12 + [1] * 3)
    images = torch.arange(15, dtype=torch.uint8).reshape(15, 1, 1, 1)
    method = deferred(random_oversampling, 0.25)
    dataset = method(images, labels, 0, {}, None)
    assert len(dataset) == 24 and dataset.targets.tolist().count(1) == 12  # balanced items
    draws = compare.training_draws(dataset, 400, torch.Generator().manual_seed(1))
    assert len(draws) == 400
    assert max(draws[:100]) < 15 and sorted(set(draws[:100])) == list(range(15))  # real, each seen
    assert max(draws[100:]) >= 15  # then the copies too
    assert draws == compare.training_draws(dataset, 400, torch.Generator().manual_seed(1))
    assert pickle.loads(pickle.dumps(dataset)).targets.tolist() == dataset.targets.tolist()
    plain = compare.training_draws(random_oversampling(images, labels, 0, {}, None), 400, torch.Generator())
    assert len(list(plain)) == 400


def test_every_class_varied_grows_every_class_and_draws_synthetic_items_only(compare, tmp_path):
    from methods import every_class_varied

    images, labels = blob_images([12, 3])
    settings = {"deepsmote": {"epochs": 1, "width": 4, "latent_dim": 8, "batch_size": 8, "cache_dir": False}}
    dataset = every_class_varied()(images, labels, 0, settings, None)
    assert dataset.targets[15:].tolist() == [0] * 12 + [1] * 12  # the largest class grows too
    draws = compare.training_draws(dataset, 100, torch.Generator().manual_seed(1))
    assert len(draws) == 100 and min(draws) >= 15 and set(draws) == set(range(15, 39))


def test_partly_balanced_methods_grow_every_class_to_the_share_of_the_largest(compare):
    from methods import deepsmote_to, grown_counts, random_oversampling_to

    images, labels = blob_images([12, 3, 8])
    assert grown_counts(labels, 0.5) == {0: 12, 1: 6, 2: 8}  # a class above the share keeps its count
    copies = random_oversampling_to(0.5)(images, labels, 0, {}, None)
    assert torch.bincount(copies.targets).tolist() == [12, 6, 8]
    drawn = torch.randint(3, (3,), generator=torch.Generator().manual_seed(0))
    assert torch.equal(copies.images[23:], images[labels == 1][drawn])  # the seed's draws, class by class
    settings = {"deepsmote": {"epochs": 1, "width": 4, "latent_dim": 8, "batch_size": 8, "cache_dir": False}}
    grown = deepsmote_to(0.5)(images, labels, 0, settings, None)
    assert torch.bincount(grown.targets).tolist() == [12, 6, 8]


def test_rarity_grows_the_rarer_classes_past_the_largest(compare):
    from methods import deepsmote_to, grown_counts, random_oversampling_to

    images, labels = blob_images([12, 3, 6])
    assert grown_counts(labels, 1.0, 0.5) == {0: 12, 1: 24, 2: 17}  # 12 · (12 / n) ** 0.5
    assert grown_counts(labels, 1.0, 0.0) == {0: 12, 1: 12, 2: 12}
    copies = random_oversampling_to(1.0, 0.5)(images, labels, 0, {}, None)
    assert torch.bincount(copies.targets).tolist() == [12, 24, 17]
    settings = {"deepsmote": {"epochs": 1, "width": 4, "latent_dim": 8, "batch_size": 8, "cache_dir": False}}
    grown = deepsmote_to(1.0, 0.5)(images, labels, 0, settings, None)
    assert torch.bincount(grown.targets).tolist() == [12, 24, 17]


def test_ablation_runs_a_deferred_deepsmote_with_its_quality_scored(compare, tmp_path):
    import ablation

    name = "interpolation, rebalanced after 1/3 of the steps"
    out = ablation.main(["--profile", "smoke", "--methods", name, "--out", str(tmp_path / "deferred")])
    row = runs(out)[name]
    assert row["quality"] and 0.0 < row["balanced"]["acsa"] <= 1.0


def test_knn_backends_times_only_the_backends_asked_for(monkeypatch, tmp_path):
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    import knn_backends

    out = tmp_path / "knn"
    knn_backends.main(
        [
            "--backends",
            "torch",
            "auto",
            "--sizes",
            "40",
            "--dim",
            "4",
            "--min-total-s",
            "0.01",
            "--max-repeats",
            "3",
            "--out",
            str(out),
        ]
    )
    rows = {row["backend"]: row for row in json.loads(out.with_suffix(".json").read_text())["measurements"]}
    assert rows["keops"] == {"n": 40, "backend": "keops", "not_requested": True}
    assert rows["torch"]["median_s"] > 0 and rows["auto"]["resolved"] == "torch"
    assert "| 40 | " in out.with_suffix(".md").read_text() and "not run" in out.with_suffix(".md").read_text()


def test_neighbour_vote_takes_the_majority_of_the_nearest_latents_without_the_query_itself(compare):
    from drift import neighbour_vote

    latents = torch.tensor([[0.0], [0.1], [0.2], [5.0], [5.1], [0.6]])
    labels = torch.tensor([0, 0, 0, 1, 1, 1])  # the last point sits among class 0
    assert neighbour_vote(latents, latents, labels, 1, skip_self=True).tolist() == [0, 0, 0, 1, 1, 0]
    assert neighbour_vote(latents, latents, labels, 1).tolist() == labels.tolist()  # itself, when not skipped
    queries = torch.tensor([[0.05], [4.9]])
    assert neighbour_vote(queries, latents, labels, 3, chunk=1).tolist() == [0, 1]


def test_drift_check_scores_every_grown_class(compare, tmp_path):
    import drift

    report = drift.main(["--profile", "smoke", "--neighbors", "3", "--out", str(tmp_path / "drift")])
    shares = report["runs"][0]
    assert sorted(shares) == list(range(1, 10))  # every minority class of digits
    assert all(
        0.0 <= s["real"] <= 1.0 and 0.0 <= s["synthetic"] <= 1.0 and s["n_synthetic"] > 0 for s in shares.values()
    )
    assert "| 9 |" in (tmp_path / "drift" / "drift.md").read_text()
    assert json.loads((tmp_path / "drift" / "drift.json").read_text())["neighbors"] == 3


def test_unseen_real_images_grow_each_class_with_pool_images_the_training_set_left_out(compare):
    from methods import unseen_real_images
    from torch_deepsmote.evaluation.demo import TensorImages

    pool_images, pool_labels = blob_images([40, 40, 40], seed=1)
    chosen = torch.cat([torch.arange(0, 20), torch.arange(40, 45), torch.arange(80, 83)])
    images, labels = pool_images[chosen], pool_labels[chosen]
    grown = unseen_real_images()(images, labels, 0, {"pool": TensorImages(pool_images, pool_labels)}, None)
    assert torch.bincount(grown.targets).tolist() == [20, 20, 20]
    added, added_labels = grown.images[len(labels) :], grown.targets[len(labels) :]
    seen = {bytes(image.numpy()) for image in images}
    assert not any(bytes(image.numpy()) in seen for image in added)  # none of the training images again
    assert len({bytes(image.numpy()) for image in added}) == len(added)  # each unseen image at most once
    by_image = {bytes(image.numpy()): int(label) for image, label in zip(pool_images, pool_labels)}
    assert [by_image[bytes(image.numpy())] for image in added] == added_labels.tolist()
    with pytest.raises(ValueError, match="class 2 needs 17 unseen images, the pool has 2"):
        unseen_real_images()(images, labels, 0, {"pool": TensorImages(pool_images[:85], pool_labels[:85])}, None)
    doubled = unseen_real_images(2.0)(images, labels, 0, {"pool": TensorImages(pool_images, pool_labels)}, None)
    assert torch.bincount(doubled.targets).tolist() == [20, 20, 20]
    for label, n_real in ((1, 5), (2, 3)):  # n_real more unseen images, then copies of the 2 × n_real
        added = doubled.images[len(labels) :][doubled.targets[len(labels) :] == label]
        assert len({bytes(image.numpy()) for image in added[:n_real]} - seen) == n_real
        members = {bytes(image.numpy()) for image in torch.cat([images[labels == label], added[:n_real]])}
        assert {bytes(image.numpy()) for image in added[n_real:]} <= members


def test_balanced_autoencoder_trains_on_equal_shares_and_indexes_the_training_set(compare, monkeypatch):
    from methods import deepsmote_balanced_autoencoder
    from torch_deepsmote import DeepSMOTE

    images, labels = blob_images([30, 12, 6])
    trained_on = []
    fit = DeepSMOTE.fit

    def recording_fit(self, X, y, **kwargs):
        trained_on.append((X, y))
        return fit(self, X, y, **kwargs)

    monkeypatch.setattr(DeepSMOTE, "fit", recording_fit)
    settings = {"deepsmote": {"latent_dim": 8, "width": 4, "epochs": 1, "batch_size": 16}}
    dataset = deepsmote_balanced_autoencoder()(images, labels, 0, settings, None)
    ((X, y),) = trained_on
    assert torch.bincount(y).tolist() == [16, 16, 16]  # 48 images, a third per class
    members = {bytes(image.numpy()): int(label) for image, label in zip(images, labels)}
    assert all(members[bytes(image.numpy())] == int(label) for image, label in zip(X, y))  # drawn from the set
    assert [len(dataset.oversampler.index_.latents[label]) for label in (1, 2)] == [12, 6]  # indexed on the set itself
    assert torch.bincount(dataset.targets).tolist() == [30, 30, 30]


def test_machine_description_names_the_cpu_model(compare, tmp_path):
    from _environment import cpu_model, describe_machine

    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(
        "processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC 9654\n\nmodel name\t: other\n"
    )
    assert cpu_model(cpuinfo) == "(AMD EPYC 9654)"
    cpuinfo.write_text("processor\t: 0\nmodel name\t: \n")
    assert cpu_model(cpuinfo) == ""
    assert cpu_model(tmp_path / "absent") == ""
    assert describe_machine()["processor"].endswith(cpu_model()) and describe_machine()["processor"].strip()


def test_paired_differences_are_seed_by_seed_with_standard_errors(tables):
    def rows(*acsa):
        return {seed: {"balanced": {"acsa": value}} for seed, value in enumerate(acsa)}

    chosen = {
        "base": rows(0.80, 0.82, 0.81),
        "better": rows(0.81, 0.84, 0.83),
        "single": {2: {"balanced": {"acsa": 0.9}}},
    }
    lines = tables.paired_lines(chosen, ["base", "missing"])
    assert "| − base |" in lines[4]
    # differences 1, 2, 2 points: mean 1.67, sd 0.577, standard error 0.33
    assert "| better | +1.67 ± 0.33 (n = 3) |" in lines
    assert "| base | — |" in lines and "| single | +9.00 (n = 1) |" in lines
    assert tables.paired_lines(chosen, ["missing"]) == []


def test_draws_at_the_real_prior_show_added_items_as_often_as_the_real_class_was(compare):
    from methods import AtRealPrior
    from torch_deepsmote.evaluation.demo import TensorImages

    labels = torch.tensor([0] * 60 + [1] * 30 + [2] * 10 + [1] * 30 + [2] * 50)  # 100 real items, then 80 added
    dataset = AtRealPrior(TensorImages(torch.zeros(180, 1, 2, 2, dtype=torch.uint8), labels), n_real=100)
    sampler = dataset.draws(20_000, torch.Generator().manual_seed(0))
    first, second = list(sampler), list(sampler)
    assert len(first) == len(sampler) == 20_000 and first != second  # drawn afresh each pass
    shares = torch.bincount(labels[first], minlength=3).double() / len(first)
    assert torch.allclose(shares, torch.tensor([0.6, 0.3, 0.1], dtype=torch.float64), atol=0.015)
    drawn = torch.tensor(first)
    assert (drawn[labels[drawn] == 2] >= 130).double().mean() == pytest.approx(50 / 60, abs=0.05)  # added items too


def test_fit_speed_times_random_images_of_any_shape_per_setting(tmp_path):
    import subprocess
    import sys

    command = [sys.executable, str(BENCHMARKS / "fit_speed.py"), "--image-shape", "3", "12", "10", "--n-images", "40"]
    command += ["--penalties", "none", "paper", "--epochs", "2", "--width", "4", "--batch-size", "10"]
    command += ["--settings", "default", "contiguous+bf16", "--held-out", "0.2", "--budget-epochs", "5"]
    output = subprocess.run(command + ["--out", str(tmp_path / "speed.json")], **RUN).stdout
    assert "| penalty | settings | s / epoch (40 random images of 3×12×10, batch 10, width 4) |" in output
    table = [line.split("|")[1:3] for line in output.splitlines() if line.startswith("| ")][1:]
    assert [(p.strip(), s.strip()) for p, s in table] == [
        ("none", "default (channels-last)"),
        ("none", "contiguous+bf16 (bf16)"),
        ("paper", "default (channels-last)"),
        ("paper", "contiguous+bf16 (bf16)"),
    ]
    rows = json.loads((tmp_path / "speed.json").read_text())["rows"]
    for row in rows:  # 5 of the 40 images held out, 35 trained on
        assert row["held_out_mse"] > 0 and row["images_per_s"] == pytest.approx(35 / row["seconds_per_epoch"])
        assert row["budget_s"] == pytest.approx(row["first_epoch_s"] + 4 * row["seconds_per_epoch"])


def test_fit_speed_refuses_an_unknown_setting():
    import subprocess
    import sys

    command = [sys.executable, str(BENCHMARKS / "fit_speed.py"), "--settings", "fp8"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert done.returncode != 0 and "unknown flag 'fp8'" in done.stderr


def test_residual_cost_serves_the_same_model_three_ways(tmp_path):
    import subprocess
    import sys

    out = tmp_path / "cost.json"
    command = [sys.executable, str(BENCHMARKS / "residual_cost.py"), "--side", "8", "--images", "62", "--repeats", "1"]
    subprocess.run(command + ["--out", str(out)], capture_output=True, text=True, check=True, timeout=300)
    result = json.loads(out.read_text())
    assert set(result["items_per_s"]) == {"residuals held", "residuals memory-mapped", "decode alone"}
    assert all(rate > 0 for rate in result["items_per_s"].values()) and result["synthetic_items"] == 4 * 32 - 30
