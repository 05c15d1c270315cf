"""Recipes: what the autoencoder is trained for and how synthetic images are drawn.

A :class:`Recipe` is a small frozen object holding the knobs of DeepSMOTE's training
objective (``penalty``, ``penalty_weight``, ``lr``) and of its generation (``detail``,
``max_gap``, ``copy_fraction``, ``variation_transfer``, ``variation_classes``).
:class:`~torch_deepsmote.DeepSMOTE` takes one as ``recipe=``, by name or as an object.

The named presets (:data:`RECIPES`):

* ``"borrowed-variations"`` (the default, **not** the paper's recipe): every new image
  starts at a real image of its class, keeps that image's fine detail, and is moved
  along a variation borrowed from its own class or the two classes whose mean latent
  is nearest. It measured best on Fashion-MNIST (see the benchmarks).
* ``"interpolation"``: SMOTE interpolation between same-class neighbours in the latent
  space, each new image carrying its base image's detail.
* ``"paper"``: the paper's recipe exactly: the permutation penalty of the paper's
  text, Adam at 2e-4, plain SMOTE interpolation, decoded latents alone.
* ``"paper-code"``: as ``"paper"``, with the penalty the authors' released code
  computes (a second reconstruction loss on one class, the encoder detached).

Derive a variant with :func:`dataclasses.replace`, e.g.
``dataclasses.replace(RECIPES["interpolation"], max_gap=0.5)``.
"""

from __future__ import annotations

import dataclasses
from types import MappingProxyType
from typing import Any

from torch_deepsmote._utils.validation import check_float, check_int, check_option
from torch_deepsmote.nn.training import PENALTIES

__all__ = ["DEFAULT_RECIPE", "DETAILS", "PENALTIES", "RECIPES", "Recipe", "resolve_recipe"]

DETAILS = ("none", "base", "blend")


@dataclasses.dataclass(frozen=True)
class Recipe:
    """The training objective and the generation knobs of DeepSMOTE.

    Objective (changing one retrains the autoencoder):

    Attributes:
        penalty: ``"paper"``, ``"official"`` or ``"none"`` (see
            :mod:`torch_deepsmote.nn.training`).
        penalty_weight: weight of the penalty term, ≥ 0.
        lr: Adam learning rate of the autoencoder, > 0.

    Generation (changing one only changes the draws):

    Attributes:
        detail: what carries the real images' fine detail — their reconstruction
            residual ``r = x − D(E(x))`` — into the synthetic images: ``"none"`` decodes
            the new latent alone (the paper); ``"base"`` adds the base image's residual,
            ``D(z_new) + r_base``; ``"blend"`` adds ``r_base + gap·(r_neighbour − r_base)``.
        max_gap: SMOTE gaps are drawn uniformly from ``[0, max_gap)``, in (0, 1].
        copy_fraction: the share of each class's synthetic images drawn with a gap of
            0 (they start at a real image), in [0, 1]; 0 interpolates every one.
        variation_transfer: how far each synthetic latent moves along a variation
            borrowed from a lending class: ``+ u·s·(z_j − z_i)`` for a random pair of
            same-class neighbours, ``u ~ U[0, 1)``, ``s = variation_transfer`` ≥ 0; 0
            borrows nothing (see :mod:`torch_deepsmote.latent.variations`).
        variation_classes: how many classes a class borrows from: itself and the
            ``variation_classes − 1`` classes whose mean latent is nearest its own;
            ``None`` borrows from every class.
    """

    penalty: str = "none"
    penalty_weight: float = 1.0
    lr: float = 1e-3
    detail: str = "base"
    max_gap: float = 1.0
    copy_fraction: float = 1.0
    variation_transfer: float = 1.0
    variation_classes: int | None = 3

    def __post_init__(self) -> None:
        check_option("recipe.penalty", self.penalty, PENALTIES)
        check_float("recipe.penalty_weight", self.penalty_weight, minimum=0.0)
        check_float("recipe.lr", self.lr, minimum=0.0, inclusive_minimum=False)
        check_option("recipe.detail", self.detail, DETAILS)
        check_float("recipe.max_gap", self.max_gap, minimum=0.0, maximum=1.0, inclusive_minimum=False)
        check_float("recipe.copy_fraction", self.copy_fraction, minimum=0.0, maximum=1.0)
        check_float("recipe.variation_transfer", self.variation_transfer, minimum=0.0)
        if self.variation_classes is not None:
            check_int("recipe.variation_classes", self.variation_classes, minimum=1)

    def objective(self) -> dict[str, Any]:
        """The knobs that change the trained autoencoder (they key the cache)."""
        return {"lr": self.lr, "penalty": self.penalty, "penalty_weight": self.penalty_weight}


_INTERPOLATION = Recipe(copy_fraction=0.0, variation_transfer=0.0)
_PAPER = dataclasses.replace(_INTERPOLATION, penalty="paper", lr=2e-4, detail="none")

RECIPES: MappingProxyType[str, Recipe] = MappingProxyType(
    {
        "borrowed-variations": Recipe(),
        "interpolation": _INTERPOLATION,
        "paper": _PAPER,
        "paper-code": dataclasses.replace(_PAPER, penalty="official"),
    }
)
"""The named recipes (module docstring)."""

DEFAULT_RECIPE = "borrowed-variations"


def resolve_recipe(recipe: Any) -> Recipe:
    """``recipe`` as a :class:`Recipe`: a preset name of :data:`RECIPES` or a ``Recipe``."""
    if isinstance(recipe, Recipe):
        return recipe
    if isinstance(recipe, str) and recipe in RECIPES:
        return RECIPES[recipe]
    raise ValueError(
        f"`recipe` must be one of {tuple(RECIPES)} or a torch_deepsmote.Recipe, got {recipe!r} "
        f"(type {type(recipe).__name__})."
    )
