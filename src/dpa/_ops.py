"""Element-wise operations shared by the three backends: Python scalars, numpy and torch.

dpa's own exp, log and normal quantile (:mod:`dpa.fmath`) are written once
against this small interface, so the scalar, numpy and torch paths run the
same IEEE-754 operations in the same order and agree bit for bit. Only
correctly rounded operations are offered (+, -, *, /, sqrt, floor,
frexp, ldexp, min, max, comparisons): no library transcendental, whose last
bit differs between libm, numpy's SIMD code and CUDA.

The spec programs' other primitives, integer ones included, are the
backends' own (:mod:`dpa._pyexec`, :mod:`dpa._arrayexec`).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

M32 = 0xFFFFFFFF
SIGN64 = 1 << 63


class PyOps:
    """Python floats and ints (the scalar path).

    Builtins where they compute the same IEEE result as numpy, because a
    builtin call costs a fraction of a Python-level one on this hot path.
    ``floor`` returns an int, which ``ldexp`` takes and which converts to
    float exactly wherever it meets one.
    """

    name = "python"
    floor = staticmethod(math.floor)
    frexp = staticmethod(math.frexp)
    ldexp = staticmethod(math.ldexp)
    sqrt = staticmethod(math.sqrt)
    minimum = staticmethod(min)
    maximum = staticmethod(max)
    abs = staticmethod(abs)

    @staticmethod
    def where(c: bool, a: Any, b: Any) -> Any:
        return a if c else b


class NumpyOps:
    """numpy float64 arrays and uint64 words."""

    name = "numpy"
    floor = staticmethod(np.floor)
    where = staticmethod(np.where)
    sqrt = staticmethod(np.sqrt)
    abs = staticmethod(np.abs)

    # ``b if b < a else a``, as Python's min, the C kernel's dmin and the
    # Triton kernel: np.minimum/np.maximum keep the *second* of two equal
    # operands, which differs on signed zeros (np.maximum(-0.0, 0.0) is 0.0).
    @staticmethod
    def minimum(a: Any, b: Any) -> Any:
        return np.where(b < a, b, a)

    @staticmethod
    def maximum(a: Any, b: Any) -> Any:
        return np.where(b > a, b, a)

    @staticmethod
    def frexp(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return np.frexp(x)

    @staticmethod
    def ldexp(m: np.ndarray, e: np.ndarray) -> np.ndarray:
        return np.ldexp(m, np.asarray(e).astype(np.int32))


class TorchOps:
    """torch float64 tensors and int64 words (CPU or CUDA)."""

    name = "torch"

    def __init__(self) -> None:
        import torch

        self.torch = torch

    def floor(self, x):
        return self.torch.floor(x)

    def where(self, c, a, b):
        t = self.torch
        if not isinstance(a, t.Tensor):
            a = t.tensor(a, dtype=t.float64, device=c.device)
        if not isinstance(b, t.Tensor):
            b = t.tensor(b, dtype=t.float64, device=c.device)
        return t.where(c, a, b)

    # Spelled as comparisons (see NumpyOps.minimum): what clamp/minimum return for
    # equal signed zeros is the kernel's choice, and CUDA's need not be the CPU's.
    def minimum(self, a, b):
        return self.torch.where(b < a, b, a)

    def maximum(self, a, b):
        return self.torch.where(b > a, b, a)

    def abs(self, x):
        return self.torch.abs(x)

    def sqrt(self, x):
        # torch's CPU kernel for float64 sqrt is not correctly rounded (about
        # 1% of inputs differ from IEEE sqrt in the last bit); numpy's is, and
        # a CPU tensor shares its memory with numpy. CUDA's double sqrt is
        # IEEE round-to-nearest.
        if x.device.type == "cpu":
            return self.torch.from_numpy(np.sqrt(x.numpy()))
        return self.torch.sqrt(x)

    def frexp(self, x):
        m, e = self.torch.frexp(x)
        return m, e.to(self.torch.float64)

    def ldexp(self, m, e):
        # torch.ldexp goes through pow(2, e), whose exactness is not promised on
        # every device; 2**e built from its IEEE-754 bits is exact by
        # construction (e stays in the normal range here).
        t = self.torch
        bits = (e.to(t.int64) + 1023) << 52
        return m * bits.view(t.float64)


PY = PyOps()
NP = NumpyOps()
