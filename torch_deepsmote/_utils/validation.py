"""Argument checks shared by the whole package, with uniform error messages.

Every check raises ``TypeError`` for a value of the wrong kind and ``ValueError``
for a value of the right kind but outside the accepted range; each message names
the parameter, what is accepted and what was received.
"""

from __future__ import annotations

import numbers
from typing import Any, Iterable

import torch

__all__ = [
    "check_bool",
    "check_int",
    "check_float",
    "check_option",
    "check_generator",
    "resolve_device",
    "check_images",
    "check_labels",
]


def _describe(value: Any) -> str:
    return f"{value!r} (type {type(value).__name__})"


def check_int(name: str, value: Any, *, minimum: int | None = None) -> int:
    """Return ``value`` as an int, refusing bools, floats and values below ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"`{name}` must be an int, got {_describe(value)}.")
    value = int(value)
    if minimum is not None and value < minimum:
        raise ValueError(f"`{name}` must be an int >= {minimum}, got {value}.")
    return value


def check_bool(name: str, value: Any) -> bool:
    """Return ``value`` if it is a bool (ints and other truthy values are refused)."""
    if not isinstance(value, bool):
        raise TypeError(f"`{name}` must be a bool, got {_describe(value)}.")
    return value


def check_float(
    name: str,
    value: Any,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    inclusive_minimum: bool = True,
    inclusive_maximum: bool = True,
) -> float:
    """Return ``value`` as a finite float within the given bounds."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"`{name}` must be a real number, got {_describe(value)}.")
    value = float(value)
    below = minimum is not None and (value < minimum if inclusive_minimum else value <= minimum)
    above = maximum is not None and (value > maximum if inclusive_maximum else value >= maximum)
    if value != value or value in (float("inf"), float("-inf")) or below or above:
        bounds = _describe_range(minimum, maximum, inclusive_minimum, inclusive_maximum)
        raise ValueError(f"`{name}` must be a finite number{bounds}, got {value}.")
    return value


def _describe_range(
    minimum: float | None, maximum: float | None, inclusive_minimum: bool, inclusive_maximum: bool
) -> str:
    """`` in [a, b)``, `` ≥ a``, `` > a``, `` ≤ b`` or nothing, for :func:`check_float`'s message."""
    if minimum is not None and maximum is not None:
        opening, closing = "[" if inclusive_minimum else "(", "]" if inclusive_maximum else ")"
        return f" in {opening}{float(minimum)}, {float(maximum)}{closing}"
    if minimum is not None:
        return f" {'≥' if inclusive_minimum else '>'} {float(minimum)}"
    return "" if maximum is None else f" {'≤' if inclusive_maximum else '<'} {float(maximum)}"


def check_option(name: str, value: Any, options: Iterable[str]) -> str:
    """Return ``value`` if it is one of the accepted string ``options``."""
    options = tuple(options)
    if not isinstance(value, str) or value not in options:
        raise ValueError(f"`{name}` must be one of {options}, got {_describe(value)}.")
    return value


def check_generator(random_state: Any) -> torch.Generator:
    """Turn ``random_state`` (None, int or ``torch.Generator``) into a CPU generator.

    ``None`` seeds a fresh generator from the operating system's entropy, so the
    global torch RNG is never touched. An existing generator is used as is.
    """
    if isinstance(random_state, torch.Generator):
        return random_state
    generator = torch.Generator()
    if random_state is None:
        generator.seed()
        return generator
    seed = check_int("random_state", random_state, minimum=0)
    generator.manual_seed(seed)
    return generator


def resolve_device(device: Any) -> torch.device:
    """Return ``device`` as a ``torch.device``; ``None`` means CUDA when available, else CPU."""
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        return torch.device(device)
    except (RuntimeError, TypeError) as error:
        raise ValueError(
            f"`device` must be None, a torch.device or a device string such as 'cpu' or 'cuda:0', "
            f"got {_describe(device)}."
        ) from error


def check_images(images: Any, name: str = "X") -> torch.Tensor:
    """Return a non-empty (N, C, H, W) tensor, uint8 or float with finite values in [0, 1]."""
    if not isinstance(images, torch.Tensor):
        try:
            images = torch.as_tensor(images)
        except (TypeError, ValueError, RuntimeError) as error:
            raise TypeError(
                f"`{name}` must be an (N, C, H, W) tensor or array, got {type(images).__name__}."
            ) from error
    if images.ndim != 4 or images.shape[0] == 0:
        raise ValueError(f"`{name}` must be a non-empty (N, C, H, W) image tensor, got shape {tuple(images.shape)}.")
    if images.dtype != torch.uint8 and not images.is_floating_point():
        raise TypeError(f"`{name}` must be uint8 in [0, 255] or float in [0, 1], got dtype {images.dtype}.")
    if images.is_floating_point():
        if not bool(torch.isfinite(images).all()):
            bad = int((~torch.isfinite(images)).sum())
            raise ValueError(f"`{name}` must hold finite values in [0, 1], got {bad} NaN or infinite value(s).")
        low, high = float(images.min()), float(images.max())
        if low < 0.0 or high > 1.0:
            raise ValueError(
                f"`{name}` is float, so its values must lie in [0, 1], got values in "
                f"[{low:.4g}, {high:.4g}]; pass uint8 images in [0, 255] or divide by 255."
            )
    return images


def check_labels(labels: Any, n_items: int, name: str = "y") -> torch.Tensor:
    """Return ``labels`` as an (n_items,) int64 tensor of non-negative class indices."""
    try:
        tensor = torch.as_tensor(labels)
    except (TypeError, ValueError, RuntimeError) as error:
        raise TypeError(
            f"`{name}` must hold integer class labels, got {type(labels).__name__} "
            f"that is not convertible to a tensor ({error})."
        ) from error
    if tensor.dtype == torch.bool or tensor.is_floating_point() or tensor.is_complex():
        raise TypeError(f"`{name}` must hold integer class labels, got dtype {tensor.dtype}.")
    if tensor.ndim != 1 or tensor.shape[0] != n_items:
        raise ValueError(f"`{name}` must be 1-D with one label per image ({n_items}), got shape {tuple(tensor.shape)}.")
    if n_items and int(tensor.min()) < 0:
        raise ValueError(f"`{name}` must hold non-negative class labels, got {int(tensor.min())}.")
    return tensor.long()
