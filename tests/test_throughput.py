"""benchmarks/throughput.py: its quick run reports every section, and its helpers measure what they say.

Nothing here asserts an absolute time: only the report's structure, ratios recomputed
from the measurements they come from, and exact properties of the helpers.
"""

import json
import math
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from tests.conftest import blob_images
from torch_deepsmote import ConvAutoencoder, DeepSMOTE, DeepSMOTEDataset, fit_autoencoder
from torch_deepsmote.evaluation.datasets import DEBIAN_FASHION_MNIST
from torch_deepsmote.evaluation.demo import TensorImages

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.fixture
def throughput(monkeypatch):
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    import throughput as module

    return module


@pytest.fixture(scope="module")
def small_dataset():
    images, labels = blob_images([40, 12, 6])
    oversampler = DeepSMOTE(k_neighbors=3, width=4, latent_dim=8, epochs=1, random_state=0, device="cpu", progress=False)
    oversampler.fit(images, labels)
    return DeepSMOTEDataset(TensorImages(images, labels), oversampler=oversampler)


@pytest.mark.skipif(not DEBIAN_FASHION_MNIST.is_dir(), reason="Fashion-MNIST (dataset-fashion-mnist) not installed")
def test_quick_run_reports_every_section_with_ratios_of_its_own_measurements(throughput, tmp_path):
    results = throughput.main(["--quick", "--out", str(tmp_path / "quick")])
    report = (tmp_path / "quick.md").read_text()
    assert json.loads((tmp_path / "quick.json").read_text())["settings"]["quick"] is True
    for heading in ("## Targets", "## 1. Generation", "## 2. Epoch overhead", "## 3. Pretraining", "## 4. k-NN", "## 5. Memory"):
        assert heading in report
    assert "torch threads" in report and "seed 0" in report
    assert len([line for line in report.split("## Targets")[1].split("##")[0].splitlines() if line.startswith("| ")]) == 10

    generation = results["generation"]
    rates = generation["items_per_s"]
    assert generation["ratio"] == pytest.approx(rates["DataLoader"] / rates["bare decoder"])
    assert rates["bare decoder"] == pytest.approx(generation["items"] / sum(generation["times_s"]["bare decoder"]))

    epoch = results["epoch"]
    for workers in (0, 1):
        seconds = {r["side"]: r["epoch_s"] for r in epoch["runs"] if r["workers"] == workers}
        assert epoch["ratio_by_workers"][workers] == pytest.approx(seconds["DeepSMOTEDataset"] / seconds["materialised copy"])
    assert 0 < epoch["synthetic_items_visited"] < epoch["items"]
    threads = {r["workers"]: r["training_threads"] for r in epoch["runs"]}
    assert threads[0] == torch.get_num_threads()  # restored after the worker runs
    assert threads[1] == max(1, min(threads[0], (os.cpu_count() or 1) - 1))

    pretraining = results["pretraining"]
    medians = pretraining["median_epoch_s"]
    assert pretraining["speed_up"] == pytest.approx(medians["authors' step"] / medians["torch_deepsmote"])
    assert pretraining["speed_up_over_previous"] == pytest.approx(medians["previous step"] / medians["torch_deepsmote"])
    assert pretraining["speed_up_same_objective"] == pytest.approx(medians["authors' step"] / medians["torch_deepsmote, official penalty"])
    assert set(pretraining["mse"]) == set(pretraining["epoch_s"])
    assert all(len(seconds) == pretraining["epochs"] for seconds in pretraining["epoch_s"].values())
    assert all(math.isfinite(v) for mse in pretraining["mse"].values() for v in mse.values())
    assert [v["passes"] for v in pretraining["variants"]][:2] == [2, 1]

    knn = results["knn"]
    assert {r["backend"] for r in knn["measurements"]} == {"torch", "keops", "auto"}
    assert [e["n"] for e in knn["sampled_estimates"]] == [400, 40]  # the skipped size, then the check

    memory = results["memory"]
    assert [(r["side"], r["factor"]) for r in memory["runs"]] == [
        ("DeepSMOTEDataset", 1), ("materialised copy", 1), ("DeepSMOTEDataset", 10), ("materialised copy", 10)
    ]
    lazy, copy = (memory["bytes_per_added_synthetic_item"][side] for side in ("DeepSMOTEDataset", "materialised copy"))
    assert lazy <= throughput.TARGETS["memory_bytes_per_item"] < memory["raw_item_bytes"] <= copy


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
    holder = {"a": base, "view": base[2:], "nested": [torch.zeros(3, dtype=torch.int64)], "model": torch.nn.Linear(2, 3)}
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
    optimizers = [torch.optim.Adam(model.encoder.parameters()), torch.optim.Adam([*model.decoder_input.parameters(), *model.decoder.parameters()])]
    loader = DataLoader(TensorDataset(images, labels), batch_size=10, shuffle=True, generator=torch.Generator().manual_seed(0))
    rng = np.random.RandomState(0)
    throughput.authors_epoch(model, optimizers, loader, images.numpy(), labels.numpy(), rng, torch.device("cpu"))
    changed = {name for name, p in model.named_parameters() if not torch.equal(p, before[name])}
    assert any(name.startswith("encoder") for name in changed) and any(name.startswith("decoder") for name in changed)


def test_previous_step_draws_the_batches_fit_autoencoder_draws(throughput):
    images, labels = blob_images([30, 12, 7])
    images = images.float().div(127.5).sub(1)
    ours, generator_ours = ConvAutoencoder((1, 8, 8), 8, width=4, generator=torch.Generator().manual_seed(0)), torch.Generator().manual_seed(3)
    previous, generator_previous = ConvAutoencoder((1, 8, 8), 8, width=4, generator=torch.Generator().manual_seed(0)), torch.Generator().manual_seed(3)
    fit_autoencoder(ours, images, labels, epochs=1, batch_size=10, penalty="paper", device="cpu", random_state=generator_ours, progress=False)
    optimizer = torch.optim.Adam(previous.parameters(), lr=2e-4)
    before = [p.detach().clone() for p in previous.parameters()]
    throughput.previous_epoch(previous.train(), optimizer, images, labels, 10, generator_previous, torch.device("cpu"))
    assert torch.equal(generator_ours.get_state(), generator_previous.get_state())  # the same batches and pairs
    assert all(not torch.equal(p, b) for p, b in zip(previous.parameters(), before))
