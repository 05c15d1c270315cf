"""The pretrain-once cache of :class:`~torch_deepsmote.DeepSMOTEDataset`: key, load, save, resume.

A cache entry is one file named after a SHA-256 fingerprint of the training images,
their labels and every option that changes the trained autoencoder
(:meth:`DeepSMOTE.model_config <torch_deepsmote.DeepSMOTE.model_config>`), holding
everything the fit learned (:meth:`DeepSMOTE.fitted_state
<torch_deepsmote.DeepSMOTE.fitted_state>`). Files are written atomically and read back
verified, with ``weights_only=True`` (:mod:`torch_deepsmote._utils.files`); an unusable
entry is reported in a warning, retrained and overwritten.

While it trains, the autoencoder checkpoints each epoch beside the entry
(``deepsmote-<key>.partial.pt``), so building the same dataset again after a crash
resumes the interrupted training instead of starting over.

The folder is ``cache_dir`` when given, else ``$TORCH_DEEPSMOTE_CACHE``, else
``$XDG_CACHE_HOME/torch_deepsmote`` (``~/.cache/torch_deepsmote``).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import torch

from torch_deepsmote._utils.distributed import is_main_process
from torch_deepsmote._utils.files import fingerprint, read_envelope, write_envelope
from torch_deepsmote._utils.labels import LabelCoding
from torch_deepsmote._utils.sampling_strategy import resolve_sampling_strategy
from torch_deepsmote._utils.warn import warn
from torch_deepsmote.oversampler import DeepSMOTE

__all__ = ["CACHE_ENV", "cache_key", "checkpoint_path", "default_cache_dir", "entry_path", "fit_or_load"]

CACHE_ENV = "TORCH_DEEPSMOTE_CACHE"

logger = logging.getLogger(__name__)


def default_cache_dir() -> Path:
    """The cache folder used when none is given (see the module docstring)."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser() / "torch_deepsmote"


def cache_key(oversampler: DeepSMOTE, images: torch.Tensor, coding: LabelCoding) -> str:
    """The fingerprint of a fit: (N, C, H, W) images, their labels and the model's options."""
    config = oversampler.model_config() | {"classes": [repr(label) for label in coding.classes]}
    return fingerprint(images, coding.codes, config)


def entry_path(cache_dir: Path, key: str) -> Path:
    """Where the entry for fingerprint ``key`` lives."""
    return Path(cache_dir) / f"deepsmote-{key[:32]}.pt"


def checkpoint_path(cache_dir: Path, key: str) -> Path:
    """Where the training checkpoint of the entry for fingerprint ``key`` lives while it trains."""
    return Path(cache_dir) / f"deepsmote-{key[:32]}.partial.pt"


def fit_or_load(oversampler: DeepSMOTE, images: torch.Tensor, coding: LabelCoding, cache_dir: Any) -> bool:
    """Fit ``oversampler`` on (N, C, H, W) images, or restore it from the cache.

    Args:
        cache_dir: the folder; ``None`` or ``True`` = :func:`default_cache_dir`,
            ``False`` = no cache.

    Returns:
        Whether the fitted model came from the cache. With another ``k_neighbors`` or
        ``sampling_strategy`` than the entry's, its tables are recomputed from the
        loaded autoencoder (seconds), never retrained.
    """
    if cache_dir is False:
        oversampler.fit(images, coding.decode(coding.codes))
        return False
    folder = default_cache_dir() if cache_dir in (None, True) else Path(cache_dir)
    key = cache_key(oversampler, images, coding)
    if _load(oversampler, folder, key):
        if oversampler.index_.k_neighbors != oversampler.k_neighbors or oversampler.sampling_strategy_ != _wanted(
            oversampler, coding
        ):
            oversampler.reindex(images, coding.decode(coding.codes))  # the same autoencoder, other tables
        return True
    folder.mkdir(parents=True, exist_ok=True)
    oversampler.fit(images, coding.decode(coding.codes), checkpoint=checkpoint_path(folder, key))
    if is_main_process():
        path = write_envelope(entry_path(folder, key), key, oversampler.fitted_state())
        logger.info("saved the fitted DeepSMOTE model to %s", path)
    return False


def _load(oversampler: DeepSMOTE, folder: Path, key: str) -> bool:
    """Restore the entry ``key`` into ``oversampler``; False when absent or unusable (with a warning)."""
    path = entry_path(folder, key)
    payload = read_envelope(path, key)
    if payload is None:
        return False
    try:
        oversampler.load_fitted_state(payload)
    except Exception as error:  # a checksummed entry of an unexpected layout
        warn(f"Ignoring the cache file {path}: it cannot be restored ({type(error).__name__}: {error}); training anew.")
        return False
    logger.info("loaded the fitted DeepSMOTE model from %s", path)
    return True


def _wanted(oversampler: DeepSMOTE, coding: LabelCoding) -> dict[Any, int]:
    """The ``sampling_strategy_`` that ``oversampler``'s parameters give for these labels."""
    return {coding.classes[c]: n for c, n in resolve_sampling_strategy(oversampler.sampling_strategy, coding).items()}
