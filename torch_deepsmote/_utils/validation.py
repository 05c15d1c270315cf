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
    "check_seed",
    "MAX_SEED",
    "resolve_device",
    "check_images",
    "check_labels",
]


def _describe(value: Any) -> str:
    return f"{value!r} (type {type(value).__name__})"


MAX_SEED = 2**64 - 1
"""The largest seed a ``torch.Generator`` takes (seeds are unsigned 64-bit ints)."""


def check_int(name: str, value: Any, *, minimum: int | None = None, maximum: int | None = None) -> int:
    """Return ``value`` as an int, refusing bools, floats and values outside [``minimum``, ``maximum``]."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"`{name}` must be an int, got {_describe(value)}.")
    value = int(value)
    below = minimum is not None and value < minimum
    if maximum is not None and (below or value > maximum):
        bounds = f"<= {maximum}" if minimum is None else f"in [{minimum}, {maximum}]"
        raise ValueError(f"`{name}` must be an int {bounds}, got {value}.")
    if below:
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


def check_seed(name: str, value: Any) -> int:
    """Return an int seed in [0, :data:`MAX_SEED`] (a ``torch.Generator`` takes no other)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(
            f"`{name}` must be None, an int seed in [0, 2**64 - 1] or a torch.Generator, got {_describe(value)}."
        )
    return check_int(name, value, minimum=0, maximum=MAX_SEED)


def check_generator(random_state: Any, name: str = "random_state") -> torch.Generator:
    """Turn ``random_state`` (None, int or ``torch.Generator``) into a generator.

    ``None`` seeds a fresh CPU generator from the operating system's entropy, so the
    global torch RNG is never touched. An existing generator is used as is; an int
    must lie in [0, 2**64 - 1]. ``name`` is the parameter named in errors.
    """
    if isinstance(random_state, torch.Generator):
        return random_state
    generator = torch.Generator()
    if random_state is None:
        generator.seed()
        return generator
    generator.manual_seed(check_seed(name, random_state))
    return generator


def resolve_device(device: Any) -> torch.device:
    """Return ``device`` as a ``torch.device`` that can hold data here; ``None`` means CUDA
    when available, else CPU.

    A device of a kind this machine lacks (``"cuda"`` without a GPU, ``"cuda:3"`` with
    two, ``"mps"`` off a Mac) and the data-less ``"meta"`` device are refused with a
    ``ValueError`` naming ``device``.
    """
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    accepted = "None, a torch.device or a device string such as 'cpu' or 'cuda:0'"
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError, ValueError) as error:
        raise ValueError(f"`device` must be {accepted}, got {_describe(device)}.") from error
    if resolved.type == "cpu":
        return resolved
    if resolved.type == "meta":
        raise ValueError(f"`device` must be a device that holds data ({accepted}), got the meta device {device!r}.")
    if resolved.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            raise ValueError(
                f"`device` is {device!r}, but no CUDA device is available here (torch.cuda.is_available() "
                "is False): pass device='cpu', or None for CUDA when available."
            )
        if resolved.index is not None and resolved.index >= count:
            raise ValueError(f"`device` is {device!r}, but this machine has {count} CUDA device(s): 0 to {count - 1}.")
        return resolved
    try:
        torch.empty(0, device=resolved)
    except Exception as error:  # a backend this build or machine lacks
        raise ValueError(
            f"`device` is {device!r}, which this machine cannot use ({type(error).__name__}: "
            f"{str(error).splitlines()[0] if str(error) else 'unavailable'}): pass device='cpu' or None."
        ) from error
    return resolved


CHANNELS_LAST_HINT = (
    "permute it channels-first, `images.permute(0, 3, 1, 2)` for a batch, `image.permute(2, 0, 1)` for one"
)


def looks_channels_last(shape: tuple[int, ...]) -> bool:
    """Whether a (..., A, B, C) image shape reads as channels-last: a last axis of at most 4
    (a channel count: 1, 3 or 4) after a first image axis of more than 4, which as
    (C, H, W) would be more than 4 channels of an image at most 4 pixels wide."""
    return len(shape) >= 3 and shape[-1] <= 4 and shape[-3] > 4


def check_images(images: Any, name: str = "X") -> torch.Tensor:
    """Return a non-empty (N, C, H, W) tensor, uint8 or float with finite values in [0, 1].

    Channels-last batches ``(N, H, W, C)`` are refused with a message that says so (see
    :func:`looks_channels_last`), as are meta and sparse tensors.
    """
    if not isinstance(images, torch.Tensor):
        try:
            images = torch.as_tensor(images)
        except (TypeError, ValueError, RuntimeError, OverflowError) as error:
            raise TypeError(
                f"`{name}` must be an (N, C, H, W) tensor or array, got {type(images).__name__}."
            ) from error
    if images.layout != torch.strided:
        raise TypeError(f"`{name}` must be a dense (strided) tensor, got layout {images.layout}.")
    if images.is_meta:
        raise ValueError(f"`{name}` must hold data, got a tensor on the meta device of shape {tuple(images.shape)}.")
    if images.ndim != 4 or images.shape[0] == 0:
        raise ValueError(f"`{name}` must be a non-empty (N, C, H, W) image tensor, got shape {tuple(images.shape)}.")
    if looks_channels_last(tuple(images.shape)):
        raise ValueError(
            f"`{name}` must be (N, C, H, W), got shape {tuple(images.shape)}, which looks channels-last "
            f"(N, H, W, C): {CHANNELS_LAST_HINT}."
        )
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
