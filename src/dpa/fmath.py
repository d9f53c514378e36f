"""Reproducible elementary functions: exp, log, the normal quantile and CDF.

Library transcendentals (libm, numpy's SIMD kernels, CUDA's) may differ in
the last bit, which would break dpa's bit-for-bit promise across backends.
These are built only from correctly rounded IEEE-754 operations (+, -, *, /,
correctly rounded sqrt, floor, frexp, ldexp), evaluated in the fixed order written here and in
docs/SPEC.md, through the backend-neutral :mod:`dpa._ops` interface. They are
accurate to a few units in the last place, which is far below anything an
augmentation parameter can show.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from dpa._ops import PY

__all__ = ["exp", "log", "sqrt", "ndtri", "ndtr", "ops_for"]

# ln 2 split so that k * LN2_HI is exact for |k| < 2**11 (fdlibm's constants).
LN2_HI = 6.93147180369123816490e-01
LN2_LO = 1.90821492927058770002e-10
INV_LN2 = 1.44269504088896338700e00
SQRT_HALF = 0.70710678118654752440

# exp(r) = sum r**n / n!, n = 0..13, for |r| <= ln2 / 2 (error < 2**-53).
_EXP_COEF = tuple(1.0 / math.factorial(n) for n in range(13, -1, -1))
# log(m) = 2s + s * z * P(z), s = (m-1)/(m+1), z = s*s, P(z) = sum 2/(2k+3) z**k, k = 0..10.
_LOG_COEF = tuple(2.0 / (2 * k + 3) for k in range(10, -1, -1))


def ops_for(x: Any) -> Any:
    """The ``ops`` argument for values like ``x``: Python numbers, numpy arrays or torch tensors.

    >>> float(ndtri(np.array([0.5]), ops_for(np.array([0.5])))[0])
    0.0
    """
    module = type(x).__module__
    if module.startswith("torch"):
        from dpa._ops import TorchOps

        return TorchOps()
    if module.startswith("numpy"):
        from dpa._ops import NP

        return NP
    return PY


def exp(x: Any, ops: Any = PY) -> Any:
    """e**x for finite x in [-708, 709]: range reduction by ln 2, degree-13 Taylor, ldexp."""
    k = ops.floor(x * INV_LN2 + 0.5)
    r = (x - k * LN2_HI) - k * LN2_LO
    p = _EXP_COEF[0]
    for c in _EXP_COEF[1:]:
        p = p * r + c
    return ops.ldexp(p, k)


def sqrt(x: Any, ops: Any = PY) -> Any:
    """Square root, correctly rounded as IEEE-754 requires (the backend's own where it complies)."""
    return ops.sqrt(x)


def log(x: Any, ops: Any = PY) -> Any:
    """Natural log for finite x > 0 (normal numbers): frexp, atanh series."""
    m, e = ops.frexp(x)
    small = m < SQRT_HALF
    m = ops.where(small, m * 2.0, m)
    e = ops.where(small, e - 1, e) * 1.0
    s = (m - 1.0) / (m + 1.0)
    z = s * s
    p = _LOG_COEF[0]
    for c in _LOG_COEF[1:]:
        p = p * z + c
    logm = 2.0 * s + s * z * p
    return e * LN2_HI + (logm + e * LN2_LO)


# Wichura (1988), Algorithm AS241 PPND16, coefficients highest degree first.
_A = (2.5090809287301226727e3, 3.3430575583588128105e4, 6.7265770927008700853e4, 4.5921953931549871457e4,
      1.3731693765509461125e4, 1.9715909503065514427e3, 1.3314166789178437745e2, 3.3871328727963666080e0)
_B = (5.2264952788528545610e3, 2.8729085735721942674e4, 3.9307895800092710610e4, 2.1213794301586595867e4,
      5.3941960214247511077e3, 6.8718700749205790830e2, 4.2313330701600911252e1, 1.0)
_C = (7.74545014278341407640e-4, 2.27238449892691845833e-2, 2.41780725177450611770e-1, 1.27045825245236838258e0,
      3.64784832476320460504e0, 5.76949722146069140550e0, 4.63033784615654529590e0, 1.42343711074968357734e0)
_D = (1.05075007164441684324e-9, 5.47593808499534494600e-4, 1.51986665636164571966e-2, 1.48103976427480074590e-1,
      6.89767334985100004550e-1, 1.67638483018380384940e0, 2.05319162663775882187e0, 1.0)
_E = (2.01033439929228813265e-7, 2.71155556874348757815e-5, 1.24266094738807843860e-3, 2.65321895265761230930e-2,
      2.96560571828504891230e-1, 1.78482653991729133580e0, 5.46378491116411436990e0, 6.65790464350110377720e0)
_F = (2.04426310338993978564e-15, 1.42151175831644588870e-7, 1.84631831751005468180e-5, 7.86869131145613259100e-4,
      1.48753612908506148525e-2, 1.36929880922735805310e-1, 5.99832206555887937690e-1, 1.0)


def _poly(coef: tuple[float, ...], x: Any) -> Any:
    p = coef[0]
    for c in coef[1:]:
        p = p * x + c
    return p


def ndtri(p: Any, ops: Any = PY) -> Any:
    """The standard normal quantile (inverse CDF) for p in (0, 1), AS241 with dpa's own log.

    Every branch is evaluated and the right one selected, so arrays need no
    masking; the scalar path does the same work in the same order.
    """
    q = p - 0.5
    r1 = 0.180625 - q * q
    central = q * _poly(_A, r1) / _poly(_B, r1)
    tail_p = ops.minimum(p, 1.0 - p)
    r = sqrt(-log(tail_p, ops), ops)
    rn = r - 1.6
    near = _poly(_C, rn) / _poly(_D, rn)
    rf = r - 5.0
    far = _poly(_E, rf) / _poly(_F, rf)
    tail = ops.where(r <= 5.0, near, far)
    tail = ops.where(q < 0.0, -tail, tail)
    return ops.where(ops.abs(q) <= 0.425, central, tail)


_INV_SQRT_2PI = 0.39894228040143267794


def ndtr(x: float) -> float:
    """The standard normal CDF of a Python float (used once per spec for truncation bounds).

    |x| < 1: Marsaglia's series ``0.5 + phi(x) * sum x**(2n+1) / (2n+1)!!``;
    beyond: the continued fraction ``phi(x) / (|x| + 1/(|x| + 2/(|x| + ...)))``
    for the tail, so small tail probabilities keep their relative accuracy.
    """
    if x != x:
        raise ValueError("ndtr of NaN")
    if x == math.inf:
        return 1.0
    if x == -math.inf:
        return 0.0
    phi = _INV_SQRT_2PI * exp(-0.5 * x * x)
    ax = -x if x < 0.0 else x
    if ax < 1.0:
        term = x
        total = x
        n = 1
        while True:
            term = term * x * x / (2 * n + 1)
            if total + term == total:
                break
            total = total + term
            n += 1
        return 0.5 + phi * total
    # Backward evaluation at a fixed depth; 500 terms reach full double
    # precision for |x| >= 1 (checked against erfc in tests/dpa/test_fmath.py).
    frac = ax
    for k in range(500, 0, -1):
        frac = ax + k / frac
    tail = phi / frac
    return 1.0 - tail if x > 0.0 else tail
