"""Saving and restoring what ``DeepSMOTE.fit`` learned (the cache's payload)."""

from __future__ import annotations

from collections import OrderedDict
from typing import Any, Self

import torch

from torch_deepsmote.data import cache
from torch_deepsmote._utils.validation import check_int, resolve_device
from torch_deepsmote.nn.autoencoder import ConvAutoencoder

# The options that change the trained autoencoder (and so key the cache). ``k_neighbors``
# and ``sampling_strategy`` only change what ``reindex`` recomputes from it; the
# generation options (``detail``, ``max_gap``, ``copy_fraction``, ``variation_transfer``,
# ``variation_classes``) only change the draws.
MODEL_OPTIONS = ("latent_dim", "width", "epochs", "batch_size", "lr", "penalty", "penalty_weight")
# The held-out stop's options, which change the autoencoder when ``validation_fraction`` > 0.
STOP_OPTIONS = ("validation_fraction", "n_iter_no_change")


class FittedStateMixin:
    """``model_config``, ``fitted_state`` and ``load_fitted_state`` for :class:`DeepSMOTE`."""

    def model_config(self) -> dict[str, Any]:
        """The options that change the trained autoencoder, JSON-serialisable (cache keys)."""
        self._check_params()
        config = {name: getattr(self, name) for name in MODEL_OPTIONS}
        if self.validation_fraction > 0:  # off, it leaves the keys of entries written before it as they were
            config |= {name: getattr(self, name) for name in STOP_OPTIONS}
        config["random_state"] = _describe_random_state(self.random_state)
        config["autoencoder"] = None if self.autoencoder is None else cache.tensor_digest(self.autoencoder.state_dict())
        return config

    def fitted_state(self) -> dict[str, Any]:
        """Everything ``fit`` learned, as CPU tensors and plain Python values."""
        if not hasattr(self, "autoencoder_"):
            raise RuntimeError("This DeepSMOTE instance is not fitted yet: call `fit` first.")
        return {
            "architecture": {
                "image_shape": list(self.image_shape_),
                "latent_dim": self.autoencoder_.latent_dim,
                "width": self.autoencoder_.width,
            },
            "autoencoder": {k: v.detach().cpu() for k, v in self.autoencoder_.state_dict().items()},
            "history": self.history_,
            "sampling_strategy": [[c, n] for c, n in self.sampling_strategy_.items()],
            "classes": self.classes_.cpu(),
            "dtype": str(self.dtype_).removeprefix("torch."),
            "latents": [[c, z.cpu()] for c, z in self.latents_.items()],
            "neighbors": [[c, nn.cpu()] for c, nn in self.neighbors_.items()],
            "residuals": [[c, r.cpu()] for c, r in self.residuals_.items()],
            "variations": self.variations_.cpu(),
            "variation_sources": self.variation_sources_.cpu(),
            "class_means": self.class_means_.cpu(),
            "sample_seed": self.sample_seed_,
            "k_neighbors": self.indexed_k_,
        }

    def load_fitted_state(self, state: dict[str, Any]) -> Self:
        """Restore what :meth:`fitted_state` returned, onto this instance's ``device``."""
        device = resolve_device(self.device)
        architecture = state["architecture"]
        self.image_shape_ = tuple(architecture["image_shape"])
        self.autoencoder_ = ConvAutoencoder(
            self.image_shape_, architecture["latent_dim"], width=architecture["width"]
        )
        self.autoencoder_.load_state_dict(state["autoencoder"])
        self.autoencoder_.to(device).eval()
        self.history_ = list(state["history"])
        self.sampling_strategy_ = OrderedDict((int(c), int(n)) for c, n in state["sampling_strategy"])
        self.classes_ = state["classes"]
        self.dtype_ = getattr(torch, state["dtype"])
        self.latents_ = {int(c): z.to(device) for c, z in state["latents"]}
        self.neighbors_ = {int(c): nn.to(device) for c, nn in state["neighbors"]}
        self.residuals_ = {int(c): r.cpu() for c, r in state["residuals"]}
        self.variations_ = state["variations"].to(device)
        self.variation_sources_ = state["variation_sources"].cpu()
        self.class_means_ = state["class_means"].cpu()
        self.sample_seed_ = int(state["sample_seed"])
        self.indexed_k_ = int(state["k_neighbors"])
        return self


def _describe_random_state(random_state: Any) -> Any:
    """A JSON-able stand-in for ``random_state`` (a generator by its state's digest)."""
    if isinstance(random_state, torch.Generator):
        return "generator:" + cache.tensor_digest({"state": random_state.get_state()})
    return random_state if random_state is None else check_int("random_state", random_state, minimum=0)
