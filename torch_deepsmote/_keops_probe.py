"""Whether KeOps compiles and runs its GPU kernels here, asked of a child process.

A broken KeOps install can kill the process outright instead of raising: pykeops 2.3
dies of a segmentation fault compiling its first kernel with CUDA 13.0 (seen on an
NVIDIA H200, torch 2.11.0+cu130). A child process takes that crash, and the caller
gets an ``ImportError`` it can handle.
"""

from __future__ import annotations

import functools
import os
import signal
import subprocess
import sys
from pathlib import Path

PROBE_TIMEOUT_S = 900
"""Seconds the child may take: a first run compiles KeOps's engine and one kernel."""

_PACKAGE_PARENT = str(Path(__file__).resolve().parents[1])

_PROBE_CODE = """
import torch
from torch_deepsmote import neighbors
points = torch.randn(8, 2, device="cuda" if torch.cuda.is_available() else "cpu")
neighbors._keops_candidates(neighbors._import_pykeops().torch.LazyTensor, points, 3)
"""


@functools.cache
def keops_gpu_failure() -> str | None:
    """``None`` when a tiny KeOps k-NN kernel compiles and runs in a child process,
    else what went wrong there (the answer is kept for the life of the process)."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [_PACKAGE_PARENT, os.environ.get("PYTHONPATH")])))
    try:
        done = subprocess.run([sys.executable, "-c", _PROBE_CODE], env=env, capture_output=True, text=True,
                              timeout=PROBE_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        return f"a KeOps k-NN kernel did not compile and run within {PROBE_TIMEOUT_S} s in a child process"
    if done.returncode == 0:
        return None
    cause = f"exited with status {done.returncode}"
    if -done.returncode in signal.valid_signals():
        cause = f"was killed by {signal.Signals(-done.returncode).name}"
    last_lines = "\n".join(done.stderr.strip().splitlines()[-5:])
    return f"a child process running a tiny KeOps k-NN kernel on the GPU {cause}:\n{last_lines}"
