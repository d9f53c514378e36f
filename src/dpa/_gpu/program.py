"""A config as the fused kernel's program: plain nested tuples, hashable, ``tl.constexpr``-ready.

Pure Python (no triton, no torch), so it is cheap to build and testable
anywhere. :func:`build_program` turns a generation plan's entries into one
record per parameter::

    (kind, row, n_words, (gate_draw, gate_threshold), outputs, constants)

* ``kind``: one of the ``K_*`` codes below (the device function of
  :mod:`dpa._gpu.kinds` that maps the words);
* ``row``, ``n_words``: the parameter's first hash row and word count (its
  words are rows ``row .. row + n_words - 1`` of the plan's row constants);
* the gate: ``gate_draw = -1`` when ungated, else the draw index and
  ``T(p)``; the outputs keep their values where ``draw < T(p)``;
* ``outputs``: ``(dtype code, slot, identity)`` per flat output, where the
  slot is the row of that dtype's output buffer and a float identity is
  given as its IEEE bits;
* ``constants``: the kind's constants, floats as IEEE bits (so the kernel
  rebuilds the very doubles the specs hold; see :func:`float_bits`).

The fused kernel unrolls the records at compile time: Triton compiles one
kernel per distinct program (and caches it), while the per-(seed, epoch)
hash row constants travel as a tensor, so a new seed or epoch never
recompiles.

A kind defined as a program over the primitives (the "one definition per
spec kind" work) arrives as a record of kind :data:`K_PROGRAM` whose
constants are ``(ops, outputs)`` (see :func:`op_program`), evaluated by
:mod:`dpa._gpu.walker`. The op codes, their operands (``r``: a register,
the result of an earlier op; floats as IEEE bits) and results:

==============  ====================  ==========================================
code            operands              result
==============  ====================  ==========================================
O_DRAW          k                     uint64: draw ``k`` (32 bits)
O_WORD          j                     uint64: hash word ``j``
O_CONST         bits                  float64 constant
O_AFFINE        r, scale, offset      ``r * scale + offset``
O_UNIT          r                     ``r * 2**-32``
O_OPEN_UNIT     r                     ``(r + 0.5) * 2**-32``
O_ADD .. O_DIV  r1, r2                ``r1 + r2``, ``-``, ``*``, ``/``
O_MIN, O_MAX    r1, r2                ``r2 if r2 < r1 else r1`` (max: ``>``)
O_EXP .. NDTRI  r                     dpa's exp, log, sqrt, ndtri
O_MULHI         r, n                  uint64 ``floor(r * n / 2**64)``
O_IADD          r, c                  int64 ``r + c``
O_COUNT_GE      r, thresholds         int64 ``#{i : r >= t_i}``
O_LOOKUP        r, values, is_float   ``values[r]``
O_BELOW         r, t                  bool ``r < t``
O_LEHMER        r, radices            n int64 values, as one tuple register
O_PICK          r, j                  element ``j`` of a tuple register
==============  ====================  ==========================================
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass
from typing import Any, Sequence

from dpa.composite import ErasingSpec, PermutationSpec, ResizedCropSpec
from dpa.specs import (
    BernoulliSpec,
    ChoiceSpec,
    IntegerSpec,
    LogUniformSpec,
    NormalSpec,
    TruncatedNormalSpec,
    UniformSpec,
    gate_threshold,
)

__all__ = [
    "K_UNIFORM",
    "K_LOG_UNIFORM",
    "K_NORMAL",
    "K_TRUNC_NORMAL",
    "K_INTEGER",
    "K_CHOICE",
    "K_BERNOULLI",
    "K_BOX",
    "K_PERMUTATION",
    "K_PROGRAM",
    "FLOAT",
    "INT",
    "BOOL",
    "Program",
    "build_program",
    "op_program",
    "from_spec_program",
    "float_bits",
    "row_constants",
]

K_UNIFORM, K_LOG_UNIFORM, K_NORMAL, K_TRUNC_NORMAL, K_INTEGER, K_CHOICE, K_BERNOULLI, K_BOX, K_PERMUTATION = range(9)
K_PROGRAM = 9
(O_DRAW, O_WORD, O_CONST, O_AFFINE, O_UNIT, O_OPEN_UNIT, O_ADD, O_SUB, O_MUL, O_DIV, O_MIN, O_MAX, O_EXP, O_LOG,
 O_SQRT, O_NDTRI, O_MULHI, O_IADD, O_COUNT_GE, O_LOOKUP, O_BELOW, O_LEHMER, O_PICK) = range(23)
# Per op code: the positions of its register operands, and its operand count.
_REG_OPERANDS = {
    O_DRAW: ((), 1), O_WORD: ((), 1), O_CONST: ((), 1), O_AFFINE: ((1,), 3), O_UNIT: ((1,), 1),
    O_OPEN_UNIT: ((1,), 1), O_ADD: ((1, 2), 2), O_SUB: ((1, 2), 2), O_MUL: ((1, 2), 2), O_DIV: ((1, 2), 2),
    O_MIN: ((1, 2), 2), O_MAX: ((1, 2), 2), O_EXP: ((1,), 1), O_LOG: ((1,), 1), O_SQRT: ((1,), 1),
    O_NDTRI: ((1,), 1), O_MULHI: ((1,), 2), O_IADD: ((1,), 2), O_COUNT_GE: ((1,), 2), O_LOOKUP: ((1,), 3),
    O_BELOW: ((1,), 2), O_LEHMER: ((1,), 2), O_PICK: ((1,), 2),
}
FLOAT, INT, BOOL = range(3)
_DTYPE_CODES = {"float": FLOAT, "int": INT, "bool": BOOL}
_MASK64 = (1 << 64) - 1


def float_bits(x: float) -> int:
    """The IEEE-754 binary64 bits of ``x`` as an unsigned int (``-0.0`` -> ``1 << 63``)."""
    return struct.unpack("<Q", struct.pack("<d", float(x)))[0]


@dataclass(frozen=True)
class Program:
    """A config's fused-kernel program and where its outputs land.

    Attributes:
        records: one record per parameter (module docstring), the kernel's constexpr.
        layout: ``(output name, dtype code, slot)`` per output, in config order.
        counts: how many outputs of each dtype code (the output buffers' row counts).
    """

    records: tuple
    layout: tuple[tuple[str, int, int], ...]
    counts: tuple[int, int, int]


def _constants(spec: Any) -> tuple[int, tuple] | None:
    """``(kind, constants)`` of a built-in spec, read off the spec itself; None for any other kind.

    The exact type is matched: a subclass may override the formula, which the
    kernel cannot know (such configs stay on the torch path, as they stay on
    numpy instead of the C kernel).
    """
    t = type(spec)
    fb = float_bits
    if t is UniformSpec:
        return K_UNIFORM, (fb(spec._scale), fb(spec.low))
    if t is LogUniformSpec:
        a, b = spec._consts
        return K_LOG_UNIFORM, (fb(a), fb(b), fb(spec.low), fb(spec.high))
    if t is NormalSpec:
        return K_NORMAL, (fb(spec.mean), fb(spec.std))
    if t is TruncatedNormalSpec:
        fa, span, sign = spec._consts
        return K_TRUNC_NORMAL, tuple(fb(x) for x in (fa, span, sign, spec.mean, spec.std, spec.low, spec.high))
    if t is IntegerSpec:
        return K_INTEGER, (spec.high - spec.low + 1, spec.low)
    if t is ChoiceSpec:
        is_float = not all(isinstance(v, int) for v in spec.values)
        values = tuple(fb(v) for v in spec.values) if is_float else tuple(spec.values)
        # Trailing zero weights give thresholds of 2**64, which no 64-bit word
        # reaches: they add nothing to the count, and do not fit a uint64.
        thresholds = tuple(x for x in spec.thresholds if x <= _MASK64)
        return K_CHOICE, (thresholds, values, is_float)
    if t is BernoulliSpec:
        return K_BERNOULLI, (gate_threshold(spec.p),)
    if t in (ResizedCropSpec, ErasingSpec):
        return K_BOX, tuple(fb(x) for x in spec._consts)
    if t is PermutationSpec:
        n = spec.n
        return K_PERMUTATION, (math.factorial(n), tuple(math.factorial(n - 1 - i) for i in range(n)))
    return None


def op_program(ops: Sequence[Sequence[Any]], outputs: Sequence[int]) -> tuple[tuple, tuple]:
    """Check a spec program and return it as the constants of a :data:`K_PROGRAM` record.

    Args:
        ops: ``(code, operands...)`` per op (module docstring); op ``i``
            writes register ``i`` and may read only registers before it.
        outputs: the registers of the spec's outputs, in output order.

    Returns:
        ``(ops, outputs)`` as nested tuples (hashable: a kernel constexpr).

    Raises:
        ValueError: an unknown op code, a wrong operand count, a register
            that is not written before it is read, or no outputs.
    """
    checked = []
    for i, op in enumerate(ops):
        op = tuple(op)
        if not op or op[0] not in _REG_OPERANDS:
            code = op[0] if op else None
            raise ValueError(f"op {i}: unknown op code {code!r}; valid codes are 0..{len(_REG_OPERANDS) - 1}")
        regs, arity = _REG_OPERANDS[op[0]]
        if len(op) != arity + 1:
            raise ValueError(f"op {i}: code {op[0]} takes {arity} operand(s); got {len(op) - 1}")
        for pos in regs:
            if isinstance(op[pos], bool) or not isinstance(op[pos], int) or not 0 <= op[pos] < i:
                raise ValueError(f"op {i}: operand {pos} must be a register in [0, {i}); got {op[pos]!r}")
        checked.append(tuple(tuple(x) if isinstance(x, list) else x for x in op))
    outs = tuple(outputs)
    if not outs or not all(isinstance(r, int) and 0 <= r < len(checked) for r in outs):
        raise ValueError(f"outputs must be registers in [0, {len(checked)}); got {list(outputs)}")
    return tuple(checked), outs


def from_spec_program(prog: Any) -> tuple[tuple, tuple] | None:
    """A :class:`dpa.program.SpecProgram` as the constants of a :data:`K_PROGRAM` record, or None.

    The kind's one definition, translated op by op: each primitive of
    :mod:`dpa.program` maps onto the walker's op of the same device
    function (constants become ``O_CONST`` registers, floats as bits;
    ``to_float`` of a draw is ``O_AFFINE`` by 1 and +0, which is exact).
    None when the program uses a primitive the walker has no op for yet
    (``neg``, ``floor``, comparisons, ``select``, ``to_float`` of an i64,
    i64 ``-``/``*`` or a sum of two registers, integer or bool constants as
    outputs): such a config stays on the torch kernels, with the same bits.
    """
    from dpa.program import Const

    ops: list[tuple] = []
    reg: dict[int, int] = {}  # the program's register -> the walker's
    binary = {"add": O_ADD, "sub": O_SUB, "mul": O_MUL, "div": O_DIV, "min": O_MIN, "max": O_MAX}
    unary = {"unit": O_UNIT, "open_unit": O_OPEN_UNIT, "exp": O_EXP, "log": O_LOG, "sqrt": O_SQRT, "ndtri": O_NDTRI}

    def emit(op: tuple) -> int:
        ops.append(op)
        return len(ops) - 1

    def operand(a: Any) -> int | None:
        if isinstance(a, Const):
            return emit((O_CONST, float_bits(a.value))) if a.type == "f64" else None
        return reg[a]

    for ins in prog.instrs:
        op, args, out = ins.op, ins.args, ins.out
        if op == "draw":
            reg[out[0]] = emit((O_DRAW, ins.attrs[0]))
        elif op == "word":
            reg[out[0]] = emit((O_WORD, ins.attrs[0]))
        elif op == "to_float" and prog.types[args[0]] == "u32":
            reg[out[0]] = emit((O_AFFINE, reg[args[0]], float_bits(1.0), float_bits(0.0)))
        elif op in unary:
            reg[out[0]] = emit((unary[op], reg[args[0]]))
        elif op in binary:
            a, b = operand(args[0]), operand(args[1])
            if a is None or b is None:
                return None
            reg[out[0]] = emit((binary[op], a, b))
        elif op == "iadd" and sum(isinstance(a, Const) for a in args) == 1:
            r, c = (args[0], args[1]) if isinstance(args[1], Const) else (args[1], args[0])
            reg[out[0]] = emit((O_IADD, reg[r], int(c.value)))
        elif op in ("mulhi", "below"):
            reg[out[0]] = emit((O_MULHI if op == "mulhi" else O_BELOW, reg[args[0]], int(args[1].value)))
        elif op == "count_ge":
            reg[out[0]] = emit((O_COUNT_GE, reg[args[0]], tuple(ins.attrs[0].values)))
        elif op == "lookup":
            table = ins.attrs[0]
            is_float = table.type == "f64"
            values = tuple(float_bits(v) if is_float else int(v) for v in table.values)
            reg[out[0]] = emit((O_LOOKUP, reg[args[0]], values, is_float))
        elif op == "perm_decode":
            n = ins.attrs[0].value
            whole = emit((O_LEHMER, reg[args[0]], tuple(math.factorial(n - 1 - i) for i in range(n))))
            for j, r in enumerate(out):
                reg[r] = emit((O_PICK, whole, j))
        else:
            return None
    outputs = []
    for o, t in zip(prog.outputs, prog.output_types):
        if isinstance(o, Const):
            if t != "f64":
                return None
            outputs.append(emit((O_CONST, float_bits(o.value))))
        else:
            outputs.append(reg[o])
    return op_program(ops, outputs)


def _identity(dtype: int, value: Any) -> int:
    if value is None:  # an ungated spec may have none; the kernel never reads it then
        return 0
    return float_bits(value) if dtype == FLOAT else int(value)


def build_program(entries: Sequence[Any], outputs: Sequence[Any]) -> Program | None:
    """The program of a plan's entries, or None when a spec kind has no device function.

    Args:
        entries: the plan's parameters, each with ``spec``, ``names`` (its
            flat output names), ``row0``, ``n_words``, ``gate``
            (``(draw, threshold)`` or None) and ``identities``.
        outputs: the config's outputs (``name``, ``dtype``) in config order.

    Returns:
        A :class:`Program`, or None if a spec's program uses a primitive the
        kernel has no op for (:func:`from_spec_program`). Built-in kinds use
        their device functions (:mod:`dpa._gpu.kinds`); any other kind, a
        user's registered one included, runs as its spec program.
    """
    slots: dict[str, tuple[int, int]] = {}
    counts = [0, 0, 0]
    for out in outputs:
        code = _DTYPE_CODES[out.dtype]
        slots[out.name] = (code, counts[code])
        counts[code] += 1
    records = []
    for e in entries:
        found = _constants(e.spec)
        if found is None:
            walked = from_spec_program(e.spec.recorded_program)
            if walked is None:
                return None
            found = (K_PROGRAM, walked)
        kind, consts = found
        gate = (-1, 0) if e.gate is None or kind == K_BERNOULLI else (e.gate[0], e.gate[1])
        outs = tuple(
            (slots[name][0], slots[name][1], _identity(slots[name][0], ident))
            for name, ident in zip(e.names, e.identities)
        )
        records.append((kind, e.row0, e.n_words, gate, outs, consts))
    layout = tuple((o.name, *slots[o.name]) for o in outputs)
    return Program(tuple(records), layout, (counts[0], counts[1], counts[2]))


def row_constants(row_c: Any, row_k2: Any) -> list[int]:
    """The plan's per-row hash constants interleaved ``c0, k2_0, c1, k2_1, ...`` as int64 values.

    The kernel reads them from an int64 tensor; uint64 values above 2**63
    are stored as the int64 with the same bits.
    """
    out = []
    for c, k2 in zip((int(x) for x in row_c.ravel()), (int(x) for x in row_k2.ravel())):
        for v in (c, k2):
            v &= _MASK64
            out.append(v - (1 << 64) if v >> 63 else v)
    return out
