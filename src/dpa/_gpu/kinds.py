"""The built-in spec kinds as Triton device functions, one per kind, over :mod:`dpa._gpu.prims`.

Each takes the spec's hash words (a tuple of ``uint64`` tensors) and its
constants (``tl.constexpr``; floats as their IEEE bits, see
:func:`dpa._gpu.prims.f64`) and returns the tuple of its outputs before
gating, exactly as docs/SPEC.md section 5 writes the formula (and
:mod:`dpa.specs` / :mod:`dpa.composite` compute it). The constants come from
:func:`dpa._gpu.program.build_program`, which reads them off the specs.

This module is the part that the "one definition per spec kind" work
replaces: once every kind is a program over the primitives, the fused
kernel runs those programs (:mod:`dpa._gpu.walker`, already in place)
instead of calling these functions, and nothing else in :mod:`dpa._gpu`
changes.
"""

from __future__ import annotations

import triton
import triton.language as tl

from dpa._gpu import prims

__all__ = [
    "uniform",
    "log_uniform",
    "normal",
    "truncated_normal",
    "integer",
    "choice",
    "bernoulli",
    "box",
    "permutation",
]


@triton.jit
def uniform(words, SCALE: tl.constexpr, LOW: tl.constexpr):
    """``low + d0 * ((high - low) * 2**-32)``."""
    return (prims.affine(prims.draw(words, 0), SCALE, LOW),)


@triton.jit
def log_uniform(words, A: tl.constexpr, B: tl.constexpr, LOW: tl.constexpr, HIGH: tl.constexpr):
    """``max(min(exp(a + d0 * b), high), low)`` with ``a = log(low)``, ``b = (log(high) - a) * 2**-32``."""
    x = prims.exp(prims.affine(prims.draw(words, 0), B, A))
    return (prims.fmax(prims.fmin(x, prims.f64(HIGH)), prims.f64(LOW)),)


@triton.jit
def normal(words, MEAN: tl.constexpr, STD: tl.constexpr):
    """``mean + std * ndtri((d0 + 0.5) * 2**-32)``."""
    z = prims.ndtri(prims.open_unit(prims.draw(words, 0)))
    return (prims.f64(MEAN) + prims.f64(STD) * z,)


@triton.jit
def truncated_normal(
    words,
    FA: tl.constexpr,
    SPAN: tl.constexpr,
    SIGN: tl.constexpr,
    MEAN: tl.constexpr,
    STD: tl.constexpr,
    LOW: tl.constexpr,
    HIGH: tl.constexpr,
):
    """``z = ndtri(fa + u * span) * sign``; ``max(min(mean + std * z, high), low)``, ``u`` the open unit of d0."""
    u = prims.open_unit(prims.draw(words, 0))
    z = prims.ndtri(prims.f64(FA) + u * prims.f64(SPAN)) * prims.f64(SIGN)
    x = prims.f64(MEAN) + prims.f64(STD) * z
    return (prims.fmax(prims.fmin(x, prims.f64(HIGH)), prims.f64(LOW)),)


@triton.jit
def integer(words, N: tl.constexpr, LOW: tl.constexpr):
    """``low + mulhi(w0, n)``, int64 (``n = high - low + 1 <= 2**32``)."""
    return (prims.mulhi(words[0], N).to(tl.int64) + tl.full([], LOW, tl.int64),)


@triton.jit
def choice(words, THRESHOLDS: tl.constexpr, VALUES: tl.constexpr, IS_FLOAT: tl.constexpr):
    """``values[#{i : w0 >= T_i}]`` (float values given as bits)."""
    return (prims.lookup(prims.count_ge(words[0], THRESHOLDS), VALUES, IS_FLOAT),)


@triton.jit
def bernoulli(words, T: tl.constexpr):
    """``d0 < T(p)``."""
    return (prims.below(prims.draw(words, 0), T),)


@triton.jit
def box(words, S0: tl.constexpr, SS: tl.constexpr, R0: tl.constexpr, RS: tl.constexpr):
    """The resized-crop / erasing box ``(x, y, w, h)`` of SPEC section 5."""
    s = prims.affine(prims.draw(words, 0), SS, S0)
    r = prims.fmin(prims.fmax(prims.exp(prims.affine(prims.draw(words, 1), RS, R0)), s), 1.0 / s)
    w = prims.fmin(prims.sqrt(s * r), 1.0)
    h = prims.fmin(s / w, 1.0)
    x = prims.unit(prims.draw(words, 2)) * (1.0 - w)
    y = prims.unit(prims.draw(words, 3)) * (1.0 - h)
    return x, y, w, h


@triton.jit
def permutation(words, N_FACT: tl.constexpr, RADICES: tl.constexpr):
    """The Lehmer decoding of ``k = mulhi(w0, n!)``: ``n`` int64 outputs."""
    return prims.lehmer(prims.mulhi(words[0], N_FACT), RADICES)
