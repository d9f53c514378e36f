"""The fused Triton path for ``gen_augmentation_batch(..., backend="torch", device="cuda")``.

One kernel launch computes every output of a config for all ids (hashing,
gates, mapping), bit for bit the values of the numpy, C and torch paths
(docs/SPEC.md). Modules:

* :mod:`dpa._gpu.program`: a config as the kernel's program (pure Python);
* :mod:`dpa._gpu.prims`: the building blocks as Triton device functions;
* :mod:`dpa._gpu.kinds`: each built-in spec kind over those blocks;
* :mod:`dpa._gpu.walker`: a spec program (a list of primitive ops) over them;
* :mod:`dpa._gpu.fused`: the kernel and its launch.

This package's ``__init__`` imports neither triton nor torch: the generation
code asks :func:`triton_enabled` first, and only then imports the rest.

Selection: the fused kernel runs when the ids are on a CUDA device, triton is
importable, the path is switched on, and ``DPA_DISABLE_TRITON`` is not set
(to ``1``, ``true``, ``yes`` or ``on``). It is switched on by
``DPA_TRITON=1`` for now: :data:`ON_BY_DEFAULT` becomes True once the
kernel has been checked bit for bit on a GPU (no device was lent while it
was written; the Triton interpreter checks it on every CI run). With
``TRITON_INTERPRET=1`` CPU tensors are eligible too, which is how the tests
drive it through :meth:`dpa.generator.EpochPlan.torch`. Whenever it does not run, the torch
kernels do, with the same bits.
"""

from __future__ import annotations

import importlib.util
import os
from functools import lru_cache
from typing import Any

__all__ = ["ON_BY_DEFAULT", "triton_enabled", "triton_importable", "fused_batch"]

# Flip to True once the compiled kernel has matched the CPU on a GPU.
ON_BY_DEFAULT = False

_TRUE = ("1", "true", "yes", "on")


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in _TRUE


@lru_cache(maxsize=1)
def triton_importable() -> bool:
    """True when the ``triton`` package is installed (checked once, without importing it)."""
    return importlib.util.find_spec("triton") is not None


def triton_enabled(ids: Any) -> bool:
    """Whether the fused Triton kernel computes a batch for the id tensor ``ids``.

    Args:
        ids: the batch's ids, a torch tensor.

    Returns:
        True when ``DPA_DISABLE_TRITON`` is not set, the path is on
        (:data:`ON_BY_DEFAULT` or ``DPA_TRITON=1``), ``ids`` is a CUDA tensor
        on an NVIDIA build of torch (or Triton's interpreter is on:
        ``TRITON_INTERPRET=1``) and triton is importable. ROCm is left to the
        torch kernels until the AMD lowering has been checked.
    """
    if _env_flag("DPA_DISABLE_TRITON"):
        return False
    if not (ON_BY_DEFAULT or _env_flag("DPA_TRITON")):
        return False
    if getattr(ids, "is_cuda", False):
        # ROCm tensors say is_cuda too; only NVIDIA's lowering (PTX) has been checked.
        if _is_rocm():
            return False
    elif not _env_flag("TRITON_INTERPRET"):
        return False
    return triton_importable()


def _is_rocm() -> bool:
    import torch

    return getattr(torch.version, "hip", None) is not None


def fused_batch(plan: Any, ids: Any) -> dict[str, Any] | None:
    """A generation plan's outputs for int64 ``ids`` from the fused kernel; None if a kind has no device function.

    Args:
        plan: the generation plan (its ``entries``, ``row_c``, ``row_k2`` and
            ``config.outputs`` are read).
        ids: 1-D int64 tensor of ids (uint64 bits), on the device to compute on.

    Returns:
        ``{output name: tensor}`` in config order (float64, int64 or bool,
        on ``ids``' device), or None for a config with a kind the kernel
        does not know (a user's registered kind): the caller falls back.
    """
    from dpa._gpu import fused

    return fused.batch(plan, ids)
