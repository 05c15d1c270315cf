"""``DeepSMOTEDataset``: any map-style image dataset, balanced by lazy DeepSMOTE items."""

from __future__ import annotations

import logging
import operator
from pathlib import Path
from typing import Any, Callable, Sequence

import torch
from torch.utils.data import Dataset

from torch_deepsmote._utils.labels import LabelCoding
from torch_deepsmote._utils.memory import DATASET_ITEM_BYTES, available_memory, check_memory
from torch_deepsmote._utils.sampling_strategy import resolve_sampling_strategy
from torch_deepsmote._utils.seeding import mix_seed
from torch_deepsmote._utils.validation import check_bool, check_int
from torch_deepsmote.data.cache import fit_or_load, resolve_cache_dir
from torch_deepsmote.data.items import RawFormat
from torch_deepsmote.data.reading import base_attribute, read_format, read_images, read_item, read_targets
from torch_deepsmote.data.rendered import rendered_epoch
from torch_deepsmote.data.streaming import DatasetSource, held_size
from torch_deepsmote.latent.smote import SmoteDraw
from torch_deepsmote.nn.sources import TensorSource
from torch_deepsmote.oversampler import DeepSMOTE

__all__ = ["DeepSMOTEDataset", "MAX_EPOCH", "STREAM_SHARE"]

STREAM_SHARE = 0.25
"""With ``stream=None``, the base images are streamed when holding them would take more
than this share of the memory available."""

MAX_EPOCH = 2**63 - 1
"""The largest epoch :meth:`DeepSMOTEDataset.set_epoch` takes (it is kept in an int64)."""

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

    Decoding runs on the oversampler's ``device``. With a CUDA device, each epoch's
    synthetic items are rendered ahead on the GPU, in large batches, when the epoch
    is selected (:mod:`torch_deepsmote.data.rendered`): one shared-memory tensor of
    ``n_synthetic × C × H × W`` pixels that DataLoader workers read, so the GPU does
    the decoding whatever ``num_workers`` is (``prerender``). Without it, the items
    are decoded batch by batch as they are asked for, and worker processes decode on
    the CPU with a copy of the model (a forked process cannot use the parent's CUDA
    context, and pickling sends the CPU copy). Labels come back as the base
    dataset's own class labels (ints, strings, ...), for real and synthetic items. The
    base dataset's own ``transform`` should be ``None``, so its items are raw images.

    The autoencoder is trained once: an unfitted ``oversampler`` is fitted on the base
    images, or restored from ``cache_dir`` where the same images, labels and training
    options were fitted before; with another ``k_neighbors`` or ``sampling_strategy``
    its tables are recomputed from the cached autoencoder, never retrained (see
    :mod:`torch_deepsmote.data.cache`). A fitted ``oversampler`` is used as it is.
    The fit reads the base images either held in one tensor (read once) or streamed
    through a ``DataLoader`` a batch at a time, never held (``stream``); both give the
    same model and the same cache entry.

    Args:
        dataset: map-style dataset yielding ``(image, label)``.
        oversampler: a :class:`DeepSMOTE`, fitted or not (``None``: ``DeepSMOTE()``);
            its ``sampling_strategy``, ``k_neighbors``, ``recipe``, ``random_state``
            and ``device`` say what is made, and how.
        transform: applied to every image (real and synthetic).
        target_transform: applied to every label.
        targets: the base labels, if the dataset has no ``targets``/``labels``.
        cache_dir: cache folder; ``None`` = the default folder, ``False`` = no cache.
        fresh_per_epoch: draw new synthetic items each epoch that :meth:`set_epoch`
            selects (the epoch lives in shared memory, so it reaches DataLoader workers,
            persistent ones too); epoch 0's items are those of ``False``, which keeps
            one fixed set, as the paper does.
        stream: how the fit reads the base images: ``False`` holds them in one tensor,
            ``True`` streams them from ``dataset`` each epoch (bounded memory, a read
            per image per epoch); ``None`` streams when the tensor would take more than
            a quarter of the memory available (:data:`STREAM_SHARE`).
        num_workers: ``DataLoader`` workers that read ahead while the fit streams.
        prerender: render each epoch's synthetic items ahead, in large decoder
            batches, into shared memory when the epoch is selected (at construction
            and by :meth:`set_epoch`), instead of decoding them batch by batch on
            demand; items are the same either way. ``None``: with a CUDA model, unless
            the images would take more than a quarter of the memory available
            (:data:`~torch_deepsmote.data.rendered.RENDER_SHARE`).
    """

    def __init__(
        self,
        dataset: Dataset,
        oversampler: DeepSMOTE | None = None,
        *,
        transform: Callable | None = None,
        target_transform: Callable | None = None,
        targets: Sequence[Any] | torch.Tensor | None = None,
        cache_dir: str | Path | None | bool = None,
        fresh_per_epoch: bool = True,
        stream: bool | None = None,
        num_workers: int = 0,
        prerender: bool | None = None,
    ) -> None:
        # Every argument is checked before the dataset is read or anything trains.
        self.dataset = dataset
        self.transform = _check_callable("transform", transform)
        self.target_transform = _check_callable("target_transform", target_transform)
        self.fresh_per_epoch = check_bool("fresh_per_epoch", fresh_per_epoch)
        stream = None if stream is None else check_bool("stream", stream)
        num_workers = check_int("num_workers", num_workers, minimum=0)
        prerender = None if prerender is None else check_bool("prerender", prerender)
        self._epoch = torch.zeros((), dtype=torch.long).share_memory_()
        if oversampler is None:
            oversampler = DeepSMOTE()
        elif not isinstance(oversampler, DeepSMOTE):
            raise TypeError(f"`oversampler` must be None or a DeepSMOTE, got {type(oversampler).__name__}.")
        fitted = hasattr(oversampler, "index_")
        if not fitted:
            oversampler._check_params()
        folder = resolve_cache_dir(cache_dir)
        progress = bool(oversampler.progress)
        coding = read_targets(dataset, targets, progress=progress)
        if fitted:
            n_new = sum(oversampler.sampling_strategy_.values())
        else:
            n_new = sum(resolve_sampling_strategy(oversampler.sampling_strategy, coding).values())
        check_memory("sampling_strategy", n_new, DATASET_ITEM_BYTES, "DeepSMOTEDataset")
        if fitted:  # only the images' format is read
            self.raw_format = read_format(dataset)[0]
            self.from_cache, self.streamed = False, False
        else:
            self.raw_format, source = _image_source(dataset, len(coding.codes), stream, num_workers, progress)
            self.streamed = isinstance(source, DatasetSource)
            self.from_cache = fit_or_load(oversampler, source, coding, False if folder is None else folder)
        self._oversampler = oversampler
        _check_compatible(oversampler, self.raw_format, coding)
        self._classes, self._integer_labels = coding.classes, coding.integer
        self._seed = oversampler.sample_seed_
        code_of = {label: code for code, label in enumerate(oversampler.classes_)}
        self._added = {code_of[label]: n_new for label, n_new in oversampler.sampling_strategy_.items() if n_new > 0}
        self._synthetic_codes = torch.repeat_interleave(
            torch.tensor(list(self._added), dtype=torch.long),
            torch.tensor(list(self._added.values()), dtype=torch.long),
        )
        self._codes = torch.cat([coding.codes, self._synthetic_codes])
        self._n_real = len(coding.codes)
        self._draws: tuple[int, SmoteDraw] | None = None
        on_cpu = oversampler.index_.autoencoder.decoder[0].weight.device.type == "cpu"
        self._cpu_state = None if on_cpu else oversampler.fitted_state()
        self._cpu_params = oversampler.get_params() | {"device": "cpu", "random_state": None, "autoencoder": None}
        self._worker_oversampler: DeepSMOTE | None = None
        shape, dtype = tuple(self.raw_format.shape), self.raw_format.dtype
        self._rendered = rendered_epoch(prerender, not on_cpu, len(self._synthetic_codes), shape, dtype)
        self._render_selected_epoch()

    # -- sizes and labels ------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._codes)

    @property
    def n_real(self) -> int:
        """Number of base (real) items."""
        return self._n_real

    @property
    def targets(self) -> torch.Tensor | list[Any]:
        """Labels of the real then the synthetic items: an int64 tensor for integer
        labels, else a list."""
        if self._integer_labels:
            return torch.tensor(self._classes, dtype=torch.long)[self._codes]
        return [self._classes[code] for code in self._codes.tolist()]

    @property
    def synthetic_mask(self) -> torch.Tensor:
        """(len(self),) bool, True for synthetic items."""
        mask = torch.zeros(len(self), dtype=torch.bool)
        mask[self.n_real :] = True
        return mask

    @property
    def classes(self) -> list[Any]:
        """The base dataset's ``classes`` (names; a ``Subset``'s parent's too) where it has
        them, else the sorted labels."""
        names = base_attribute(self.dataset, "classes")
        return list(self._classes if names is None else names)

    @property
    def class_to_idx(self) -> dict:
        mapping = base_attribute(self.dataset, "class_to_idx")
        return {c: c for c in self._classes} if mapping is None else mapping

    def _class_names(self) -> list[Any]:
        """The name of each class, in code order: ``classes[label]`` where the base names
        its classes and the labels index them (torchvision's convention), else the label."""
        names = base_attribute(self.dataset, "classes")
        if names is None or not self._integer_labels or not all(0 <= c < len(names) for c in self._classes):
            return list(self._classes)
        return [names[c] for c in self._classes]

    @property
    def epoch(self) -> int:
        """The epoch that :meth:`set_epoch` selected (0 until then)."""
        return int(self._epoch)

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch; with ``fresh_per_epoch`` it changes the synthetic items,
        in this process and in the DataLoader workers that already hold a copy (with
        ``prerender``, they are rendered here, before this returns)."""
        self._epoch.fill_(check_int("epoch", epoch, minimum=0, maximum=MAX_EPOCH))
        self._render_selected_epoch()

    @property
    def prerendered(self) -> bool:
        """Whether each epoch's synthetic items are rendered ahead (``prerender``)."""
        return self._rendered is not None

    @property
    def oversampler(self) -> DeepSMOTE:
        """The fitted :class:`DeepSMOTE` (a CPU copy of a CUDA one in a DataLoader worker
        or an unpickled dataset)."""
        return self._decoder()

    # -- items -----------------------------------------------------------------------

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        return self.__getitems__([index])[0]

    def __getitems__(self, indices: Sequence[int]) -> list[tuple[Any, Any]]:
        """The items at ``indices``; all synthetic ones are decoded in one call."""
        return [self._finish(image, label) for image, label in self.raw_items(indices)]

    def raw_items(self, indices: Sequence[int]) -> list[tuple[Any, Any]]:
        """The items at ``indices`` before ``transform``/``target_transform``."""
        if isinstance(indices, (str, bytes)) or not hasattr(indices, "__iter__"):
            raise TypeError(f"`indices` must be a sequence of ints, got {type(indices).__name__}.")
        positions = [self._normalise_index(i) for i in indices]
        synthetic = [p - self.n_real for p in positions if p >= self.n_real]
        decoded = iter(self._decode(synthetic)) if synthetic else iter(())
        return [
            (read_item(self.dataset, p)[0] if p < self.n_real else next(decoded), self._classes[int(self._codes[p])])
            for p in positions
        ]

    def _normalise_index(self, index: int) -> int:
        """``index`` in ``[0, len(self))``: an int (or numpy/torch integer scalar), negative ones
        counting from the end; floats, strings and bools are refused."""
        is_bool = isinstance(index, bool) or (isinstance(index, torch.Tensor) and index.dtype == torch.bool)
        try:
            if is_bool:
                raise TypeError
            index = operator.index(index)
        except TypeError:
            raise TypeError(
                f"`index` must be an int, got {index!r} (type {type(index).__name__}): dataset indices are not "
                "rounded or parsed."
            ) from None
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

    def _draw_epoch(self) -> int:
        """The epoch the synthetic items are drawn for: the selected one, or 0 without
        ``fresh_per_epoch``."""
        return self.epoch if self.fresh_per_epoch else 0

    def _current_draws(self) -> SmoteDraw:
        """(base, neighbour, gap, variation) of every synthetic item for the current epoch;
        class ``c``'s from a generator seeded by ``mix_seed(seed, c, epoch)``."""
        epoch = self._draw_epoch()
        if self._draws is None or self._draws[0] != epoch:
            oversampler = self._decoder()
            parts = [
                oversampler.index_.draw(
                    code, n_new, torch.Generator().manual_seed(mix_seed(self._seed, code, epoch)), oversampler.recipe_
                )
                for code, n_new in self._added.items()
            ]
            self._draws = (epoch, SmoteDraw(*(torch.cat(column) for column in zip(*parts))))
        return self._draws[1]

    def _decoder(self) -> DeepSMOTE:
        """The fitted model to decode with: a CPU copy of a CUDA model, made on first use,
        inside DataLoader worker processes and in unpickled copies."""
        in_worker = self._cpu_state is not None and torch.utils.data.get_worker_info() is not None
        if self._oversampler is not None and not in_worker:
            return self._oversampler
        if self._worker_oversampler is None:
            self._worker_oversampler = self._cpu_copy()
        return self._worker_oversampler

    def _cpu_copy(self) -> DeepSMOTE:
        """The fitted model on the CPU, with the same parameters."""
        return DeepSMOTE(**self._cpu_params).load_fitted_state(self._cpu_state)

    def __getstate__(self) -> dict[str, Any]:
        """Pickle without CUDA tensors: a model on the GPU travels as its CPU copy."""
        state = dict(self.__dict__)
        if self._cpu_state is not None:
            state["_oversampler"] = None
        state["_worker_oversampler"] = None
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        # A copy (``copy.deepcopy``) must reach its own forked workers too.
        self._epoch.share_memory_()
        if self._rendered is not None:
            self._rendered.share_memory_()

    def _render_selected_epoch(self) -> None:
        """Render the selected epoch's items into the store, unless it holds them."""
        epoch = self._draw_epoch()
        if self._rendered is not None and self._rendered.epoch != epoch:
            self._rendered.render(epoch, self._render_rows, progress=bool(self._decoder().progress))

    def _decode(self, synthetic: list[int]) -> list[Any]:
        """Raw items for synthetic positions (offsets past the real items)."""
        rows = torch.tensor(synthetic, dtype=torch.long)
        if self._rendered is not None:
            images = self._rendered.read(rows, self._draw_epoch())
        else:
            images = self._render_rows(rows)
        return [self.raw_format.from_chw(image) for image in images]

    def _render_rows(self, rows: torch.Tensor) -> torch.Tensor:
        """(m, C, H, W) images of the synthetic ``rows`` (m,), decoded in one call."""
        draws = self._current_draws()
        codes = self._synthetic_codes[rows]
        groups = {code: torch.nonzero(codes == code).squeeze(1) for code in codes.unique(sorted=True).tolist()}
        decoder = self._decoder()
        rendered = decoder.index_.render(
            {code: SmoteDraw(*(column[rows[chosen]] for column in draws)) for code, chosen in groups.items()},
            decoder.recipe_,
        )
        images = torch.empty_like(rendered)
        images[torch.cat(list(groups.values()))] = rendered
        return images

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
        names = self._class_names()
        before = torch.bincount(self._codes[: self.n_real], minlength=len(self._classes)).tolist()
        after = torch.bincount(self._codes, minlength=len(self._classes)).tolist()
        counts = ", ".join(f"{name}: {b}→{a}" for name, b, a in zip(names, before, after))
        sampler = self.oversampler
        return "\n".join(
            [
                f"Class counts (before→after): {counts}",
                f"sampling_strategy={sampler.sampling_strategy!r}, k_neighbors={sampler.k_neighbors}, "
                f"recipe={sampler.recipe!r}",
                f"Autoencoder: {'loaded from the cache' if self.from_cache else 'trained here'}",
                f"fresh_per_epoch={self.fresh_per_epoch}",
            ]
        )


def _image_source(
    dataset: Dataset, n_items: int, stream: bool | None, num_workers: int, progress: bool
) -> tuple[RawFormat, Any]:
    """The raw format of the base images and the image source the fit reads them from."""
    head = read_format(dataset)
    raw_format = head[0]
    if stream is None:
        available = available_memory()
        stream = available is not None and held_size(n_items, raw_format) > STREAM_SHARE * available
    if stream:
        logger.info("streaming the %d base images to the fit with %d DataLoader worker(s)", n_items, num_workers)
        return raw_format, DatasetSource(dataset, raw_format, num_workers=num_workers)
    return raw_format, TensorSource(read_images(dataset, n_items, progress, head)[1])


def _check_callable(name: str, function: Any) -> Callable | None:
    if function is not None and not callable(function):
        raise TypeError(f"`{name}` must be None or a callable, got {function!r} (type {type(function).__name__}).")
    return function


def _check_compatible(oversampler: DeepSMOTE, raw_format: RawFormat, coding: LabelCoding) -> None:
    if tuple(oversampler.image_shape_) != tuple(raw_format.shape) or oversampler.dtype_ != raw_format.dtype:
        raise ValueError(
            f"`oversampler` was fitted on {oversampler.dtype_} images of shape "
            f"{oversampler.image_shape_}, but `dataset` holds {raw_format.dtype} images of shape "
            f"{raw_format.shape}."
        )
    if list(oversampler.classes_) != list(coding.classes):
        raise ValueError(
            f"`oversampler` was fitted on the classes {list(oversampler.classes_)}, but `dataset` holds the "
            f"classes {list(coding.classes)}: pass a DeepSMOTE fitted on this dataset's classes, or an unfitted one."
        )
