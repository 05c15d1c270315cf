"""Two CPU processes (gloo) pretrain one autoencoder with DistributedDataParallel."""

import os

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch.utils.data import TensorDataset

from tests.conftest import FAST_OPTIONS, blob_images
from torch_deepsmote import BalancedBatchSampler, DeepSMOTE, DeepSMOTEDataset


def _worker(rank: int, world_size: int, folder: str, extra: dict) -> None:
    os.environ["TORCH_DEEPSMOTE_CACHE"] = os.path.join(folder, "unused-default-cache")
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{folder}/rendezvous", rank=rank, world_size=world_size)
    try:
        images, labels = blob_images([40, 16, 8])
        options = dict(FAST_OPTIONS, epochs=2, random_state=0) | extra
        ds = DeepSMOTEDataset(
            TensorDataset(images, labels), DeepSMOTE(**options), cache_dir=os.path.join(folder, "cache")
        )
        state = ds.oversampler.autoencoder_.state_dict()
        weights = torch.cat([state[name].detach().flatten().double() for name in sorted(state)])
        sampler = BalancedBatchSampler(ds.targets, 12, generator=0, num_batches=10)
        torch.save(
            {
                "weights": weights,
                "items": torch.stack([ds[i][0] for i in range(64, len(ds))]),
                "batches": list(sampler),
                "targets": ds.targets,
                "history": ds.oversampler.history_,
            },
            os.path.join(folder, f"rank{rank}.pt"),
        )
    finally:
        dist.destroy_process_group()


@pytest.mark.skipif(not dist.is_available(), reason="torch.distributed is not available")
@pytest.mark.parametrize(
    "extra", [{}, {"epochs": 6, "validation_fraction": 0.25, "n_iter_no_change": 1}], ids=["epochs", "held-out stop"]
)
def test_two_ranks_train_identical_weights_and_write_one_cache_file(tmp_path, extra):
    mp.spawn(_worker, args=(2, str(tmp_path), extra), nprocs=2, join=True)
    ranks = [torch.load(tmp_path / f"rank{r}.pt") for r in range(2)]
    assert torch.equal(ranks[0]["weights"], ranks[1]["weights"])
    assert ranks[0]["history"] == ranks[1]["history"]  # the same epochs, the held-out loss agreed on
    assert all(("validation" in record) == bool(extra) for record in ranks[0]["history"])
    assert torch.equal(ranks[0]["items"], ranks[1]["items"])
    assert len(list((tmp_path / "cache").glob("deepsmote-*.pt"))) == 1
    assert not (tmp_path / "unused-default-cache").exists()
    whole = list(BalancedBatchSampler(ranks[0]["targets"], 12, generator=0, num_batches=10, num_replicas=1, rank=0))
    assert ranks[0]["batches"] == whole[0::2] and ranks[1]["batches"] == whole[1::2]
