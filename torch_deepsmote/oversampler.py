"""``DeepSMOTE``: the oversampler on image tensors, in imbalanced-learn's vocabulary."""

from __future__ import annotations

import copy
import logging
import os
from collections import OrderedDict
from typing import Any

import numpy as np
import torch

from torch_deepsmote._utils.files import tensor_digest
from torch_deepsmote._utils.labels import LabelCoding
from torch_deepsmote._utils.memory import check_memory, sample_item_bytes
from torch_deepsmote._utils.params import EstimatorParams
from torch_deepsmote._utils.sampling_strategy import SamplingStrategy, resolve_sampling_strategy
from torch_deepsmote._utils.validation import (
    check_bool,
    check_float,
    check_generator,
    check_images,
    check_int,
    check_option,
    check_seed,
    resolve_device,
)
from torch_deepsmote.latent.index import LatentIndex
from torch_deepsmote.latent.neighbors import BACKENDS
from torch_deepsmote.nn.autoencoder import ConvAutoencoder, default_latent_dim
from torch_deepsmote.nn.estimate import check_fit_memory, estimate_fit, time_fit
from torch_deepsmote.nn.sources import TensorSource
from torch_deepsmote.nn.training import check_batch_size, fit_autoencoder
from torch_deepsmote.recipes import DEFAULT_RECIPE, Recipe, resolve_recipe

__all__ = ["DeepSMOTE"]

logger = logging.getLogger(__name__)


class DeepSMOTE(EstimatorParams):
    """Oversample image classes in the latent space of a trained autoencoder.

    The autoencoder (:class:`~torch_deepsmote.nn.autoencoder.ConvAutoencoder`) is
    trained on all classes; every class is encoded, every latent gets its
    ``k_neighbors`` nearest same-class latents, and new latents are drawn and decoded
    into images as the ``recipe`` says (:mod:`torch_deepsmote.recipes`). The default
    recipe, ``"borrowed-variations"``, is not the paper's: it moves real images along
    variations borrowed from similar classes; ``recipe="paper"`` is the paper's.

    Args:
        sampling_strategy: imbalanced-learn's meanings: ``"auto"`` (= ``"not
            majority"``), ``"minority"``, ``"not minority"``, ``"all"``; a dict
            ``{class: final count}``; a callable ``y -> dict``; a float (two classes
            only) giving the wanted minority/majority ratio.
        k_neighbors: neighbours per latent; a class of n ≤ k images uses n − 1, a
            class of one image is duplicated (both with a warning).
        recipe: a name of :data:`~torch_deepsmote.RECIPES` or a
            :class:`~torch_deepsmote.Recipe`.
        latent_dim: latent size; ``None`` = 300 for one channel, 600 otherwise.
        width: base channel width of the autoencoder (64 in the paper).
        epochs: autoencoder training epochs (the paper: 50–350); with
            ``validation_fraction``, the most it trains.
        batch_size: autoencoder training batch size.
        validation_fraction: share of each class's images held out of the
            autoencoder's training to stop it once their reconstruction stops
            improving (the best epoch's weights are kept); 0 trains ``epochs`` epochs.
        n_iter_no_change: with ``validation_fraction``, epochs without a better
            held-out loss before training stops.
        knn_backend: ``"auto"``, ``"torch"`` or ``"keops"``
            (:func:`~torch_deepsmote.kneighbors`).
        device: where the autoencoder trains and decodes; ``None`` = CUDA when available.
        random_state: int seed, ``torch.Generator`` or ``None`` (fresh entropy).
        autoencoder: a ``ConvAutoencoder`` to start from (a copy is trained for
            ``epochs`` more epochs; ``epochs=0`` uses it as it is).
        progress: show progress bars.

    Attributes:
        classes_: the sorted class labels seen in ``fit`` (their own values and types).
        sampling_strategy_: ``OrderedDict`` class label → number of images to add.
        recipe_: the resolved :class:`~torch_deepsmote.Recipe`.
        autoencoder_: the trained autoencoder (eval mode, on ``device``).
        history_: per-epoch loss records of :func:`~torch_deepsmote.fit_autoencoder`.
        index_: the :class:`~torch_deepsmote.latent.index.LatentIndex` of latents,
            neighbour tables, variations and residuals the images are made from.
        image_shape_: ``(C, H, W)``; ``dtype_``: dtype of ``X`` (and of the output).
        sample_seed_: seed of the draws that :meth:`sample` makes by default.
    """

    def __init__(
        self,
        sampling_strategy: SamplingStrategy = "auto",
        k_neighbors: int = 5,
        *,
        recipe: str | Recipe = DEFAULT_RECIPE,
        latent_dim: int | None = None,
        width: int = 64,
        epochs: int = 50,
        batch_size: int = 100,
        validation_fraction: float = 0.0,
        n_iter_no_change: int = 5,
        knn_backend: str = "auto",
        device: Any = None,
        random_state: int | torch.Generator | None = None,
        autoencoder: ConvAutoencoder | None = None,
        progress: bool = True,
    ) -> None:
        self.sampling_strategy = sampling_strategy
        self.k_neighbors = k_neighbors
        self.recipe = recipe
        self.latent_dim = latent_dim
        self.width = width
        self.epochs = epochs
        self.batch_size = batch_size
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.knn_backend = knn_backend
        self.device = device
        self.random_state = random_state
        self.autoencoder = autoencoder
        self.progress = progress

    def _check_params(self) -> Recipe:
        """Validate every parameter (no data needed, no training started); returns the
        resolved recipe. ``fit`` and ``DeepSMOTEDataset`` call it before anything else,
        so a bad parameter fails in milliseconds."""
        check_int("k_neighbors", self.k_neighbors, minimum=1)
        if self.latent_dim is not None:
            check_int("latent_dim", self.latent_dim, minimum=1)
        check_int("width", self.width, minimum=1)
        check_int("epochs", self.epochs, minimum=0)
        check_batch_size(self.batch_size)
        check_float("validation_fraction", self.validation_fraction, minimum=0.0, maximum=1.0, inclusive_maximum=False)
        check_int("n_iter_no_change", self.n_iter_no_change, minimum=1)
        check_option("knn_backend", self.knn_backend, BACKENDS)
        resolve_device(self.device)
        _check_random_state(self.random_state)
        check_bool("progress", self.progress)
        if self.autoencoder is not None and not isinstance(self.autoencoder, ConvAutoencoder):
            raise TypeError(f"`autoencoder` must be None or a ConvAutoencoder, got {type(self.autoencoder).__name__}.")
        return resolve_recipe(self.recipe)

    def model_config(self) -> dict[str, Any]:
        """The options that change the trained autoencoder, JSON-serialisable (the cache's key)."""
        recipe = self._check_params()
        config = {
            "latent_dim": self.latent_dim,
            "width": self.width,
            "epochs": self.epochs,
            "batch_size": self.batch_size,
            **recipe.objective(),
        }
        if self.validation_fraction > 0:
            config |= {"validation_fraction": self.validation_fraction, "n_iter_no_change": self.n_iter_no_change}
        config["random_state"] = _describe_random_state(self.random_state)
        config["autoencoder"] = None if self.autoencoder is None else tensor_digest(self.autoencoder.state_dict())
        return config

    # -- fitting ----------------------------------------------------------------------------

    def fit(self, X: Any, y: Any, *, checkpoint: str | os.PathLike | None = None) -> "DeepSMOTE":
        """Train the autoencoder and index the latents of every class to grow.

        Args:
            X: (N, C, H, W) images, uint8 in [0, 255] or float in [0, 1].
            y: (N,) class labels of any hashable, sortable kind (ints, strings, ...).
            checkpoint: file for crash-safe per-epoch training checkpoints; a run
                killed mid-fit resumes from it when ``fit`` is called again with the
                same data, options and int ``random_state`` (see
                :func:`~torch_deepsmote.fit_autoencoder`).

        Before training, the fit's cost is estimated
        (:func:`~torch_deepsmote.nn.estimate.estimate_fit`) and logged at INFO level by the
        ``torch_deepsmote.oversampler`` logger, with its seconds per epoch timed on a copy
        of the model when the fit has at least 100 steps.

        Returns:
            ``self``.

        Raises:
            ValueError: when the estimate's memory is more than this machine has
                (:func:`~torch_deepsmote.nn.estimate.check_fit_memory`), before any step.
        """
        images = check_images(X)
        return self._fit(TensorSource(images), _label_coding(y, images.shape[0]), checkpoint)

    def _fit(self, source: Any, coding: LabelCoding, checkpoint: str | os.PathLike | None) -> "DeepSMOTE":
        """:meth:`fit` on an image source (:mod:`torch_deepsmote.nn.sources`) of validated
        images and their labels' coding."""
        self.recipe_ = self._check_params()
        strategy = resolve_sampling_strategy(self.sampling_strategy, coding)  # bad forms fail before training
        self.image_shape_ = tuple(source.image_shape)
        device = resolve_device(self.device)
        seeds = torch.randint(2**62, (3,), generator=check_generator(self.random_state)).tolist()
        autoencoder = self._initial_autoencoder(seeds[0])
        grown = [code for code, n_new in strategy.items() if n_new > 0]
        estimate = estimate_fit(
            autoencoder,
            source,
            coding.codes,
            grown,
            batch_size=self.batch_size,
            epochs=self.epochs,
            penalty=self.recipe_.penalty,
            validation_fraction=self.validation_fraction,
            device=device,
        )
        check_fit_memory(estimate)  # before any training step
        if logger.isEnabledFor(logging.INFO):  # the steps are timed only for the line that shows them
            recipe = self.recipe_
            estimate = time_fit(
                estimate,
                autoencoder,
                source,
                coding.codes,
                penalty=recipe.penalty,
                penalty_weight=recipe.penalty_weight,
            )
            logger.info("%s", estimate)
        self.history_ = fit_autoencoder(
            autoencoder,
            source,
            coding.codes,
            epochs=self.epochs,
            batch_size=self.batch_size,
            lr=self.recipe_.lr,
            penalty=self.recipe_.penalty,
            penalty_weight=self.recipe_.penalty_weight,
            device=device,
            random_state=seeds[1],
            progress=self.progress,
            checkpoint=checkpoint,
            validation_fraction=self.validation_fraction,
            n_iter_no_change=self.n_iter_no_change,
        )
        autoencoder.to(device).eval()
        self.sample_seed_ = seeds[2]
        self._index(autoencoder, source, coding)
        return self

    def reindex(self, X: Any, y: Any) -> "DeepSMOTE":
        """Recompute what depends on ``k_neighbors`` and ``sampling_strategy`` — latents,
        neighbour tables, variation pool and residuals — with the fitted autoencoder,
        without training it again.

        Args:
            X: (N, C, H, W) images the model was fitted on (as in :meth:`fit`).
            y: (N,) their labels.

        Returns:
            ``self``.
        """
        self._check_fitted()
        self.recipe_ = self._check_params()
        images = check_images(X)
        return self._reindex(TensorSource(images), _label_coding(y, images.shape[0]))

    def _reindex(self, source: Any, coding: LabelCoding) -> "DeepSMOTE":
        """:meth:`reindex` on an image source of validated images and their labels' coding."""
        if tuple(source.image_shape) != self.image_shape_ or coding.classes != self._coding.classes:
            raise ValueError(
                f"`X` and `y` must hold the images and classes the model was fitted on: images of shape "
                f"{self.image_shape_} and classes {list(self._coding.classes)}, got {tuple(source.image_shape)} "
                f"and {list(coding.classes)}."
            )
        self._index(self.autoencoder_, source, coding)
        return self

    def _index(self, autoencoder: ConvAutoencoder, source: Any, coding: LabelCoding) -> None:
        self._coding = coding
        self._strategy = resolve_sampling_strategy(self.sampling_strategy, coding)
        grown = [code for code, n_new in self._strategy.items() if n_new > 0]
        self.index_ = LatentIndex.build(
            autoencoder,
            source,
            coding.codes,
            grown,
            self.k_neighbors,
            dtype=source.dtype,
            knn_backend=self.knn_backend,
            class_names=coding.classes,
            residuals_on_disk=source.held_bytes == 0,  # a streamed fit holds no image, nor their residuals
        )

    def _initial_autoencoder(self, seed: int) -> ConvAutoencoder:
        if self.autoencoder is not None:
            if tuple(self.autoencoder.image_shape) != self.image_shape_:
                raise ValueError(
                    f"`autoencoder` was built for images of shape {self.autoencoder.image_shape}, "
                    f"but `X` holds images of shape {self.image_shape_}."
                )
            return copy.deepcopy(self.autoencoder)
        generator = torch.Generator().manual_seed(seed)
        return ConvAutoencoder(self.image_shape_, self.latent_dim, width=self.width, generator=generator)

    # -- fitted views -----------------------------------------------------------------------

    def _check_fitted(self) -> None:
        if not hasattr(self, "index_"):
            raise RuntimeError("This DeepSMOTE instance is not fitted yet: call `fit` first.")

    @property
    def classes_(self) -> list[Any]:
        self._check_fitted()
        return list(self._coding.classes)

    @property
    def sampling_strategy_(self) -> "OrderedDict[Any, int]":
        self._check_fitted()
        return OrderedDict((self._coding.classes[code], n_new) for code, n_new in self._strategy.items())

    @property
    def autoencoder_(self) -> ConvAutoencoder:
        self._check_fitted()
        return self.index_.autoencoder

    @property
    def dtype_(self) -> torch.dtype:
        self._check_fitted()
        return self.index_.dtype

    # -- making images ----------------------------------------------------------------------

    def sample(self, random_state: int | torch.Generator | None = None) -> tuple[torch.Tensor, Any]:
        """Make the synthetic images that ``sampling_strategy_`` asks for.

        Args:
            random_state: overrides the draw; by default every call returns the
                same images (derived from the estimator's ``random_state``).

        Returns:
            ``(X_new, y_new)``: (M, C, H, W) images in the dtype of ``X`` and their
            (M,) labels (an int64 tensor for integer labels, else a numpy array),
            grouped by class in sorted order.
        """
        self._check_fitted()
        generator = check_generator(self.sample_seed_ if random_state is None else random_state)
        example = torch.empty((1, *self.image_shape_), dtype=self.dtype_)
        _check_sample_memory(sum(self._strategy.values()), example, self.index_.autoencoder.latent_dim)
        draws = {
            code: self.index_.draw(code, n_new, generator, self.recipe_)
            for code, n_new in self._strategy.items()
            if n_new > 0
        }
        codes = torch.cat(
            [torch.full((len(d.gap),), c, dtype=torch.long) for c, d in draws.items()]
            or [torch.empty(0, dtype=torch.long)]
        )
        return self.index_.render(draws, self.recipe_), self._coding.decode(codes)

    def fit_resample(self, X: Any, y: Any) -> tuple[torch.Tensor, Any]:
        """Fit, then return the original images followed by the synthetic ones.

        Returns:
            ``(X_resampled, y_resampled)``: (N + M, C, H, W) images in the dtype of
            ``X``; (N + M,) labels: an int64 tensor for integer labels (and always for
            a tensor ``y``), else a numpy array.
        """
        images = check_images(X)
        coding = _label_coding(y, images.shape[0])
        self._check_params()
        strategy = resolve_sampling_strategy(self.sampling_strategy, coding)
        latent_dim = default_latent_dim(images.shape[1]) if self.latent_dim is None else self.latent_dim
        _check_sample_memory(sum(strategy.values()), images, latent_dim)  # before training
        new_images, new_labels = self._fit(TensorSource(images), coding, checkpoint=None).sample()
        old_labels = coding.decode(coding.codes)
        if isinstance(new_labels, torch.Tensor):
            return torch.cat([images, new_images]), torch.cat([old_labels, new_labels])
        return torch.cat([images, new_images]), np.concatenate([old_labels, new_labels])

    # -- saving and restoring ---------------------------------------------------------------

    def fitted_state(self) -> dict[str, Any]:
        """Everything ``fit`` learned, as CPU tensors and plain Python values."""
        self._check_fitted()
        return {
            **self.index_.state_dict(),
            "history": self.history_,
            "classes": list(self._coding.classes),
            "codes": self._coding.codes,
            "sampling_strategy": [[c, n] for c, n in self._strategy.items()],
            "sample_seed": self.sample_seed_,
        }

    def load_fitted_state(self, state: dict[str, Any]) -> "DeepSMOTE":
        """Restore what :meth:`fitted_state` returned, onto this instance's ``device``."""
        self.recipe_ = self._check_params()
        self.index_ = LatentIndex.from_state_dict(state, resolve_device(self.device))
        self.image_shape_ = tuple(self.index_.autoencoder.image_shape)
        self.history_ = list(state["history"])
        self._coding = LabelCoding(tuple(state["classes"]), state["codes"])
        self._strategy = OrderedDict((int(c), int(n)) for c, n in state["sampling_strategy"])
        self.sample_seed_ = int(state["sample_seed"])
        return self


def _label_coding(y: Any, n_items: int) -> LabelCoding:
    """The coding of ``y``, which must hold one label per image."""
    coding = LabelCoding.fit(y, "y")
    if len(coding.codes) != n_items:
        raise ValueError(f"`y` must hold one label per image ({n_items}), got {len(coding.codes)} labels.")
    return coding


def _check_random_state(random_state: Any) -> None:
    """``random_state`` must be None, an int seed in [0, 2**64 - 1] or a CPU ``torch.Generator``."""
    if isinstance(random_state, torch.Generator):
        if random_state.device.type != "cpu":
            raise ValueError(
                f"`random_state` must be a CPU torch.Generator (the draws are made on the CPU, so they are the same "
                f"on every device), got a generator on {random_state.device}."
            )
    elif random_state is not None:
        check_seed("random_state", random_state)


def _check_sample_memory(n_new: int, images: torch.Tensor, latent_dim: int) -> None:
    """Refuse a ``sampling_strategy`` whose synthetic images cannot fit in memory."""
    channels, height, width = images.shape[1:]
    per_item = sample_item_bytes(channels, height, width, latent_dim, images.element_size())
    check_memory("sampling_strategy", n_new, per_item, "DeepSMOTE.sample (and fit_resample)")


def _describe_random_state(random_state: Any) -> Any:
    """A JSON-able stand-in for ``random_state`` (a generator by its state's digest)."""
    if isinstance(random_state, torch.Generator):
        return "generator:" + tensor_digest({"state": random_state.get_state()})
    return random_state if random_state is None else check_seed("random_state", random_state)
