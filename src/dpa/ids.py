"""Sample ids in, checked: lists, ranges, numpy arrays and torch tensors as uint64 arrays or int64 tensors.

Ids must lie in ``[0, 2**64)``; anything else (floats, bools, strings,
negative numbers) is refused with an error naming the index of the first
bad id, never wrapped or truncated. torch is imported only when a tensor is
involved.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from dpa import validate

__all__ = ["as_sample_ids", "as_torch_ids", "ids_for_numpy", "torch_device"]


def as_sample_ids(sample_ids: Any, *, name: str = "sample_ids") -> np.ndarray:
    """Convert ids (list, tuple, range, numpy array, torch tensor) to a 1-D uint64 array, checking the domain.

    Raises:
        TypeError: not a sequence of integers (floats, bools and strings are refused).
        ValueError: an id outside ``[0, 2**64)`` (the message gives its index), or not 1-D.
    """
    return validate.sample_ids(sample_ids, name)


def as_torch_ids(sample_ids: Any, device: Any = None) -> Any:
    """Ids as a 1-D int64 tensor on ``device`` holding their 64 bits (ids >= 2**63 read as negative).

    An int64 tensor is taken as ids as they are, so its negative values are
    refused; checking that costs a CUDA tensor one host-device
    synchronisation. A ``torch.uint64`` tensor holds only valid ids, so it
    needs no check: on a GPU it is the way to ask for a batch without any
    synchronisation. A ``range`` of ids below 2**63 is made on the device
    (no copy); other ids (lists, arrays) are copied from pinned memory
    without waiting for the device.

    Raises:
        TypeError, ValueError: as :func:`as_sample_ids`.
    """
    import torch

    if isinstance(sample_ids, torch.Tensor) and sample_ids.dtype in (torch.int64, torch.uint64):
        if sample_ids.ndim != 1:
            raise ValueError(f"sample_ids must be 1-D; got shape {tuple(sample_ids.shape)}")
        if sample_ids.dtype == torch.uint64:
            return sample_ids.view(torch.int64).to(device)
        if sample_ids.numel() and bool((sample_ids < 0).any()):
            i = int(torch.nonzero(sample_ids < 0)[0])
            raise ValueError(f"sample_ids[{i}] must be in [0, 2**64); got {int(sample_ids[i])}")
        return sample_ids.to(device)
    dev = torch.device(device) if device is not None else torch.device("cpu")
    if isinstance(sample_ids, range) and dev.type == "cuda" and len(sample_ids):
        lo, hi = min(sample_ids[0], sample_ids[-1]), max(sample_ids[0], sample_ids[-1])
        if 0 <= lo and hi < 2**63:
            r = sample_ids
            return torch.arange(r.start, r.stop, r.step, dtype=torch.int64, device=dev)
    ids = as_sample_ids(sample_ids)
    # The tensor holds the ids' 64 bits; ids >= 2**63 read as negative int64.
    host = torch.from_numpy(ids.view(np.int64))
    if dev.type == "cuda":
        return host.pin_memory().to(dev, non_blocking=True)
    return host.to(dev)


def torch_device(device: Any) -> Any:
    """``device`` as a ``torch.device`` (default CPU): CPU or CUDA only, CUDA only where it is available.

    Raises:
        ValueError: another device type (``"meta"`` holds no data), or CUDA asked for on a machine without it.
    """
    return validate.torch_device(device)


def ids_for_numpy(sample_ids: Any) -> Any:
    """Ids for :func:`as_sample_ids`, with int64 tensors checked exactly as :func:`as_torch_ids` checks them."""
    if not type(sample_ids).__module__.startswith("torch"):
        return sample_ids
    import torch

    if isinstance(sample_ids, torch.Tensor) and sample_ids.dtype == torch.int64:
        return as_torch_ids(sample_ids, torch.device("cpu")).numpy()
    return sample_ids
