"""A spec *program* (a flat list of primitive ops) run inside the fused kernel, unrolled at compile time.

This is where the "one definition per spec kind" work plugs in: a kind
defined as ops over the primitives reaches the kernel as a record of kind
:data:`dpa._gpu.program.K_PROGRAM` whose constants are ``(ops, outputs)``,
and this walker evaluates it with the same device functions the built-in
kinds use (:mod:`dpa._gpu.prims`), so it gives their bits.

The op list is static single assignment: op ``i`` writes register ``i``;
operands name earlier registers. Each op is a tuple ``(code, operands...)``
with the codes of :mod:`dpa._gpu.program` (``O_*``; their table lists
operands and result types). Float constants are IEEE bits. ``outputs``
lists the registers of the spec's outputs, in output order. Registers live
in a tuple that only exists while Triton traces the kernel: the compiled
code is straight-line, as if the kind had been written by hand.
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
O_AFFINE = tl.constexpr(_program.O_AFFINE)
O_UNIT = tl.constexpr(_program.O_UNIT)
O_OPEN_UNIT = tl.constexpr(_program.O_OPEN_UNIT)
O_ADD = tl.constexpr(_program.O_ADD)
O_SUB = tl.constexpr(_program.O_SUB)
O_MUL = tl.constexpr(_program.O_MUL)
O_DIV = tl.constexpr(_program.O_DIV)
O_MIN = tl.constexpr(_program.O_MIN)
O_MAX = tl.constexpr(_program.O_MAX)
O_EXP = tl.constexpr(_program.O_EXP)
O_LOG = tl.constexpr(_program.O_LOG)
O_SQRT = tl.constexpr(_program.O_SQRT)
O_NDTRI = tl.constexpr(_program.O_NDTRI)
O_MULHI = tl.constexpr(_program.O_MULHI)
O_IADD = tl.constexpr(_program.O_IADD)
O_COUNT_GE = tl.constexpr(_program.O_COUNT_GE)
O_LOOKUP = tl.constexpr(_program.O_LOOKUP)
O_BELOW = tl.constexpr(_program.O_BELOW)
O_LEHMER = tl.constexpr(_program.O_LEHMER)
O_PICK = tl.constexpr(_program.O_PICK)


@triton.jit
def _op(OP: tl.constexpr, words, regs):
    """The value of one op, from the spec's words and the registers written so far."""
    CODE: tl.constexpr = OP[0]
    if CODE == O_DRAW:
        v = prims.draw(words, OP[1])
    elif CODE == O_WORD:
        v = words[OP[1]]
    elif CODE == O_CONST:
        v = prims.f64(OP[1])
    elif CODE == O_AFFINE:
        v = prims.affine(regs[OP[1]], OP[2], OP[3])
    elif CODE == O_UNIT:
        v = prims.unit(regs[OP[1]])
    elif CODE == O_OPEN_UNIT:
        v = prims.open_unit(regs[OP[1]])
    elif CODE == O_ADD:
        v = regs[OP[1]] + regs[OP[2]]
    elif CODE == O_SUB:
        v = regs[OP[1]] - regs[OP[2]]
    elif CODE == O_MUL:
        v = regs[OP[1]] * regs[OP[2]]
    elif CODE == O_DIV:
        v = regs[OP[1]] / regs[OP[2]]
    elif CODE == O_MIN:
        v = prims.fmin(regs[OP[1]], regs[OP[2]])
    elif CODE == O_MAX:
        v = prims.fmax(regs[OP[1]], regs[OP[2]])
    elif CODE == O_EXP:
        v = prims.exp(regs[OP[1]])
    elif CODE == O_LOG:
        v = prims.log(regs[OP[1]])
    elif CODE == O_SQRT:
        v = prims.sqrt(regs[OP[1]])
    elif CODE == O_NDTRI:
        v = prims.ndtri(regs[OP[1]])
    elif CODE == O_MULHI:
        v = prims.mulhi(regs[OP[1]], OP[2])
    elif CODE == O_IADD:
        v = regs[OP[1]].to(tl.int64, bitcast=True) + tl.full([], OP[2], tl.int64)
    elif CODE == O_COUNT_GE:
        v = prims.count_ge(regs[OP[1]], OP[2])
    elif CODE == O_LOOKUP:
        v = prims.lookup(regs[OP[1]], OP[2], OP[3])
    elif CODE == O_BELOW:
        v = prims.below(regs[OP[1]], OP[2])
    elif CODE == O_LEHMER:
        v = prims.lehmer(regs[OP[1]], OP[2])
    else:
        tl.static_assert(CODE == O_PICK, "unknown op code")
        v = regs[OP[1]][OP[2]]
    return v


@triton.jit
def run(words, OPS: tl.constexpr, OUTPUTS: tl.constexpr):
    """Evaluate the op list ``OPS`` on the spec's ``words``; the tuple of registers ``OUTPUTS``."""
    regs = ()
    for i in tl.static_range(len(OPS)):
        regs = regs + (_op(OPS[i], words, regs),)
    out = ()
    for j in tl.static_range(len(OUTPUTS)):
        out = out + (regs[OUTPUTS[j]],)
    return out
