"""``DeepSMOTE``: the oversampler on image tensors, in imbalanced-learn's vocabulary."""

from __future__ import annotations

import copy
import os
import warnings
from typing import Any

import torch
from sklearn.base import BaseEstimator

from torch_deepsmote.nn.ranges import to_network_range
from torch_deepsmote._fitted_state import FittedStateMixin
from torch_deepsmote._generation import DETAILS, GenerationMixin
from torch_deepsmote._utils.validation import (
    check_float,
    check_generator,
    check_images,
    check_int,
    check_labels,
    check_option,
    resolve_device,
)
from torch_deepsmote._utils.sampling_strategy import SamplingStrategy, resolve_sampling_strategy
from torch_deepsmote.nn.autoencoder import ConvAutoencoder
from torch_deepsmote.latent.neighbors import kneighbors
from torch_deepsmote.nn.training import PENALTIES, fit_autoencoder
from torch_deepsmote.latent.variations import variation_pool

__all__ = ["DeepSMOTE", "DETAILS", "INTERPOLATION_SETTINGS", "KNN_BACKENDS", "PAPER_SETTINGS"]

KNN_BACKENDS = ("auto", "torch", "keops")
# SMOTE interpolation between same-class neighbours, each image keeping its base
# image's detail, with no borrowed variation (the default instead moves real images
# along borrowed variations: copy_fraction=1, variation_transfer=1).
INTERPOLATION_SETTINGS = {"copy_fraction": 0.0, "variation_transfer": 0.0}
# The paper's training and generation recipe; the architecture defaults (width 64,
# latent 300 / 600, batch 100, k 5) are already the paper's.
PAPER_SETTINGS = {"penalty": "paper", "penalty_weight": 1.0, "lr": 2e-4, "detail": "none"} | INTERPOLATION_SETTINGS
# The options that change the draws, not the fitted model.
GENERATION_OPTIONS = ("detail", "max_gap", "copy_fraction", "variation_transfer", "variation_classes")


class DeepSMOTE(FittedStateMixin, GenerationMixin, BaseEstimator):
    """Oversample image classes in the latent space of a trained autoencoder.

    The autoencoder (:class:`~torch_deepsmote.ConvAutoencoder`) is trained on all
    classes; every class is encoded, every latent gets its ``k_neighbors``
    nearest same-class latents (the classes to grow for their draws, every class
    for the pool of variations), and new latents ``z + u·(z_nn − z) + s·v`` are
    decoded into images, where ``v`` is a step between two neighbouring latents of
    the class or of a class near it (a borrowed variation). By default every new
    latent starts at a real one (``copy_fraction=1``: ``u = 0``) and borrows a
    variation (``variation_transfer=1``) from itself or its two nearest classes
    (``variation_classes=3``), which measured best; SMOTE interpolation as in the
    paper is ``**INTERPOLATION_SETTINGS`` and the paper's whole recipe
    ``**PAPER_SETTINGS``.

    Args:
        sampling_strategy: imbalanced-learn's meanings: ``"auto"`` (= ``"not
            majority"``), ``"minority"``, ``"not minority"``, ``"all"``; a dict
            ``{class: final count}``; a callable ``y -> dict``; a float (two classes
            only) giving the wanted minority/majority ratio.
        k_neighbors: neighbours per latent; a class of n ≤ k images uses n − 1, a
            class of one image is duplicated (both with a warning).
        latent_dim: latent size; ``None`` = 300 for one channel, 600 otherwise.
        width: base channel width of the autoencoder (64 in the paper).
        epochs: autoencoder training epochs (the paper: 50–350); with
            ``validation_fraction``, the most it trains.
        batch_size: autoencoder training batch size.
        lr: Adam learning rate.
        penalty: ``"paper"``, ``"official"`` or ``"none"`` (see :mod:`.training`).
        penalty_weight: weight of the penalty term.
        validation_fraction: share of each class's images held out of the
            autoencoder's training to stop it once their reconstruction stops
            improving (the best epoch's weights are kept); 0 trains ``epochs``
            epochs on every image. Every image is still encoded for the draws.
        n_iter_no_change: with ``validation_fraction``, epochs without a better
            held-out loss before training stops.
        detail: what carries the real images' fine detail — their reconstruction
            residual ``r = x − D(E(x))`` — into the synthetic images: ``"none"``
            decodes the new latent alone (the paper); ``"base"`` adds the base image's
            residual, ``D(z_new) + r_base``, so a gap of 0 gives the base image back;
            ``"blend"`` adds ``r_base + gap·(r_neighbour − r_base)``. A generation
            option: changing it does not retrain the autoencoder.
        max_gap: gaps are drawn uniformly from ``[0, max_gap)``; with ``detail="base"``,
            a smaller ``max_gap`` keeps synthetic images closer to their real base
            (towards random oversampling as it nears 0). A generation option.
        copy_fraction: the share of each class's synthetic images drawn with a gap of
            0 (default: all): with ``detail="base"`` and no borrowed variation these
            are copies of real images (random oversampling), with ``"none"`` their
            reconstructions; 0 interpolates every one. A generation option.
        variation_transfer: how far each synthetic latent moves along a variation
            borrowed from a lending class (``variation_classes``):
            ``z_new + u·s·(z_j − z_i)`` for a random pair of same-class neighbours
            (i, j), ``u ~ U[0, 1)``, ``s = variation_transfer``
            (see :mod:`.variations`); 0 borrows nothing. A generation option.
        variation_classes: how many classes a class borrows variations from: itself
            and the ``variation_classes − 1`` classes whose mean latent is nearest its
            own; ``None`` borrows from every class. A generation option.
        knn_backend: ``"auto"``, ``"torch"`` or ``"keops"``.
        device: where the autoencoder runs; ``None`` = CUDA when available.
        random_state: int seed, ``torch.Generator`` or ``None`` (fresh entropy).
        autoencoder: a :class:`ConvAutoencoder` to start from (a copy is trained
            for ``epochs`` more epochs; ``epochs=0`` uses it as it is).
        progress: show progress bars.

    Attributes:
        classes_: (n_classes,) sorted class labels seen in ``fit``.
        sampling_strategy_: ``OrderedDict`` class → number of images to add.
        autoencoder_: the trained autoencoder (eval mode, on ``device``).
        history_: per-epoch loss records from :func:`fit_autoencoder`.
        latents_: dict class → (n_c, latent_dim) latents of each class to grow.
        neighbors_: dict class → (n_c, k_c) int64 same-class neighbour table.
        variations_: (V, latent_dim) within-class neighbour differences of every
            class (:func:`~torch_deepsmote.latent.variations.variation_pool`);
            ``variation_sources_``: (V,) int64 class of each.
        class_means_: (n_classes, latent_dim) mean latent of each of ``classes_``.
        residuals_: dict class → (n_c, C, H, W) float16 CPU reconstruction residuals
            ``x − D(E(x))`` in the network's [-1, 1] scale (used by ``detail``).
        image_shape_: ``(C, H, W)``; ``dtype_``: dtype of ``X`` (and of the output).
        sample_seed_: seed of the draws that :meth:`sample` makes by default.
    """

    def __init__(
        self,
        sampling_strategy: SamplingStrategy = "auto",
        k_neighbors: int = 5,
        *,
        latent_dim: int | None = None,
        width: int = 64,
        epochs: int = 50,
        batch_size: int = 100,
        lr: float = 1e-3,
        penalty: str = "none",
        penalty_weight: float = 1.0,
        validation_fraction: float = 0.0,
        n_iter_no_change: int = 5,
        detail: str = "base",
        max_gap: float = 1.0,
        copy_fraction: float = 1.0,
        variation_transfer: float = 1.0,
        variation_classes: int | None = 3,
        knn_backend: str = "auto",
        device: Any = None,
        random_state: int | torch.Generator | None = None,
        autoencoder: ConvAutoencoder | None = None,
        progress: bool = True,
    ) -> None:
        self.sampling_strategy = sampling_strategy
        self.k_neighbors = k_neighbors
        self.latent_dim = latent_dim
        self.width = width
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.penalty = penalty
        self.penalty_weight = penalty_weight
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.detail = detail
        self.max_gap = max_gap
        self.copy_fraction = copy_fraction
        self.variation_transfer = variation_transfer
        self.variation_classes = variation_classes
        self.knn_backend = knn_backend
        self.device = device
        self.random_state = random_state
        self.autoencoder = autoencoder
        self.progress = progress

    # -- fitting -----------------------------------------------------------------

    def _check_params(self) -> None:
        check_int("k_neighbors", self.k_neighbors, minimum=1)
        check_int("epochs", self.epochs, minimum=0)
        check_int("batch_size", self.batch_size, minimum=1)
        check_float("lr", self.lr, minimum=0.0, inclusive_minimum=False)
        check_option("penalty", self.penalty, PENALTIES)
        check_float("penalty_weight", self.penalty_weight, minimum=0.0)
        check_float("validation_fraction", self.validation_fraction, minimum=0.0, maximum=1.0, inclusive_maximum=False)
        check_int("n_iter_no_change", self.n_iter_no_change, minimum=1)
        check_option("detail", self.detail, DETAILS)
        check_float("max_gap", self.max_gap, minimum=0.0, maximum=1.0, inclusive_minimum=False)
        check_float("copy_fraction", self.copy_fraction, minimum=0.0, maximum=1.0)
        check_float("variation_transfer", self.variation_transfer, minimum=0.0)
        if self.variation_classes is not None:
            check_int("variation_classes", self.variation_classes, minimum=1)
        check_option("knn_backend", self.knn_backend, KNN_BACKENDS)
        if self.autoencoder is not None and not isinstance(self.autoencoder, ConvAutoencoder):
            raise TypeError(
                f"`autoencoder` must be None or a ConvAutoencoder, got "
                f"{type(self.autoencoder).__name__}."
            )

    def fit(self, X: Any, y: Any, *, checkpoint: str | os.PathLike | None = None) -> "DeepSMOTE":
        """Train the autoencoder and index the latents of every class to grow.

        Args:
            X: (N, C, H, W) images, uint8 in [0, 255] or float in [0, 1].
            y: (N,) non-negative integer labels.
            checkpoint: file for crash-safe per-epoch training checkpoints; a run
                killed mid-fit resumes from it when ``fit`` is called again with the
                same data, options and int ``random_state`` (see
                :func:`~torch_deepsmote.fit_autoencoder`).

        Returns:
            ``self``.
        """
        images = check_images(X)
        return self._fit(images, check_labels(y, images.shape[0]), checkpoint)

    def _fit(
        self, images: torch.Tensor, labels: torch.Tensor, checkpoint: str | os.PathLike | None
    ) -> "DeepSMOTE":
        """:meth:`fit` on validated (N, C, H, W) images and (N,) int64 labels."""
        self._check_params()
        resolve_sampling_strategy(self.sampling_strategy, labels)  # bad forms fail before training
        self.classes_ = torch.unique(labels)
        self.image_shape_ = tuple(images.shape[1:])
        self.dtype_ = images.dtype
        device = resolve_device(self.device)
        seeds = torch.randint(2**62, (3,), generator=check_generator(self.random_state)).tolist()
        self.sample_seed_ = seeds[2]

        self.autoencoder_ = self._initial_autoencoder(seeds[0])
        network_images = to_network_range(images)
        self.history_ = fit_autoencoder(
            self.autoencoder_,
            network_images,
            labels,
            epochs=self.epochs,
            batch_size=self.batch_size,
            lr=self.lr,
            penalty=self.penalty,
            penalty_weight=self.penalty_weight,
            device=device,
            random_state=seeds[1],
            progress=self.progress,
            checkpoint=checkpoint,
            validation_fraction=self.validation_fraction,
            n_iter_no_change=self.n_iter_no_change,
        )
        self.autoencoder_.to(device).eval()
        self._index(network_images, labels)
        return self

    def reindex(self, X: Any, y: Any) -> "DeepSMOTE":
        """Recompute what depends on ``k_neighbors`` and ``sampling_strategy`` — the
        latents, neighbour tables, variation pool and residuals — with the fitted
        autoencoder, without training it again.

        Args:
            X: (N, C, H, W) images the model was fitted on (as in :meth:`fit`).
            y: (N,) their labels.

        Returns:
            ``self``.
        """
        if not hasattr(self, "autoencoder_"):
            raise RuntimeError("This DeepSMOTE instance is not fitted yet: call `fit` first.")
        self._check_params()
        images = check_images(X)
        labels = check_labels(y, images.shape[0])
        if tuple(images.shape[1:]) != self.image_shape_ or not torch.equal(torch.unique(labels), self.classes_.cpu()):
            raise ValueError(
                f"`X` and `y` must hold the images and classes the model was fitted on: images of shape "
                f"{self.image_shape_} and classes {self.classes_.tolist()}, got {tuple(images.shape[1:])} "
                f"and {torch.unique(labels).tolist()}."
            )
        self._index(to_network_range(images), labels)
        return self

    def _index(self, network_images: torch.Tensor, labels: torch.Tensor) -> None:
        """Latents, neighbour tables, class means, variation pool and residuals of
        (N, C, H, W) images in [-1, 1] with (N,) labels, from the trained autoencoder."""
        self.sampling_strategy_ = resolve_sampling_strategy(self.sampling_strategy, labels)
        self.indexed_k_ = self.k_neighbors
        latents = {label: self.encode(network_images[labels == label]) for label in self.classes_.tolist()}
        neighbors = {label: self._class_neighbors(z) for label, z in latents.items()}
        self.class_means_ = torch.stack([z.float().mean(0) for z in latents.values()]).cpu()
        self.variations_, self.variation_sources_ = variation_pool(latents, neighbors)
        grown = [label for label, n_new in self.sampling_strategy_.items() if n_new > 0]
        self.latents_, self.neighbors_, self.residuals_ = {}, {}, {}
        for label in grown:
            _warn_if_small(label, len(latents[label]), self.k_neighbors)
            self.latents_[label], self.neighbors_[label] = latents[label], neighbors[label]
            reconstructed = self._decode_network(latents[label])
            self.residuals_[label] = (network_images[labels == label] - reconstructed).half()

    def _initial_autoencoder(self, seed: int) -> ConvAutoencoder:
        if self.autoencoder is not None:
            if tuple(self.autoencoder.image_shape) != self.image_shape_:
                raise ValueError(
                    f"`autoencoder` was built for images of shape {self.autoencoder.image_shape}, "
                    f"but `X` holds images of shape {self.image_shape_}."
                )
            return copy.deepcopy(self.autoencoder)
        generator = torch.Generator().manual_seed(seed)
        return ConvAutoencoder(
            self.image_shape_, self.latent_dim, width=self.width, generator=generator
        )

    def _class_neighbors(self, latents: torch.Tensor) -> torch.Tensor:
        """(n_c, k_c) neighbour table of one class's (n_c, d) latents: k_c = min(k, n_c − 1),
        and a class of one image is its own neighbour."""
        n_members = latents.shape[0]
        if n_members == 1:
            return torch.zeros((1, 1), dtype=torch.long, device=latents.device)
        return kneighbors(latents, min(self.k_neighbors, n_members - 1), backend=self.knn_backend)

    def fit_resample(self, X: Any, y: Any) -> tuple[torch.Tensor, torch.Tensor]:
        """Fit, then return the original images followed by the synthetic ones.

        Returns:
            ``(X_resampled, y_resampled)``: (N + M, C, H, W) images in the dtype of
            ``X`` and (N + M,) int64 labels.
        """
        images = check_images(X)
        labels = check_labels(y, images.shape[0])
        new_images, new_labels = self._fit(images, labels, checkpoint=None).sample()
        return torch.cat([images, new_images]), torch.cat([labels, new_labels])


def _warn_if_small(label: int, n_members: int, k: int) -> None:
    """Warn that a class to grow is too small for ``k`` neighbours."""
    if n_members == 1:
        message = (
            f"Class {label} has a single image: every synthetic image of it starts from that image "
            "(without a borrowed variation they are all one image)."
        )
    elif n_members <= k:
        message = f"Class {label} has {n_members} images, not more than k_neighbors={k}: using k={n_members - 1} for it."
    else:
        return
    warnings.warn(message, UserWarning, stacklevel=4)
