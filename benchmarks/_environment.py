"""What every benchmark records about the machine it ran on."""

from __future__ import annotations

import os
import platform
from typing import Any

import torch


def describe_machine(device: torch.device | str = "cpu") -> dict[str, Any]:
    """Machine, versions and threads, for a benchmark's output."""
    device = torch.device(device)
    info = {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "device": str(device),
    }
    if device.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(device)
    return info
