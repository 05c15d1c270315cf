"""k nearest neighbours inside one point set, self excluded (Euclidean distance).

Two backends compute the same thing:

* ``"torch"``: squared distances by one matrix product per block of rows, then
  ``topk``. Only a ``(chunk_size, n)`` block of scores exists at a time, so memory is
  O(n * d + chunk_size * n), never O(n * n).
* ``"keops"``: a symbolic ``pykeops.torch.LazyTensor`` distance matrix reduced with
  ``argKmin``; KeOps never materialises the matrix either. pykeops is imported
  lazily, on the first call that needs it, and only by ``torch_deepsmote.latent.keops``.

``"auto"`` picks between them from measurements (see :func:`resolve_backend`).
"""

from __future__ import annotations

import logging
import os
from typing import Any

import torch
from torch import Tensor

from torch_deepsmote._utils.validation import check_int, check_option
from torch_deepsmote.latent import keops as _keops
from torch_deepsmote.latent.keops import KEOPS_BUILD_DIR_ENV

__all__ = [
    "BACKENDS",
    "CUDA_KEOPS_MIN_POINTS",
    "DEFAULT_BLOCK_BYTES",
    "KEOPS_BUILD_DIR_ENV",
    "default_chunk_size",
    "kneighbors",
    "resolve_backend",
    "set_keops_build_folder",
]

logger = logging.getLogger(__name__)

BACKENDS = ("auto", "torch", "keops")

DEFAULT_BLOCK_BYTES = 64 * 2**20
"""Byte budget of one block of scores in the torch backend (64 MiB)."""

CUDA_KEOPS_MIN_POINTS = 10_000
"""On CUDA, ``"auto"`` uses KeOps from this many points on. Not measured against
KeOps on a GPU (see :func:`resolve_backend`); re-measure with
``benchmarks/knn_backends.py --device cuda`` where KeOps runs."""


def kneighbors(
    x: Tensor,
    k: int,
    backend: str = "auto",
    *,
    chunk_size: int | None = None,
) -> Tensor:
    """Return the ``k`` nearest other points of every row of ``x``, nearest first.

    A point is never its own neighbour, even when it has exact duplicates: those
    (at distance 0) are its nearest neighbours instead. Among equidistant points the
    order is unspecified and may differ between backends; the torch backend ranks by
    the expanded form of the squared distance, so in ``float32`` near-ties (relative
    gaps around 1e-6) may rank either way.

    Half-precision inputs (``float16``, ``bfloat16``) are upcast to ``float32`` for the
    distance computation. Gradients never flow through the result.

    Args:
        x: Points, shape ``(n, d)``, a floating tensor with finite values, ``n >= 2``,
            ``d >= 1``.
        k: Number of neighbours per point, ``1 <= k <= n - 1``.
        backend: ``"torch"``, ``"keops"`` or ``"auto"`` (see :func:`resolve_backend`).
            With ``"auto"``, a pykeops that is missing or cannot compile falls back to
            ``"torch"`` without error.
        chunk_size: Rows per block in the torch backend; ``None`` picks
            :func:`default_chunk_size` (a block of scores of at most 64 MiB). Ignored
            by the KeOps backend, which manages its own memory.

    Returns:
        Neighbour indices, shape ``(n, k)``, ``torch.int64``, on ``x.device``; row
        ``i`` lists the indices of the ``k`` points nearest to ``x[i]``, nearest first.

    Raises:
        TypeError: ``x`` is not a floating tensor, or ``k`` / ``chunk_size`` is not an int.
        ValueError: ``x`` is not 2-D, has no column or holds NaN/inf; ``k`` is outside
            ``[1, n - 1]`` (so ``n >= 2`` is needed); ``chunk_size < 1``; ``backend`` is
            unknown.
        ImportError: ``backend="keops"`` and pykeops is missing, cannot compile, or
            crashes running a kernel on the GPU (checked in a child process).
    """
    _check_points(x)
    k = _check_k(k, x.shape[0])
    backend = check_option("backend", backend, BACKENDS)
    if chunk_size is not None:
        chunk_size = check_int("chunk_size", chunk_size, minimum=1)
    with torch.no_grad():
        points = _compute_view(x)
        chosen = resolve_backend(backend, x)
        logger.debug("kneighbors: n=%d, d=%d, k=%d, backend %r -> %r", *x.shape, k, backend, chosen)
        if chosen == "keops":
            try:
                return _keops.kneighbors_keops(points, k)
            except ImportError:
                if backend != "auto":
                    raise
                logger.warning("pykeops cannot run here; 'auto' k-NN falls back to torch.", exc_info=True)
        return _kneighbors_torch(points, k, chunk_size)


def resolve_backend(backend: str, x: Tensor) -> str:
    """Return the backend (``"torch"`` or ``"keops"``) that ``kneighbors`` uses for ``x``.

    The ``"auto"`` rule, from ``benchmarks/knn_backends.py``:

    * CPU (and any device other than CUDA): ``"torch"``. Measured on a 2-core CPU,
      ``d = 300``, ``k = 5`` (``benchmarks/results/knn_backends_cpu.md``): torch was
      20-60x faster than KeOps at n = 40, 400 and 4000 (n = 4000: 0.29 s vs 6.0 s);
      at n = 40000 torch took 23 s where KeOps extrapolates to about 600 s. KeOps
      also compiles for about 10 s on its first call. KeOps won on CPU only for very
      few dimensions (quick check, n = 20000: about 4x faster at d = 3, even at
      d = 16, 5x slower at d = 64), which DeepSMOTE latents never have; pass
      ``backend="keops"`` for such data.
    * CUDA: ``"keops"`` from :data:`CUDA_KEOPS_MIN_POINTS` points on, ``"torch"``
      below. KeOps has not been timed on a GPU: on the one GPU measured (an NVIDIA
      H200, CUDA 13.0) pykeops 2.3 crashed compiling its first kernel, while torch
      took 0.065 s at n = 40000 and 1.8 s at n = 200000
      (``benchmarks/results/gpu-h200/knn_backends_cuda_torch.md``).
    * If pykeops cannot be imported, ``"torch"``. Where KeOps would run on the GPU,
      its first use in a process runs a tiny kernel in a child process first, so
      that a crash there (like the one above) becomes an ``ImportError``, and
      ``"auto"`` falls back to torch with a warning.

    Args:
        backend: ``"auto"``, ``"torch"`` or ``"keops"``; the last two are returned as is.
        x: The points, shape ``(n, d)``; only their device and ``n`` are used.

    Returns:
        ``"torch"`` or ``"keops"``.
    """
    backend = check_option("backend", backend, BACKENDS)
    if backend != "auto":
        return backend
    wants_keops = x.device.type == "cuda" and x.shape[0] >= CUDA_KEOPS_MIN_POINTS
    return "keops" if wants_keops and _keops.importable() else "torch"


def default_chunk_size(n: int, element_size: int, block_bytes: int = DEFAULT_BLOCK_BYTES) -> int:
    """Rows per block so that a ``(rows, n)`` block of scores fits in ``block_bytes``.

    Args:
        n: Number of points (columns of a block).
        element_size: Bytes per score (4 for ``float32``, 8 for ``float64``).
        block_bytes: Byte budget of one block; at least one row is always used.

    Returns:
        A row count in ``[1, n]``.
    """
    return max(1, min(n, block_bytes // max(1, n * element_size)))


def set_keops_build_folder(path: str | os.PathLike[str]) -> None:
    """Make KeOps keep its compiled kernels under ``path``.

    Like the environment variable ``TORCH_DEEPSMOTE_KEOPS_BUILD_DIR`` (which this call
    overrides), ``path`` becomes KeOps's cache folder: kernels go to a subfolder named
    after the platform and Python version, ``path/<platform>_p<python>/``. Call it
    before the first KeOps computation of the process: it then imports pykeops with
    that folder, which also holds pykeops's index of compiled formulas, so later runs
    find the kernels again. Once pykeops is imported, the folder is switched with
    ``pykeops.set_build_folder`` and a warning is logged, because pykeops (2.3) keeps
    writing its index into the folder that was active at import time.

    Args:
        path: A folder, created if missing.

    Raises:
        ImportError: pykeops is not installed.
    """
    _keops.import_pykeops(os.fspath(path))


# --------------------------------------------------------------------------- checks


def _check_points(x: Any) -> None:
    if not isinstance(x, Tensor):
        raise TypeError(f"`x` must be a torch.Tensor of shape (n, d), got type {type(x).__name__}.")
    if not x.is_floating_point():
        raise TypeError(f"`x` must be a floating-point tensor, got dtype {x.dtype}.")
    if x.layout != torch.strided:
        raise TypeError(f"`x` must be a dense (strided) tensor, got layout {x.layout}.")
    if x.is_meta:
        raise ValueError(f"`x` must hold data, got a tensor on the meta device of shape {tuple(x.shape)}.")
    if x.dim() != 2:
        raise ValueError(f"`x` must be 2-D, of shape (n, d), got shape {tuple(x.shape)}.")
    if x.shape[1] == 0:
        raise ValueError(f"`x` must have at least one column (d >= 1), got shape {tuple(x.shape)}.")
    if not bool(torch.isfinite(x).all()):
        raise ValueError("`x` must hold finite values only, got NaN or inf.")


def _check_k(k: Any, n: int) -> int:
    k = check_int("k", k, minimum=1)
    if k > n - 1:
        raise ValueError(
            f"`k` must be <= n - 1 = {n - 1} (a point is not its own neighbour; `x` has "
            f"n = {n} points, and k-NN needs at least 2), got k = {k}."
        )
    return k


# --------------------------------------------------------------------------- torch backend


def _compute_view(x: Tensor) -> Tensor:
    """Detached, centred, at-least-float32 copy of ``x``, shape ``(n, d)``.

    Centring leaves distances unchanged but keeps the expanded form
    ``|a|^2 + |b|^2 - 2 a.b`` accurate for points far from the origin.
    """
    points = x.detach()
    if points.dtype not in (torch.float32, torch.float64):
        points = points.float()
    return (points - points.mean(dim=0, keepdim=True)).contiguous()


def _kneighbors_torch(points: Tensor, k: int, chunk_size: int | None) -> Tensor:
    """Chunked exact k-NN: ``(n, d)`` points -> ``(n, k)`` int64 indices.

    Each block ranks columns by ``|b|^2 - 2 a.b``, which orders them like the
    squared distance ``|a - b|^2`` (the row's own ``|a|^2`` is a constant); the
    block's diagonal (each row's own column) is set to +inf, so a point is never
    its own neighbour, whatever duplicates it has. Measured faster than
    ``torch.cdist`` (which also uses a matrix product for large inputs).
    """
    n = points.shape[0]
    rows = chunk_size or default_chunk_size(n, points.element_size())
    sq_norms = torch.linalg.vector_norm(points, dim=1).square_().unsqueeze(0)  # (1, n), no (n, d) temporary
    neighbours = torch.empty((n, k), dtype=torch.int64, device=points.device)
    block = points.new_empty((min(rows, n), n))  # the one score block, reused
    for start in range(0, n, rows):
        stop = min(start + rows, n)
        scores = torch.addmm(sq_norms, points[start:stop], points.T, alpha=-2.0, out=block[: stop - start])
        scores.diagonal(offset=start).fill_(float("inf"))
        neighbours[start:stop] = scores.topk(k, dim=1, largest=False, sorted=True).indices
    return neighbours
