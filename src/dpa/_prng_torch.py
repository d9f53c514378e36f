"""The XXH64 pair kernel on torch ``int64`` tensors (CPU or CUDA).

torch has no full uint64 arithmetic, so the 64 bits live in ``int64``:
addition and multiplication wrap modulo 2**64 in two's complement exactly as
unsigned arithmetic does, XOR/OR/left shift act on the bits, and the one
operation that differs, the right shift, is made logical by masking off the
sign-extended bits. Only element-wise ops are used, so CPU and CUDA agree.
Imported lazily: ``import dpa`` never imports torch.
"""

from __future__ import annotations

from typing import Any

import torch

from dpa.prng import MASK64, PRIME64_1, PRIME64_2, PRIME64_3, PRIME64_4, PRIME64_5

__all__ = ["xxh64_pair_torch", "to_signed", "srl", "xxh64_rows_torch"]


def to_signed(x: int) -> int:
    """The int64 with the same bits as the uint64 ``x``."""
    x &= MASK64
    return x - (1 << 64) if x >= 1 << 63 else x


_P1 = to_signed(PRIME64_1)
_P2 = to_signed(PRIME64_2)
_P3 = to_signed(PRIME64_3)
_P4 = to_signed(PRIME64_4)


def srl(x: torch.Tensor, r: int) -> torch.Tensor:
    """Logical right shift of the 64 bits of an int64 tensor."""
    return (x >> r) & ((1 << (64 - r)) - 1)


def _rotl(x: torch.Tensor, r: int) -> torch.Tensor:
    return (x << r) | srl(x, 64 - r)


def round_lane(lane: torch.Tensor) -> torch.Tensor:
    """XXH64's round(0, lane) = rotl(lane * P2, 31) * P1."""
    return _rotl(lane * _P2, 31) * _P1


def merge_lane(h: torch.Tensor) -> torch.Tensor:
    return _rotl(h, 27) * _P1 + _P4


def avalanche(h: torch.Tensor) -> torch.Tensor:
    h = h ^ srl(h, 33)
    h = h * _P2
    h = h ^ srl(h, 29)
    h = h * _P3
    return h ^ srl(h, 32)


def _as_i64(name: str, x: Any, device: torch.device | None) -> torch.Tensor:
    if isinstance(x, torch.Tensor):
        if x.dtype != torch.int64:
            raise TypeError(f"{name} must be an int64 tensor holding uint64 bits; got dtype {x.dtype}")
        return x
    if isinstance(x, bool) or not isinstance(x, int):
        raise TypeError(f"{name} must be an int in [0, 2**64) or an int64 tensor; got {type(x).__name__}")
    if not 0 <= x <= MASK64:
        raise ValueError(f"{name} must be in [0, 2**64); got {x}")
    return torch.tensor(to_signed(x), dtype=torch.int64, device=device)


def xxh64_pair_torch(a: Any, b: Any, seed: Any) -> torch.Tensor:
    """Element-wise XXH64 of ``(a, b)`` with ``seed`` over int64 tensors (see :func:`dpa.prng.xxh64_pair`)."""
    device = next((x.device for x in (a, b, seed) if isinstance(x, torch.Tensor)), None)
    a_t = _as_i64("a", a, device)
    b_t = _as_i64("b", b, device)
    s_t = _as_i64("seed", seed, device)
    h = s_t + to_signed(PRIME64_5 + 16)
    h = merge_lane(h ^ round_lane(a_t))
    h = merge_lane(h ^ round_lane(b_t))
    return avalanche(h)


def xxh64_rows_torch(ids: torch.Tensor, row_c: torch.Tensor, row_k2: torch.Tensor) -> torch.Tensor:
    """Digests for many (key, counter) rows over one vector of ids, shape ``(rows, n)``.

    ``row_c`` holds rotl(key + P5 + 16, 27) per row and ``row_k2`` round(counter)
    per row (see :mod:`dpa.generate` for the algebra); both are int64 ``(rows, 1)``.
    """
    ra = _rotl(round_lane(ids), 27)
    h = (ra.unsqueeze(0) ^ row_c) * _P1 + _P4
    h = merge_lane(h ^ row_k2)
    return avalanche(h)
