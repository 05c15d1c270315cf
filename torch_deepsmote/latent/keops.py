"""The KeOps k-NN backend: pykeops imported lazily, its build folder, and a check in a
child process that its GPU kernels run.

A symbolic ``pykeops.torch.LazyTensor`` distance matrix is reduced with ``argKmin``;
KeOps never materialises the matrix. pykeops is imported on the first call that needs
it, and only from this module.

A broken KeOps install can kill the process outright instead of raising: pykeops 2.3
dies of a segmentation fault compiling its first kernel with CUDA 13.0 (seen on an
NVIDIA H200, torch 2.11.0+cu130). Where KeOps runs on the GPU, its first use therefore
runs a tiny kernel in a child process, and a crash there becomes an ``ImportError``.
"""

from __future__ import annotations

import functools
import logging
import os
import signal
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any, Callable

import torch
from torch import Tensor

logger = logging.getLogger("torch_deepsmote.latent.neighbors")  # the k-NN's one logger

KEOPS_BUILD_DIR_ENV = "TORCH_DEEPSMOTE_KEOPS_BUILD_DIR"
"""Environment variable naming KeOps's cache folder (see
:func:`torch_deepsmote.latent.neighbors.set_keops_build_folder`); read when pykeops is first imported."""

KEOPS_HINT = (
    "The 'keops' k-NN backend needs pykeops, which compiles its kernels at run time "
    "and so needs a working C++ compiler (g++ or clang++; nvcc/CUDA for GPU tensors). "
    "Install it with `pip install pykeops`, or use backend='torch'."
)

_pykeops: ModuleType | None = None  # pykeops once imported, set by import_pykeops only

PROBE_TIMEOUT_S = 900
"""Seconds the child may take: a first run compiles KeOps's engine and one kernel."""

_PACKAGE_PARENT = str(Path(__file__).resolve().parents[2])

_PROBE_CODE = """
import torch
from torch_deepsmote.latent import keops as _keops
points = torch.randn(8, 2, device="cuda" if torch.cuda.is_available() else "cpu")
_keops.nearest_candidates(_keops.import_pykeops().torch.LazyTensor, points, 3)
"""


@functools.cache
def gpu_failure() -> str | None:
    """``None`` when a tiny KeOps k-NN kernel compiles and runs in a child process,
    else what went wrong there (the answer is kept for the life of the process)."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [_PACKAGE_PARENT, os.environ.get("PYTHONPATH")])))
    try:
        done = subprocess.run(
            [sys.executable, "-c", _PROBE_CODE], env=env, capture_output=True, text=True, timeout=PROBE_TIMEOUT_S
        )
    except subprocess.TimeoutExpired:
        return f"a KeOps k-NN kernel did not compile and run within {PROBE_TIMEOUT_S} s in a child process"
    if done.returncode == 0:
        return None
    cause = f"exited with status {done.returncode}"
    if -done.returncode in signal.valid_signals():
        cause = f"was killed by {signal.Signals(-done.returncode).name}"
    last_lines = "\n".join(done.stderr.strip().splitlines()[-5:])
    return f"a child process running a tiny KeOps k-NN kernel on the GPU {cause}:\n{last_lines}"


def import_pykeops(cache_folder: str | None = None) -> ModuleType:
    """Return pykeops, importing it on first use (the module's only global state).

    The first import uses ``cache_folder``, else ``TORCH_DEEPSMOTE_KEOPS_BUILD_DIR``,
    else KeOps's default; a ``cache_folder`` given later switches the folder.
    """
    global _pykeops
    if _pykeops is None:
        _pykeops = _load_pykeops(cache_folder or os.environ.get(KEOPS_BUILD_DIR_ENV) or None)
    elif cache_folder is not None:
        _switch_cache_folder(_pykeops, cache_folder)
    return _pykeops


def _load_pykeops(cache_folder: str | None) -> ModuleType:
    preloaded = "keopscore" in sys.modules  # KeOps reads its cache folder once, at import
    previous = os.environ.get("KEOPS_CACHE_FOLDER")
    if cache_folder is not None:
        os.environ["KEOPS_CACHE_FOLDER"] = cache_folder
    try:
        import pykeops
        import pykeops.torch  # noqa: F401  (LazyTensor lives here)
    except Exception as error:  # a broken install can raise more than ImportError
        raise ImportError(f"pykeops cannot be imported. {KEOPS_HINT}") from error
    finally:
        if cache_folder is not None:
            _restore_env("KEOPS_CACHE_FOLDER", previous)
    if cache_folder is not None and preloaded:
        _switch_cache_folder(pykeops, cache_folder)
    return pykeops


def _restore_env(name: str, value: str | None) -> None:
    if value is None:
        os.environ.pop(name, None)
    else:
        os.environ[name] = value


def _switch_cache_folder(pykeops: ModuleType, cache_folder: str) -> None:
    subfolder = pykeops.config.pykeops_base.get_default_build_folder_name()
    pykeops.set_build_folder(os.path.join(cache_folder, subfolder))
    logger.warning(
        "pykeops was already imported: its build folder is now %s, but pykeops keeps its index "
        "of compiled formulas in the folder active at import time, so kernels compiled now are "
        "reused by this process only. Set %s before the first KeOps call to avoid this.",
        pykeops.get_build_folder(),
        KEOPS_BUILD_DIR_ENV,
    )


def importable() -> bool:
    try:
        import_pykeops()
    except ImportError:
        return False
    return True


def uses_gpu(pykeops: ModuleType) -> bool:
    """KeOps runs on the GPU when it finds CUDA, even for CPU tensors."""
    return bool(pykeops.config.gpu_available)


def nearest_candidates(lazy_tensor: Callable[[Tensor], Any], points: Tensor, count: int) -> Tensor:
    """Indices of the ``count`` nearest points, self included: ``(n, d)`` -> ``(n, count)``."""
    rows = lazy_tensor(points[:, None, :])  # (n, 1, d)
    cols = lazy_tensor(points[None, :, :])  # (1, n, d)
    squared = ((rows - cols) ** 2).sum(dim=2)  # symbolic (n, n)
    return squared.argKmin(count, dim=1).long()


def kneighbors_keops(points: Tensor, k: int) -> Tensor:
    """KeOps k-NN: ``(n, d)`` points -> ``(n, k)`` int64 indices, self excluded."""
    pykeops = import_pykeops()
    failure = gpu_failure() if uses_gpu(pykeops) else None
    if failure is not None:
        raise ImportError(f"pykeops cannot run its GPU kernels here: {failure}\n{KEOPS_HINT}")
    lazy_tensor = pykeops.torch.LazyTensor
    try:
        # The kernel depends on (d, k, dtype, device), not on n: compile or load it on
        # k + 1 points so that a compiler failure is told apart from a run-time one.
        nearest_candidates(lazy_tensor, points[: k + 1], k + 1)
    except (ImportError, OSError, RuntimeError, ValueError) as error:
        raise ImportError(f"pykeops failed to compile its k-NN kernel. {KEOPS_HINT}") from error
    return drop_self(nearest_candidates(lazy_tensor, points, k + 1))


def drop_self(candidates: Tensor) -> Tensor:
    """Remove each row's own index from its ``k + 1`` nearest candidates.

    A row normally finds itself among its candidates and loses that entry. With more
    than ``k`` exact duplicates it may not (ties at distance 0 rank arbitrarily); then
    every candidate is another point and the farthest, the last, is dropped.

    Args:
        candidates: Shape ``(n, k + 1)``, distinct indices per row, nearest first.

    Returns:
        Shape ``(n, k)``, order kept.
    """
    n, count = candidates.shape
    own = torch.arange(n, device=candidates.device).unsqueeze(1)
    keep = candidates != own
    keep[keep.all(dim=1), -1] = False
    return candidates[keep].view(n, count - 1)
