"""The environment a benchmark ran in, recorded beside its figures."""

from __future__ import annotations

import os
import platform
from typing import Any

import numpy as np

__all__ = ["describe_environment"]


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def describe_environment(backend: str = "numpy", device: str | None = None) -> dict[str, Any]:
    """CPU model, core counts, Python/numpy/torch versions, backend and device."""
    import psutil

    from dpa.prng import compiled_kernel
    from dpa.version import STREAM_VERSION, __version__

    env: dict[str, Any] = {
        "cpu_model": _cpu_model(),
        "logical_cores": os.cpu_count(),
        "physical_cores": psutil.cpu_count(logical=False),
        "usable_cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "numpy": np.__version__,
        "dpa": __version__,
        "stream_version": STREAM_VERSION,
        "backend": backend,
        "kernel": "compiled (dpa._ckernel)" if compiled_kernel() is not None else "numpy (no compiled kernel)",
        "device": device or "cpu",
        "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
    }
    try:
        import torch

        env["torch"] = torch.__version__
        env["torch_threads"] = torch.get_num_threads()
        if device and str(device).startswith("cuda") and torch.cuda.is_available():
            env["gpu"] = torch.cuda.get_device_name(0)
    except ImportError:
        env["torch"] = None
    return env
