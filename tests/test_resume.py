"""Crash safety: per-epoch checkpoints, resuming a killed fit, atomic cache writes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from torch.utils.data import TensorDataset

from tests.conftest import FAST_OPTIONS, blob_images
from torch_deepsmote import ConvAutoencoder, DeepSMOTE, DeepSMOTEDataset, fit_autoencoder
from torch_deepsmote._utils.files import read_envelope, write_envelope
from torch_deepsmote.data.cache import entry_path
from torch_deepsmote.nn.ranges import to_network_range

REPO = Path(__file__).resolve().parents[1]
EPOCHS = 4

# Shared by the child process (killed after epoch 1) and the parent (reference run).
RUN = """
import torch
from tests.conftest import blob_images
from torch_deepsmote import ConvAutoencoder, fit_autoencoder
from torch_deepsmote.nn.ranges import to_network_range

def run(epochs, checkpoint=None, callback=None, random_state=3):
    images, labels = blob_images([30, 12, 6])
    model = ConvAutoencoder((1, 8, 8), 8, width=4, generator=torch.Generator().manual_seed(0))
    history = fit_autoencoder(
        model, to_network_range(images), labels, epochs=epochs, batch_size=16,
        device="cpu", random_state=random_state, progress=False, callback=callback,
        checkpoint=checkpoint,
    )
    return model, history
"""


def _run(**kwargs):
    namespace: dict = {}
    exec(RUN, namespace)  # the same code the child runs
    return namespace["run"](EPOCHS, **kwargs)


def _killed_child(script: str, tmp_path: Path, *args: str) -> None:
    """Run ``script`` in a fresh interpreter that SIGKILLs itself; check it died so."""
    path = tmp_path / "child.py"
    path.write_text(textwrap.dedent(script))
    env = dict(os.environ, PYTHONPATH=str(REPO))
    done = subprocess.run(
        [sys.executable, str(path), *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == -signal.SIGKILL, done.stderr


def _same_weights(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    one, two = a.state_dict(), b.state_dict()
    return one.keys() == two.keys() and all(torch.equal(one[k], two[k]) for k in one)


def test_killed_fit_resumes_to_the_uninterrupted_result(tmp_path):
    checkpoint = tmp_path / "run.partial.pt"
    child = RUN + textwrap.dedent(
        """
        import os, signal, sys

        def die_after_epoch_1(record):
            if record["epoch"] == 1:
                os.kill(os.getpid(), signal.SIGKILL)

        run(%d, checkpoint=sys.argv[1], callback=die_after_epoch_1)
        """
        % EPOCHS
    )
    _killed_child(child, tmp_path, str(checkpoint))
    assert checkpoint.is_file()
    assert not [p for p in tmp_path.iterdir() if p.suffix == ".tmp"]

    reference, reference_history = _run()
    seen = []
    resumed, history = _run(checkpoint=checkpoint, callback=lambda record: seen.append(record["epoch"]))
    assert seen == [2, 3]  # epochs 0 and 1 came from the checkpoint
    assert history == reference_history and len(history) == EPOCHS
    assert _same_weights(resumed, reference)
    assert not checkpoint.exists()  # removed once the fit completes


def test_checkpoint_of_another_run_is_ignored_with_a_warning(tmp_path):
    checkpoint = tmp_path / "run.partial.pt"
    _run(random_state=7, checkpoint=checkpoint, callback=lambda record: True)  # leaves nothing
    assert not checkpoint.exists()

    def crash(record):
        raise _Interrupted("crash after the first epoch")

    with pytest.raises(_Interrupted):
        _run(random_state=7, checkpoint=checkpoint, callback=crash)
    assert checkpoint.is_file()  # an interrupted run leaves its checkpoint

    reference, reference_history = _run()
    with pytest.warns(UserWarning, match="belongs to other data or options"):
        model, history = _run(checkpoint=checkpoint)
    assert history == reference_history and _same_weights(model, reference)


def test_unreadable_checkpoint_is_ignored_with_a_warning(tmp_path):
    checkpoint = tmp_path / "run.partial.pt"
    checkpoint.write_bytes(b"not a checkpoint")
    reference, reference_history = _run()
    with pytest.warns(UserWarning, match="unreadable training checkpoint"):
        model, history = _run(checkpoint=checkpoint)
    assert history == reference_history and _same_weights(model, reference)


def test_checkpoint_argument_is_checked():
    images, labels = blob_images([6, 6])
    model = ConvAutoencoder((1, 8, 8), 8, width=4)
    with pytest.raises(TypeError, match=r"`checkpoint`.*got 3 \(type int\)"):
        fit_autoencoder(model, to_network_range(images), labels, epochs=1, checkpoint=3, progress=False)


def test_killed_dataset_construction_resumes_from_the_cache_folder(tmp_path):
    folder = tmp_path / "cache"
    options = dict(FAST_OPTIONS, epochs=3, random_state=0, device="cpu")
    child = (
        """
        import os, signal, sys
        import torch
        from torch.utils.data import TensorDataset
        import torch_deepsmote.oversampler as oversampler
        from torch_deepsmote import DeepSMOTE, DeepSMOTEDataset
        from tests.conftest import blob_images

        original = oversampler.fit_autoencoder

        def dying(*args, **kwargs):
            def die(record):
                if record["epoch"] == 1:
                    os.kill(os.getpid(), signal.SIGKILL)
            return original(*args, **kwargs, callback=die)

        oversampler.fit_autoencoder = dying
        DeepSMOTEDataset(TensorDataset(*blob_images([30, 12, 6])), DeepSMOTE(**%r), cache_dir=sys.argv[1])
        """
        % options
    )
    _killed_child(child, tmp_path, str(folder))
    partial = list(folder.glob("deepsmote-*.partial.pt"))
    assert len(partial) == 1 and not list(folder.glob("*.tmp"))

    resumed = DeepSMOTEDataset(TensorDataset(*blob_images([30, 12, 6])), DeepSMOTE(**options), cache_dir=folder)
    fresh = DeepSMOTEDataset(TensorDataset(*blob_images([30, 12, 6])), DeepSMOTE(**options), cache_dir=False)
    assert not partial[0].exists() and len(list(folder.glob("deepsmote-*.pt"))) == 1
    assert resumed.oversampler.history_ == fresh.oversampler.history_
    assert _same_weights(resumed.oversampler.autoencoder_, fresh.oversampler.autoencoder_)
    indices = list(range(48, len(fresh)))
    assert torch.equal(torch.stack([resumed[i][0] for i in indices]), torch.stack([fresh[i][0] for i in indices]))


class _Interrupted(Exception):
    pass


def _dies_midway(original):
    def save(obj, stream, *args, **kwargs):
        stream.write(b"PK\x03\x04 half a zip file")
        raise _Interrupted("killed while writing")

    return save


def test_killed_cache_write_leaves_nothing_under_the_real_name(tmp_path, monkeypatch):
    key = "f" * 64
    monkeypatch.setattr(torch, "save", _dies_midway(torch.save))
    with pytest.raises(_Interrupted):
        write_envelope(entry_path(tmp_path, key), key, {"weights": torch.ones(3)})
    assert not entry_path(tmp_path, key).exists()
    assert list(tmp_path.iterdir()) == []  # the temporary file is cleaned up too


def test_killed_cache_overwrite_keeps_the_previous_entry(tmp_path, monkeypatch):
    key = "e" * 64
    write_envelope(entry_path(tmp_path, key), key, {"weights": torch.ones(3)})
    real_save = torch.save
    calls = []

    def second_save_dies(obj, stream, *args, **kwargs):
        calls.append(1)
        if len(calls) == 2:  # the envelope write, after the payload was serialised
            stream.write(b"garbage")
            raise _Interrupted("killed while writing")
        return real_save(obj, stream, *args, **kwargs)

    monkeypatch.setattr(torch, "save", second_save_dies)
    with pytest.raises(_Interrupted):
        write_envelope(entry_path(tmp_path, key), key, {"weights": torch.zeros(3)})
    monkeypatch.setattr(torch, "save", real_save)
    assert [p.name for p in tmp_path.iterdir()] == [entry_path(tmp_path, key).name]
    assert torch.equal(read_envelope(entry_path(tmp_path, key), key)["weights"], torch.ones(3))
