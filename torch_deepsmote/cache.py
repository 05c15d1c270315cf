"""The pretrain-once cache: fingerprints, atomic writes, safe loads.

A cache entry is one ``torch.save`` file named after a SHA-256 fingerprint of the
training images, their labels and every option that changes the fitted model. It
is written to a temporary file in the same folder and renamed into place, so a
crash never leaves a half-written entry under the real name, and it is read with
``torch.load(..., weights_only=True)``, so a file cannot run code. An unreadable
or foreign entry is reported in a warning and ignored.

The folder is ``cache_dir`` when given, else ``$TORCH_DEEPSMOTE_CACHE``, else
``$XDG_CACHE_HOME/torch_deepsmote`` (``~/.cache/torch_deepsmote``).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import warnings
from pathlib import Path
from typing import Any

import torch

__all__ = ["default_cache_dir", "fingerprint", "load_entry", "save_entry"]

CACHE_ENV = "TORCH_DEEPSMOTE_CACHE"
FORMAT_VERSION = 1

logger = logging.getLogger(__name__)


def default_cache_dir() -> Path:
    """The cache folder used when none is given (see the module docstring)."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser() / "torch_deepsmote"


def fingerprint(images: torch.Tensor, labels: torch.Tensor, config: dict[str, Any]) -> str:
    """SHA-256 hex digest of the images' bytes, the labels and a JSON-able ``config``.

    Args:
        images: (N, C, H, W) training images (any dtype).
        labels: (N,) labels.
        config: every option that changes the model, JSON-serialisable.
    """
    digest = hashlib.sha256()
    digest.update(json.dumps({"format": FORMAT_VERSION, **config}, sort_keys=True).encode())
    for tensor in (images, labels):
        contiguous = tensor.detach().cpu().contiguous()
        digest.update(f"{contiguous.dtype}{tuple(contiguous.shape)}".encode())
        digest.update(contiguous.view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def entry_path(cache_dir: Path, key: str) -> Path:
    """Where the entry for fingerprint ``key`` lives."""
    return Path(cache_dir) / f"deepsmote-{key[:32]}.pt"


def save_entry(cache_dir: Path, key: str, payload: dict[str, Any]) -> Path:
    """Write ``payload`` under fingerprint ``key`` atomically; returns the file's path."""
    path = entry_path(cache_dir, key)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=".deepsmote-", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as stream:
            torch.save({"format": FORMAT_VERSION, "fingerprint": key, "payload": payload}, stream)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    logger.info("saved the fitted DeepSMOTE model to %s", path)
    return path


def load_entry(cache_dir: Path, key: str) -> dict[str, Any] | None:
    """The payload stored under fingerprint ``key``, or ``None`` if absent or unusable."""
    path = entry_path(cache_dir, key)
    if not path.is_file():
        return None
    try:
        entry = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # a truncated, corrupt or hostile file
        warnings.warn(f"Ignoring the unreadable cache file {path} ({error}); training anew.", stacklevel=3)
        return None
    if not isinstance(entry, dict) or entry.get("format") != FORMAT_VERSION or entry.get("fingerprint") != key:
        warnings.warn(f"Ignoring the cache file {path}: it belongs to other data or options.", stacklevel=3)
        return None
    logger.info("loaded the fitted DeepSMOTE model from %s", path)
    return entry["payload"]
