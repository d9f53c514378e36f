"""Composite specs: one parameter, several flat outputs.

* :class:`ResizedCropSpec` / :class:`ErasingSpec`: a box ``(x, y, w, h)`` as
  fractions of the image, drawn like torchvision's ``RandomResizedCrop`` and
  ``RandomErasing`` (area fraction and log-uniform aspect ratio) but without
  their open-ended rejection loop: the ratio is limited to what fits, so one
  fixed set of draws always gives a valid box.
* :class:`PermutationSpec`: an order of ``n`` operations (colour jitter's),
  one output per position.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property, lru_cache
from typing import Any, ClassVar, Sequence

from dpa import domains, fmath
from dpa._draws import TWO_M32, mulhi32
from dpa._ops import PY
from dpa.specs import Output, Spec, register_spec

__all__ = ["ResizedCropSpec", "ErasingSpec", "PermutationSpec"]

# Permutations of up to 8 items are looked up in a table of n! rows (8! = 40320).
_TABLE_MAX_N = 8


@dataclass(frozen=True)
class _BoxSpec(Spec):
    """Shared sampling of an axis-aligned box (see the module docstring).

    With draws d0..d3 and ``u_i = d_i * 2**-32``::

        s = scale[0] + d0 * ((scale[1] - scale[0]) * 2**-32)          # area fraction
        r = exp(log(ratio[0]) + d1 * ((log(ratio[1]) - log(ratio[0])) * 2**-32))
        r = min(max(r, s), 1 / s)                                    # so that w, h <= 1
        w = min(sqrt(s * r), 1);  h = min(s / w, 1)             # w * h = s
        x = u2 * (1 - w);          y = u3 * (1 - h)

    ``ratio`` is width/height relative to the image's own aspect ratio.
    ``scale[0] >= 2**-511`` and both ratios' logs in exp's domain ``[-708, 709]``
    (:func:`dpa.domains.box`) keep every step finite and normal.
    """

    n_draws: ClassVar[int] = 4
    scale: tuple = (0.08, 1.0)
    ratio: tuple = (3.0 / 4.0, 4.0 / 3.0)

    def _validate(self) -> None:
        scale, ratio = domains.box(self.kind, self.scale, self.ratio)
        object.__setattr__(self, "scale", scale)
        object.__setattr__(self, "ratio", ratio)

    def _check_identity(self, identity: Any) -> Any:
        raise ValueError(f"{self.kind} has a fixed identity {self.default_identity()}; do not pass 'identity'")

    def outputs(self) -> tuple[Output, ...]:
        return tuple(
            Output(suffix, "float", ident) for suffix, ident in zip(("_x", "_y", "_w", "_h"), self.default_identity())
        )

    @cached_property
    def _consts(self) -> tuple[float, float, float, float]:
        lr0 = fmath.log(self.ratio[0])
        return (
            self.scale[0],
            (self.scale[1] - self.scale[0]) * TWO_M32,
            lr0,
            (fmath.log(self.ratio[1]) - lr0) * TWO_M32,
        )

    @staticmethod
    def _box(s: Any, lr: Any, u2: Any, u3: Any, ops: Any) -> tuple:
        r = ops.minimum(ops.maximum(fmath.exp(lr, ops), s), 1.0 / s)
        w = ops.minimum(fmath.sqrt(s * r, ops), 1.0)
        h = ops.minimum(s / w, 1.0)
        return u2 * (1.0 - w), u3 * (1.0 - h), w, h

    def scalar_values(self, words: Sequence[int]) -> tuple:
        s0, ss, r0, rs = self._consts
        w0, w1 = words[0], words[1]
        return self._box(
            s0 + (w0 >> 32) * ss,
            r0 + (w0 & 0xFFFFFFFF) * rs,
            (w1 >> 32) * TWO_M32,
            (w1 & 0xFFFFFFFF) * TWO_M32,
            PY,
        )

    def array_values(self, draws: Any, ops: Any) -> list:
        s0, ss, r0, rs = self._consts
        return list(
            self._box(draws.affine(0, ss, s0), draws.affine(1, rs, r0), draws.unit(2), draws.unit(3), ops)
        )


@register_spec
@dataclass(frozen=True)
class ResizedCropSpec(_BoxSpec):
    """The crop box of a random resized crop; outputs ``<name>_x, _y, _w, _h``, identity the full image.

    >>> ResizedCropSpec(scale=(0.5, 1.0)).to_dict()["scale"]
    [0.5, 1.0]
    """

    kind: ClassVar[str] = "resized_crop"

    def default_identity(self) -> Any:
        return (0.0, 0.0, 1.0, 1.0)


@register_spec
@dataclass(frozen=True)
class ErasingSpec(_BoxSpec):
    """The box of a random erasing; outputs ``<name>_x, _y, _w, _h``, identity an empty box.

    Defaults follow torchvision's ``RandomErasing``: area 2%..33%, ratio 0.3..3.3.
    """

    kind: ClassVar[str] = "erasing"
    scale: tuple = (0.02, 0.33)
    ratio: tuple = (0.3, 3.3)

    def default_identity(self) -> Any:
        return (0.0, 0.0, 0.0, 0.0)


@register_spec
@dataclass(frozen=True)
class PermutationSpec(Spec):
    """A uniformly random order of ``n`` items (2 <= n <= 12); outputs ``<name>_0 .. _{n-1}``.

    ``k = floor(w * n! / 2**64)`` from one 64-bit word is decoded as a Lehmer
    code: digit ``c_i = (k // (n-1-i)!) % (n-i)``, then, right to left, every
    later position ``j`` with ``p_j >= p_i`` is incremented. Identity: ``0, 1, ..., n-1``.
    """

    kind: ClassVar[str] = "permutation"
    n_draws: ClassVar[int] = 2
    n: int = 4

    def _validate(self) -> None:
        object.__setattr__(self, "n", domains.whole(self.kind, "n", self.n, 2, 12))

    def default_identity(self) -> Any:
        return tuple(range(self.n))

    def _check_identity(self, identity: Any) -> Any:
        raise ValueError(f"{self.kind} has a fixed identity {self.default_identity()}; do not pass 'identity'")

    def outputs(self) -> tuple[Output, ...]:
        return tuple(Output(f"_{i}", "int", i) for i in range(self.n))

    def _lehmer_to_perm(self, digits: list, ge: Any) -> list:
        n = self.n
        for i in range(n - 2, -1, -1):
            for j in range(i + 1, n):
                digits[j] = digits[j] + ge(digits[j], digits[i])
        return digits

    def _decode_scalar(self, k: int) -> tuple:
        digits = [(k // math.factorial(self.n - 1 - i)) % (self.n - i) for i in range(self.n)]
        return tuple(self._lehmer_to_perm(digits, lambda a, b: 1 if a >= b else 0))

    @property
    def _table(self) -> tuple | None:
        """All n! orders, indexed by k, for n <= _TABLE_MAX_N (a lookup beats decoding)."""
        return _order_table(self.n) if self.n <= _TABLE_MAX_N else None

    @property
    def _table_columns(self) -> list:
        return _order_columns(self.n)

    def scalar_values(self, words: Sequence[int]) -> tuple:
        k = mulhi32(words[0], math.factorial(self.n))
        table = self._table
        return table[k] if table is not None else self._decode_scalar(k)

    def array_values(self, draws: Any, ops: Any) -> list:
        k = draws.mulhi(0, math.factorial(self.n))
        if self._table is not None and ops.name == "numpy":
            return [column[k] for column in self._table_columns]
        # k < 12! < 2**29, so float64 holds every step exactly and floor(k / f)
        # is exact (its rounding error, below n! * 2**-53, is less than the
        # 1/f gap to the next integer); floats avoid slow integer division.
        k = ops.to_float(k)
        digits = []
        for i in range(self.n):
            f = float(math.factorial(self.n - 1 - i))
            c = ops.floor(k / f)
            k = k - c * f
            digits.append(c)
        perm = self._lehmer_to_perm(digits, lambda a, b: ops.to_float(a >= b))
        return [ops.to_int(p) for p in perm]


@lru_cache(maxsize=None)
def _order_table(n: int) -> tuple:
    """Every order of ``n`` items, indexed by its Lehmer number ``k`` (made once per ``n``: 8! rows take 0.2 s)."""
    return tuple(PermutationSpec(n=n)._decode_scalar(k) for k in range(math.factorial(n)))


@lru_cache(maxsize=None)
def _order_columns(n: int) -> list:
    import numpy as np

    table = np.array(_order_table(n), dtype=np.int64)
    columns = [np.ascontiguousarray(table[:, i]) for i in range(n)]
    for column in columns:
        column.flags.writeable = False  # shared by every spec of this n
    return columns
