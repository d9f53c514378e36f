"""Triton device functions for dpa's building blocks, bit for bit those of docs/SPEC.md.

One ``@triton.jit`` function per primitive a spec kind is built from: the
XXH64 pair hash split into its per-id and per-row parts, 32-bit draws and
their affine maps, dpa's own exp/log/ndtri (:mod:`dpa.fmath`, in the same
order of operations), exact frexp/ldexp by bit manipulation, correctly rounded
sqrt, min/max, the 64-bit integer maps of ``integer``/``choice``/
``permutation`` and the gate select. Each gives exactly the bits of the
numpy/Python path and of the C kernel (``_fmath.h``/``_xxh64.h``), provided
the kernel that calls them is compiled with ``enable_fp_fusion=False`` (no
multiply-add contraction; :mod:`dpa._gpu.fused` does so).

Why each piece is exact on a GPU:

* Integers are ``uint64`` tensors: ``*`` and ``+`` wrap modulo 2**64 and
  ``>>`` is a logical shift on unsigned types, in compiled code and in the
  interpreter (numpy ``uint64``).
* Float constants are written as the bits of the very doubles dpa/fmath.py
  holds (the hexadecimal literals of ``_fmath.h``) and rebuilt with a
  bitcast (:func:`f64`): a Python float in Triton code is typed float32 when
  it stands alone, and a constant zero loses its sign.
* ``+ - * /`` and ``sqrt`` on float64 lower to the IEEE round-to-nearest PTX
  instructions (``add.rn.f64``, ``div.rn.f64``, ``sqrt.rn.f64``: CUDA has no
  approximate float64 division or square root, and float64 is never flushed
  to zero); ``floor`` is exact. The interpreter runs numpy's float64 ufuncs,
  which are IEEE operations too. tests/dpa/test_triton.py reads the PTX of a
  compiled kernel to check the instruction choices.
* ``frexp``/``ldexp`` are done on the bits: exact for subnormal inputs
  (scaled by 2**54 first) and, for ldexp, by two products by powers of two
  of which the first is exact, so the result is rounded once, as
  ``math.ldexp`` rounds it.

Draw halves and words are passed around as tuples of ``uint64`` tensors
(``words[j]`` is hash word ``j`` of the spec's stream); constants that shape
the code (coefficient tables, thresholds, radices) are ``tl.constexpr``.
Imported only when the Triton path runs: ``import dpa`` never imports triton.
"""

from __future__ import annotations

import triton
import triton.language as tl

from dpa._gpu.program import float_bits

__all__ = [
    "f64",
    "as_u64",
    "id_lane",
    "finish",
    "draw",
    "affine",
    "unit",
    "open_unit",
    "fmin",
    "fmax",
    "pow2",
    "ldexp",
    "frexp",
    "horner",
    "exp",
    "log",
    "sqrt",
    "ndtri",
    "mulhi",
    "count_ge",
    "lookup",
    "below",
    "select",
    "lehmer",
]


def _hex_bits(*literals: str) -> tl.constexpr:
    return tl.constexpr(tuple(float_bits(float.fromhex(s)) for s in literals))


# The XXH64 primes (docs/SPEC.md section 2).
P1 = tl.constexpr(0x9E3779B185EBCA87)
P2 = tl.constexpr(0xC2B2AE3D27D4EB4F)
P3 = tl.constexpr(0x165667B19E3779F9)
P4 = tl.constexpr(0x85EBCA77C2B2AE63)
M32 = tl.constexpr(0xFFFFFFFF)

# The doubles of dpa/fmath.py, written as _fmath.h writes them (tests compare the three).
TWO_M32 = tl.constexpr(float_bits(2.0**-32))
HALF_TWO_M32 = tl.constexpr(float_bits(2.0**-33))
TWO_P54 = tl.constexpr(float_bits(2.0**54))
LN2_HI = tl.constexpr(float_bits(float.fromhex("0x1.62e42fee00000p-1")))
LN2_LO = tl.constexpr(float_bits(float.fromhex("0x1.a39ef35793c76p-33")))
INV_LN2 = tl.constexpr(float_bits(float.fromhex("0x1.71547652b82fep+0")))
SQRT_HALF = tl.constexpr(float_bits(float.fromhex("0x1.6a09e667f3bcdp-1")))
EXP_C = _hex_bits(
    "0x1.6124613a86d09p-33", "0x1.1eed8eff8d898p-29", "0x1.ae64567f544e4p-26", "0x1.27e4fb7789f5cp-22",
    "0x1.71de3a556c734p-19", "0x1.a01a01a01a01ap-16", "0x1.a01a01a01a01ap-13", "0x1.6c16c16c16c17p-10",
    "0x1.1111111111111p-7", "0x1.5555555555555p-5", "0x1.5555555555555p-3", "0x1.0000000000000p-1",
    "0x1.0000000000000p+0", "0x1.0000000000000p+0",
)
LOG_C = _hex_bits(
    "0x1.642c8590b2164p-4", "0x1.8618618618618p-4", "0x1.af286bca1af28p-4", "0x1.e1e1e1e1e1e1ep-4",
    "0x1.1111111111111p-3", "0x1.3b13b13b13b14p-3", "0x1.745d1745d1746p-3", "0x1.c71c71c71c71cp-3",
    "0x1.2492492492492p-2", "0x1.999999999999ap-2", "0x1.5555555555555p-1",
)
ND_A = _hex_bits(
    "0x1.39a296f7d925ep+11", "0x1.052d26b2e45e4p+15", "0x1.06c1c55b78f20p+16", "0x1.66c3e869b752ap+15",
    "0x1.ad1d8cd4ee71dp+13", "0x1.ece5d2213c0ccp+10", "0x1.0a4888b1a436ep+7", "0x1.b18d91e9eef75p+1",
)
ND_B = _hex_bits(
    "0x1.46a7eca984b69p+12", "0x1.c0e457cb1ae76p+14", "0x1.3317caa64f4bep+15", "0x1.4b772d5d65266p+14",
    "0x1.512322e75c89fp+12", "0x1.5797efdc8b3f7p+9", "0x1.5281b386e1ab5p+5", "0x1.0000000000000p+0",
)
ND_C = _hex_bits(
    "0x1.9615ac0b7ace9p-11", "0x1.744eb6c45ec67p-6", "0x1.ef2abb9b85c37p-3", "0x1.453cc085375b2p+0",
    "0x1.d2ecb1a3d02c4p+1", "0x1.713f71462256ap+2", "0x1.2857748cab19bp+2", "0x1.6c665fde9526ap+0",
)
ND_D = _hex_bits(
    "0x1.20d3f686439e4p-30", "0x1.1f18cbfdf2728p-11", "0x1.f207a7eab17bfp-7", "0x1.2f5123394f040p-3",
    "0x1.61292f23385c9p-1", "0x1.ad278e6526633p+0", "0x1.06cefbb46a449p+1", "0x1.0000000000000p+0",
)
ND_E = _hex_bits(
    "0x1.afb74d693bf93p-23", "0x1.c6ec6cc59e02ap-16", "0x1.45c1908425345p-10", "0x1.b2b41193b4ee7p-6",
    "0x1.2fad9315255cfp-2", "0x1.c8ea6461fa445p+0", "0x1.5daea6e875003p+2", "0x1.aa1b1c13ee526p+2",
)
ND_F = _hex_bits(
    "0x1.269bff1f8c190p-49", "0x1.31446f740b9e0p-23", "0x1.35c2c496374bfp-16", "0x1.9c8bc979dc5d7p-11",
    "0x1.e76f93215462ap-7", "0x1.186eb183443fbp-3", "0x1.331d34fc7d77fp-1", "0x1.0000000000000p+0",
)
# AS241's constants that are not polynomial coefficients.
ND_SPLIT = tl.constexpr(float_bits(0.425))
ND_CENTRAL = tl.constexpr(float_bits(0.180625))
ND_NEAR = tl.constexpr(float_bits(1.6))
ND_FAR = tl.constexpr(float_bits(5.0))


# ------------------------------------------------------------------ constants and bits


@triton.jit
def f64(BITS: tl.constexpr):
    """The double whose IEEE-754 bits are ``BITS`` (a 0-d float64 tensor)."""
    return tl.full([], BITS, tl.uint64).to(tl.float64, bitcast=True)


@triton.jit
def as_u64(x):
    """The 64 bits of an int64 tensor (torch's storage for dpa's uint64 words) as uint64."""
    return x.to(tl.uint64, bitcast=True)


# ------------------------------------------------------------------ XXH64 (SPEC section 2)


@triton.jit
def _rotl(x, R: tl.constexpr):
    return (x << R) | (x >> (64 - R))


@triton.jit
def _round(lane):
    return _rotl(lane * P2, 31) * P1


@triton.jit
def id_lane(ids):
    """The per-id part of XXH64 of (id, counter): ``rotl(round(id), 27)`` (``ids`` uint64)."""
    return _rotl(_round(ids), 27)


@triton.jit
def finish(ra, c, k2):
    """``xxh64_pair(id, counter, key)`` from ``ra = id_lane(id)``, ``c = rotl(key + P5 + 16, 27)``, ``k2 = round(counter)``.

    ``c`` and ``k2`` are the per-row constants of :func:`dpa.prng.outer_row_constants`
    (rotl distributes over xor, so the seed and the id meet in one xor).
    """
    h = (ra ^ c) * P1 + P4
    h = h ^ k2
    h = _rotl(h, 27) * P1 + P4
    h = h ^ (h >> 33)
    h = h * P2
    h = h ^ (h >> 29)
    h = h * P3
    return h ^ (h >> 32)


# ------------------------------------------------------------------ draws (SPEC section 3)


@triton.jit
def draw(words, K: tl.constexpr):
    """Draw ``K`` of a spec: the high half of ``words[K // 2]`` when ``K`` is even, else the low half."""
    if K % 2 == 0:
        d = words[K // 2] >> 32
    else:
        d = words[K // 2] & M32
    return d


@triton.jit
def affine(d, SCALE: tl.constexpr, OFFSET: tl.constexpr):
    """``d * scale + offset`` in float64 (the product rounded, then the sum); constants as bits."""
    return d.to(tl.float64) * f64(SCALE) + f64(OFFSET)


@triton.jit
def unit(d):
    """``d * 2**-32``, exact: a draw as a fraction in [0, 1)."""
    return d.to(tl.float64) * f64(TWO_M32)


@triton.jit
def open_unit(d):
    """``(d + 0.5) * 2**-32``, exact, computed as ``d * 2**-32 + 2**-33``: a fraction in (0, 1)."""
    return d.to(tl.float64) * f64(TWO_M32) + f64(HALF_TWO_M32)


@triton.jit
def below(d, T: tl.constexpr):
    """``d < T`` for a draw and a threshold ``T <= 2**32`` (gates and bernoulli)."""
    return d < tl.full([], T, tl.uint64)


@triton.jit
def select(open_, value, IDENT_BITS: tl.constexpr, IS_FLOAT: tl.constexpr):
    """The gate: ``value`` where ``open_``, else the identity (float identities given as bits)."""
    if IS_FLOAT:
        out = tl.where(open_, value, f64(IDENT_BITS))
    else:
        out = tl.where(open_, value, tl.full([], IDENT_BITS, value.dtype))
    return out


# ------------------------------------------------------------------ floats (SPEC section 4)


@triton.jit
def fmin(a, b):
    """``b if b < a else a``: Python's ``min(a, b)`` and ``_fmath.h``'s ``dmin`` (signed zeros included)."""
    return tl.where(b < a, b, a)


@triton.jit
def fmax(a, b):
    """``b if b > a else a``: Python's ``max(a, b)`` and ``_fmath.h``'s ``dmax``."""
    return tl.where(b > a, b, a)


@triton.jit
def pow2(e):
    """``2.0**e`` for int64 ``e`` in [-1022, 1023], built from its bits (exact)."""
    return ((e + 1023).to(tl.uint64) << 52).to(tl.float64, bitcast=True)


@triton.jit
def ldexp(m, e):
    """``m * 2**e`` rounded once, as ``math.ldexp``, for ``0.5 <= |m| < 2`` and int64 ``|e| <= 2044``.

    ``m * 2**h`` with ``h = e >> 1`` is exact (it stays a normal number);
    the second product by ``2**(e - h)`` rounds once, into the subnormal
    range or to infinity where the true value lies there. exp's ``k`` spans
    [-1075, 1024] over every argument dpa's specs reach (log of the
    smallest subnormal to log of the largest double), which a single
    product by a power of two could not cover.
    """
    h = e >> 1
    return (m * pow2(h)) * pow2(e - h)


@triton.jit
def frexp(x):
    """``(m, e)`` with ``x = m * 2**e``, ``0.5 <= m < 1``, for finite ``x > 0``, from the bits (exact).

    A subnormal ``x`` is first scaled by 2**54 (exact), as libm's frexp does.
    """
    sub = (x.to(tl.uint64, bitcast=True) >> 52) == 0
    # Only subnormal lanes are scaled (others could overflow, harmlessly but noisily).
    xs = tl.where(sub, tl.where(sub, x, 1.0) * f64(TWO_P54), x)
    b = xs.to(tl.uint64, bitcast=True)
    e = ((b >> 52) & 0x7FF).to(tl.int64) - tl.where(sub, 1022 + 54, 1022)
    m = ((b & 0x800FFFFFFFFFFFFF) | (1022 << 52)).to(tl.float64, bitcast=True)
    return m, e


@triton.jit
def horner(x, C: tl.constexpr, N: tl.constexpr):
    """``p = C[0]; p = p * x + C[k]`` for ``k = 1 .. N - 1`` (coefficients as bits, highest degree first).

    ``N`` is ``len(C)``, passed because the interpreter cannot take the
    length of a module-level constexpr.
    """
    p = f64(C[0])
    for k in tl.static_range(1, N):
        p = p * x + f64(C[k])
    return p


@triton.jit
def exp(x):
    """dpa's exp (SPEC section 4): reduction by ln 2, degree-13 Taylor, exact ldexp."""
    k = tl.floor(x * f64(INV_LN2) + 0.5)
    r = (x - k * f64(LN2_HI)) - k * f64(LN2_LO)
    return ldexp(horner(r, EXP_C, 14), k.to(tl.int64))


@triton.jit
def log(x):
    """dpa's log (SPEC section 4) for finite ``x > 0``: frexp, then the atanh series."""
    m, e = frexp(x)
    small = m < f64(SQRT_HALF)
    m = tl.where(small, m * 2.0, m)
    ef = tl.where(small, e - 1, e).to(tl.float64)
    s = (m - 1.0) / (m + 1.0)
    z = s * s
    logm = 2.0 * s + s * z * horner(z, LOG_C, 11)
    return ef * f64(LN2_HI) + (logm + ef * f64(LN2_LO))


@triton.jit
def sqrt(x):
    """Correctly rounded float64 square root (``sqrt.rn.f64`` on CUDA; numpy's in the interpreter)."""
    return tl.sqrt(x)


@triton.jit
def ndtri(p):
    """dpa's normal quantile for ``0 < p < 1`` (AS241, SPEC section 4); every branch evaluated, one selected."""
    q = p - 0.5
    r1 = f64(ND_CENTRAL) - q * q
    central = q * horner(r1, ND_A, 8) / horner(r1, ND_B, 8)
    r = sqrt(-log(fmin(p, 1.0 - p)))
    rn = r - f64(ND_NEAR)
    near = horner(rn, ND_C, 8) / horner(rn, ND_D, 8)
    rf = r - f64(ND_FAR)
    far = horner(rf, ND_E, 8) / horner(rf, ND_F, 8)
    tail = tl.where(r <= f64(ND_FAR), near, far)
    tail = tl.where(q < 0.0, -tail, tail)
    return tl.where(tl.abs(q) <= f64(ND_SPLIT), central, tail)


# ------------------------------------------------------------------ integers (SPEC section 5)


@triton.jit
def mulhi(w, N: tl.constexpr):
    """``floor(w * N / 2**64)`` for uint64 ``w`` and ``1 <= N <= 2**32``, as SPEC writes it (no overflow)."""
    n = tl.full([], N, tl.uint64)
    return (((w >> 32) * n) + (((w & M32) * n) >> 32)) >> 32


@triton.jit
def count_ge(w, T: tl.constexpr):
    """``#{i : w >= T[i]}``, unsigned 64-bit compares, as int64 (choice's index)."""
    c = tl.zeros(w.shape, tl.int64)
    for i in tl.static_range(len(T)):
        c += (w >= tl.full([], T[i], tl.uint64)).to(tl.int64)
    return c


@triton.jit
def lookup(index, V: tl.constexpr, IS_FLOAT: tl.constexpr):
    """``V[index]`` for an int64 index tensor: float64 (``V`` as bits) or int64 values."""
    # Broadcast, not 0 + V[0]: that sum would turn a -0.0 value into +0.0.
    if IS_FLOAT:
        out = tl.broadcast_to(f64(V[0]), index.shape)
        for i in tl.static_range(1, len(V)):
            out = tl.where(index == i, f64(V[i]), out)
    else:
        out = tl.broadcast_to(tl.full([], V[0], tl.int64), index.shape)
        for i in tl.static_range(1, len(V)):
            out = tl.where(index == i, tl.full([], V[i], tl.int64), out)
    return out


@triton.jit
def lehmer(k, RADICES: tl.constexpr):
    """The permutation with Lehmer rank ``k < n!`` (SPEC's decoding), as a tuple of n int64 tensors.

    ``RADICES[i] = (n-1-i)!``. Digits ``c_i = (k // (n-1-i)!) % (n - i)``;
    then, for ``i = n-2 .. 0`` and every ``j > i``, ``c_j += c_j >= c_i``.
    ``k < 12! < 2**31``, so the digits are computed in int32.
    """
    N: tl.constexpr = len(RADICES)
    k32 = k.to(tl.int32)
    c = ()
    for i in tl.static_range(N):
        c = c + ((k32 // RADICES[i]) % (N - i),)
    for step in tl.static_range(N - 1):
        for j in tl.static_range(N - 1 - step, N):
            c = c[:j] + (c[j] + (c[j] >= c[N - 2 - step]).to(tl.int32),) + c[j + 1 :]
    out = ()
    for j in tl.static_range(N):
        out = out + (c[j].to(tl.int64),)
    return out
