"""``LatentIndex``: what a fitted DeepSMOTE holds to make images, and how it makes them.

The index is built once from the trained autoencoder: the latents and same-class
neighbour tables of the classes to grow, the pool of within-class variations of every
class, the mean latent of each class and the reconstruction residual of each image to
grow. From a :class:`~torch_deepsmote.Recipe`'s generation knobs it draws SMOTE samples
(:mod:`.smote`) and renders them into images in the data's own dtype. Classes are the
int codes ``0 … n_classes − 1`` (:mod:`torch_deepsmote._utils.labels`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from torch_deepsmote._utils.warn import warn
from torch_deepsmote.latent.neighbors import kneighbors
from torch_deepsmote.latent.residuals import temporary_rows
from torch_deepsmote.latent.smote import SmoteDraw, draw_smote, interpolate
from torch_deepsmote.latent.variations import borrowable_rows, nearest_classes, variation_pool
from torch_deepsmote.nn.autoencoder import ConvAutoencoder
from torch_deepsmote.nn.ranges import from_network_range
from torch_deepsmote.nn.sources import as_source
from torch_deepsmote.recipes import Recipe

__all__ = ["INFERENCE_BATCH", "LatentIndex"]

INFERENCE_BATCH = 1024


@torch.inference_mode()
def encode(autoencoder: ConvAutoencoder, images: torch.Tensor) -> torch.Tensor:
    """(N, C, H, W) images in [-1, 1] → (N, latent_dim) latents on the model's device."""
    device = next(autoencoder.parameters()).device
    return torch.cat([autoencoder.encode(chunk.to(device)) for chunk in images.split(INFERENCE_BATCH)])


def _encode_batches(autoencoder: ConvAutoencoder, source: Any, index_batches: tuple[torch.Tensor, ...]) -> torch.Tensor:
    """(n, latent_dim) latents of the images of ``index_batches`` read from ``source``."""
    return torch.cat([encode(autoencoder, images) for images in source.batches(index_batches)])


@torch.inference_mode()
def decode(autoencoder: ConvAutoencoder, latents: torch.Tensor) -> torch.Tensor:
    """(M, latent_dim) latents → (M, C, H, W) float32 CPU decodes in [-1, 1]."""
    device = next(autoencoder.parameters()).device
    chunks = [autoencoder.decode(chunk.to(device)).float().cpu() for chunk in latents.split(INFERENCE_BATCH)]
    return torch.cat(chunks) if chunks else torch.empty((0, *autoencoder.image_shape))


@dataclass
class LatentIndex:
    """The fitted latents, tables and draws of DeepSMOTE (one object, built by :meth:`build`).

    Attributes:
        autoencoder: the trained autoencoder (eval mode).
        dtype: dtype of the images made (that of the training images).
        latents: class → (n_c, d) latents of each class to grow.
        neighbors: class → (n_c, k_c) int64 same-class neighbour table.
        residuals: class → (n_c, C, H, W) float16 CPU residuals ``x − D(E(x))`` (network scale).
        variations: (V, d) within-class neighbour differences of every class.
        variation_sources: (V,) int64 class of each variation.
        class_means: (n_classes, d) mean latent of each class.
        k_neighbors: the ``k`` the tables were built with.
        residual_file: where the residuals are memory-mapped from (``"temporary file"``
            or a cache file's path); ``None``: held in memory.
    """

    autoencoder: ConvAutoencoder
    dtype: torch.dtype
    latents: dict[int, torch.Tensor]
    neighbors: dict[int, torch.Tensor]
    residuals: dict[int, torch.Tensor]
    variations: torch.Tensor
    variation_sources: torch.Tensor
    class_means: torch.Tensor
    k_neighbors: int
    residual_file: str | None = None

    @classmethod
    def build(
        cls,
        autoencoder: ConvAutoencoder,
        images: Any,
        codes: torch.Tensor,
        grown: list[int],
        k_neighbors: int,
        *,
        dtype: torch.dtype,
        knn_backend: str = "auto",
        class_names: tuple[Any, ...] | None = None,
        residuals_on_disk: bool = False,
    ) -> "LatentIndex":
        """Index N images with (N,) class codes, a class at a time, :data:`INFERENCE_BATCH`
        images at a time.

        Args:
            images: (N, C, H, W) images in [-1, 1], or an image source
                (:mod:`torch_deepsmote.nn.sources`).
            grown: the codes of the classes to grow (their latents, tables and
                residuals are kept; every class lends variations).
            class_names: the labels named in warnings (default: the codes).
            residuals_on_disk: write the residuals to a memory-mapped temporary file
                (:mod:`.residuals`) instead of holding them.
        """
        source = as_source(images)
        n_classes = int(codes.max()) + 1
        members = {code: torch.nonzero(codes == code).flatten().split(INFERENCE_BATCH) for code in range(n_classes)}
        latents = {code: _encode_batches(autoencoder, source, members[code]) for code in range(n_classes)}
        neighbors = {code: _class_neighbors(z, k_neighbors, knn_backend) for code, z in latents.items()}
        variations, sources = variation_pool(latents, neighbors)
        index = cls(
            autoencoder=autoencoder,
            dtype=dtype,
            latents={},
            neighbors={},
            residuals={},
            variations=variations,
            variation_sources=sources,
            class_means=torch.stack([z.float().mean(0) for z in latents.values()]).cpu(),
            k_neighbors=k_neighbors,
        )
        counts = {code: len(latents[code]) for code in grown}
        if residuals_on_disk:
            index.residuals, index.residual_file = temporary_rows(counts, tuple(source.image_shape)), "temporary file"
        for code in grown:
            _warn_if_small(code if class_names is None else class_names[code], counts[code], k_neighbors)
            index.latents[code], index.neighbors[code] = latents[code], neighbors[code]
            chunks = zip(source.batches(members[code]), latents[code].split(INFERENCE_BATCH))
            residuals = ((read - decode(autoencoder, latent)).half() for read, latent in chunks)
            if residuals_on_disk:
                for start, residual in zip(range(0, counts[code], INFERENCE_BATCH), residuals):
                    index.residuals[code][start : start + len(residual)] = residual
            else:
                index.residuals[code] = torch.cat(list(residuals))
        return index

    # -- drawing and rendering ------------------------------------------------------------

    def draw(self, code: int, n_samples: int, generator: torch.Generator, recipe: Recipe) -> SmoteDraw:
        """Draws (base, neighbour, gap, borrowed variation) for ``n_samples`` new images of class ``code``."""
        rows = self._borrowable(code, recipe) if recipe.variation_transfer > 0 else torch.zeros(0, dtype=torch.long)
        made = draw_smote(
            self.neighbors[code],
            n_samples,
            generator,
            recipe.max_gap,
            recipe.copy_fraction,
            n_variations=len(rows),
            variation_transfer=recipe.variation_transfer,
        )
        return made._replace(variation=rows[made.variation]) if len(rows) else made

    def _borrowable(self, code: int, recipe: Recipe) -> torch.Tensor:
        """(R,) rows of ``variations`` that class ``code`` may borrow."""
        classes = torch.arange(len(self.class_means))
        lenders = nearest_classes(classes, self.class_means, code, recipe.variation_classes)
        rows = borrowable_rows(self.variation_sources, lenders)
        if len(rows) == 0:
            wider = "" if len(lenders) == len(classes) else "raise `variation_classes` or "
            raise ValueError(
                f"The recipe's `variation_transfer`={recipe.variation_transfer} borrows steps between two images "
                f"of one class, but class {code} borrows from classes {lenders.tolist()} (`variation_classes`="
                f"{recipe.variation_classes}), none of which has two images: {wider}set `variation_transfer=0`."
            )
        return rows

    def render(self, draws: dict[int, SmoteDraw], recipe: Recipe) -> torch.Tensor:
        """Images for the draws of several classes, in one decoder pass.

        Args:
            draws: class code → its draws; the images follow the dict's order.
            recipe: its ``detail`` says which residual detail is added.

        Returns:
            (M, C, H, W) CPU images in ``dtype``.
        """
        if not draws:
            return torch.empty((0, *self.autoencoder.image_shape), dtype=self.dtype)
        latents = torch.cat([interpolate(self.latents[code], draw, self.variations) for code, draw in draws.items()])
        decoded = decode(self.autoencoder, latents)
        if recipe.detail != "none":
            decoded = decoded + torch.cat([self._details(code, draw, recipe.detail) for code, draw in draws.items()])
        return from_network_range(decoded, self.dtype)

    def _details(self, code: int, draw: SmoteDraw, detail: str) -> torch.Tensor:
        """(m, C, H, W) float32 residual detail for the draws of class ``code``."""
        residuals = self.residuals[code]
        base = residuals[draw.base].float()
        if detail == "base":
            return base
        gap = draw.gap.reshape(-1, *([1] * (residuals.ndim - 1)))
        return torch.lerp(base, residuals[draw.neighbor].float(), gap)

    def decode(self, latents: torch.Tensor) -> torch.Tensor:
        """(M, latent_dim) latents → (M, C, H, W) CPU images in ``dtype``."""
        return from_network_range(decode(self.autoencoder, latents), self.dtype)

    # -- saving and restoring -------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        """Everything in the index, as CPU tensors and plain Python values."""
        model = self.autoencoder
        return {
            "architecture": {
                "image_shape": list(model.image_shape),
                "latent_dim": model.latent_dim,
                "width": model.width,
            },
            "autoencoder": {k: v.detach().cpu() for k, v in model.state_dict().items()},
            "dtype": str(self.dtype).removeprefix("torch."),
            "latents": [[c, z.cpu()] for c, z in self.latents.items()],
            "neighbors": [[c, nn.cpu()] for c, nn in self.neighbors.items()],
            "residuals": [[c, r.cpu()] for c, r in self.residuals.items()],
            "variations": self.variations.cpu(),
            "variation_sources": self.variation_sources.cpu(),
            "class_means": self.class_means.cpu(),
            "k_neighbors": self.k_neighbors,
        }

    @classmethod
    def from_state_dict(cls, state: dict[str, Any], device: torch.device) -> "LatentIndex":
        """Restore what :meth:`state_dict` returned, with the model and latents on ``device``."""
        architecture = state["architecture"]
        autoencoder = ConvAutoencoder.empty(  # no initial draw: the weights are loaded
            tuple(architecture["image_shape"]), architecture["latent_dim"], width=architecture["width"]
        )
        autoencoder.load_state_dict(state["autoencoder"])
        return cls(
            autoencoder=autoencoder.to(device).eval(),
            dtype=getattr(torch, state["dtype"]),
            latents={int(c): z.to(device) for c, z in state["latents"]},
            neighbors={int(c): nn.to(device) for c, nn in state["neighbors"]},
            residuals={int(c): r.cpu() for c, r in state["residuals"]},
            variations=state["variations"].to(device),
            variation_sources=state["variation_sources"].cpu(),
            class_means=state["class_means"].cpu(),
            k_neighbors=int(state["k_neighbors"]),
        )


def _class_neighbors(latents: torch.Tensor, k: int, backend: str) -> torch.Tensor:
    """(n_c, k_c) neighbour table of one class's (n_c, d) latents: k_c = min(k, n_c − 1),
    and a class of one image is its own neighbour."""
    n_members = latents.shape[0]
    if n_members == 1:
        return torch.zeros((1, 1), dtype=torch.long, device=latents.device)
    return kneighbors(latents, min(k, n_members - 1), backend=backend)


def _warn_if_small(label: Any, n_members: int, k: int) -> None:
    """Warn that a class to grow is too small for ``k`` neighbours."""
    if n_members == 1:
        message = (
            f"Class {label!r} has a single image: every synthetic image of it starts from that image "
            "(without a borrowed variation they are all one image)."
        )
    elif n_members <= k:
        message = (
            f"Class {label!r} has {n_members} images, not more than k_neighbors={k}: using k={n_members - 1} for it."
        )
    else:
        return
    warn(message)
