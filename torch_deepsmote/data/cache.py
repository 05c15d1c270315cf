"""The pretrain-once cache: fingerprints, atomic writes, verified safe loads.

A cache entry is one file named after a SHA-256 fingerprint of the training
images, their labels and every option that changes the trained autoencoder. On disk
it is a ``torch.save`` *envelope*::

    {"format": 5, "fingerprint": <64 hex>, "sha256": <64 hex>, "payload_bytes": uint8 tensor}

where ``payload_bytes`` is the ``torch.save`` serialisation of the payload and
``sha256`` its digest. Reading checks, in order: the file loads with
``torch.load(..., weights_only=True)`` (so a file cannot run code: a pickle with a
malicious ``__reduce__`` is refused), the format and fingerprint are this entry's,
the payload's digest matches (a truncated or bit-flipped file is caught even where
the zip container would not notice), and the payload itself loads with
``weights_only=True``. A file failing any check is reported in a warning and
ignored, so the caller retrains and overwrites it.

Files are written to a temporary file in the same folder, flushed, ``fsync``-ed and
renamed into place with ``os.replace`` (:func:`atomic_save`), so a crash never leaves
a half-written file under the real name. The same envelope carries the per-epoch
training checkpoints of :func:`~torch_deepsmote.nn.training.fit_autoencoder`.

The folder is ``cache_dir`` when given, else ``$TORCH_DEEPSMOTE_CACHE``, else
``$XDG_CACHE_HOME/torch_deepsmote`` (``~/.cache/torch_deepsmote``).
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import tempfile
import warnings
from pathlib import Path
from typing import Any, Mapping

import torch

__all__ = [
    "atomic_save",
    "checkpoint_path",
    "default_cache_dir",
    "fingerprint",
    "load_entry",
    "read_envelope",
    "save_entry",
    "write_envelope",
]

CACHE_ENV = "TORCH_DEEPSMOTE_CACHE"
FORMAT_VERSION = 5

logger = logging.getLogger(__name__)


def default_cache_dir() -> Path:
    """The cache folder used when none is given (see the module docstring)."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser() / "torch_deepsmote"


def entry_path(cache_dir: Path, key: str) -> Path:
    """Where the entry for fingerprint ``key`` lives."""
    return Path(cache_dir) / f"deepsmote-{key[:32]}.pt"


def checkpoint_path(cache_dir: Path, key: str) -> Path:
    """Where the training checkpoint of the entry for fingerprint ``key`` lives while it trains."""
    return Path(cache_dir) / f"deepsmote-{key[:32]}.partial.pt"


def save_entry(cache_dir: Path, key: str, payload: dict[str, Any]) -> Path:
    """Write ``payload`` under fingerprint ``key`` atomically; returns the file's path."""
    path = write_envelope(entry_path(cache_dir, key), key, payload)
    logger.info("saved the fitted DeepSMOTE model to %s", path)
    return path


def load_entry(cache_dir: Path, key: str) -> dict[str, Any] | None:
    """The payload stored under fingerprint ``key``, or ``None`` if absent or unusable."""
    path = entry_path(cache_dir, key)
    payload = read_envelope(path, key)
    if payload is not None:
        if not isinstance(payload, dict):
            return _ignore(f"Ignoring the cache file {path}: its payload is not a fitted-model record")
        logger.info("loaded the fitted DeepSMOTE model from %s", path)
    return payload
