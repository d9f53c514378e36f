"""A spec program (:func:`dpa._gpu.program.lower`'s op list) run inside the fused kernel, unrolled at compile time.

Every parameter of a config, a built-in kind or a user's, is computed here
from its spec program, the one definition of its formula: each op calls the
device function of its primitive (:mod:`dpa._gpu.prims`) or the Triton
operator that is that primitive (IEEE ``+ - * /`` on float64, int64
arithmetic, comparisons, ``tl.where``). The op list is a ``tl.constexpr``:
the ``if`` chain on each op's code is resolved while Triton traces the
kernel, and the registers are a tuple that only exists then, so the
compiled code is straight-line, as if the kind had been written by hand.

Register types in the kernel: draws and words are ``uint64`` tensors, f64
values ``float64``, i64 values ``int64``, bool values ``int1``. Constants
are 0-d (they broadcast where they meet a block).
"""

from __future__ import annotations

import triton
import triton.language as tl

from dpa._gpu import prims
from dpa._gpu import program as _program

__all__ = ["run"]

O_DRAW = tl.constexpr(_program.O_DRAW)
O_WORD = tl.constexpr(_program.O_WORD)
O_CONST = tl.constexpr(_program.O_CONST)
O_UNIT = tl.constexpr(_program.O_UNIT)
O_OPEN_UNIT = tl.constexpr(_program.O_OPEN_UNIT)
O_TO_FLOAT = tl.constexpr(_program.O_TO_FLOAT)
O_ADD = tl.constexpr(_program.O_ADD)
O_SUB = tl.constexpr(_program.O_SUB)
O_MUL = tl.constexpr(_program.O_MUL)
O_DIV = tl.constexpr(_program.O_DIV)
O_NEG = tl.constexpr(_program.O_NEG)
O_MIN = tl.constexpr(_program.O_MIN)
O_MAX = tl.constexpr(_program.O_MAX)
O_EXP = tl.constexpr(_program.O_EXP)
O_LOG = tl.constexpr(_program.O_LOG)
O_SQRT = tl.constexpr(_program.O_SQRT)
O_NDTRI = tl.constexpr(_program.O_NDTRI)
O_FLOOR = tl.constexpr(_program.O_FLOOR)
O_LT = tl.constexpr(_program.O_LT)
O_LE = tl.constexpr(_program.O_LE)
O_GT = tl.constexpr(_program.O_GT)
O_GE = tl.constexpr(_program.O_GE)
O_IADD = tl.constexpr(_program.O_IADD)
O_ISUB = tl.constexpr(_program.O_ISUB)
O_IMUL = tl.constexpr(_program.O_IMUL)
O_BELOW = tl.constexpr(_program.O_BELOW)
O_MULHI = tl.constexpr(_program.O_MULHI)
O_COUNT_GE = tl.constexpr(_program.O_COUNT_GE)
O_LOOKUP = tl.constexpr(_program.O_LOOKUP)
O_LEHMER = tl.constexpr(_program.O_LEHMER)
O_PICK = tl.constexpr(_program.O_PICK)
O_SELECT = tl.constexpr(_program.O_SELECT)
FLOAT = tl.constexpr(_program.FLOAT)
INT = tl.constexpr(_program.INT)


@triton.jit
def _const(TYPE: tl.constexpr, VALUE: tl.constexpr):
    """A 0-d constant: f64 from its bits, i64, or bool."""
    if TYPE == FLOAT:
        v = prims.f64(VALUE)
    elif TYPE == INT:
        v = tl.full([], VALUE, tl.int64)
    else:
        v = tl.full([], VALUE, tl.int1)
    return v


@triton.jit
def _binary_op(CODE: tl.constexpr, a, b):
    """The two-operand ops: f64 arithmetic and comparisons (one IEEE operation each), i64 arithmetic."""
    if CODE == O_ADD:
        v = a + b
    elif CODE == O_SUB:
        v = a - b
    elif CODE == O_MUL:
        v = a * b
    elif CODE == O_DIV:
        v = a / b
    elif CODE == O_MIN:
        v = prims.fmin(a, b)
    elif CODE == O_MAX:
        v = prims.fmax(a, b)
    elif CODE == O_LT:
        v = a < b
    elif CODE == O_LE:
        v = a <= b
    elif CODE == O_GT:
        v = a > b
    elif CODE == O_GE:
        v = a >= b
    elif CODE == O_IADD:
        v = a + b
    elif CODE == O_ISUB:
        v = a - b
    else:
        tl.static_assert(CODE == O_IMUL, "not a two-operand op")
        v = a * b
    return v


@triton.jit
def _unary_op(CODE: tl.constexpr, x):
    """The one-operand ops on a draw or an f64 value."""
    if CODE == O_UNIT:
        v = prims.unit(x)
    elif CODE == O_OPEN_UNIT:
        v = prims.open_unit(x)
    elif CODE == O_TO_FLOAT:
        v = x.to(tl.float64)  # a draw (uint64 below 2**32): exact; an i64: round to nearest, as numpy
    elif CODE == O_NEG:
        v = -x  # fneg: flips the sign bit, zeros included (not 0 - x)
    elif CODE == O_EXP:
        v = prims.exp(x)
    elif CODE == O_LOG:
        v = prims.log(x)
    elif CODE == O_SQRT:
        v = prims.sqrt(x)
    elif CODE == O_NDTRI:
        v = prims.ndtri(x)
    else:
        tl.static_assert(CODE == O_FLOOR, "not a one-operand op")
        v = tl.floor(x)
    return v


@triton.jit
def _op(OP: tl.constexpr, words, regs):
    """The value of one op, from the spec's words and the registers written so far."""
    CODE: tl.constexpr = OP[0]
    if CODE == O_DRAW:
        v = prims.draw(words, OP[1])
    elif CODE == O_WORD:
        v = words[OP[1]]
    elif CODE == O_CONST:
        v = _const(OP[1], OP[2])
    elif CODE >= O_ADD:
        v = _binary_op(CODE, regs[OP[1]], regs[OP[2]])
    elif CODE >= O_UNIT:
        v = _unary_op(CODE, regs[OP[1]])
    elif CODE == O_BELOW:
        v = prims.below(regs[OP[1]], OP[2])
    elif CODE == O_MULHI:
        v = prims.mulhi(regs[OP[1]], OP[2]).to(tl.int64, bitcast=True)
    elif CODE == O_COUNT_GE:
        v = prims.count_ge(regs[OP[1]], OP[2])
    elif CODE == O_LOOKUP:
        v = prims.lookup(regs[OP[1]], OP[2], OP[3])
    elif CODE == O_LEHMER:
        v = prims.lehmer(regs[OP[1]], OP[2])
    elif CODE == O_PICK:
        v = regs[OP[1]][OP[2]]
    else:
        tl.static_assert(CODE == O_SELECT, "unknown op code")
        v = tl.where(regs[OP[1]], regs[OP[2]], regs[OP[3]])
    return v


@triton.jit
def run(words, OPS: tl.constexpr, RESULTS: tl.constexpr):
    """Evaluate the op list ``OPS`` on the spec's ``words``; the tuple of registers ``RESULTS``."""
    regs = ()
    for i in tl.static_range(len(OPS)):
        regs = regs + (_op(OPS[i], words, regs),)
    out = ()
    for j in tl.static_range(len(RESULTS)):
        out = out + (regs[RESULTS[j]],)
    return out
