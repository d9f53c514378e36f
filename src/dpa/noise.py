"""Standard normal noise fields: a dpa stream's draws as normal quantiles (docs/SPEC.md section 9).

Element ``k`` of sample ``i``'s field is ``ndtri(d_k * 2**-32 + 2**-33)``
for draw ``k`` of the stream ``key`` in ``epoch`` (draw ``2j`` is the high
half of word ``j``, draw ``2j + 1`` its low half). Three executors give the
same bits: the C kernel (``dpa._ckernel.noise``, where it was built), numpy
and torch (CPU or CUDA). :func:`dpa.apply.noise_field` is the image-shaped
front end.

>>> import numpy as np
>>> z = stream_normals(np.array([7, 8], dtype=np.uint64), key=1, epoch=0, count=3)
>>> z.shape, z.dtype
((2, 3), dtype('float64'))
>>> bool((stream_normals(np.array([8], dtype=np.uint64), key=1, epoch=0, count=3)[0] == z[1]).all())
True
"""

from __future__ import annotations

from typing import Any

import numpy as np

from dpa import fmath, prng
from dpa.ids import as_sample_ids

__all__ = ["stream_normals", "EXECUTORS", "MAX_COUNT"]

# Who computes: the C kernel, numpy, or torch kernels (on the ids' device).
EXECUTORS = ("compiled", "numpy", "torch")
# Elements per sample: 2**32 words of two draws each.
MAX_COUNT = 1 << 33
# Words per numpy pass: its float64 temporaries stay in cache instead of page-faulting.
_CHUNK_WORDS = 1 << 14
_M32 = 0xFFFFFFFF


def stream_normals(sample_ids: Any, key: int, epoch: int, count: int, *, executor: str | None = None) -> Any:
    """The first ``count`` standard normals of stream ``key`` for each id: shape ``(len(ids), count)``, float64.

    Args:
        sample_ids: ids in ``[0, 2**64)``: a uint64 numpy array (or anything
            :func:`dpa.ids.as_sample_ids` takes), or an int64 torch tensor
            holding the ids' bits on any device.
        key: the stream key (:func:`dpa.keys.stream_key`), an int in ``[0, 2**64)``.
        epoch: an int in ``[0, 2**32)``.
        count: normals per id, an int in ``[0, 2**33]``.
        executor: None picks the fastest for the ids (the C kernel where it is
            built, else numpy; torch kernels for ids on a GPU); ``"compiled"``,
            ``"numpy"`` or ``"torch"`` choose one (the bits are the same).

    Returns:
        A numpy array for numpy ids; a tensor on the ids' device for a tensor.

    Raises:
        ValueError: a key, epoch, count or executor outside its domain; ``"compiled"``
            without the C kernel; ``"torch"`` without PyTorch.
        TypeError: ids that are not integers.
    """
    if executor is not None and executor not in EXECUTORS:
        raise ValueError(f"executor must be None or one of {list(EXECUTORS)}; got {executor!r}")
    _check_int("key", key, prng.MASK64)
    _check_int("epoch", epoch, 2**32 - 1)
    _check_int("count", count, MAX_COUNT)
    is_tensor = type(sample_ids).__module__.startswith("torch")
    if executor == "torch" or (executor is None and is_tensor and sample_ids.device.type != "cpu"):
        return _torch(sample_ids if is_tensor else _to_tensor(sample_ids), key, epoch, count)
    ids = as_sample_ids(sample_ids.cpu().numpy().view(np.uint64) if is_tensor else sample_ids)
    kernel = prng.compiled_kernel()
    if executor == "compiled" and kernel is None:
        raise ValueError("executor='compiled' needs the C kernel, which is not built here "
                         "(no C compiler at install time, or DPA_DISABLE_CKERNEL)")
    out = np.empty((ids.shape[0], count), dtype=np.float64)
    if kernel is not None and executor != "numpy":
        kernel.noise(np.ascontiguousarray(ids), key, epoch << 32, count, out)
    else:
        _numpy(ids, key, epoch, count, out)
    if is_tensor:
        import torch

        return torch.from_numpy(out)
    return out


def _check_int(name: str, value: Any, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not 0 <= int(value) <= high:
        raise ValueError(f"{name} must be an int in [0, {high}]; got {value!r}")


def _to_tensor(sample_ids: Any) -> Any:
    try:
        import torch
    except ImportError:
        raise ValueError("executor='torch' needs PyTorch: pip install 'dpa[torch]'") from None
    return torch.from_numpy(as_sample_ids(sample_ids).view(np.int64).copy())


def _numpy(ids: np.ndarray, key: int, epoch: int, count: int, out: np.ndarray) -> None:
    """``out[i] = `` the field of ``ids[i]``, word chunk by word chunk."""
    words = (count + 1) // 2
    for row in range(ids.shape[0]):
        for lo in range(0, words, _CHUNK_WORDS):
            nw = min(_CHUNK_WORDS, words - lo)
            w = prng.stream_words(ids[row : row + 1], int(key), int(epoch), nw, first=lo)[:, 0]
            draws = np.empty(2 * nw, dtype=np.float64)
            draws[0::2] = w >> np.uint64(32)
            draws[1::2] = w & np.uint64(_M32)
            k = min(2 * (lo + nw), count) - 2 * lo
            out[row, 2 * lo : 2 * lo + k] = fmath.ndtri((draws[:k] + 0.5) * 2.0**-32, fmath.ops_for(draws))


def _torch(ids: Any, key: int, epoch: int, count: int) -> Any:
    """``(len(ids), count)`` normals by torch kernels on the ids' device (what runs on a GPU)."""
    import torch

    words = (count + 1) // 2
    w = prng.stream_words(ids, int(key), int(epoch), words)  # (words, B) int64 holding the words' bits
    draws = torch.stack([(w >> 32) & _M32, w & _M32], dim=1).reshape(2 * words, ids.shape[0])[:count]
    u = (draws.to(torch.float64) + 0.5) * 2.0**-32
    return fmath.ndtri(u, fmath.ops_for(u)).t()
