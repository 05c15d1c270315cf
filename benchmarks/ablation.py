"""What makes latent-space oversampling pay: DeepSMOTE recipes side by side.

Usage:
    python benchmarks/ablation.py --profile cpu --out benchmarks/results/ablation

Every variant runs through ``compare.py``'s protocol (same data, classifier, step
budget and seeds as the comparison) with the profile's autoencoder budget; only the
recipe changes. ``--reuse DIR`` takes the rows of ``none``, ``random oversampling``
and ``SMOTE`` (and any variant) already measured in a comparison folder.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import compare  # noqa: E402
from methods import (  # noqa: E402
    FIXED_DRAWS,
    METHODS,
    Method,
    deepsmote,
    deepsmote_balanced_autoencoder,
    deepsmote_to,
    deferred,
    every_class_varied,
    random_oversampling_to,
    unseen_real_images,
)

# The interpolation recipe the rows named "interpolation, …" change one thing of.
INTERPOLATION = {"recipe": "interpolation", **FIXED_DRAWS}
# The recipe the rows named "every-class borrowing, …" change one thing of.
EVERY = {"variation_classes": None, **FIXED_DRAWS}
EVERY_CLASS = METHODS["DeepSMOTE (borrowing from every class)"]
# The default recipe with one fixed set of synthetic items: the rows named "fixed draws, …"
# change one thing of it.
FIXED = METHODS["DeepSMOTE (fixed draws)"]
FRESH = {"fresh_per_epoch": True}


def scaled_autoencoder(method: Method, **factors: int) -> Method:
    """``method`` with entries of the profile's autoencoder budget (``epochs``,
    ``width``, ...) multiplied by ``factors``."""

    def scaled(images, labels, seed, settings, transform):
        budget = settings["deepsmote"] | {name: settings["deepsmote"][name] * f for name, f in factors.items()}
        return method(images, labels, seed, settings | {"deepsmote": budget}, transform)

    scaled.__doc__ = f"{method.__doc__} Autoencoder budget × {factors}."
    return scaled


def resized_autoencoder(method: Method, **values: int) -> Method:
    """``method`` with entries of the profile's autoencoder budget (``latent_dim``, ...)
    set to ``values``."""

    def resized(images, labels, seed, settings, transform):
        return method(images, labels, seed, settings | {"deepsmote": settings["deepsmote"] | values}, transform)

    resized.__doc__ = f"{method.__doc__} Autoencoder budget with {values}."
    return resized


VARIANTS = {
    **{name: METHODS[name] for name in ("none", "random oversampling", "SMOTE")},
    # the paper's recipe: paper penalty, lr 2e-4, plain decodes
    "DeepSMOTE (paper penalty)": METHODS["DeepSMOTE (paper penalty)"],
    "DeepSMOTE (official penalty)": METHODS["DeepSMOTE (official penalty)"],
    # SMOTE interpolation with the base image's detail, and one change at a time from it
    "DeepSMOTE (interpolation)": METHODS["DeepSMOTE (interpolation)"],
    "interpolation, plain decodes (detail none)": deepsmote(**INTERPOLATION | {"detail": "none"}),
    "interpolation, blended residuals (detail blend)": deepsmote(**INTERPOLATION | {"detail": "blend"}),
    "interpolation + paper penalty, lr 2e-4": deepsmote(**INTERPOLATION | {"penalty": "paper", "lr": 2e-4}),
    "interpolation + fresh synthetic items every epoch": deepsmote(**INTERPOLATION | FRESH),
    "interpolation, gaps in [0, 0.5) (max_gap 0.5)": deepsmote(**INTERPOLATION | {"max_gap": 0.5}),
    "interpolation, a quarter real copies (copy_fraction 0.25)": deepsmote(**INTERPOLATION | {"copy_fraction": 0.25}),
    "interpolation, half the added items real copies (copy_fraction 0.5)": deepsmote(
        **INTERPOLATION | {"copy_fraction": 0.5}
    ),
    "interpolation + borrowed variation (variation_transfer 1)": deepsmote(
        **INTERPOLATION | {"variation_transfer": 1.0}
    ),
    "interpolation, autoencoder trained 3× longer": scaled_autoencoder(METHODS["DeepSMOTE (interpolation)"], epochs=3),
    # deferred rebalancing: the classifier's first steps on the real (imbalanced) items only
    "random oversampling, rebalanced after 1/3 of the steps": deferred(METHODS["random oversampling"], 1 / 3),
    "interpolation, rebalanced after 1/3 of the steps": deferred(METHODS["DeepSMOTE (interpolation)"], 1 / 3),
    "random oversampling, rebalanced after 2/3 of the steps": deferred(METHODS["random oversampling"], 2 / 3),
    "interpolation, rebalanced after 2/3 of the steps": deferred(METHODS["DeepSMOTE (interpolation)"], 2 / 3),
    # real latents moved along variations borrowed from every class (the default until
    # `variation_classes`), and changes of it
    "DeepSMOTE (borrowing from every class)": EVERY_CLASS,
    "every-class borrowing, half interpolated (copy_fraction 0.5)": deepsmote(**EVERY | {"copy_fraction": 0.5}),
    "every-class borrowing + fresh synthetic items every epoch": deepsmote(**EVERY | FRESH),
    "every-class borrowing, variation_transfer 0.5": deepsmote(**EVERY | {"variation_transfer": 0.5}),
    "every-class borrowing, variation_transfer 1.5": deepsmote(**EVERY | {"variation_transfer": 1.5}),
    "every-class borrowing, variation pool from 20 neighbours (k_neighbors 20)": deepsmote(**EVERY, k_neighbors=20),
    "every-class borrowing, autoencoder twice as wide": scaled_autoencoder(EVERY_CLASS, width=2),
    # every class shown as real images moved along borrowed variations, none as they are
    "every-class borrowing, every class varied, synthetic items only": every_class_varied(**EVERY),
    "interpolation, every class interpolated, synthetic items only": every_class_varied(**INTERPOLATION),
    # the library's default: variations borrowed from the class and its two nearest
    # classes, fresh synthetic items every epoch; and that recipe with one fixed set
    "DeepSMOTE (default)": METHODS["DeepSMOTE (default)"],
    "DeepSMOTE (fixed draws)": FIXED,
    "fixed draws, borrowing from the class and its nearest class (variation_classes 2)": deepsmote(
        variation_classes=2, **FIXED_DRAWS
    ),
    "fixed draws, borrowing from the class itself only (variation_classes 1)": deepsmote(
        variation_classes=1, **FIXED_DRAWS
    ),
    "fixed draws, autoencoder trained 3× longer": scaled_autoencoder(FIXED, epochs=3),
    "fixed draws, latent size 32": resized_autoencoder(FIXED, latent_dim=32),
    "fixed draws, latent size 300 (the paper's)": resized_autoencoder(FIXED, latent_dim=300),
    "fixed draws, autoencoder stopped on 10% held out (up to 4× the epochs, n_iter_no_change 5)": scaled_autoencoder(
        deepsmote(validation_fraction=0.1, n_iter_no_change=5, **FIXED_DRAWS), epochs=4
    ),
    # balancing part of the way: every class grown to half the largest class's count
    "random oversampling, every class grown to half the largest": random_oversampling_to(0.5),
    "fixed draws, every class grown to half the largest": deepsmote_to(0.5, **FIXED_DRAWS),
    # balancing past the largest class: a class of n images grown to N (N / n) ** 0.15,
    # twice the largest for a class 1/100 of it
    "random oversampling, rarer classes grown past the largest (rarity 0.15)": random_oversampling_to(1.0, 0.15),
    "fixed draws, rarer classes grown past the largest (rarity 0.15)": deepsmote_to(1.0, 0.15, **FIXED_DRAWS),
    "fixed draws, variation_transfer 0.5": deepsmote(variation_transfer=0.5, **FIXED_DRAWS),
    "fixed draws, variation_transfer 1.5": deepsmote(variation_transfer=1.5, **FIXED_DRAWS),
    "fixed draws, autoencoder trained on a class-balanced draw": deepsmote_balanced_autoencoder(**FIXED_DRAWS),
    # the ceiling: the rare classes grown with real images the training set left out
    "unseen real images (ceiling)": unseen_real_images(),
    "unseen real images up to twice each class, random copies of them beyond": unseen_real_images(2.0),
    "unseen real images up to 1.25× each class, random copies of them beyond": unseen_real_images(1.25),
    # one change from the paper's recipe
    "paper recipe + base residual (detail base)": deepsmote(recipe="paper", detail="base", **FIXED_DRAWS),
}


def main(argv: list[str] | None = None) -> Path:
    return compare.main(argv, registry=VARIANTS, description=__doc__.splitlines()[0], default_profile="cpu")


if __name__ == "__main__":
    main()
