"""benchmarks/throughput.py: its quick run reports every section, and its helpers measure what they say.

Nothing here asserts an absolute time. The quick run's ratios and summary table are
checked against the raw measurements the report also records (per-batch, per-epoch
and per-run timings, bytes held per run), and the sections against each other.
"""

import json
import math
import os
import statistics
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from tests.conftest import blob_images
from torch_deepsmote import ConvAutoencoder, DeepSMOTE, DeepSMOTEDataset, fit_autoencoder
from torch_deepsmote.evaluation.datasets import DEBIAN_FASHION_MNIST
from torch_deepsmote.evaluation.demo import TensorImages

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
# --quick with a smaller autoencoder (options --quick leaves alone): a tenth less work.
QUICK_ARGS = ["--quick", "--width", "4", "--latent-dim", "16"]


@pytest.fixture
def throughput(monkeypatch):
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    import throughput as module

    return module


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    """One quick run: what ``main`` returned, the JSON and markdown it wrote, and the module."""
    if not DEBIAN_FASHION_MNIST.is_dir():
        pytest.skip("Fashion-MNIST (dataset-fashion-mnist) not installed")
    out = tmp_path_factory.mktemp("throughput") / "quick"
    with pytest.MonkeyPatch.context() as patch:
        patch.syspath_prepend(str(BENCHMARKS))
        import throughput as module

        returned = module.main([*QUICK_ARGS, "--out", str(out)])
    return SimpleNamespace(
        returned=returned,
        recorded=json.loads(out.with_suffix(".json").read_text()),
        report=out.with_suffix(".md").read_text(),
        module=module,
    )


def _table(report: str, heading: str) -> list[list[str]]:
    """The cells of each body row of the first table under ``heading`` in ``report``."""
    section = report.split(heading, 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| ")]
    return [[cell.strip() for cell in row.strip("|").split("|")] for row in rows[1:]]  # rows[0]: header


def _assert_target_row(rows: list[list[str]], what: str, value: float, met: bool) -> None:
    """The summary row that starts with ``what`` shows ``value`` (2 decimals) and its verdict."""
    (row,) = [row for row in rows if row[1].startswith(what)]
    assert float(row[2]) == pytest.approx(value, abs=0.0051)
    assert row[4] == ("yes" if met else "**no**")


def _pretraining_speed_ups(pretraining: dict) -> dict[str, float]:
    """The three speed-ups, from the per-epoch seconds of every training."""
    median = {name: statistics.median(seconds) for name, seconds in pretraining["epoch_s"].items()}
    return {
        "speed_up": median["authors' step"] / median["torch_deepsmote"],
        "speed_up_over_previous": median["previous step"] / median["torch_deepsmote"],
        "speed_up_same_objective": median["authors' step"] / median["torch_deepsmote, official penalty"],
    }


def _memory_growth(memory: dict, side: str) -> float:
    """Bytes held per added synthetic item on ``side``, from its two runs."""
    small, large = (run for run in memory["runs"] if run["side"] == side)
    return (large["held_bytes"] - small["held_bytes"]) / (large["synthetic"] - small["synthetic"])


def test_quick_run_writes_its_results_and_a_report_of_every_section(quick):
    assert quick.recorded == json.loads(json.dumps(quick.returned, default=str))
    settings = quick.recorded["settings"]
    assert settings["quick"] is True and (settings["width"], settings["latent_dim"]) == (4, 16)
    for heading in (
        "## Targets",
        "## 1. Generation",
        "## 2. Epoch overhead",
        "## 3. Pretraining",
        "## 4. k-NN",
        "## 5. Memory",
    ):
        assert heading in quick.report
    assert "torch threads" in quick.report and "seed 0" in quick.report
    assert len(_table(quick.report, "## Targets")) == 9


def test_quick_run_summary_table_agrees_with_the_raw_measurements(quick):
    rows, targets, r = _table(quick.report, "## Targets"), quick.module.TARGETS, quick.recorded
    times = r["generation"]["times_s"]
    generation = sum(times["bare decoder"]) / sum(times["DataLoader"])  # equal item counts
    _assert_target_row(rows, "generation:", generation, generation >= targets["generation"])
    for workers in (0, 1):
        seconds = {
            run["side"]: run["waiting_s"] + run["step_s"] for run in r["epoch"]["runs"] if run["workers"] == workers
        }
        ratio = seconds["DeepSMOTEDataset"] / seconds["materialised copy"]
        what = f"epoch: DeepSMOTEDataset ÷ materialised copy, {workers} worker"
        _assert_target_row(rows, what, ratio, ratio <= targets["epoch"])
    speed_up = _pretraining_speed_ups(r["pretraining"])["speed_up"]
    _assert_target_row(rows, "pretraining:", speed_up, speed_up >= targets["pretraining"])
    (memory_row,) = [row for row in rows if row[1].startswith("memory:")]
    lazy, copy = (_memory_growth(r["memory"], side) for side in ("DeepSMOTEDataset", "materialised copy"))
    assert memory_row[2] == f"{lazy:.0f} ({copy:.0f})"
    assert memory_row[4] == ("yes" if lazy <= targets["memory_bytes_per_item"] else "**no**")


def test_quick_run_generation_times_every_batch_of_both_paths(quick):
    generation, settings = quick.recorded["generation"], quick.recorded["settings"]
    batches = settings["rounds"] * settings["generation_batches"]
    assert generation["items"] == batches * settings["batch"]
    for path, seconds in generation["times_s"].items():
        assert len(seconds) == batches and all(t > 0 for t in seconds)
        assert generation["items_per_s"][path] == pytest.approx(generation["items"] / sum(seconds))
    times = generation["times_s"]
    assert generation["ratio"] == pytest.approx(sum(times["bare decoder"]) / sum(times["DataLoader"]))
    rates = {path: float(rate) for path, rate in _table(quick.report, "## 1. Generation")}
    assert rates == pytest.approx(generation["items_per_s"], abs=0.51)


def test_quick_run_epoch_runs_both_sides_with_and_without_a_worker(quick):
    epoch, generation = quick.recorded["epoch"], quick.recorded["generation"]
    runs = {(run["workers"], run["side"]): run for run in epoch["runs"]}
    assert len(epoch["runs"]) == len(runs) == 4 and {workers for workers, _ in runs} == {0, 1}
    for run in epoch["runs"]:
        assert run["epoch_s"] == pytest.approx(run["waiting_s"] + run["step_s"])
        assert run["waiting_s"] > 0 and run["step_s"] > 0
    for workers in (0, 1):
        assert epoch["ratio_by_workers"][str(workers)] == pytest.approx(
            runs[workers, "DeepSMOTEDataset"]["epoch_s"] / runs[workers, "materialised copy"]["epoch_s"]
        )
    assert epoch["items"] == epoch["batches"] * quick.recorded["settings"]["batch"]
    assert 0 < epoch["synthetic_items_visited"] < epoch["items"]
    # The decoder-bound estimate uses section 1's per-item decode time, from its raw timings.
    decode_s = sum(generation["times_s"]["bare decoder"]) / generation["items"]
    baseline = runs[0, "materialised copy"]["epoch_s"]
    assert epoch["decode_bound_ratio"] == pytest.approx(1 + epoch["synthetic_items_visited"] * decode_s / baseline)
    threads = {workers: run["training_threads"] for (workers, _), run in runs.items()}
    assert threads[0] == torch.get_num_threads()  # restored after the worker runs
    assert threads[1] == max(1, min(threads[0], (os.cpu_count() or 1) - 1))


def test_quick_run_pretraining_times_every_epoch_of_every_training(quick):
    pretraining = quick.recorded["pretraining"]
    assert (
        set(pretraining["epoch_s"])
        == set(pretraining["mse"])
        == {"torch_deepsmote", "previous step", "authors' step", "torch_deepsmote, official penalty"}
    )
    assert all(len(seconds) == pretraining["epochs"] for seconds in pretraining["epoch_s"].values())
    assert pretraining["steps_per_epoch"] == math.ceil(pretraining["images"] / pretraining["batch"])
    for name, seconds in pretraining["epoch_s"].items():
        assert pretraining["median_epoch_s"][name] == pytest.approx(statistics.median(seconds))
    for key, value in _pretraining_speed_ups(pretraining).items():
        assert pretraining[key] == pytest.approx(value)
    assert all(math.isfinite(v) for mse in pretraining["mse"].values() for v in mse.values())
    assert [v["passes"] for v in pretraining["variants"]][:2] == [2, 1]


def test_quick_run_knn_checks_its_estimate_against_a_measured_size(quick):
    knn = quick.recorded["knn"]
    assert {r["backend"] for r in knn["measurements"]} == {"torch", "keops", "auto"}
    assert [e["n"] for e in knn["sampled_estimates"]] == [400, 40]  # the skipped size, then the check
    skipped, check = knn["sampled_estimates"]
    assert skipped["measured_s"] is None
    torch_40 = next(r for r in knn["measurements"] if r["backend"] == "torch" and r["n"] == 40)
    assert check["measured_s"] == torch_40["min_s"]


def test_quick_run_memory_grows_the_synthetic_items_by_the_factor_in_each_worker(quick):
    memory, settings = quick.recorded["memory"], quick.recorded["settings"]
    assert [(r["side"], r["factor"]) for r in memory["runs"]] == [
        ("DeepSMOTEDataset", 1),
        ("materialised copy", 1),
        ("DeepSMOTEDataset", settings["memory_growth"]),
        ("materialised copy", settings["memory_growth"]),
    ]
    small, _, large, _ = memory["runs"]
    assert large["synthetic"] == settings["memory_growth"] * small["synthetic"] > 0
    for lazy, copy in (memory["runs"][:2], memory["runs"][2:]):  # one fresh process each
        assert lazy["synthetic"] == copy["synthetic"]
        assert lazy["items"] == copy["items"] == memory["base_items"] + lazy["synthetic"]
        assert copy["held_bytes"] >= copy["items"] * memory["raw_item_bytes"]  # every raw item, decoded or repeated
    growth = {side: _memory_growth(memory, side) for side in ("DeepSMOTEDataset", "materialised copy")}
    assert memory["bytes_per_added_synthetic_item"] == pytest.approx(growth)
    lazy_growth, copy_growth = growth["DeepSMOTEDataset"], growth["materialised copy"]
    assert lazy_growth <= quick.module.TARGETS["memory_bytes_per_item"] < memory["raw_item_bytes"] <= copy_growth


@pytest.fixture(scope="module")
def small_dataset():
    images, labels = blob_images([40, 12, 6])
    oversampler = DeepSMOTE(
        k_neighbors=3, width=4, latent_dim=8, epochs=1, random_state=0, device="cpu", progress=False
    )
    oversampler.fit(images, labels)
    return DeepSMOTEDataset(TensorImages(images, labels), oversampler=oversampler)


def test_materialised_copy_holds_the_datasets_raw_items(throughput, small_dataset):
    copy = throughput.materialise(small_dataset, batch=7)
    assert len(copy) == len(small_dataset)
    assert torch.equal(copy.targets, small_dataset.targets)
    expected = torch.stack([image for image, _ in small_dataset.raw_items(range(len(small_dataset)))])
    assert torch.equal(copy.images, expected)


def test_materialised_copy_with_a_decode_limit_repeats_the_decoded_items(throughput, small_dataset):
    copy = throughput.materialise(small_dataset, batch=7, decode_limit=5)
    n_real = small_dataset.n_real
    first = torch.stack([image for image, _ in small_dataset.raw_items(range(n_real, n_real + 5))])
    assert torch.equal(copy.images[n_real : n_real + 5], first)
    assert torch.equal(copy.images[n_real + 5 : n_real + 10], first)
    assert copy.images.shape[0] == len(small_dataset)


def test_tensor_bytes_counts_each_storage_once(throughput):
    base = torch.zeros(10, 4)
    holder = {
        "a": base,
        "view": base[2:],
        "nested": [torch.zeros(3, dtype=torch.int64)],
        "model": torch.nn.Linear(2, 3),
    }
    assert throughput.tensor_bytes(holder) == 10 * 4 * 4 + 3 * 8 + (2 * 3 + 3) * 4


def test_sampled_knn_estimate_times_every_block_when_asked_for_all(throughput):
    estimate = throughput.sampled_torch_knn(n=50, dim=6, k=3, blocks=100, seed=0, device=torch.device("cpu"))
    assert estimate["blocks_timed"] == estimate["blocks"] == 1
    assert estimate["estimated_s"] == pytest.approx(estimate["setup_s"] + estimate["block_s"])
    assert estimate["auto_resolves_to"] == "torch"


def test_authors_step_trains_both_networks(throughput):
    images, labels = blob_images([30, 10])
    images = images.float().div(127.5).sub(1)
    model = ConvAutoencoder((1, 8, 8), 8, width=4, generator=torch.Generator().manual_seed(0)).train()
    before = {name: p.detach().clone() for name, p in model.named_parameters()}
    optimizers = [
        torch.optim.Adam(model.encoder.parameters()),
        torch.optim.Adam([*model.decoder_input.parameters(), *model.decoder.parameters()]),
    ]
    loader = DataLoader(
        TensorDataset(images, labels), batch_size=10, shuffle=True, generator=torch.Generator().manual_seed(0)
    )
    rng = np.random.RandomState(0)
    throughput.authors_epoch(model, optimizers, loader, images.numpy(), labels.numpy(), rng, torch.device("cpu"))
    changed = {name for name, p in model.named_parameters() if not torch.equal(p, before[name])}
    assert any(name.startswith("encoder") for name in changed) and any(name.startswith("decoder") for name in changed)


def test_previous_step_draws_the_batches_fit_autoencoder_draws(throughput):
    images, labels = blob_images([30, 12, 7])
    images = images.float().div(127.5).sub(1)
    ours, generator_ours = (
        ConvAutoencoder((1, 8, 8), 8, width=4, generator=torch.Generator().manual_seed(0)),
        torch.Generator().manual_seed(3),
    )
    previous, generator_previous = (
        ConvAutoencoder((1, 8, 8), 8, width=4, generator=torch.Generator().manual_seed(0)),
        torch.Generator().manual_seed(3),
    )
    fit_autoencoder(
        ours,
        images,
        labels,
        epochs=1,
        batch_size=10,
        penalty="paper",
        device="cpu",
        random_state=generator_ours,
        progress=False,
    )
    optimizer = torch.optim.Adam(previous.parameters(), lr=2e-4)
    before = [p.detach().clone() for p in previous.parameters()]
    throughput.previous_epoch(previous.train(), optimizer, images, labels, 10, generator_previous, torch.device("cpu"))
    assert torch.equal(generator_ours.get_state(), generator_previous.get_state())  # the same batches and pairs
    assert all(not torch.equal(p, b) for p, b in zip(previous.parameters(), before))


def test_generation_charges_rendered_epochs_their_rendering(throughput):
    images, labels = blob_images([30, 12, 6])
    fitted = DeepSMOTE(latent_dim=8, width=4, epochs=1, batch_size=16, random_state=0, progress=False)
    fitted.fit(images, labels)
    ds = DeepSMOTEDataset(TensorDataset(images, labels), oversampler=fitted, prerender=True)
    args = SimpleNamespace(seed=0, batch=8, generation_batches=3, rounds=2)
    generation = throughput.measure_generation(args, ds, torch.device("cpu"))
    assert generation["prerendered"] and len(generation["epoch_rendering_s"]) == 2
    n_synthetic = len(ds) - ds.n_real
    charged = sum(generation["epoch_rendering_s"]) * 24 / n_synthetic  # 24 items read per round
    assert generation["rendering_s_charged"] == pytest.approx(charged)
    loader_s = sum(generation["times_s"]["DataLoader"])
    assert generation["items_per_s"]["DataLoader"] == pytest.approx(48 / (loader_s + charged))
    assert ds.epoch == 2  # each round selected a new epoch
    trip = generation["pil_round_trip"]
    assert trip["pil_s_per_item"] > 0 and trip["tensor_s_per_item"] > 0
