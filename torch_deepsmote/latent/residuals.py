"""Residuals kept on disk: float16 rows in one file, memory-mapped, read a draw at a time.

The ``detail`` of the recipes adds to each decode the residual ``x − D(E(x))`` of its base
image (and its neighbour's): one float16 (C, H, W) row per image of a class to grow,
294 KiB at 3×224×224. A streamed fit writes them to an unnamed temporary file as it makes
them, and a cache entry keeps them in a file of its own beside it (``.f16``); either is
memory-mapped, so a draw reads only its rows' pages, which the operating system may drop
again. Held in memory or on disk, the values are the same.
"""

from __future__ import annotations

import hashlib
import math
import os
import tempfile
from pathlib import Path
from typing import BinaryIO

import numpy as np
import torch

__all__ = ["COPY_ROWS", "residual_rows", "temporary_rows", "write_rows", "open_rows"]

COPY_ROWS = 1024
"""Rows copied or hashed at a time: the memory of writing or checking a file stays bounded."""


def residual_rows(counts: dict[int, int], image_shape: tuple[int, ...], file: BinaryIO | Path, mode: str) -> dict:
    """class → (n_c, C, H, W) float16 CPU tensor, the classes' rows one after another in
    ``file``, memory-mapped with numpy ``mode`` (``"w+"`` to fill, ``"c"`` to read)."""
    total = sum(counts.values())
    if total == 0:
        return {code: torch.empty((0, *image_shape), dtype=torch.float16) for code in counts}
    array = np.memmap(file, dtype=np.float16, mode=mode, shape=(total, *image_shape))
    rows, start = {}, 0
    for code, n_rows in counts.items():
        rows[code] = torch.from_numpy(array[start : start + n_rows])
        start += n_rows
    return rows


def temporary_rows(counts: dict[int, int], image_shape: tuple[int, ...]) -> dict[int, torch.Tensor]:
    """:func:`residual_rows` in an unnamed temporary file, gone with the last tensor that maps it."""
    with tempfile.TemporaryFile() as file:  # the mapping keeps the file's pages alive once it is closed
        return residual_rows(counts, image_shape, file, "w+")


def write_rows(path: Path, residuals: dict[int, torch.Tensor]) -> str:
    """Write the residual rows of every class, class after class, to ``path`` atomically
    (a temporary file in its folder, ``fsync``, ``os.replace``), :data:`COPY_ROWS` at a
    time; the SHA-256 of what was written."""
    digest = hashlib.sha256()
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(descriptor, "wb") as file:
            for rows in residuals.values():
                for chunk in rows.split(COPY_ROWS):
                    data = chunk.to(torch.float16).contiguous().numpy().tobytes()
                    digest.update(data)
                    file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    finally:
        Path(temporary).unlink(missing_ok=True)
    return digest.hexdigest()


def open_rows(path: Path, counts: dict[int, int], image_shape: tuple[int, ...], sha256: str) -> dict | None:
    """The rows :func:`write_rows` wrote to ``path``, memory-mapped read-only (copy on write);
    ``None`` when the file is missing, of another size or of another checksum."""
    expected = sum(counts.values()) * math.prod(image_shape) * 2
    try:
        if path.stat().st_size != expected or _file_digest(path) != sha256:
            return None
    except OSError:
        return None
    return residual_rows(counts, image_shape, path, "c")


def _file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(2**24), b""):
            digest.update(block)
    return digest.hexdigest()
