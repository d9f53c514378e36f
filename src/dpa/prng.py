"""The counter-based hash kernel: XXH64 of two 64-bit words.

This module produces bits and nothing else; it knows nothing of augmentation
(:mod:`dpa.specs` turns bits into values). Its one promise, pinned by tests
against the ``xxhash`` package (the reference C implementation):

    ``xxh64_pair(a, b, seed)`` is the XXH64 digest of the 16 bytes
    ``a.to_bytes(8, "little") + b.to_bytes(8, "little")`` hashed with ``seed``,

element-wise, bit for bit, for Python integers, numpy ``uint64`` arrays and
torch ``int64`` tensors (CPU or CUDA; the tensor holds the same 64 bits, read
as two's complement).

Arrays go through the compiled kernel (``dpa._ckernel``, built from C at
install time) when it is there; otherwise through numpy, in place over
cache-sized blocks, so that path allocates only its output and two
block-sized temporaries whatever the input size. Both give the same bits.
``DPA_DISABLE_CKERNEL=1`` in the environment turns the compiled kernel off.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import xxhash

__all__ = [
    "compiled_kernel",
    "PRIME64_1",
    "PRIME64_2",
    "PRIME64_3",
    "PRIME64_4",
    "PRIME64_5",
    "xxh64_pair",
    "xxh64_pair_int",
    "xxh64_bytes",
    "xxh64_outer",
    "stream_words",
]

MASK64 = (1 << 64) - 1

# The five XXH64 primes, from the xxHash specification.
PRIME64_1 = 0x9E3779B185EBCA87
PRIME64_2 = 0xC2B2AE3D27D4EB4F
PRIME64_3 = 0x165667B19E3779F9
PRIME64_4 = 0x85EBCA77C2B2AE63
PRIME64_5 = 0x27D4EB2F165667C5

# Elements per block: the two uint64 temporaries stay in L2 and the per-call
# overhead of a ufunc is amortised (measured on one core with a preallocated
# output: 8192 -> 122, 16384 -> 142, 32768 -> 160, 65536 -> 159 M digests/s).
BLOCK = 32768

_xxh64_intdigest = xxhash.xxh64_intdigest

try:
    if os.environ.get("DPA_DISABLE_CKERNEL", "") not in ("", "0"):
        raise ImportError("disabled by DPA_DISABLE_CKERNEL")
    from dpa import _ckernel
except ImportError:  # built without a C compiler, or disabled: numpy serves
    _ckernel = None


def compiled_kernel() -> Any:
    """The compiled kernel module (``dpa._ckernel``), or None when dpa runs on numpy alone.

    It is built from C when dpa is installed, if a compiler is available, and
    is skipped when ``DPA_DISABLE_CKERNEL=1``. Results are identical either
    way; only the speed differs.
    """
    return _ckernel

_U64 = np.uint64
# numpy scalars made once: building them costs as much as a small ufunc call.
_P1, _P2, _P3, _P4 = _U64(PRIME64_1), _U64(PRIME64_2), _U64(PRIME64_3), _U64(PRIME64_4)
_SHIFT = {r: _U64(r) for r in (27, 29, 31, 32, 33, 37)}


def _rotl_int(x: int, r: int) -> int:
    return ((x << r) | (x >> (64 - r))) & MASK64


def _round_int(lane: int) -> int:
    """XXH64's round(0, lane) on Python ints: rotl(lane * P2, 31) * P1."""
    return (_rotl_int((lane * PRIME64_2) & MASK64, 31) * PRIME64_1) & MASK64


def xxh64_pair_int(a: int, b: int, seed: int) -> int:
    """XXH64 of the 16 little-endian bytes of ``(a, b)`` for Python ints.

    Calls the ``xxhash`` binding directly (no numpy), so it is the fastest
    path for one value and the oracle the vectorised paths are tested against.

    >>> xxh64_pair_int(0, 0, 0) == xxhash.xxh64_intdigest(bytes(16))
    True
    """
    return _xxh64_intdigest(a.to_bytes(8, "little") + b.to_bytes(8, "little"), seed)


def xxh64_bytes(data: bytes, seed: int = 0) -> int:
    """XXH64 digest of arbitrary bytes (used to derive keys from names)."""
    return _xxh64_intdigest(data, seed)


# --------------------------------------------------------------------------- numpy


def _rotl_np(x: np.ndarray, r: int, tmp: np.ndarray) -> None:
    np.right_shift(x, _SHIFT[64 - r], out=tmp)
    np.left_shift(x, _SHIFT[r], out=x)
    np.bitwise_or(x, tmp, out=x)


def _round_np(lane: np.ndarray, out: np.ndarray, tmp: np.ndarray) -> None:
    """out = rotl(lane * P2, 31) * P1, in place."""
    np.multiply(lane, _P2, out=out)
    _rotl_np(out, 31, tmp)
    np.multiply(out, _P1, out=out)


def _merge_np(h: np.ndarray, tmp: np.ndarray) -> None:
    """h = rotl(h, 27) * P1 + P4, in place."""
    _rotl_np(h, 27, tmp)
    np.multiply(h, _P1, out=h)
    np.add(h, _P4, out=h)


def _avalanche_np(h: np.ndarray, tmp: np.ndarray) -> None:
    np.right_shift(h, _SHIFT[33], out=tmp)
    np.bitwise_xor(h, tmp, out=h)
    np.multiply(h, _P2, out=h)
    np.right_shift(h, _SHIFT[29], out=tmp)
    np.bitwise_xor(h, tmp, out=h)
    np.multiply(h, _P3, out=h)
    np.right_shift(h, _SHIFT[32], out=tmp)
    np.bitwise_xor(h, tmp, out=h)


def _xxh64_pair_block(a, b, seed, out, tmp, tmp2) -> None:
    """One block of the numpy kernel; ``a``, ``b``, ``seed`` broadcast to ``out``.

    Scalars are folded into constants first: a scalar seed makes the first
    step ``rotl(round(a), 27) ^ rotl(seed + P5 + 16, 27)`` (a rotation
    distributes over XOR), a scalar ``b`` makes ``round(b)`` one number.
    """
    _round_np(a, tmp2, tmp)
    if np.ndim(seed) == 0:
        _rotl_np(tmp2, 27, tmp)
        np.bitwise_xor(tmp2, _U64(_rotl_int((int(seed) + PRIME64_5 + 16) & MASK64, 27)), out=out)
        np.multiply(out, _P1, out=out)
        np.add(out, _P4, out=out)
    else:
        np.add(seed, _U64(PRIME64_5 + 16), out=out)
        np.bitwise_xor(out, tmp2, out=out)
        _merge_np(out, tmp)
    if np.ndim(b) == 0:
        np.bitwise_xor(out, _U64(_round_int(int(b))), out=out)
    else:
        _round_np(b, tmp2, tmp)
        np.bitwise_xor(out, tmp2, out=out)
    _merge_np(out, tmp)
    _avalanche_np(out, tmp)


def _as_u64(name: str, x: Any) -> np.ndarray | np.uint64:
    if isinstance(x, np.ndarray):
        if x.dtype != np.uint64:
            raise TypeError(
                f"{name} must be a numpy uint64 array (or a Python int in [0, 2**64)); "
                f"got dtype {x.dtype}. Convert with .astype(np.uint64) after checking the range."
            )
        return x
    if isinstance(x, (bool, np.bool_)) or not isinstance(x, (int, np.integer)):
        raise TypeError(f"{name} must be an int in [0, 2**64) or a uint64 array; got {type(x).__name__}")
    if not 0 <= int(x) <= MASK64:
        raise ValueError(f"{name} must be in [0, 2**64); got {int(x)}")
    return _U64(int(x))


def _xxh64_pair_numpy(a, b, seed, out=None, compiled: bool = True) -> np.ndarray:
    a = _as_u64("a", a)
    b = _as_u64("b", b)
    seed = _as_u64("seed", seed)
    shape = np.broadcast_shapes(np.shape(a), np.shape(b), np.shape(seed))
    if out is None:
        out = np.empty(shape, dtype=np.uint64)
    elif not (isinstance(out, np.ndarray) and out.dtype == np.uint64 and out.shape == shape and out.flags.c_contiguous):
        raise ValueError(
            f"out must be a C-contiguous uint64 array of shape {shape}; got "
            f"{type(out).__name__} {getattr(out, 'dtype', '')} {getattr(out, 'shape', '')}"
        )
    flat = out.reshape(-1)
    # Both kernels write `out` before they have read every input (the numpy
    # blocks step by step, the C loop a vector ahead): an input that `out`
    # overlaps is read from a copy.
    a, b, seed = (x.copy() if np.ndim(x) and np.may_share_memory(x, out) else x for x in (a, b, seed))
    if compiled and _ckernel is not None and all(np.ndim(x) == 0 or np.shape(x) == shape for x in (a, b, seed)):
        # Scalars travel as one-element arrays, which the kernel repeats.
        args = [np.ascontiguousarray(x).reshape(-1) for x in (a, b, seed)]
        _ckernel.xxh64_pair(*args, flat)
        return out
    a_f = np.broadcast_to(a, shape).reshape(-1) if np.ndim(a) else a
    b_f = np.broadcast_to(b, shape).reshape(-1) if np.ndim(b) else b
    s_f = np.broadcast_to(seed, shape).reshape(-1) if np.ndim(seed) else seed
    n = flat.size
    block = min(BLOCK, max(n, 1))
    tmp = np.empty(block, dtype=np.uint64)
    tmp2 = np.empty(block, dtype=np.uint64)
    for start in range(0, n, block):
        stop = min(start + block, n)
        m = stop - start
        _xxh64_pair_block(
            a_f[start:stop] if np.ndim(a_f) else a_f,
            b_f[start:stop] if np.ndim(b_f) else b_f,
            s_f[start:stop] if np.ndim(s_f) else s_f,
            flat[start:stop],
            tmp[:m],
            tmp2[:m],
        )
    return out


def outer_row_constants(b_rows, seed_rows) -> tuple[np.ndarray, np.ndarray]:
    """Per-row constants of :func:`xxh64_outer`: ``rotl(seed + P5 + 16, 27)`` and ``round(b)``.

    XXH64 of 16 bytes starts ``h = rotl((seed + P5 + 16) ^ round(a), 27)``;
    a rotation distributes over XOR, so that is ``rotl(round(a), 27) ^
    rotl(seed + P5 + 16, 27)``: the first part depends only on ``a`` and is
    computed once per column, the second only on the row.
    """
    c = [_rotl_int((int(s) + PRIME64_5 + 16) & MASK64, 27) for s in seed_rows]
    k2 = [_round_int(int(b)) for b in b_rows]
    return np.array(c, dtype=np.uint64).reshape(-1, 1), np.array(k2, dtype=np.uint64).reshape(-1, 1)


def xxh64_outer(a: np.ndarray, row_c: np.ndarray, row_k2: np.ndarray, out: np.ndarray, tmp: np.ndarray) -> np.ndarray:
    """Digests of every (row, column) pair: ``out[r, i] = xxh64_pair(a[i], b[r], seed[r])``.

    The rows are given by their constants from :func:`outer_row_constants`.
    This is the shape augmentation needs (many keyed streams over one vector
    of sample ids): each ufunc call covers all rows, so the per-call overhead
    is paid once per block of ids, not once per row.

    Args:
        a: uint64 ids, shape ``(n,)``.
        row_c, row_k2: uint64 ``(rows, 1)`` constants.
        out, tmp: uint64 buffers of shape ``(rows, n)``; ``out`` is returned.
    """
    ra = tmp[0]
    _round_np(a, ra, out[0])
    _rotl_np(ra, 27, out[0])
    np.bitwise_xor(ra, row_c, out=out)
    np.multiply(out, _P1, out=out)
    np.add(out, _P4, out=out)
    np.bitwise_xor(out, row_k2, out=out)
    _merge_np(out, tmp)
    _avalanche_np(out, tmp)
    return out


def stream_words(sample_ids: Any, key: int, epoch: int, n_words: int, *, first: int = 0) -> Any:
    """The words ``first .. first + n_words - 1`` of a stream for each id (docs/SPEC.md section 3).

    ``word_j = xxh64_pair(id, (epoch << 32) | j, key)``, shape ``(n_words, len(ids))``.

    Args:
        sample_ids: uint64 numpy array, or int64 torch tensor holding the ids' bits (any device).
        key: the stream key (:func:`dpa.keys.stream_key`), in ``[0, 2**64)``.
        epoch: in ``[0, 2**32)``; ``first + n_words <= 2**32``.

    Returns:
        uint64 array, or int64 tensor (same bits) on the ids' device.

    Raises:
        ValueError: a key, epoch or word range outside its domain.
    """
    for name, value, limit in (("key", key, MASK64), ("epoch", epoch, 2**32 - 1), ("first", first, 2**32 - 1)):
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= limit:
            raise ValueError(f"{name} must be an int in [0, {limit + 1}); got {value!r}")
    if isinstance(n_words, bool) or not isinstance(n_words, int) or not 0 <= n_words <= 2**32 - first:
        raise ValueError(f"n_words must be an int in [0, 2**32 - first]; got {n_words!r}")
    counters = np.arange(first, first + n_words, dtype=np.uint64) | np.uint64(epoch << 32)
    row_k2 = np.empty((n_words, 1), dtype=np.uint64)
    _round_np(counters.reshape(-1, 1), row_k2, np.empty_like(row_k2))  # one key: only round(counter) varies
    row_c = np.full((1, 1), _rotl_int((key + PRIME64_5 + 16) & MASK64, 27), dtype=np.uint64)
    if type(sample_ids).__module__.startswith("torch"):
        import torch

        from dpa import _prng_torch

        signed = lambda a: torch.from_numpy(a.view(np.int64)).to(sample_ids.device)  # noqa: E731  (same bits)
        return _prng_torch.xxh64_rows_torch(sample_ids, signed(row_c), signed(row_k2))
    ids = _as_u64("sample_ids", sample_ids)
    out = np.empty((n_words, np.size(ids)), dtype=np.uint64)
    if out.size:
        xxh64_outer(np.atleast_1d(ids), row_c, row_k2, out, np.empty_like(out))
    return out


# --------------------------------------------------------------------------- public


def xxh64_pair(a: Any, b: Any, seed: Any = 0, *, out: np.ndarray | None = None) -> Any:
    """XXH64 of the 16 little-endian bytes of ``(a, b)`` with ``seed``, element-wise.

    Args:
        a: first 64-bit word (the sample id in dpa): a Python int in
            ``[0, 2**64)``, a numpy ``uint64`` array, or a torch ``int64``
            tensor holding the same 64 bits.
        b: second 64-bit word (dpa's counter word), same kinds as ``a``.
        seed: the XXH64 seed (dpa's stream key), same kinds as ``a``.
        out: optional C-contiguous uint64 array of the broadcast shape to
            write into (numpy inputs only), saving the allocation.

    Returns:
        A Python int for three ints; else a numpy ``uint64`` array, or a torch
        ``int64`` tensor on the inputs' device when any input is a tensor.
        Array inputs broadcast against each other.

    Raises:
        TypeError: an input is not an int, a uint64 array or an int64 tensor.
        ValueError: an int is outside ``[0, 2**64)``, or ``out`` does not fit.

    >>> import numpy as np, xxhash
    >>> d = xxh64_pair(np.array([1, 2], dtype=np.uint64), 7, 42)
    >>> int(d[1]) == xxhash.xxh64_intdigest((2).to_bytes(8, "little") + (7).to_bytes(8, "little"), 42)
    True
    """
    if all(isinstance(x, int) and not isinstance(x, bool) for x in (a, b, seed)):
        for name, x in (("a", a), ("b", b), ("seed", seed)):
            if not 0 <= x <= MASK64:
                raise ValueError(f"{name} must be in [0, 2**64); got {x}")
        return xxh64_pair_int(a, b, seed)
    if any(type(x).__module__.startswith("torch") for x in (a, b, seed)):
        from dpa import _prng_torch

        return _prng_torch.xxh64_pair_torch(a, b, seed)
    return _xxh64_pair_numpy(a, b, seed, out)
