"""``DeepSMOTEDataset``: any map-style image dataset, balanced by lazy DeepSMOTE items."""

from __future__ import annotations

import logging
import warnings
from collections import Counter
from pathlib import Path
from typing import Any, Callable, Sequence

import torch
from torch.utils.data import Dataset

from torch_deepsmote.data import cache
from torch_deepsmote.data.items import RawFormat
from torch_deepsmote.data.reading import read_format, read_images, read_targets
from torch_deepsmote._utils.validation import check_int
from torch_deepsmote._utils.sampling_strategy import resolve_sampling_strategy
from torch_deepsmote.oversampler import GENERATION_OPTIONS, DeepSMOTE
from torch_deepsmote.latent.smote import SmoteDraw

__all__ = ["DeepSMOTEDataset"]

logger = logging.getLogger(__name__)


class DeepSMOTEDataset(Dataset):
    """Wrap a map-style image dataset and append synthetic minority items.

    Indices ``[0, len(dataset))`` return the base dataset's items; the indices after
    them are synthetic, grouped by class in ascending order. Synthetic item ``i`` is a
    pure function of ``(random_state, i)`` and of the epoch that :meth:`set_epoch`
    selects (of ``(random_state, i)`` alone with ``fresh_per_epoch=False``), mapped to
    a (class, base latent, neighbour, gap) triple and decoded on demand; only latents,
    the neighbour table and the decoder are kept in memory, never the images. A batch
    of indices (``__getitems__``, which ``DataLoader`` calls) is decoded in one decoder
    call.

    Synthetic items come back as the same kind of object as the base items (a PIL
    image of the same mode and size, or a tensor/array of the same dtype, layout and
    range), and ``transform``/``target_transform`` apply to both alike.

    Decoding runs on ``device``. With a CUDA device, DataLoader worker processes
    decode on the CPU with a copy of the model (a forked process cannot use the
    parent's CUDA context, and pickling sends the CPU copy); decoding is batched,
    so ``num_workers=0`` keeps it on the GPU and is usually the fastest choice. Labels come
    back as Python ints (from ``targets``), for real and synthetic items. The base
    dataset's own ``transform`` should be ``None``, so its items are raw images.

    The autoencoder is trained once: the fitted model, latents, neighbour tables and
    variation pool are stored in ``cache_dir`` under a fingerprint of the images, the
    labels and every option that changes the trained autoencoder, and a later
    construction with the same data and training options loads them instead of
    training; with another ``k_neighbors`` or ``sampling_strategy`` it recomputes the
    tables from the loaded autoencoder (:meth:`DeepSMOTE.reindex`, seconds), never
    retraining (see :mod:`torch_deepsmote.data.cache`).

    Args:
        dataset: map-style dataset yielding ``(image, label)``.
        sampling_strategy: as in :class:`DeepSMOTE` (imbalanced-learn's meanings).
        k_neighbors: neighbours per latent.
        transform: applied to every image (real and synthetic).
        target_transform: applied to every label.
        targets: the base labels, if the dataset has no ``targets``/``labels``.
        random_state: int seed (or ``None`` for fresh entropy) for training and draws.
        device: where the autoencoder trains and decodes; ``None`` = CUDA if available.
        cache_dir: cache folder; ``None`` = the default folder, ``False`` = no cache.
        fresh_per_epoch: draw new synthetic items each epoch that :meth:`set_epoch`
            selects (the epoch lives in shared memory, so it reaches DataLoader workers,
            persistent ones too); epoch 0's items are those of ``False``, which keeps
            one fixed set, as the paper does.
        oversampler: an already fitted :class:`DeepSMOTE` to use instead of training.
        **options: further :class:`DeepSMOTE` options (``epochs``, ``latent_dim``,
            ``penalty``, ``detail``, ``max_gap``, ``copy_fraction``,
            ``variation_transfer``, ``variation_classes``, ``knn_backend``, ``progress``, ...;
            ``**INTERPOLATION_SETTINGS`` for SMOTE interpolation,
            ``**PAPER_SETTINGS`` for the paper's recipe).
    """

    def __init__(
        self,
        dataset: Dataset,
        *,
        sampling_strategy: Any = "auto",
        k_neighbors: int = 5,
        transform: Callable | None = None,
        target_transform: Callable | None = None,
        targets: Sequence[int] | torch.Tensor | None = None,
        random_state: int | None = None,
        device: Any = None,
        cache_dir: str | Path | None | bool = None,
        fresh_per_epoch: bool = True,
        oversampler: DeepSMOTE | None = None,
        **options: Any,
    ) -> None:
        self.dataset = dataset
        self.transform = transform
        self.target_transform = target_transform
        self.fresh_per_epoch = bool(fresh_per_epoch)
        self._epoch = torch.zeros((), dtype=torch.long).share_memory_()
        progress = bool(options.get("progress", True))
        base_targets = read_targets(dataset, targets, progress)
        if oversampler is not None:  # already fitted: only the images' format is read
            self.raw_format = read_format(dataset)[0]
            if set(options) - {"progress"} or not hasattr(oversampler, "autoencoder_"):
                raise ValueError(
                    "`oversampler` must be a fitted DeepSMOTE given without further DeepSMOTE "
                    f"options (only `progress`), got fitted={hasattr(oversampler, 'autoencoder_')} "
                    f"and options {sorted(options)}."
                )
            self.oversampler, self.from_cache = oversampler, False
        else:
            self.raw_format, images = read_images(dataset, len(base_targets), progress)
            self.oversampler = DeepSMOTE(
                sampling_strategy,
                k_neighbors,
                random_state=random_state,
                device=device,
                **options,
            )
            self.from_cache = _fit_or_load(self.oversampler, images, base_targets, cache_dir)
        _check_compatible(self.oversampler, self.raw_format, base_targets)
        self._base_targets = base_targets
        self._seed = self.oversampler.sample_seed_
        strategy = self.oversampler.sampling_strategy_
        self._synthetic_targets = torch.repeat_interleave(
            torch.tensor(list(strategy), dtype=torch.long), torch.tensor(list(strategy.values()), dtype=torch.long)
        )
        self._targets = torch.cat([base_targets, self._synthetic_targets])
        self._draws: tuple[int, SmoteDraw] | None = None
        on_cpu = self.oversampler.autoencoder_.decoder[0].weight.device.type == "cpu"
        self._cpu_state = None if on_cpu else self.oversampler.fitted_state()
        self._generation = {name: getattr(self.oversampler, name) for name in GENERATION_OPTIONS}
        self._worker_oversampler: DeepSMOTE | None = None

    # -- sizes and labels ------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._base_targets) + len(self._synthetic_targets)

    @property
    def n_real(self) -> int:
        """Number of base (real) items."""
        return len(self._base_targets)

    @property
    def targets(self) -> torch.Tensor:
        """(len(self),) int64 labels of real then synthetic items."""
        return self._targets.clone()

    @property
    def synthetic_mask(self) -> torch.Tensor:
        """(len(self),) bool, True for synthetic items."""
        mask = torch.zeros(len(self), dtype=torch.bool)
        mask[self.n_real :] = True
        return mask

    @property
    def classes(self) -> Any:
        return getattr(self.dataset, "classes", sorted(set(self._base_targets.tolist())))

    @property
    def class_to_idx(self) -> dict:
        return getattr(self.dataset, "class_to_idx", {c: c for c in self.classes})

    @property
    def epoch(self) -> int:
        """The epoch that :meth:`set_epoch` selected (0 until then)."""
        return int(self._epoch)

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch; with ``fresh_per_epoch`` it changes the synthetic items,
        in this process and in the DataLoader workers that already hold a copy."""
        self._epoch.fill_(check_int("epoch", epoch, minimum=0))

    # -- items -----------------------------------------------------------------------

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        return self.__getitems__([index])[0]

    def __getitems__(self, indices: Sequence[int]) -> list[tuple[Any, Any]]:
        """The items at ``indices``; all synthetic ones are decoded in one call."""
        return [self._finish(image, label) for image, label in self.raw_items(indices)]

    def raw_items(self, indices: Sequence[int]) -> list[tuple[Any, int]]:
        """The items at ``indices`` before ``transform``/``target_transform``."""
        positions = [self._normalise_index(i) for i in indices]
        synthetic = [p - self.n_real for p in positions if p >= self.n_real]
        decoded = iter(self._decode(synthetic)) if synthetic else iter(())
        return [
            (self.dataset[p][0] if p < self.n_real else next(decoded), int(self._targets[p]))
            for p in positions
        ]

    def _normalise_index(self, index: int) -> int:
        index = int(index)
        length = len(self)
        if not -length <= index < length:
            raise IndexError(f"index {index} is out of range for a dataset of {length} items.")
        return index % length

    def _finish(self, image: Any, label: Any) -> tuple[Any, Any]:
        if self.transform is not None:
            image = self.transform(image)
        if self.target_transform is not None:
            label = self.target_transform(label)
        return image, label

    def _current_draws(self) -> SmoteDraw:
        """(base, neighbour, gap) of every synthetic item for the current epoch."""
        epoch = self.epoch if self.fresh_per_epoch else 0
        if self._draws is None or self._draws[0] != epoch:
            parts = []
            for label, n_new in self.oversampler.sampling_strategy_.items():
                if n_new > 0:
                    generator = torch.Generator().manual_seed(_mix(self._seed, label, epoch))
                    parts.append(self.oversampler.draw(label, n_new, generator))
            self._draws = (epoch, SmoteDraw(*(torch.cat(column) for column in zip(*parts))))
        return self._draws[1]

    def _decoder(self) -> DeepSMOTE:
        """The fitted model to decode with: a CPU copy inside DataLoader worker processes."""
        if self._cpu_state is None or torch.utils.data.get_worker_info() is None:
            return self.oversampler
        if self._worker_oversampler is None:
            self._worker_oversampler = self._cpu_copy()
        return self._worker_oversampler

    def _cpu_copy(self) -> DeepSMOTE:
        """The fitted model on the CPU, with the same generation options."""
        return DeepSMOTE(device="cpu", **self._generation).load_fitted_state(self._cpu_state)

    def __getstate__(self) -> dict[str, Any]:
        """Pickle without CUDA tensors: a model on the GPU travels as its CPU copy."""
        state = dict(self.__dict__)
        if self._cpu_state is not None:
            state["oversampler"] = None
        state["_worker_oversampler"] = None
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._epoch.share_memory_()  # a copy (``copy.deepcopy``) must reach its own forked workers too
        if self.oversampler is None:
            self.oversampler = self._cpu_copy()

    def _decode(self, synthetic: list[int]) -> list[Any]:
        """Raw items for synthetic positions (offsets past the real items)."""
        draws = self._current_draws()
        rows = torch.tensor(synthetic, dtype=torch.long)
        labels = self._synthetic_targets[rows]
        groups = {label: rows[labels == label] for label in labels.unique(sorted=True).tolist()}
        images = self._decoder().render_draws(
            {label: SmoteDraw(*(column[chosen] for column in draws)) for label, chosen in groups.items()}
        )
        by_row = dict(zip(torch.cat(list(groups.values())).tolist(), images))
        return [self.raw_format.from_chw(by_row[row]) for row in synthetic]

    # -- presentation ------------------------------------------------------------------

    def __repr__(self) -> str:
        head = f"Dataset {type(self).__name__}"
        body = [f"Number of datapoints: {len(self)} ({self.n_real} real, {len(self) - self.n_real} synthetic)"]
        body += self.extra_repr().splitlines()
        for title, function in (("Transform", self.transform), ("Target transform", self.target_transform)):
            if function is not None:
                body += f"{title}: {function!r}".splitlines()
        return "\n".join([head] + ["    " + line for line in body])

    def extra_repr(self) -> str:
        before = Counter(self._base_targets.tolist())
        after = Counter(self.targets.tolist())
        counts = ", ".join(f"{c}: {before[c]}→{after[c]}" for c in sorted(after))
        sampler = self.oversampler
        return "\n".join(
            [
                f"Class counts (before→after): {counts}",
                f"sampling_strategy={sampler.sampling_strategy!r}, k_neighbors={sampler.k_neighbors}",
                f"Autoencoder: {'loaded from the cache' if self.from_cache else 'trained here'}",
                f"fresh_per_epoch={self.fresh_per_epoch}",
            ]
        )


def _mix(seed: int, label: int, epoch: int) -> int:
    """A 63-bit seed from (seed, class, epoch), spread so that nearby inputs differ."""
    value = (seed * 0x9E3779B97F4A7C15 + label * 0xBF58476D1CE4E5B9 + epoch * 0x94D049BB133111EB) % 2**64
    value ^= value >> 31
    return value % 2**63


def _fit_or_load(
    oversampler: DeepSMOTE, images: torch.Tensor, labels: torch.Tensor, cache_dir: Any
) -> bool:
    """Fit ``oversampler`` or restore it from the cache; True when it came from the cache.

    With the cache on, training checkpoints each epoch to
    ``<cache_dir>/deepsmote-<key>.partial.pt``, so constructing the same dataset again
    after a crash resumes the interrupted training instead of starting over. An
    unusable cache entry is reported in a warning, retrained and overwritten.
    """
    if cache_dir is False:
        oversampler.fit(images, labels)
        return False
    folder = cache.default_cache_dir() if cache_dir in (None, True) else Path(cache_dir)
    key = cache.fingerprint(images, labels, oversampler.model_config())
    payload = cache.load_entry(folder, key)
    if payload is not None:
        try:
            oversampler.load_fitted_state(payload)
        except Exception as error:  # a checksummed entry of an unexpected layout
            warnings.warn(
                f"Ignoring the cache file {cache.entry_path(folder, key)}: it cannot be restored "
                f"({type(error).__name__}: {error}); training anew.",
                UserWarning,
                stacklevel=3,
            )
        else:
            strategy = resolve_sampling_strategy(oversampler.sampling_strategy, labels)
            if oversampler.indexed_k_ != oversampler.k_neighbors or oversampler.sampling_strategy_ != strategy:
                oversampler.reindex(images, labels)  # the same autoencoder, other tables
            return True
    folder.mkdir(parents=True, exist_ok=True)
    oversampler.fit(images, labels, checkpoint=cache.checkpoint_path(folder, key))
    if _is_main_process():
        cache.save_entry(folder, key, oversampler.fitted_state())
    return False


def _is_main_process() -> bool:
    distributed = torch.distributed.is_available() and torch.distributed.is_initialized()
    return not distributed or torch.distributed.get_rank() == 0


def _check_compatible(oversampler: DeepSMOTE, raw_format: RawFormat, labels: torch.Tensor) -> None:
    if tuple(oversampler.image_shape_) != tuple(raw_format.shape) or oversampler.dtype_ != raw_format.dtype:
        raise ValueError(
            f"`oversampler` was fitted on {oversampler.dtype_} images of shape "
            f"{oversampler.image_shape_}, but `dataset` holds {raw_format.dtype} images of shape "
            f"{raw_format.shape}."
        )
    fitted = sorted(int(c) for c in torch.as_tensor(oversampler.classes_).tolist())
    present = sorted(set(labels.tolist()))
    if fitted != present:
        raise ValueError(
            f"`oversampler` was fitted on the classes {fitted}, but `dataset` holds the classes "
            f"{present}: pass a DeepSMOTE fitted on this dataset's classes, or none."
        )
