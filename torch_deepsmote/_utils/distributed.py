"""The ``torch.distributed`` context of the running process, read in one place."""

from __future__ import annotations

import torch

__all__ = ["distributed_context", "is_main_process"]


def distributed_context() -> tuple[int, int]:
    """``(rank, world_size)`` of the initialised process group, or ``(0, 1)`` without one."""
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_rank(), torch.distributed.get_world_size()
    return 0, 1


def is_main_process() -> bool:
    """Whether this process is rank 0 (or the only process)."""
    return distributed_context()[0] == 0
