"""The demo runs the benchmark's protocol: the same settings, the same methods, the same figures."""

import dataclasses
import json
from pathlib import Path

import pytest
import torch

from tests.conftest import blob_images
from torch_deepsmote import RECIPES
from torch_deepsmote.evaluation import protocol
from torch_deepsmote.evaluation.demo import METHODS, DemoConfig, format_report, run_demo

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.fixture
def benchmarks(monkeypatch):
    """The benchmark scripts' folder on ``sys.path`` (its modules are imported by bare name)."""
    monkeypatch.syspath_prepend(str(BENCHMARKS))


def test_the_benchmark_reexports_the_packages_profiles_unchanged(benchmarks):
    import profiles

    assert profiles.PROFILES is protocol.PROFILES and profiles.make_classifier is protocol.make_classifier
    # The values behind the committed tables, written out: a change to any of them fails here.
    assert protocol.PROFILES["smoke"] == {
        "dataset": "digits", "classifier": "small-cnn", "epochs": 2, "batch_size": 64, "lr": 1e-3,
        "lr_schedule": "cosine", "seeds": [0],
        "settings": {
            "deepsmote": {"epochs": 2, "width": 8, "latent_dim": 16, "batch_size": 32},
            "bagan": {"autoencoder_epochs": 1, "gan_epochs": 1}, "gamo": {"steps": 10},
            "mc_ccr": {"energy": 5.0}, "mc_rbo": {"n_steps": 20, "gamma": 10.0}, "amdo": {},
        },
    }  # fmt: skip
    assert protocol.PROFILES["cpu"] == {
        "dataset": "fashion-mnist", "classifier": "small-cnn", "epochs": 3, "batch_size": 128, "lr": 1e-3,
        "lr_schedule": "cosine", "seeds": [0, 1, 2],
        "settings": {
            "deepsmote": {"epochs": 10, "width": 16, "latent_dim": 128, "batch_size": 100},
            "bagan": {"autoencoder_epochs": 2, "gan_epochs": 2, "width": 8}, "gamo": {"steps": 1000},
            "mc_ccr": {}, "mc_rbo": {}, "amdo": {},
        },
    }  # fmt: skip
    assert protocol.PROFILES["cpu-long"] == protocol.PROFILES["cpu"] | {"epochs": 9}
    assert protocol.PROFILES["cpu-longer"] == protocol.PROFILES["cpu"] | {"epochs": 27}
    assert [protocol.PROFILES[name]["epochs"] for name in ("gpu", "paper")] == [10, 30]


@pytest.mark.parametrize(("dataset", "profile"), [("digits", "smoke"), ("fashion-mnist", "cpu"), ("mnist", "cpu")])
def test_the_demo_runs_the_profile_of_its_data_set_and_the_committed_rows_were_measured_with_it(
    benchmarks, dataset, profile
):
    import tables

    config = DemoConfig(dataset=dataset)
    assert config.profile_name == profile and config.profile() == protocol.PROFILES[profile]
    assert config.departures() == []
    committed = protocol.committed_table(profile)
    spec = tables.table_specs(committed.parent)[committed.name]
    chosen = tables.select(committed.parent, spec, tables.load_display())
    for name in protocol.METHOD_NAMES.values():  # the rows the demo prints beside its own
        assert chosen[name], name
        for row in chosen[name].values():
            assert row["settings"] == tables.protocol(protocol.PROFILES[profile])


def test_budget_changes_are_departures_from_the_profile():
    config = DemoConfig.fast(dataset="fashion-mnist")
    assert config.profile()["epochs"] == 1 and config.profile()["settings"]["deepsmote"]["width"] == 8
    assert config.departures() == [
        "classifier epochs 1 (profile: 3)",
        "autoencoder epochs 1 (profile: 10)",
        "autoencoder width 8 (profile: 16)",
    ]
    assert protocol.PROFILES["cpu"]["epochs"] == 3  # the profile itself is left as it was


def test_the_demo_rows_are_the_benchmark_methods_of_those_names(benchmarks, monkeypatch):
    import methods

    images, labels = blob_images([30, 12, 6])
    theirs = methods.METHODS["random oversampling"](images, labels, 4, {}, None)
    ours = protocol.random_oversampling(images, labels, 4)
    assert torch.equal(ours[0], theirs.images) and torch.equal(ours[1], theirs.targets)
    assert set(protocol.METHOD_NAMES.values()) <= set(methods.METHODS)

    class Built(Exception):
        """Raised by the stand-in dataset: its options are all the test needs."""

    def stand_in(base, oversampler, *, fresh_per_epoch=True, **kwargs):
        params = oversampler.get_params()
        if isinstance(params["recipe"], str):  # a preset's name, the same recipe as the preset itself
            params["recipe"] = RECIPES[params["recipe"]]
        raise Built(params, fresh_per_epoch)

    monkeypatch.setattr(methods, "DeepSMOTEDataset", stand_in)
    monkeypatch.setattr("torch_deepsmote.data.dataset.DeepSMOTEDataset", stand_in)
    settings = protocol.PROFILES["cpu"]["settings"]
    train = dataclasses.make_dataclass("Train", ["images", "targets"])(images, labels)
    for recipe, (name, _) in protocol.RECIPE_METHODS.items():
        with pytest.raises(Built) as theirs:
            methods.METHODS[name](images, labels, 3, settings, None)
        with pytest.raises(Built) as ours:
            protocol.training_set("deepsmote", train, 3, protocol.PROFILES["cpu"], None, recipe=recipe)
        assert ours.value.args == theirs.value.args, recipe


def test_the_demo_reproduces_the_benchmarks_rows(benchmarks, tmp_path):
    import compare

    chosen = list(protocol.METHOD_NAMES.values())
    out = compare.main(["--profile", "smoke", "--methods", *chosen, "--out", str(tmp_path / "bench")])
    rows = {row["method"]: row for row in compare.read_runs(out / "runs.jsonl")}
    results = run_demo(DemoConfig(out=str(tmp_path / "demo"), progress=False))
    assert results["protocol"]["profile"] == "smoke" and results["seeds"] == [0]
    for method, name in protocol.METHOD_NAMES.items():
        ours = json.loads(json.dumps(results["runs"][0]["scores"][method]))  # keys as the runs file has them
        assert ours == rows[name]["balanced"], method
    assert results["committed"]["found"] and set(results["committed"]["rows"]) == set(METHODS)
    report = format_report(results)
    assert "protocol: the benchmark's `smoke` profile" in report and "seed 0" in report
    assert str(protocol.committed_table("smoke")) in report and "; measured on x86_64" in report


def test_several_seeds_give_mean_and_std_and_the_autoencoder_is_trained_once_per_seed(tmp_path):
    config = DemoConfig.fast(out=str(tmp_path / "demo"), seeds=2, cache_dir=str(tmp_path / "cache"), progress=False)
    results = run_demo(config)
    assert results["seeds"] == [0, 1] and [run["seed"] for run in results["runs"]] == [0, 1]
    assert not any(run["autoencoder"]["from_cache"] for run in results["runs"])
    for method in METHODS:
        scores = [100 * run["scores"][method]["acsa"] for run in results["runs"]]
        mean, std = results["summary"][method]["acsa"]
        assert mean == pytest.approx(sum(scores) / 2) and std == pytest.approx(abs(scores[0] - scores[1]) / 2**0.5)
    report = format_report(results)
    assert "seeds 0, 1" in report and "mean ± std" in report and " ± " in report.split("this run")[1]
    assert "not compared with the committed rows" in report and "classifier epochs 1 (profile: 2)" in report
    again = run_demo(config)
    assert all(run["autoencoder"]["from_cache"] for run in again["runs"])
    assert again["summary"] == results["summary"]


def test_committed_rows_are_read_from_the_table_or_named_when_it_is_missing(tmp_path, monkeypatch):
    table = tmp_path / "table.md"
    table.write_text(
        "# Comparison\n\nData: x; seeds: [0, 1, 2]; epochs: 3; machine: x86_64, 2 CPUs; torch 2.9.\n\n"
        "## Balanced test set — ACSA / GM / F1, mean ± std over the seeds (%)\n\n"
        "| method | seeds | ACSA | GM | F1 | paper | resample s | train s |\n|---|---|---|---|---|---|---|---|\n"
        "| none | 3 | 70.50 ± 0.25 | 80.00 ± 1.00 | 60.00 ± 2.00 | — | 0.0 | 1.0 |\n"
        "| DeepSMOTE (default) | 1 | 90.00 | 91.00 | 92.00 | — | 0.0 | 1.0 |\n\n"
        "## Imbalanced test set — ACSA / GM / F1, mean ± std over the seeds (%)\n\n"
        "| none | 3 | 1.00 ± 0.00 | 1.00 ± 0.00 | 1.00 ± 0.00 | — | 0.0 | 1.0 |\n",
        encoding="utf-8",
    )
    read = protocol.read_committed(table)
    assert read["seeds"] == [0, 1, 2] and read["machine"] == "x86_64, 2 CPUs; torch 2.9"
    assert read["rows"] == {
        "none": {"seeds": 3, "acsa": (70.5, 0.25), "gm_macro": (80.0, 1.0), "f1_macro": (60.0, 2.0)},
        "DeepSMOTE (default)": {"seeds": 1, "acsa": (90.0, 0.0), "gm_macro": (91.0, 0.0), "f1_macro": (92.0, 0.0)},
    }
    assert protocol.read_committed(tmp_path / "missing.md") is None
    real = protocol.read_committed(protocol.committed_table("cpu"))
    assert real["seeds"] == [0, 1, 2] and set(protocol.METHOD_NAMES.values()) <= set(real["rows"])

    monkeypatch.setattr(protocol, "committed_table", lambda profile, root=None: tmp_path / "elsewhere" / "table.md")
    results = run_demo(DemoConfig(out=str(tmp_path / "demo"), progress=False))
    assert not results["committed"]["found"]
    report = format_report(results)
    assert "benchmarks/results/smoke/table.md in the torch_deepsmote repository" in report
    assert "committed ACSA" not in report


def test_bad_settings_name_the_field(tmp_path):
    with pytest.raises(ValueError, match="`seeds` must be an int >= 1, got 0"):
        run_demo(DemoConfig.fast(out=str(tmp_path), seeds=0))
    with pytest.raises(ValueError, match="`recipe`"):
        run_demo(DemoConfig.fast(out=str(tmp_path), recipe="papr"))
