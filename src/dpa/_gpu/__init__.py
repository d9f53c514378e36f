"""The fused Triton path for ``backend="torch"`` on a CUDA device: one kernel launch per batch.

One kernel launch computes every output of a config for all ids (hashing,
gates, mapping), bit for bit the values of the numpy, C and torch paths
(docs/SPEC.md), from the spec programs that define every kind (there is no
per-kind code in this package). Modules:

* :mod:`dpa._gpu.program`: a config's spec programs lowered to the kernel's records (pure Python);
* :mod:`dpa._gpu.prims`: the primitives as Triton device functions;
* :mod:`dpa._gpu.walker`: a lowered spec program over them, unrolled at compile time;
* :mod:`dpa._gpu.fused`: the kernel, its compilation and launch;
* :mod:`dpa._gpu.runtime`: per-plan state, the first-run check and the fallback.

This package's ``__init__`` imports neither triton nor torch: the generation
code asks :func:`triton_enabled` first, and only then imports the rest.

Selection: automatic. The fused kernel computes a batch when the ids are on
a CUDA device of an NVIDIA build of torch, triton is importable, and
``DPA_DISABLE_TRITON`` is not set (to ``1``, ``true``, ``yes`` or ``on``);
otherwise the torch kernels do, with the same bits. Because the compiled
kernel has not been run on a GPU by its authors, its first run per config
and device in a process is checked against the torch kernels
(:mod:`dpa._gpu.runtime`); a failure warns once and falls back. Tests drive
it on CPU tensors through Triton's interpreter: with ``TRITON_INTERPRET=1``
and ``DPA_TRITON=1`` CPU tensors are eligible too.
"""

from __future__ import annotations

import importlib.util
import os
from functools import lru_cache
from typing import Any

__all__ = ["triton_enabled", "triton_importable", "fused_batch"]

_TRUE = ("1", "true", "yes", "on")


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in _TRUE


@lru_cache(maxsize=1)
def triton_importable() -> bool:
    """True when the ``triton`` package is installed (checked once, without importing it)."""
    return importlib.util.find_spec("triton") is not None


def triton_enabled(ids: Any) -> bool:
    """Whether the fused Triton kernel is asked to compute a batch for the id tensor ``ids``.

    Args:
        ids: the batch's ids, a torch tensor.

    Returns:
        True when ``DPA_DISABLE_TRITON`` is not set, triton is importable,
        and ``ids`` is a CUDA tensor on an NVIDIA build of torch (ROCm is
        left to the torch kernels until the AMD lowering has been checked),
        or a CPU tensor under Triton's interpreter with ``DPA_TRITON=1``
        (``TRITON_INTERPRET=1``, the tests' way to run the kernel without a
        GPU). The kernel may still decline a config (:func:`fused_batch`).
    """
    if _env_flag("DPA_DISABLE_TRITON"):
        return False
    if getattr(ids, "is_cuda", False):
        # ROCm tensors say is_cuda too; only NVIDIA's lowering (PTX) has been checked.
        if _is_rocm():
            return False
    elif not (_env_flag("TRITON_INTERPRET") and _env_flag("DPA_TRITON")):
        return False
    return triton_importable()


@lru_cache(maxsize=1)
def _is_rocm() -> bool:
    import torch

    return getattr(torch.version, "hip", None) is not None


def fused_batch(plan: Any, ids: Any) -> dict[str, Any] | None:
    """A generation plan's outputs for int64 ``ids`` from the fused kernel, or None: the torch kernels compute them.

    Args:
        plan: the :class:`dpa.generator.EpochPlan` (its ``entries``,
            ``row_c``, ``row_k2``, ``config.outputs`` are read; its
            ``kernels`` dict keeps the compiled kernel per device).
        ids: 1-D int64 tensor of ids (uint64 bits), on the device to compute on.

    Returns:
        ``{output name: tensor}`` in config order (float64, int64 or bool,
        each its own allocation on ``ids``' device), or None where the
        kernel does not run this config: it failed its first-run check on
        this device (warned once), or a spec uses a primitive it lacks.
    """
    from dpa._gpu import runtime

    return runtime.batch(plan, ids)
