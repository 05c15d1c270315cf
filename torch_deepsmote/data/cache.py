"""The pretrain-once cache of :class:`~torch_deepsmote.DeepSMOTEDataset`: key, load, save, resume.

A cache entry is one file named after a SHA-256 fingerprint of the training images,
their labels and every option that changes the trained autoencoder
(:meth:`DeepSMOTE.model_config <torch_deepsmote.DeepSMOTE.model_config>`), holding
everything the fit learned (:meth:`DeepSMOTE.fitted_state
<torch_deepsmote.DeepSMOTE.fitted_state>`) but the residuals, which go to a file of their
own beside it (``deepsmote-<key>.f16``, float16 rows, its SHA-256 in the entry) and are
memory-mapped when the entry is loaded (:mod:`torch_deepsmote.latent.residuals`). Files
are written atomically and read back verified, with ``weights_only=True``
(:mod:`torch_deepsmote._utils.files`); an unusable entry is reported in a warning,
retrained and overwritten.

While it trains, the autoencoder checkpoints each epoch beside the entry
(``deepsmote-<key>.partial.pt``), so building the same dataset again after a crash
resumes the interrupted training instead of starting over.

The folder is ``cache_dir`` when given, else ``$TORCH_DEEPSMOTE_CACHE``, else
``$XDG_CACHE_HOME/torch_deepsmote`` (``~/.cache/torch_deepsmote``); ``~`` is expanded.
A path that cannot be a folder (empty, or a file on the way) is refused before anything
is read or trained (:func:`resolve_cache_dir`). A folder that cannot be written (read
only, or not creatable) is still read; on a miss, one warning says so and the model is
trained without the cache: nothing is saved, and no checkpoint is written.

The cache is used only when the fit is reproducible: an int seed or a
``torch.Generator`` as ``random_state``. With ``random_state=None`` (fresh entropy)
every fit trains anew and the cache is neither read nor written, so each run makes
other synthetic items, as ``None`` promises.
"""

from __future__ import annotations

import errno
import logging
import os
import tempfile
from pathlib import Path
from typing import Any

from torch_deepsmote._utils.distributed import is_main_process
from torch_deepsmote._utils.files import fingerprint, read_envelope, write_envelope
from torch_deepsmote._utils.labels import LabelCoding
from torch_deepsmote._utils.sampling_strategy import resolve_sampling_strategy
from torch_deepsmote._utils.warn import warn
from torch_deepsmote.latent.residuals import open_rows, write_rows
from torch_deepsmote.oversampler import DeepSMOTE

__all__ = [
    "CACHE_ENV",
    "cache_key",
    "checkpoint_path",
    "default_cache_dir",
    "entry_path",
    "fit_or_load",
    "residual_path",
    "resolve_cache_dir",
]

CACHE_ENV = "TORCH_DEEPSMOTE_CACHE"

logger = logging.getLogger(__name__)


def default_cache_dir() -> Path:
    """The cache folder used when none is given (see the module docstring)."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser() / "torch_deepsmote"


def resolve_cache_dir(cache_dir: Any) -> Path | None:
    """The cache folder that ``cache_dir`` names, ``~`` expanded; ``None`` for no cache.

    Args:
        cache_dir: ``None`` or ``True`` = :func:`default_cache_dir`, ``False`` = no
            cache, else a ``str`` or ``os.PathLike`` folder (created when needed).

    Raises:
        TypeError: ``cache_dir`` is of another type.
        ValueError: an empty path, a ``~user`` that does not exist, or a path that is
            (or runs through) an existing file, not a folder.
    """
    if cache_dir is False:
        return None
    where = "`cache_dir`"
    if cache_dir is None or cache_dir is True:
        if os.environ.get(CACHE_ENV):
            where = f"`cache_dir` (from ${CACHE_ENV})"
        text = os.environ.get(CACHE_ENV) or str(default_cache_dir())
    elif isinstance(cache_dir, (str, os.PathLike)) and isinstance(os.fspath(cache_dir), str):
        text = os.fspath(cache_dir)
    else:
        raise TypeError(
            f"`cache_dir` must be None, a bool, or a str or os.PathLike folder path, got {cache_dir!r} "
            f"(type {type(cache_dir).__name__})."
        )
    if not text.strip():
        raise ValueError(f"{where} must name a folder, got the empty path {text!r}: pass cache_dir=False for no cache.")
    if "\x00" in text:
        raise ValueError(f"{where} must be a folder path, got {text!r}, which holds a NUL character.")
    try:
        folder = Path(text).expanduser()
    except RuntimeError as error:  # ~user of an unknown user
        raise ValueError(f"{where} {text!r} cannot be expanded ({error}).") from error
    for part in (folder, *folder.parents):
        try:
            if not os.path.lexists(part):
                continue
            if not part.is_dir():
                what = "is not a folder" if part == folder else f"runs through {str(part)!r}, which is not a folder"
                raise ValueError(f"{where} must be a folder, but {str(folder)!r} {what}: pass a folder or False.")
        except OSError:  # an unreadable folder on the way: found out when writing
            pass
        break
    return folder


def cache_key(oversampler: DeepSMOTE, source: Any, coding: LabelCoding) -> str:
    """The fingerprint of a fit: the raw images of an image source (:mod:`torch_deepsmote.nn.sources`;
    held or streamed, the same key), their labels and the model's options."""
    config = oversampler.model_config() | {"classes": [repr(label) for label in coding.classes]}
    return fingerprint(source, coding.codes, config)


def residual_path(cache_dir: Path, key: str) -> Path:
    """Where the residual rows of the entry for fingerprint ``key`` live."""
    return Path(cache_dir) / f"deepsmote-{key[:32]}.f16"


def entry_path(cache_dir: Path, key: str) -> Path:
    """Where the entry for fingerprint ``key`` lives."""
    return Path(cache_dir) / f"deepsmote-{key[:32]}.pt"


def checkpoint_path(cache_dir: Path, key: str) -> Path:
    """Where the training checkpoint of the entry for fingerprint ``key`` lives while it trains."""
    return Path(cache_dir) / f"deepsmote-{key[:32]}.partial.pt"


def fit_or_load(oversampler: DeepSMOTE, source: Any, coding: LabelCoding, cache_dir: Any) -> bool:
    """Fit ``oversampler`` on the raw images of an image source, or restore it from the cache.

    Args:
        source: the images, held (:class:`~torch_deepsmote.nn.sources.TensorSource`) or
            streamed (:class:`~torch_deepsmote.data.streaming.DatasetSource`).
        cache_dir: the folder; ``None`` or ``True`` = :func:`default_cache_dir`,
            ``False`` = no cache (see :func:`resolve_cache_dir`).

    Returns:
        Whether the fitted model came from the cache. With another ``k_neighbors`` or
        ``sampling_strategy`` than the entry's, its tables are recomputed from the
        loaded autoencoder (seconds), never retrained. With ``random_state=None`` the
        cache is not used; with a folder that cannot be written, the model trains
        without it (one warning).
    """
    folder = resolve_cache_dir(cache_dir)
    if folder is None or oversampler.random_state is None:
        oversampler._fit(source, coding, None)
        return False
    key = cache_key(oversampler, source, coding)
    if _load(oversampler, folder, key):
        if oversampler.index_.k_neighbors != oversampler.k_neighbors or oversampler.sampling_strategy_ != _wanted(
            oversampler, coding
        ):
            oversampler._reindex(source, coding)  # the same autoencoder, other tables
        return True
    problem = _unwritable(folder)
    if problem is not None:
        _warn_unwritable(folder, problem)
        oversampler._fit(source, coding, None)
        return False
    try:
        oversampler._fit(source, coding, checkpoint_path(folder, key))
    except OSError as error:
        if not _is_cache_failure(error, folder):
            raise
        _warn_unwritable(folder, error)  # e.g. the disk filled up mid-training: train once more, without it
        oversampler._fit(source, coding, None)
        return False
    if is_main_process():
        try:
            path = _write_entry(oversampler, folder, key)
        except OSError as error:
            if not _is_cache_failure(error, folder):
                raise
            _warn_unwritable(folder, error)
        else:
            logger.info("saved the fitted DeepSMOTE model to %s", path)
    return False


_CACHE_ERRNOS = {errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOSPC, errno.EDQUOT}


def _unwritable(folder: Path) -> OSError | None:
    """Why ``folder`` cannot take a new file (it is created when missing); ``None`` when it can."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        handle, probe = tempfile.mkstemp(prefix=".deepsmote-probe-", suffix=".tmp", dir=folder)
        os.close(handle)
        os.unlink(probe)
    except OSError as error:
        return error
    return None


def _is_cache_failure(error: OSError, folder: Path) -> bool:
    """Whether ``error`` comes from writing into the cache folder (not from elsewhere)."""
    if error.errno in _CACHE_ERRNOS:
        return True
    filename = getattr(error, "filename", None)
    return isinstance(filename, (str, os.PathLike)) and Path(os.fspath(filename)).parent == folder


def _warn_unwritable(folder: Path, error: OSError) -> None:
    warn(
        f"The cache folder {folder} cannot be written ({type(error).__name__}: {error.strerror or error}): "
        "training without the cache (the fitted model is not saved and an interrupted training cannot resume)."
    )


def _write_entry(oversampler: DeepSMOTE, folder: Path, key: str) -> Path:
    """Write the fitted state: its residual rows to :func:`residual_path`, then the rest, with the
    rows' SHA-256, to :func:`entry_path` (the entry last, so that it never names a missing file)."""
    state = oversampler.fitted_state()
    residuals = {int(code): rows for code, rows in state.pop("residuals")}
    rows_path = residual_path(folder, key)
    state["residual_file"] = {
        "name": rows_path.name,
        "sha256": write_rows(rows_path, residuals),
        "rows": [[code, len(rows)] for code, rows in residuals.items()],
    }
    return write_envelope(entry_path(folder, key), key, state)


def _load(oversampler: DeepSMOTE, folder: Path, key: str) -> bool:
    """Restore the entry ``key`` into ``oversampler``; False when absent or unusable (with a warning)."""
    path = entry_path(folder, key)
    try:
        payload = read_envelope(path, key)
    except OSError:  # an unreadable folder: nothing to load (and writing it will be found impossible)
        return False
    if payload is None:
        return False
    try:
        stored = payload.pop("residual_file", None)
        if stored is not None:
            rows = open_rows(
                folder / stored["name"],
                {int(code): int(n) for code, n in stored["rows"]},
                tuple(payload["architecture"]["image_shape"]),
                stored["sha256"],
            )
            if rows is None:
                warn(
                    f"Ignoring the cache file {path}: its residual file {stored['name']} is missing or corrupt; "
                    "training anew."
                )
                return False
            payload["residuals"] = list(rows.items())
        oversampler.load_fitted_state(payload)
    except Exception as error:  # a checksummed entry of an unexpected layout
        warn(f"Ignoring the cache file {path}: it cannot be restored ({type(error).__name__}: {error}); training anew.")
        return False
    if stored is not None:
        oversampler.index_.residual_file = str(folder / stored["name"])
    logger.info("loaded the fitted DeepSMOTE model from %s", path)
    return True


def _wanted(oversampler: DeepSMOTE, coding: LabelCoding) -> dict[Any, int]:
    """The ``sampling_strategy_`` that ``oversampler``'s parameters give for these labels."""
    return {coding.classes[c]: n for c, n in resolve_sampling_strategy(oversampler.sampling_strategy, coding).items()}
