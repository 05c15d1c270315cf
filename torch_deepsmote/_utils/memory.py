"""How much memory a request needs, checked against what the machine has before allocating.

A request for synthetic items whose per-item tables (or images) cannot fit is refused
with a ``ValueError`` that states the bytes per item, instead of dying in the allocator.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["DATASET_ITEM_BYTES", "available_memory", "check_memory", "format_bytes", "sample_item_bytes"]

DATASET_ITEM_BYTES = 96
"""Bytes a ``DeepSMOTEDataset`` needs per synthetic item at its peak: 48 held (the item's
class code twice, 16, and the current epoch's draw: base, neighbour, gap, variation and
strength, 32) plus 48 while an epoch's draws are made and joined."""

MAX_ITEMS = 2**62
"""No request may ask for this many items, whatever the memory (int64 index arithmetic)."""


def sample_item_bytes(channels: int, height: int, width: int, latent_dim: int, itemsize: int) -> int:
    """Bytes ``DeepSMOTE.sample``/``fit_resample`` needs per synthetic image at its peak: its
    draw (40), its float32 latent, three float32 copies of its decode (the decode, the
    residual detail and their sum) and two copies of the image in the data's dtype (the
    images made and the concatenated output)."""
    pixels = channels * height * width
    return 40 + 4 * latent_dim + pixels * (12 + 2 * itemsize)


def available_memory() -> int | None:
    """Bytes available for new allocations: Linux's ``MemAvailable`` (within a cgroup's
    limit where one is set), else the free physical pages; ``None`` where unknown."""
    available = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                available = int(line.split()[1]) * 1024
                break
    except (OSError, ValueError, IndexError):
        available = None
    if available is None:
        try:
            available = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        except (AttributeError, ValueError, OSError):
            available = None
    try:
        limit = Path("/sys/fs/cgroup/memory.max").read_text().strip()
        if limit.isdigit():
            used = int(Path("/sys/fs/cgroup/memory.current").read_text().strip())
            room = max(0, int(limit) - used)
            available = room if available is None else min(available, room)
    except (OSError, ValueError):
        pass
    return available


def format_bytes(n_bytes: float) -> str:
    """``n_bytes`` in B, KiB, MiB, GiB, TiB or more, with three significant digits."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if abs(n_bytes) < 1024 or unit == "PiB":
            return f"{n_bytes:.3g} {unit}" if unit != "B" else f"{int(n_bytes)} B"
        n_bytes /= 1024
    return f"{n_bytes:.3g} PiB"  # unreachable


def check_memory(name: str, n_items: int, bytes_per_item: int, what: str) -> None:
    """Refuse, with a ``ValueError`` naming ``name``, a request for ``n_items`` items of
    ``bytes_per_item`` bytes each that the memory available cannot hold.

    Args:
        name: the parameter that asked for the items (e.g. ``sampling_strategy``).
        what: what holds the items, for the message (e.g. ``"DeepSMOTEDataset"``).
    """
    needed = n_items * bytes_per_item
    available = available_memory()
    if n_items >= MAX_ITEMS or (available is not None and needed > available):
        room = "" if available is None else f", more than the {format_bytes(available)} of memory available"
        raise ValueError(
            f"`{name}` asks for {n_items:,} synthetic items; {what} needs {bytes_per_item} bytes per synthetic "
            f"item, {format_bytes(needed)} in all{room}: ask for fewer items."
        )
