"""What a fitted :class:`~torch_deepsmote.DeepSMOTE` makes: draws, latents, images."""

from __future__ import annotations

import torch

from torch_deepsmote.nn.ranges import from_network_range
from torch_deepsmote._utils.validation import check_generator, check_int, check_option
from torch_deepsmote.latent.smote import SmoteDraw, draw_smote, interpolate
from torch_deepsmote.latent.variations import borrowable_rows, nearest_classes

__all__ = ["DETAILS", "GenerationMixin"]

DETAILS = ("none", "base", "blend")
INFERENCE_BATCH = 1024


class GenerationMixin:
    """Encoding, decoding and the SMOTE draws of :class:`~torch_deepsmote.DeepSMOTE`
    (its fitted attributes and generation options are read from ``self``)."""

    @torch.inference_mode()
    def encode(self, images: torch.Tensor) -> torch.Tensor:
        """(N, C, H, W) images in [-1, 1] → (N, latent_dim) latents on the model's device."""
        device = next(self.autoencoder_.parameters()).device
        return torch.cat(
            [self.autoencoder_.encode(chunk.to(device)) for chunk in images.split(INFERENCE_BATCH)]
        )

    @torch.inference_mode()
    def _decode_network(self, latents: torch.Tensor) -> torch.Tensor:
        """(M, latent_dim) latents → (M, C, H, W) float32 CPU decodes in [-1, 1]."""
        device = next(self.autoencoder_.parameters()).device
        chunks = [self.autoencoder_.decode(chunk.to(device)).float().cpu() for chunk in latents.split(INFERENCE_BATCH)]
        return torch.cat(chunks) if chunks else torch.empty((0, *self.image_shape_))

    def decode(self, latents: torch.Tensor) -> torch.Tensor:
        """(M, latent_dim) latents → (M, C, H, W) CPU images in the dtype and range of ``X``."""
        return self.render(latents, None)

    def render(self, latents: torch.Tensor, details: torch.Tensor | None) -> torch.Tensor:
        """Decode (M, latent_dim) latents and add (M, C, H, W) ``details`` (network
        scale; ``None`` adds nothing) → (M, C, H, W) CPU images in the dtype of ``X``."""
        decoded = self._decode_network(latents)
        return from_network_range(decoded if details is None else decoded + details, self.dtype_)

    def details_for(self, label: int, draw: SmoteDraw) -> torch.Tensor | None:
        """(m, C, H, W) float32 residual detail for the triples ``draw`` of class
        ``label`` as ``detail`` asks, or ``None`` when ``detail="none"``."""
        check_option("detail", self.detail, DETAILS)
        if self.detail == "none":
            return None
        residuals = self.residuals_[label]
        base = residuals[draw.base].float()
        if self.detail == "base":
            return base
        gap = draw.gap.reshape(-1, *([1] * (residuals.ndim - 1)))
        return torch.lerp(base, residuals[draw.neighbor].float(), gap)

    def draw(self, label: int, n_samples: int, generator: torch.Generator) -> SmoteDraw:
        """Draws (base, neighbour, gap, borrowed variation) for ``n_samples`` new images of ``label``."""
        rows = self._borrowable(label) if self.variation_transfer > 0 else torch.zeros(0, dtype=torch.long)
        made = draw_smote(
            self.neighbors_[label],
            n_samples,
            generator,
            self.max_gap,
            self.copy_fraction,
            n_variations=len(rows),
            variation_transfer=self.variation_transfer,
        )
        return made._replace(variation=rows[made.variation]) if len(rows) else made

    def _borrowable(self, label: int) -> torch.Tensor:
        """(R,) rows of ``variations_`` that class ``label`` may borrow (``variation_classes``)."""
        if self.variation_classes is not None:
            check_int("variation_classes", self.variation_classes, minimum=1)
        lenders = nearest_classes(self.classes_, self.class_means_, label, self.variation_classes)
        rows = borrowable_rows(self.variation_sources_, lenders)
        if len(rows) == 0:
            wider = "" if len(lenders) == len(self.classes_) else "raise `variation_classes` or "
            raise ValueError(
                f"`variation_transfer`={self.variation_transfer} borrows steps between two images of one class, "
                f"but class {label} borrows from classes {lenders.tolist()} (`variation_classes`="
                f"{self.variation_classes}), none of which has two images: {wider}set `variation_transfer=0`."
            )
        return rows

    def latents_for(self, label: int, draw: SmoteDraw) -> torch.Tensor:
        """(m, latent_dim) latents of class ``label`` for the samples ``draw``."""
        return interpolate(self.latents_[label], draw, self.variations_)

    def sample(self, random_state: int | torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Make the synthetic images that ``sampling_strategy_`` asks for.

        Args:
            random_state: overrides the draw; by default every call returns the
                same images (derived from the estimator's ``random_state``).

        Returns:
            ``(X_new, y_new)``: (M, C, H, W) images in the dtype of ``X`` and (M,)
            int64 labels, grouped by class in ascending order.
        """
        if not hasattr(self, "autoencoder_"):
            raise RuntimeError("This DeepSMOTE instance is not fitted yet: call `fit` first.")
        seed = self.sample_seed_ if random_state is None else random_state
        generator = check_generator(seed)
        draws = {label: self.draw(label, n_new, generator) for label, n_new in self.sampling_strategy_.items() if n_new > 0}
        labels = [torch.full((len(draw.gap),), label, dtype=torch.long) for label, draw in draws.items()]
        if not draws:
            return self.decode(torch.empty(0, 1)), torch.empty(0, dtype=torch.long)
        return self.render_draws(draws), torch.cat(labels)

    def render_draws(self, draws: dict[int, SmoteDraw]) -> torch.Tensor:
        """Images for SMOTE triples of several classes, in one decoder pass.

        Args:
            draws: class → its triples; the images follow the dict's order.

        Returns:
            (M, C, H, W) CPU images in the dtype of ``X``.
        """
        latents = torch.cat([self.latents_for(label, draw) for label, draw in draws.items()])
        details = [self.details_for(label, draw) for label, draw in draws.items()]
        return self.render(latents, None if self.detail == "none" else torch.cat(details))
