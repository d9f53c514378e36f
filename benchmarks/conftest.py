"""Benchmarks run single-threaded so figures are per core and comparable."""

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

try:  # pragma: no cover - torch is optional
    import torch

    torch.set_num_threads(1)
except ImportError:  # pragma: no cover
    pass
