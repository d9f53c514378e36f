"""The numeric domain of every spec kind: what a config may ask for, and why.

A spec is accepted only if every output of every sample is finite, inside the
spec's declared range (or its identity), and computed within the documented
domains of dpa's building blocks (docs/SPEC.md, sections 4 and 5). Each check
below states its limit; :mod:`dpa.specs` and :mod:`dpa.composite` call them
from each kind's ``_validate``. Errors name the field, the value and the limit.

The limits, derived in docs/SPEC.md section 5:

* **numbers**: finite; ints exactly representable as doubles where a double is
  meant; no subnormal numbers (``0 < |x| < 2**-1022``), which hardware in
  flush-to-zero mode reads as 0.
* **steps**: a range ``[a, b]`` mapped from 32-bit draws by
  ``a + d * ((b - a) * 2**-32)`` needs ``b - a`` finite and either 0 or at
  least ``2**-990``, so that its step is an exact, normal double (below it the
  step underflows: ``[5e-324, 1e-320]`` would give its low end every time).
* **exp and log**: dpa's ``exp`` is used on ``[-708, 709]`` only (results
  normal and finite on every backend), its ``log`` on normal positive numbers.
* **normal**: ``|ndtri|`` of a 32-bit draw is at most :data:`NDTRI_MAX`, so
  ``mean ± std * NDTRI_MAX`` must be finite.
* **truncated normal**: bounds within 30 std (``ndtr``'s ``exp(-x*x/2)`` stays
  in exp's domain), and ``|mean| + 31 * std`` finite (every ``z`` it draws
  has ``|z| <= 30`` up to rounding).
* **boxes**: ``scale[0] >= 2**-511`` (so ``s * r >= s**2`` is a normal number
  and ``h = s / w`` never divides by zero); ratios inside exp's domain.
"""

from __future__ import annotations

import math
import sys
from fractions import Fraction
from typing import Any, Sequence

import numpy as np

from dpa import fmath, validate

__all__ = [
    "TWO_M32",
    "SMALLEST_NORMAL",
    "MIN_WIDTH",
    "EXP_MIN",
    "EXP_MAX",
    "LOG_ARG_MIN",
    "LOG_ARG_MAX",
    "NDTRI_MAX",
    "TRUNC_STD",
    "TRUNC_Z_BOUND",
    "INT_LIMIT",
    "BOX_MIN_SCALE",
    "real",
    "probability",
    "whole",
    "ordered",
    "step",
    "log_in_exp_domain",
    "normal_extremes",
    "truncated_normal",
    "choice_values",
    "choice_weights",
    "choice_thresholds",
    "box",
]

TWO_M32 = 2.0**-32
SMALLEST_NORMAL = 2.0**-1022
# The least non-zero width b - a whose step (b - a) * 2**-32 is a normal double.
MIN_WIDTH = 2.0**-990
# dpa's exp is used on [EXP_MIN, EXP_MAX]: there k = floor(x / ln 2 + 0.5) is in
# [-1021, 1023], so ldexp(p, k) is a normal, finite double on every backend.
EXP_MIN, EXP_MAX = -708.0, 709.0
# The least / greatest doubles whose dpa log lies in [EXP_MIN, EXP_MAX]
# (tests/dpa/test_specs.py checks both and their neighbours).
LOG_ARG_MIN = float.fromhex("0x1.7c8ab2288c82fp-1022")  # 3.30755300363822e-308
LOG_ARG_MAX = float.fromhex("0x1.d422d2be5de6fp+1022")  # 8.218407461555439e+307
# -ndtri(2**-33) = ndtri(1 - 2**-33): the largest |ndtri((d + 0.5) * 2**-32)| over
# the 2**32 draws d (tests/dpa/test_specs.py recomputes it and checks the draws
# nearest either end, where |ndtri| is largest, are monotone).
NDTRI_MAX = float.fromhex("0x1.95a1198fcf3d5p+2")  # 6.337957754553789
TRUNC_STD = 30.0
TRUNC_Z_BOUND = 31.0
INT_LIMIT = 1 << 62
_INT64 = (-(1 << 63), (1 << 63) - 1)
# scale[0] ** 2 >= 2**-1022: the box's s * r (r >= s) is a normal number.
BOX_MIN_SCALE = 2.0**-511


def real(kind: str, name: str, value: Any) -> float:
    """``value`` as a finite, non-subnormal double.

    Ints (Python or numpy) must convert exactly; floats are Python or numpy
    floats. Anything else, bools included, is refused.

    Raises:
        TypeError: not a real number.
        ValueError: NaN or infinite, subnormal, or an int no double holds exactly.
    """
    as_int = validate.as_integer(value)
    if as_int is not None:
        try:
            x = float(as_int)
        except OverflowError:
            x = math.inf
        if math.isfinite(x) and int(x) != as_int:
            raise ValueError(
                f"{kind}.{name} must be exactly representable as a double; got {as_int} "
                f"(the nearest double is {x!r}: write it as a float if that is what you mean)"
            )
    elif isinstance(value, (float, np.floating)) and not isinstance(value, bool):
        x = float(value)
        if x == x and isinstance(value, np.floating) and value.dtype.itemsize > 8 and np.longdouble(x) != value:
            raise ValueError(f"{kind}.{name} must be exactly representable as a double; got {value!r}")
    else:
        raise TypeError(f"{kind}.{name} must be a real number; got {value!r} of type {type(value).__name__}")
    if not math.isfinite(x):
        shown = x if as_int is None else f"an integer of {len(str(abs(as_int)))} digits, beyond the largest double {sys.float_info.max!r}"
        raise ValueError(f"{kind}.{name} must be finite; got {shown}")
    if x != 0.0 and abs(x) < SMALLEST_NORMAL:
        raise ValueError(
            f"{kind}.{name} must be 0 or at least 2**-1022 = {SMALLEST_NORMAL!r} in magnitude (subnormal numbers "
            f"are flushed to zero by some hardware, so their results could not be reproduced); got {x!r}"
        )
    return x


def probability(kind: str, name: str, value: Any) -> float:
    """A probability in ``[0, 1]`` (a real as :func:`real`)."""
    x = real(kind, name, value)
    if not 0.0 <= x <= 1.0:
        raise ValueError(f"{kind}.{name} must be a probability in [0, 1]; got {x}")
    return x


def whole(kind: str, name: str, value: Any, low: int, high: int, text: str | None = None) -> int:
    """An integer field in ``[low, high]``; floats (even ``3.0``) and bools raise ``TypeError``."""
    return validate.integer(value, f"{kind}.{name}", low, high, text=text)


def ordered(kind: str, low_name: str, low: float, high_name: str, high: float) -> None:
    """``low <= high``."""
    if low > high:
        raise ValueError(f"{kind}: {low_name} must be <= {high_name}; got {low_name}={low}, {high_name}={high}")


def step(kind: str, what: str, low: float, high: float) -> float:
    """The step ``(high - low) * 2**-32`` of a range drawn as ``low + d * step``, checked exact and normal.

    Every value ``low + d * step`` (``0 <= d < 2**32``) then lies in
    ``[low, high]``: ``high`` itself only where the range is narrower than
    2**31 ulps of ``high`` (docs/SPEC.md, "Uniform's interval").

    Raises:
        ValueError: ``high - low`` overflows, or is positive but below ``2**-990``.
    """
    width = high - low
    if not math.isfinite(width):
        raise ValueError(
            f"{kind}: {what} must be at most {sys.float_info.max!r} (the largest double); "
            f"got {high!r} - {low!r}, which overflows"
        )
    if 0.0 < width < MIN_WIDTH:
        raise ValueError(
            f"{kind}: {what} must be 0 or at least 2**-990 = {MIN_WIDTH!r}, so that its step "
            f"({what}) * 2**-32 is a normal double; got {width!r}"
        )
    return width * TWO_M32


def log_in_exp_domain(kind: str, name: str, x: float) -> float:
    """dpa's ``log(x)`` for a positive ``x`` whose log lies in exp's domain ``[-708, 709]``.

    Raises:
        ValueError: ``x <= 0``, or ``x`` below :data:`LOG_ARG_MIN` / above :data:`LOG_ARG_MAX`.
    """
    if not x > 0.0:
        raise ValueError(f"{kind}.{name} must be > 0; got {x}")
    lx = fmath.log(x)
    if not EXP_MIN <= lx <= EXP_MAX:
        raise ValueError(
            f"{kind}.{name} must be in [{LOG_ARG_MIN!r}, {LOG_ARG_MAX!r}], where its log lies in "
            f"[{EXP_MIN:g}, {EXP_MAX:g}], the domain of dpa's exp; got {x!r}"
        )
    return lx


def normal_extremes(kind: str, mean: float, std: float) -> tuple[float, float]:
    """The least and greatest outputs ``mean -/+ std * NDTRI_MAX`` of a normal, checked finite."""
    lo, hi = mean - std * NDTRI_MAX, mean + std * NDTRI_MAX
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise ValueError(
            f"{kind}: mean - std * {NDTRI_MAX!r} and mean + std * {NDTRI_MAX!r} (the largest |ndtri| of a 32-bit "
            f"draw) must be finite, at most {sys.float_info.max!r} in magnitude; got mean={mean!r}, std={std!r}"
        )
    return lo, hi


def truncated_normal(kind: str, mean: float, std: float, low: float, high: float) -> None:
    """``std > 0``, ``|mean| + 31 * std`` finite, ``low < high``, both within 30 std of the mean."""
    if not std > 0.0:
        raise ValueError(f"{kind}.std must be > 0; got {std}")
    if not math.isfinite(abs(mean) + TRUNC_Z_BOUND * std):
        raise ValueError(
            f"{kind}: |mean| + {TRUNC_Z_BOUND:g} * std must be finite (every value mean + std * z has |z| <= 30); "
            f"got mean={mean!r}, std={std!r}"
        )
    if not low < high:
        raise ValueError(f"{kind}: low must be < high; got low={low}, high={high}")
    for name, x in (("low", low), ("high", high)):
        z = (x - mean) / std
        if not -TRUNC_STD <= z <= TRUNC_STD:
            raise ValueError(
                f"{kind}.{name} must lie within 30 std of the mean, in "
                f"[{mean - TRUNC_STD * std}, {mean + TRUNC_STD * std}]; got {x}"
            )


def choice_values(kind: str, values: Any) -> tuple:
    """Choice values: all integers (int64, output int) or else all doubles (ints exactly representable).

    Raises:
        TypeError: not a non-empty list of numbers.
        ValueError: empty; an int outside int64; a value no double holds.
    """
    if isinstance(values, (str, bytes)) or not isinstance(values, Sequence):
        raise TypeError(f"{kind}.values must be a non-empty list of numbers; got {values!r}")
    if len(values) == 0:
        raise ValueError(f"{kind}.values must be a non-empty list of numbers; got []")
    ints = [validate.as_integer(v) for v in values]
    if all(v is not None for v in ints):
        return tuple(whole(kind, f"values[{i}]", v, *_INT64, text="in [-2**63, 2**63)") for i, v in enumerate(values))
    return tuple(real(kind, f"values[{i}]", v) for i, v in enumerate(values))


def choice_weights(kind: str, weights: Any, n: int) -> tuple[float, ...]:
    """Weights: one real >= 0 per value, not all zero (used exactly, as rationals)."""
    if isinstance(weights, (str, bytes)) or not isinstance(weights, Sequence):
        raise TypeError(f"{kind}.weights must be a list of numbers or None; got {weights!r}")
    if len(weights) != n:
        raise ValueError(f"{kind}.weights must have one weight per value ({n}); got {len(weights)}")
    w = tuple(real(kind, f"weights[{i}]", x) for i, x in enumerate(weights))
    if any(x < 0 for x in w) or not any(x > 0 for x in w):
        raise ValueError(f"{kind}.weights must be >= 0 with a positive sum; got {list(w)}")
    return w


def choice_thresholds(weights: Sequence[float] | None, n: int) -> tuple[int, ...]:
    """``T_i = floor(2**64 * (w_0 + ... + w_{i-1}) / total)``, exactly, for ``i = 1 .. n - 1``, below 2**64.

    A threshold of ``2**64`` (the zero weights at the end) is never reached by
    a 64-bit word, so it is left out: the values after it are never chosen.
    """
    exact = [Fraction(w) for w in (weights or [1.0] * n)]
    total = sum(exact)
    out, acc = [], Fraction(0)
    for w in exact[:-1]:
        acc += w
        t = math.floor(acc / total * (1 << 64))
        if t >= 1 << 64:
            break
        out.append(t)
    return tuple(out)


def _pair(kind: str, name: str, value: Any) -> tuple[float, float]:
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence) or len(value) != 2:
        raise TypeError(f"{kind}.{name} must be a pair [low, high]; got {value!r}")
    low, high = (real(kind, f"{name}[{i}]", v) for i, v in enumerate(value))
    if low > high:
        raise ValueError(f"{kind}.{name} must be ordered [low, high]; got [{low}, {high}]")
    return low, high


def box(kind: str, scale: Any, ratio: Any) -> tuple[tuple[float, float], tuple[float, float]]:
    """A box's ``scale`` and ``ratio`` pairs, checked (see the module docstring); returns them as float pairs.

    Raises:
        TypeError: not pairs of numbers.
        ValueError: ``scale`` outside ``2**-511 <= s0 <= s1 <= 1``; a ratio whose
            log leaves exp's domain; a step that underflows.
    """
    s0, s1 = _pair(kind, "scale", scale)
    r0, r1 = _pair(kind, "ratio", ratio)
    if not 0.0 < s0 <= s1 <= 1.0:
        raise ValueError(f"{kind}.scale must satisfy 0 < low <= high <= 1; got {[s0, s1]}")
    if s0 < BOX_MIN_SCALE:
        raise ValueError(
            f"{kind}.scale[0] must be >= 2**-511 = {BOX_MIN_SCALE!r} (so that s * r, with r >= s, is a normal "
            f"number and h = s / w never divides by zero); got {s0!r}"
        )
    if not r0 > 0.0:
        raise ValueError(f"{kind}.ratio must be > 0; got {[r0, r1]}")
    step(kind, "scale[1] - scale[0]", s0, s1)
    l0 = log_in_exp_domain(kind, "ratio[0]", r0)
    l1 = log_in_exp_domain(kind, "ratio[1]", r1)
    step(kind, "log(ratio[1]) - log(ratio[0])", l0, l1)
    return (s0, s1), (r0, r1)
