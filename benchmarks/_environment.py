"""What every benchmark records about the machine it ran on."""

from __future__ import annotations

import os
import platform
from pathlib import Path
from typing import Any

import torch


def describe_machine(device: torch.device | str = "cpu") -> dict[str, Any]:
    """Machine, versions and threads, for a benchmark's output."""
    device = torch.device(device)
    info = {
        "platform": platform.platform(),
        "processor": " ".join(filter(None, [platform.processor() or platform.machine(), cpu_model()])),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "device": str(device),
    }
    if device.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(device)
    return info


def cpu_model(cpuinfo: str | os.PathLike = "/proc/cpuinfo") -> str:
    """The CPU's model name in parentheses, e.g. ``"(AMD EPYC)"``, or ``""`` where
    ``cpuinfo`` does not name it (not Linux, or a CPU that reports no model)."""
    try:
        lines = Path(cpuinfo).read_text().splitlines()
    except OSError:
        return ""
    names = [line.split(":", 1)[1].strip() for line in lines if line.startswith("model name") and ":" in line]
    return f"({names[0]})" if names and names[0] else ""
